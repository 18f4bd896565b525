"""The ``optim`` kernel family (one fused in-place pass per SGD / Adam / AdamW step) against
PyTorch, and the dispatcher's choice between it and the numexpr passes of torsh.optim."""
import numpy as np
import pytest
import torch

import torsh
from torsh.backend import dispatch
from helpers import VARIANTS, forced_variant

STEP_OPS = ("sgd_step", "adam_step")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Force every optimizer step onto one variant; yields the name its records must show."""
    with forced_variant(STEP_OPS, request.param, reference_name="numexpr") as recorded:
        yield recorded


def _run(lib, opt_name, kwargs, dtype, steps=4, shape=(40_000,), complex_=False):
    rng = np.random.default_rng(0)
    init = rng.standard_normal(shape).astype(dtype)
    if complex_:
        init = (init + 1j * rng.standard_normal(shape)).astype(np.complex64 if dtype == np.float32 else np.complex128)
    params = [lib.tensor(init, requires_grad=True), lib.tensor(init[:7].copy(), requires_grad=True)]
    opt = getattr(lib.optim, opt_name)(params, **kwargs)
    for step in range(steps):
        grads = np.random.default_rng(step + 1).standard_normal(shape).astype(init.dtype)
        for p in params:
            p.grad = lib.tensor(grads[:p.shape[0]].copy())
        opt.step()
    return [p.detach().numpy() for p in params]


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), maximize=True)),  # 1 - beta1 >= 0.5: the other lerp formula
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=lambda c: str(c))
def test_steps_match_torch(opt_name, kwargs, dtype, variant):
    op = "sgd_step" if opt_name == "SGD" else "adam_step"
    with dispatch.record() as records:
        ours = _run(torsh, opt_name, kwargs, dtype)
    ref = _run(torch, opt_name, kwargs, dtype)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, **TOL[dtype])
    assert {r.variant for r in records if r.op == op} == {variant}


@pytest.mark.parametrize("opt_name,kwargs", [CASES[2], CASES[5]], ids=["SGD", "Adam"])
def test_complex_parameters_step_through_their_real_view(opt_name, kwargs, variant):
    ours = _run(torsh, opt_name, kwargs, np.float64, complex_=True, shape=(300,))
    ref = _run(torch, opt_name, kwargs, np.float64, complex_=True, shape=(300,))
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, **TOL[np.float64])


def test_non_contiguous_or_half_parameters_take_numexpr_and_say_why():
    p = torsh.randn(30, 40).t().detach().requires_grad_()  # a transposed leaf: not contiguous
    h = torsh.randn(50, dtype=torsh.float16).requires_grad_()
    opt = torsh.optim.SGD([p, h], lr=0.1, momentum=0.9)
    p.grad, h.grad = torsh.ones(40, 30), torsh.ones(50, dtype=torsh.float16)
    before = p.detach().numpy().copy()
    with dispatch.record() as records:
        opt.step()
    reasons = [r.reason for r in records if r.op == "sgd_step"]
    assert len(reasons) == 2 and all(r for r in reasons)
    assert "not contiguous arrays" in reasons[0] and "float16" in reasons[1]
    assert {r.variant for r in records if r.op == "sgd_step"} == {"numexpr"}
    np.testing.assert_allclose(p.detach().numpy(), before - 0.1, rtol=1e-6)


def test_step_records_version_bumps_for_autograd(variant):
    p = torsh.randn(10, requires_grad=True)
    y = p * 2
    z = y * p  # saves p for backward
    opt = torsh.optim.Adam([p])
    p.grad = torsh.ones(10)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1)),
                                             ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01, weight_decay=0))])
def test_infinite_parameters_stay_infinite_without_weight_decay(opt_name, kwargs, variant):
    # PyTorch adds weight_decay * p only when weight_decay != 0: 0 * inf would turn inf into nan
    values = np.array([np.inf, -np.inf, 1.0, 2.0] * 5, np.float32)
    results = []
    for lib in (torsh, torch):
        p = lib.tensor(values.copy(), requires_grad=True)
        opt = getattr(lib.optim, opt_name)([p], **kwargs)
        for _ in range(2):
            p.grad = lib.ones(20)
            opt.step()
        results.append(p.detach().numpy())
    np.testing.assert_array_equal(np.isinf(results[0]), np.isinf(results[1]))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=lambda c: str(c))
def test_unrecorded_steps_call_the_kernel_directly_with_the_recorded_values(opt_name, kwargs, dtype, variant):
    # with nobody recording, SGD/Adam call the one-thread kernel themselves (_fused.direct); they must give the
    # bits of the dispatcher's path (taken while recording) on every variant the dispatcher may pick
    with dispatch.record():
        recorded = _run(torsh, opt_name, kwargs, dtype)
    direct = _run(torsh, opt_name, kwargs, dtype)
    for a, b in zip(direct, recorded):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(direct, _run(torch, opt_name, kwargs, dtype)):
        np.testing.assert_allclose(a, b, **TOL[dtype])


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01))])
def test_unrecorded_steps_of_mixed_layouts_match_torch(opt_name, kwargs):
    # one optimizer over a contiguous, a transposed and a float16 parameter: each takes its own path
    rng = np.random.default_rng(0)
    inits = [rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((5, 6)).astype(np.float32),
             rng.standard_normal(7).astype(np.float16)]
    results = []
    for lib in (torsh, torch):
        params = [lib.tensor(inits[0], requires_grad=True), lib.tensor(inits[1]).t().detach().requires_grad_(),
                  lib.tensor(inits[2], requires_grad=True)]
        opt = getattr(lib.optim, opt_name)(params, **kwargs)
        for step in range(3):
            for i, p in enumerate(params):
                p.grad = lib.tensor(np.random.default_rng(10 * step + i).standard_normal(tuple(p.shape))
                                    .astype(inits[i].dtype))
            opt.step()
        results.append([p.detach().float().numpy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=2e-3 if a.size == 7 else 2e-5, atol=1e-3 if a.size == 7 else 2e-6)
