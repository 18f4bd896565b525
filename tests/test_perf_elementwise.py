"""Large elementwise ops on the elementwise kernels (tensor and number, in-place add_/sub_/mul_/div_, copy_,
fill_/zero_) and the numexpr fusion backend's staged evaluation: the same values as PyTorch 2.13 whichever
variant the dispatcher picks, the records naming what ran."""
import math

import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._compile import numexpr_backend
from torsh.backend import dispatch

N = 70_001  # an odd size: the OpenMP chunks' tail
VARIANTS = {"numpy": (math.inf, math.inf), "pythran_simd": (0, math.inf), "pythran_omp": (0, 0)}
SCALAR_OPS = ("add_scalar", "sub_scalar", "mul_scalar", "div_scalar", "rsub_scalar", "rdiv_scalar")


@pytest.fixture
def forced(request):
    """Force the given ops onto one variant for the test (thresholds restored after)."""
    saved = dict(dispatch.thresholds)

    def force(variant, *ops):
        for op in ops:
            dispatch.set_thresholds(op, *VARIANTS[variant])
    yield force
    for op, (simd, parallel) in saved.items():
        dispatch.set_thresholds(op, simd, parallel)


def _data(dtype, seed=0, shift=0.0):
    return np.random.default_rng(seed).standard_normal(N).astype(dtype) + shift


def _pair(array, requires_grad=False):
    return (torsh.tensor(array, requires_grad=requires_grad),
            torch_ref.tensor(array, requires_grad=requires_grad))


TENSOR_NUMBER = [
    ("add_scalar", lambda t: t + 0.7), ("add_scalar", lambda t: 3 + t), ("sub_scalar", lambda t: t - 1.25),
    ("rsub_scalar", lambda t: 2.5 - t), ("mul_scalar", lambda t: t * 0.3), ("mul_scalar", lambda t: 3 * t),
    ("div_scalar", lambda t: t / 7), ("rdiv_scalar", lambda t: torsh.div(2.0, t) if isinstance(t, torsh.Tensor)
                                      else torch_ref.div(2.0, t)),
    ("sub_scalar", lambda t: torsh.sub(t, 4) if isinstance(t, torsh.Tensor) else torch_ref.sub(t, 4)),
]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op,fn", TENSOR_NUMBER)
def test_tensor_and_number_match_pytorch_bit_for_bit_on_every_variant(forced, variant, dtype, op, fn):
    forced(variant, *SCALAR_OPS)
    ours, ref = _pair(_data(dtype, shift=3.0))  # away from 0: a divisor
    with dispatch.record() as records:
        out = fn(ours)
    expected = fn(ref).numpy()
    assert out.dtype == getattr(torsh, np.dtype(dtype).name)
    np.testing.assert_array_equal(out.numpy(), expected)
    # below the thresholds NumPy runs as it always did, unrecorded
    assert [(r.op, r.variant) for r in records if r.op.endswith("_scalar")] == (
        [] if variant == "numpy" else [(op, variant)])


def test_tensor_and_number_gradients_match_pytorch(forced):
    forced("pythran_omp", *SCALAR_OPS)
    data = _data(np.float32, shift=3.0)
    ours, ref = _pair(data, requires_grad=True)
    weights = _data(np.float32, seed=1)
    for x, lib in ((ours, torsh), (ref, torch_ref)):
        ((2.5 - x * 0.3 + 1) / 4 * lib.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=1.3e-6, atol=1e-5)


def test_tensor_and_number_gradcheck_in_float64(forced):
    forced("pythran_omp", *SCALAR_OPS)
    x = torsh.tensor(np.random.default_rng(2).uniform(0.5, 2, 9), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: (3 - t * 0.5 + 1) / 4 - torsh.div(2.0, t), (x,))


def test_numbers_that_overflow_the_dtype_take_numpys_path(forced):
    forced("pythran_omp", *SCALAR_OPS)
    ours, ref = _pair(_data(np.float32))
    with dispatch.record() as records:
        out = ours * 1e39
    np.testing.assert_array_equal(out.numpy(), (ref * 1e39).numpy())
    assert not [r for r in records if r.op == "mul_scalar"]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_arithmetic_matches_pytorch(forced, variant, dtype):
    forced(variant, "add", "sub", "mul", "div", *SCALAR_OPS)
    ours, ref = _pair(_data(dtype))
    other, other_ref = _pair(_data(dtype, seed=1, shift=3.0))
    with dispatch.record() as records:
        for t, o in ((ours, other), (ref, other_ref)):
            t.add_(o).mul_(0.5).sub_(o).div_(o).add_(1.5).sub_(0.25).mul_(o).div_(3.0)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    ran = [(r.op, r.variant) for r in records]
    ops = ("add", "mul_scalar", "sub", "div", "add_scalar", "sub_scalar", "mul", "div_scalar")
    assert ran == ([] if variant == "numpy" else [(op, variant) for op in ops])


