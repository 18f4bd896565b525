"""The ``nn`` kernel family (softmax, log_softmax, cross_entropy rows) against PyTorch, and
the dispatcher's choice between it and NumPy: forced variants agree, odd layouts go to NumPy
and the record says why, and double backward still goes through torsh ops."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch
from helpers import VARIANTS, forced_variant

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
NN_OPS = ("softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy",
          "cross_entropy_backward", "layer_norm", "layer_norm_backward", "silu_backward", "gelu_erf_backward",
          "gelu_tanh_backward", "softplus_backward", "elu_backward", "mish_backward", "relu_backward", "nll_loss")


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Force every nn op onto one variant; yields the variant name the records must show."""
    with forced_variant(NN_OPS, request.param) as recorded:
        yield recorded


def _pair(arr, requires_grad=True):
    return (torsh.tensor(arr, requires_grad=requires_grad), torch.tensor(arr, requires_grad=requires_grad))


def _close(ours, ref, dtype):
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **TOL[dtype])


def _variants_of(records, op):
    return {r.variant for r in records if r.op == op}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(7, 33), (3, 4, 50), (5,)])
def test_softmax_forward_backward_match_torch(name, shape, dtype, variant):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 4).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        y = getattr(torsh, name)(x, -1)
        y.backward(torsh.tensor(grad))
    yr = getattr(torch, name)(xr, -1)
    yr.backward(torch.tensor(grad))
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    assert _variants_of(records, name) == {variant}
    assert _variants_of(records, name + "_backward") == {variant}


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_rows_with_infinities_match_torch(name, variant):
    arr = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]], np.float32)
    ours = getattr(torsh, name)(torsh.tensor(arr), 1).numpy()
    ref = getattr(torch, name)(torch.tensor(arr), 1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_off_the_last_dim_or_non_contiguous_runs_on_numpy_and_says_why(name):
    arr = np.random.default_rng(1).standard_normal((20, 30)).astype(np.float32)
    for x, dim in ((torsh.tensor(arr), 0), (torsh.tensor(arr).t(), 1)):
        with dispatch.record() as records:
            y = getattr(torsh, name)(x, dim)
        (rec,) = [r for r in records if r.op == name]
        assert rec.variant == "numpy" and "last dim of a contiguous array" in rec.reason, rec
        ref = getattr(torch, name)(torch.tensor(x.numpy()), dim)
        _close(y, ref, np.float32)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_double_backward_uses_torsh_ops(name, variant):
    arr = np.random.default_rng(2).standard_normal((4, 6))
    x = torsh.tensor(arr, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: getattr(torsh, name)(t, 1), (x,))
    assert torsh.autograd.gradgradcheck(lambda t: getattr(torsh, name)(t, 1), (x,))


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=2),
    dict(label_smoothing=0.1),
    dict(label_smoothing=0.2, reduction="none", ignore_index=1),
    dict(weight=True),
    dict(weight=True, label_smoothing=0.3, ignore_index=0),
    dict(weight=True, reduction="sum", label_smoothing=0.1),
]


def _ce_args(case, dtype, classes, rng):
    kwargs = dict(case)
    if kwargs.pop("weight", False):
        w = rng.uniform(0.5, 2.0, classes).astype(dtype)
        return kwargs, torsh.tensor(w), torch.tensor(w)
    return kwargs, None, None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_cross_entropy_forward_backward_match_torch(case, dtype, variant):
    rng = np.random.default_rng(3)
    arr = (rng.standard_normal((37, 5)) * 3).astype(dtype)
    target = rng.integers(0, 5, 37)
    kwargs, w, wr = _ce_args(case, dtype, 5, rng)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        loss = F.cross_entropy(x, torsh.tensor(target), weight=w, **kwargs)
        (loss * torsh.tensor(np.linspace(0.5, 1.5, loss.numel()).astype(dtype)).reshape(loss.shape)).sum().backward()
    ref = torch.nn.functional.cross_entropy(xr, torch.tensor(target), weight=wr, **kwargs)
    (ref * torch.tensor(np.linspace(0.5, 1.5, ref.numel()).astype(dtype)).reshape(ref.shape)).sum().backward()
    _close(loss, ref, dtype)
    _close(x.grad, xr.grad, dtype)
    assert _variants_of(records, "cross_entropy") == {variant}
    assert _variants_of(records, "cross_entropy_backward") == ({variant} if variant != "numpy" else set())
    # the NumPy variant is PyTorch's own composition, with PyTorch's graph (nll, plus the smoothing term)
    if variant == "numpy":
        assert loss.grad_fn.name() == ("AddBackward0" if case.get("label_smoothing") else "NllLossBackward0")
    else:
        assert loss.grad_fn.name() == "CrossEntropyLossBackward0"


