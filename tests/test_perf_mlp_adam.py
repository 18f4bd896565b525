"""The float32 Adam/AdamW step on the optim_f32 C++ family (float32 divisions, where the Pythran optim family
divides in double precision): which kernel runs, its values against PyTorch 2.13 over W6-sized steps and every
case of the update, and its argument checks."""
import itertools

import numpy as np
import pytest

import torsh
from torsh.backend import kernels
from torsh.optim import _fused

from helpers import needs_torch, torch_ref

needs_optim_f32 = pytest.mark.skipif(kernels.get("optim_f32") is None, reason="optim_f32 kernels not built")
TOL32 = dict(rtol=2e-5, atol=2e-6)


@needs_optim_f32
def test_float32_adam_runs_on_the_cpp_family_and_float64_on_pythran():
    assert _fused._kernel("adam_step", np.dtype(np.float32)) is kernels.get("optim_f32").adam_step
    assert _fused._kernel("adam_step", np.dtype(np.float64)) is kernels.get("optim").adam_step
    assert _fused._kernel("sgd_step", np.dtype(np.float32)) is kernels.get("optim").sgd_step


def _mlp_adam(lib, opt_name, kwargs, steps=3):
    """W6's MLP (784-512-256-10, batch 128) after ``steps`` optimizer steps: its parameters as arrays."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(784, 512), lib.nn.ReLU(), lib.nn.Linear(512, 256), lib.nn.ReLU(),
                              lib.nn.Linear(256, 10))
    opt = getattr(lib.optim, opt_name)(model.parameters(), **kwargs)
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((128, 784)).astype(np.float32))
    target = lib.from_numpy(rng.integers(0, 10, 128))
    for _ in range(steps):
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), target).backward()
        opt.step()
    return [p.detach().numpy() for p in model.parameters()]


@needs_torch
@needs_optim_f32
@pytest.mark.parametrize("opt_name,kwargs", [("Adam", dict(lr=1e-3)), ("AdamW", dict(lr=1e-3, weight_decay=0.05))])
def test_w6_mlp_adam_steps_match_pytorch(opt_name, kwargs):
    ours = _mlp_adam(torsh, opt_name, kwargs)
    ref = _mlp_adam(torch_ref, opt_name, kwargs)
    for a, b in zip(ours, ref):
        assert a.dtype == np.float32
        # the gradients differ from PyTorch's in their last bits (other GEMMs), and Adam scales a gradient near
        # zero up to a step of ~lr: a parameter may then be 5e-6 off (the Pythran kernel gives the same), while
        # a wrong update would be off by about lr = 1e-3
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def _adam_state(lib, opt_name, kwargs, n=1037, steps=3):
    """A float32 parameter of ``n`` elements (not a multiple of any vector width: the loops' tails run) after
    ``steps`` steps of given gradients, with the optimizer's state tensors."""
    rng = np.random.default_rng(1)
    p = lib.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
    opt = getattr(lib.optim, opt_name)([p], **kwargs)
    for step in range(steps):
        p.grad = lib.tensor(np.random.default_rng(step + 2).standard_normal(n).astype(np.float32))
        opt.step()
    state = opt.state[p]
    keys = [k for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if k in state]
    return [p.detach().numpy()] + [state[k].numpy() for k in keys]


# every loop of the kernel: weight decay (Adam's coupled / AdamW's decoupled) or none, both lerp formulas
# (1 - beta1 below or above 0.5), amsgrad or not, maximize
CASES = [(name, dict(lr=0.01, weight_decay=wd, betas=betas, amsgrad=ams, maximize=maximize))
         for name, wd, betas, ams, maximize in itertools.product(
             ("Adam", "AdamW"), (0.0, 0.1), ((0.9, 0.999), (0.3, 0.9)), (False, True), (False, True))
         if not (name == "AdamW" and wd == 0.0)]


@needs_torch
@needs_optim_f32
@pytest.mark.parametrize("opt_name,kwargs", CASES, ids=str)
def test_every_case_of_the_update_matches_pytorch(opt_name, kwargs):
    ours = _adam_state(torsh, opt_name, kwargs)
    ref = _adam_state(torch_ref, opt_name, kwargs)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, **TOL32)


def _kernel_args(n=64, **overrides):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(5)]
    arrays[3] = np.abs(arrays[3])
    arrays[4] = np.abs(arrays[4])
    scalars = dict(decay=1.0, gsign=1.0, wd=0.0, w=0.1, w1=0.9, lerp_low=True, b2=0.999, c2=0.001, bc2=0.5,
                   eps=1e-8, nss=-1e-3, amsgrad=False)
    scalars.update(overrides)
    return arrays, list(scalars.values())


@needs_optim_f32
@pytest.mark.parametrize("short", range(5))
def test_a_short_array_raises_instead_of_overrunning(short):
    arrays, scalars = _kernel_args()
    arrays[short] = arrays[short][:-1].copy()
    before = [a.copy() for a in arrays]
    with pytest.raises(ValueError, match="adam_step: .* holds .* bytes, expected"):
        kernels.get("optim_f32").adam_step(*arrays, *scalars)
    for a, b in zip(arrays, before):  # nothing written
        np.testing.assert_array_equal(a, b)


@needs_optim_f32
def test_read_only_outputs_are_refused():
    arrays, scalars = _kernel_args()
    arrays[0].flags.writeable = False
    with pytest.raises(TypeError):
        kernels.get("optim_f32").adam_step(*arrays, *scalars)


@needs_optim_f32
def test_same_values_as_the_pythran_kernel():
    """Per-operation float32 rounding in both: the C++ loops give the Pythran family's values (which divide in
    double and round once: the same quotient) up to the Pythran build's contracted multiply-adds."""
    for lerp_low, amsgrad, wd in itertools.product((True, False), (False, True), (0.0, 0.01)):
        arrays, scalars = _kernel_args(n=4099, lerp_low=lerp_low, amsgrad=amsgrad, wd=wd)
        ours = [a.copy() for a in arrays]
        theirs = [a.copy() for a in arrays]
        kernels.get("optim_f32").adam_step(*ours, *scalars)
        kernels.get("optim").adam_step(*theirs, *[np.float32(s) if isinstance(s, float) else s for s in scalars])
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