def test_inplace_with_an_overlapping_operand_gives_numpys_result(forced):
    """PyTorch refuses these partial overlaps; torsh computes NumPy's buffered result, never chunks that read
    what another chunk wrote."""
    forced("pythran_omp", "add", "copy")
    data = _data(np.float32)
    ours, expected = torsh.tensor(np.concatenate([data, data])), np.concatenate([data, data])
    ours[1:N + 1].add_(ours[:N])
    np.add(expected[1:N + 1], expected[:N], out=expected[1:N + 1])
    np.testing.assert_array_equal(ours.numpy(), expected)
    ours[1:N + 1].copy_(ours[:N])
    np.copyto(expected[1:N + 1], expected[:N])
    np.testing.assert_array_equal(ours.numpy(), expected)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_fill_and_zero_match_pytorch(forced, variant, dtype):
    forced(variant, "copy", "fill")
    src, src_ref = _pair(_data(dtype))
    dst, dst_ref = _pair(_data(dtype, seed=1))
    with dispatch.record() as records:
        dst.copy_(src)
    dst_ref.copy_(src_ref)
    np.testing.assert_array_equal(dst.numpy(), dst_ref.numpy())
    dst.fill_(2.5)
    dst_ref.fill_(2.5)
    np.testing.assert_array_equal(dst.numpy(), dst_ref.numpy())
    dst.fill_(torsh.tensor(-1.0, dtype=dst.dtype))
    dst_ref.fill_(torch_ref.tensor(-1.0, dtype=dst_ref.dtype))
    np.testing.assert_array_equal(dst.numpy(), dst_ref.numpy())
    dst.zero_()
    dst_ref.zero_()
    np.testing.assert_array_equal(dst.numpy(), dst_ref.numpy())
    assert [(r.op, r.variant) for r in records] == ([] if variant == "numpy" else [("copy", variant)])


def test_copy_across_dtypes_and_strides_keeps_numpys_path(forced):
    forced("pythran_omp", "copy")
    src, src_ref = _pair(_data(np.float64))
    dst = torsh.empty(N, dtype=torsh.float32)
    dst_ref = torch_ref.empty(N, dtype=torch_ref.float32)
    with dispatch.record() as records:
        dst.copy_(src)  # a cast
        dst[::2].copy_(dst[::2] * 2)  # a strided destination
    dst_ref.copy_(src_ref)
    dst_ref[::2].copy_(dst_ref[::2] * 2)
    np.testing.assert_array_equal(dst.numpy(), dst_ref.numpy())
    assert not [r for r in records if r.op == "copy" and r.variant != "numpy"]


def test_copy_records_and_gradient_flow_like_pytorch(forced):
    forced("pythran_omp", "copy")
    x, x_ref = _pair(_data(np.float32), requires_grad=True)
    ys = []
    for t, lib in ((x, torsh), (x_ref, torch_ref)):
        y = lib.zeros(N)
        y.copy_(t * 2)
        (y * 3).sum().backward()
        ys.append(y)
    np.testing.assert_array_equal(ys[0].detach().numpy(), ys[1].detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), x_ref.grad.numpy())


# -- torsh.compile's numexpr backend: large transcendental chains op by op on torsh's eager kernels --------
def chain(lib, x):
    return lib.tanh(x * 0.5 + 1) * lib.sigmoid(x) - x * x


def test_large_chain_matches_pytorch_forward_and_backward():
    data = _data(np.float32)
    compiled = torsh.compile(lambda t: chain(torsh, t), backend="numexpr")
    x, x_ref = _pair(data, requires_grad=True)
    weights = _data(np.float32, seed=3)
    y = compiled(x)
    (y * torsh.tensor(weights)).sum().backward()
    y_ref = chain(torch_ref, x_ref)
    (y_ref * torch_ref.tensor(weights)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), rtol=1.3e-6, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), x_ref.grad.numpy(), rtol=1.3e-6, atol=1e-5)
    assert y.dtype == torsh.float32 and type(y.grad_fn).__name__ == "CompiledFunctionBackward"
    with torsh.no_grad():  # the eager ops' values exactly
        np.testing.assert_array_equal(compiled(x).numpy(), chain(torsh, x).numpy())


def test_large_plan_explains_itself_and_its_ops_are_recorded():
    compiled = torsh.compile(lambda t: chain(torsh, t), backend="numexpr")
    x = torsh.tensor(_data(np.float32))
    reason = compiled.explain(x)
    assert reason.startswith("7 elementwise ops run one by one on torsh's eager kernels")
    assert "numexpr's tanh, sigmoid are scalar libm calls" in reason
    compiled(x)
    with dispatch.record() as records:
        compiled(x)
    assert [r.op for r in records][-1] == "compiled:<lambda>"
    assert {"tanh", "sigmoid", "mul", "sub"} <= {r.op for r in records}  # (small scalar ops run unrecorded)
    assert records[-1].variant == "eager_kernels" and records[-1].reason == reason
    small = torsh.randn(100)
    assert compiled.explain(small) == "7 elementwise ops fused into one numexpr pass"


def test_eager_programs_pass_gradcheck_and_broadcast(monkeypatch):
    monkeypatch.setattr(numexpr_backend, "STAGED_FROM", 1)
    compiled = torsh.compile(lambda a, b: (a * b).exp() / (b + 3) - torsh.tanh(a).sin() + torsh.sigmoid(b).log())
    rng = np.random.default_rng(4)
    a = torsh.tensor(rng.uniform(0.5, 2, (3, 1)), requires_grad=True)
    b = torsh.tensor(rng.uniform(0.5, 2, (4,)), requires_grad=True)
    assert "numexpr's exp, tanh, sin, sigmoid, log are scalar libm calls" in compiled.explain(a, b)
    assert torsh.autograd.gradcheck(compiled, (a, b))
    a_ref, b_ref = (torch_ref.tensor(t.detach().numpy()) for t in (a, b))
    expected = ((a_ref * b_ref).exp() / (b_ref + 3) - torch_ref.tanh(a_ref).sin()
                + torch_ref.sigmoid(b_ref).log())
    np.testing.assert_allclose(compiled(a, b).detach().numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