def test_cross_entropy_unbatched_and_all_ignored(variant):
    arr = np.random.default_rng(4).standard_normal(6).astype(np.float32)
    x, xr = _pair(arr)
    loss = F.cross_entropy(x, torsh.tensor(3))
    loss.backward()
    ref = torch.nn.functional.cross_entropy(xr, torch.tensor(3))
    ref.backward()
    _close(loss, ref, np.float32)
    _close(x.grad, xr.grad, np.float32)
    ignored = F.cross_entropy(torsh.zeros(3, 4), torsh.tensor([1, 1, 1]), ignore_index=1)
    assert np.isnan(ignored.item()) and np.isnan(torch.nn.functional.cross_entropy(
        torch.zeros(3, 4), torch.tensor([1, 1, 1]), ignore_index=1).item())


@pytest.mark.parametrize("case", [dict(), dict(reduction="none", label_smoothing=0.2, ignore_index=2),
                                  dict(weight=True, label_smoothing=0.1)])
def test_cross_entropy_double_backward_matches_torch(case, variant):
    rng = np.random.default_rng(5)
    arr = rng.standard_normal((6, 4))
    target = np.array([0, 1, 2, 3, 2, 1])
    kwargs, w, wr = _ce_args(case, np.float64, 4, rng)
    x, xr = _pair(arr)
    loss = F.cross_entropy(x, torsh.tensor(target), weight=w, **kwargs).sum()
    (g,) = torsh.autograd.grad(loss, x, create_graph=True)
    (g * g).sum().backward()
    ref = torch.nn.functional.cross_entropy(xr, torch.tensor(target), weight=wr, **kwargs).sum()
    (gr,) = torch.autograd.grad(ref, xr, create_graph=True)
    (gr * gr).sum().backward()
    _close(g, gr, np.float64)
    _close(x.grad, xr.grad, np.float64)
    assert torsh.autograd.gradgradcheck(
        lambda t: F.cross_entropy(t, torsh.tensor(target), weight=w, **kwargs), (torsh.tensor(arr, requires_grad=True),))


def test_cross_entropy_bad_targets_raise_pytorchs_errors(variant):
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(torsh.zeros(3, 4), torsh.tensor([0, 7, 1]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.cross_entropy(torsh.zeros(3, 4), torsh.tensor([0, 1, 1], dtype=torsh.int32))


def test_cross_entropy_on_non_contiguous_logits_runs_on_numpy_and_says_why():
    x = torsh.randn(5, 40).t()  # (40, 5), not contiguous
    with dispatch.record() as records:
        loss = F.cross_entropy(x, torsh.zeros(40, dtype=torsh.int64))
    (rec,) = [r for r in records if r.op == "cross_entropy"]
    assert rec.variant == "numpy" and "contiguous logits" in rec.reason
    ref = torch.nn.functional.cross_entropy(torch.tensor(x.numpy()), torch.zeros(40, dtype=torch.int64))
    _close(loss, ref, np.float32)


LN_CASES = [((9, 33), (33,), True, True), ((2, 3, 4, 10), (4, 10), True, False), ((5, 16), (16,), False, False),
            ((6, 8), (8,), False, True), ((3, 300), 300, True, True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized,has_weight,has_bias", LN_CASES, ids=str)
def test_layer_norm_forward_backward_match_torch(shape, normalized, has_weight, has_bias, dtype, variant):
    rng = np.random.default_rng(6)
    arr = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    wshape = (normalized,) if isinstance(normalized, int) else normalized
    w, wr = _pair(rng.uniform(0.5, 1.5, wshape).astype(dtype)) if has_weight else (None, None)
    b, br = _pair(rng.standard_normal(wshape).astype(dtype)) if has_bias else (None, None)
    grad = rng.standard_normal(shape).astype(dtype)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        y = F.layer_norm(x, normalized, w, b, eps=1e-5)
        y.backward(torsh.tensor(grad))
    yr = torch.nn.functional.layer_norm(xr, wshape, wr, br, eps=1e-5)
    yr.backward(torch.tensor(grad))
    tol = dict(rtol=1e-4, atol=2e-5) if dtype == np.float32 else TOL[dtype]
    np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), **tol)
    for ours, ref in ((x, xr), (w, wr), (b, br)):
        if ours is not None:
            np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), **tol)
    assert y.grad_fn.name() == "NativeLayerNormBackward0"
    assert _variants_of(records, "layer_norm") == _variants_of(records, "layer_norm_backward") == {variant}


def test_layer_norm_non_contiguous_input_runs_on_numpy_and_says_why():
    arr = np.random.default_rng(7).standard_normal((12, 20)).astype(np.float32)
    x = torsh.tensor(arr).t()
    with dispatch.record() as records:
        y = F.layer_norm(x, (12,))
    (rec,) = [r for r in records if r.op == "layer_norm"]
    assert rec.variant == "numpy" and "not contiguous" in rec.reason
    ref = torch.nn.functional.layer_norm(torch.tensor(arr).t(), (12,))
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_double_backward(variant):
    rng = np.random.default_rng(8)
    x = torsh.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    w = torsh.tensor(rng.uniform(0.5, 1.5, 5), requires_grad=True)
    b = torsh.tensor(rng.standard_normal(5), requires_grad=True)
    fn = lambda x, w, b: F.layer_norm(x, (5,), w, b)  # noqa: E731
    assert torsh.autograd.gradcheck(fn, (x, w, b))
    assert torsh.autograd.gradgradcheck(fn, (x, w, b))


def test_layer_norm_of_mixed_or_half_dtypes_keeps_the_composed_path():
    x = torsh.randn(4, 6, dtype=torsh.float16)
    y = F.layer_norm(x, (6,))
    ref = torch.nn.functional.layer_norm(torch.tensor(x.float().numpy()), (6,))
    np.testing.assert_allclose(y.float().numpy(), ref.numpy(), rtol=1e-2, atol=1e-2)


# the exact GELU's backward kernel (transformer family) is float32 only: float64 runs its formula
FLOAT32_ONLY = {"gelu_erf_backward"}
ACTIVATIONS = [("silu", {}, "silu_backward"), ("gelu", {}, "gelu_erf_backward"),
               ("gelu", {"approximate": "tanh"}, "gelu_tanh_backward"), ("softplus", {}, "softplus_backward"),
               ("softplus", {"beta": 2.0, "threshold": 1.0}, "softplus_backward"), ("elu", {}, "elu_backward"),
               ("elu", {"alpha": 0.7}, "elu_backward"), ("selu", {}, "elu_backward"),
               ("celu", {"alpha": 0.5}, "elu_backward"), ("mish", {}, "mish_backward"), ("relu", {}, "relu_backward")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs,op", ACTIVATIONS, ids=lambda v: str(v))
def test_activation_backward_matches_torch(name, kwargs, op, dtype, variant):
    rng = np.random.default_rng(9)
    arr = (rng.standard_normal(5000) * 4).astype(dtype)
    arr[:4] = [0.0, 30.0, -30.0, 1e-3]  # kinks and far tails
    grad = rng.standard_normal(5000).astype(dtype)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        getattr(F, name)(x, **kwargs).backward(torsh.tensor(grad))
    getattr(torch.nn.functional, name)(xr, **kwargs).backward(torch.tensor(grad))
    # float32 atol: the torsh-op formula (NumPy variant) of gelu-tanh rounds differently in the tails
    tol = dict(rtol=2e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), **tol)
    assert _variants_of(records, op) == {"numpy" if op in FLOAT32_ONLY and dtype != np.float32 else variant}


@pytest.mark.parametrize("name,kwargs,op", ACTIVATIONS[::2], ids=lambda v: str(v))
def test_activation_double_backward_uses_torsh_ops(name, kwargs, op, variant):
    x = torsh.tensor(np.random.default_rng(10).standard_normal(7) * 2, requires_grad=True)
    fn = lambda t: getattr(F, name)(t, **kwargs)  # noqa: E731
    assert torsh.autograd.gradcheck(fn, (x,))
    assert torsh.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(37, 6), (6,), (3, 6, 2, 5)], ids=str)
def test_nll_loss_forward_backward_match_torch(shape, weighted, reduction, dtype, variant):
    rng = np.random.default_rng(11)
    logp = rng.standard_normal(shape).astype(dtype)
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = rng.integers(0, 6, target_shape)
    if target.ndim:
        target.reshape(-1)[[1, 4]] = -100  # ignored rows
    weight = rng.uniform(0.5, 2.0, 6).astype(dtype) if weighted else None
    x, xr = _pair(logp)
    with dispatch.record() as records:
        out = F.nll_loss(x, torsh.tensor(target), None if weight is None else torsh.tensor(weight), reduction=reduction)
    ref = torch.nn.functional.nll_loss(xr, torch.tensor(target), None if weight is None else torch.tensor(weight),
                                       reduction=reduction)
    _close(out, ref, dtype)
    grad = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(torsh.tensor(grad))
    ref.backward(torch.tensor(grad))
    _close(x.grad, xr.grad, dtype)
    assert _variants_of(records, "nll_loss") == {variant}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_gradcheck_float64(reduction, variant):
    weight = torsh.tensor([0.5, 2.0, 1.0, 1.5], dtype=torsh.float64)
    target = torsh.tensor([0, 3, -100, 1, 3])
    logp = torsh.tensor(np.random.default_rng(12).standard_normal((5, 4)), requires_grad=True)
    fn = lambda x: F.nll_loss(x, target, weight, reduction=reduction)  # noqa: E731
    with dispatch.record() as records:
        assert torsh.autograd.gradcheck(fn, (logp,))
        assert torsh.autograd.gradgradcheck(fn, (logp,))
    assert _variants_of(records, "nll_loss") == {variant}


@pytest.mark.parametrize("bad", [6, -3])
def test_nll_loss_names_the_first_target_out_of_range(bad, variant):
    target = torsh.tensor([0, -100, bad, 7, 2])
    logp = torsh.randn(5, 6, requires_grad=True)
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        F.nll_loss(logp, target)
    assert logp.grad is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_treats_nan_as_threshold_backward_does(dtype, variant):
    # NaN in relu's output passes the gradient; a NaN gradient where the output is <= 0 is dropped
    arr = np.array([np.nan, -1.0, 0.0, 2.0, -3.0, 4.0] * 5000, dtype=dtype)
    grad = np.array([1.0, np.nan, np.nan, 3.0, 5.0, np.nan] * 5000, dtype=dtype)
    x, xr = _pair(arr)
    with dispatch.record() as records:
        F.relu(x).backward(torsh.tensor(grad))
    torch.relu(xr).backward(torch.tensor(grad))
    np.testing.assert_array_equal(x.grad.numpy(), xr.grad.numpy())
    assert _variants_of(records, "relu_backward") == {variant}


def test_activation_backward_of_a_non_contiguous_input_runs_the_formula_and_says_why():
    x = torsh.randn(30, 40).t().requires_grad_()
    with dispatch.record() as records:
        F.silu(x).sum().backward()
    (rec,) = [r for r in records if r.op == "silu_backward"]
    assert rec.variant == "numpy" and "not contiguous" in rec.reason
    xr = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.nn.functional.silu(xr).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-5, atol=1e-6)


def _run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=300)


def test_missing_nn_family_is_an_error_when_kernels_are_required():
    proc = _run_python("import torsh", TORSH_REQUIRE_KERNELS="1", TORSH_KERNELS_DISABLE="nn")
    assert proc.returncode != 0
    assert "compiled kernel families missing: nn" in proc.stderr


def test_missing_nn_family_falls_back_to_numpy_and_says_so():
    code = ("import torsh; from torsh.backend import dispatch\n"
            "with dispatch.record() as r: torsh.softmax(torsh.randn(300, 300), 1)\n"
            "print([x.reason for x in r if x.op == 'softmax'])")
    proc = _run_python(code, TORSH_KERNELS_DISABLE="nn", TORSH_REQUIRE_KERNELS="0")
    assert proc.returncode == 0, proc.stderr
    assert "kernel family nn not compiled" in proc.stdout
