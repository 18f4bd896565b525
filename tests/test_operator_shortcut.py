"""The fast path of ``a + b`` / ``-`` / ``*`` / ``/`` (pointwise.operator_with_shortcut).

It must be invisible: same values, dtype and shape as the general op and as PyTorch, and it
must step aside whenever autograd, a dispatch listener or a broadcast error is involved.
"""
import operator

import numpy as np
import pytest

import torsh
from torsh.backend import dispatch
from helpers import ALL_DTYPES, assert_close, needs_torch, torch_ref

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
SCALARS = (2, 0.5, -3)


def _operand(lib, dtype, shape, seed):
    data = np.random.default_rng(seed).integers(1, 5, size=shape)
    return lib.tensor(data.tolist()).to(getattr(lib, dtype))


def _pairs(lib, dtype):
    """(left, right) operand pairs: same shapes, broadcast shapes, 0-d, tensor-number both ways."""
    a, b = _operand(lib, dtype, (3, 4), 0), _operand(lib, dtype, (3, 4), 1)
    yield a, b
    yield a, _operand(lib, dtype, (4,), 2)
    yield _operand(lib, dtype, (), 3), _operand(lib, dtype, (), 4)
    for s in SCALARS:
        yield a, s
        yield s, a


# bool - bool is an error in PyTorch (tested below)
CASES = [(dtype, symbol) for dtype in ALL_DTYPES for symbol in OPERATORS if (dtype, symbol) != ("bool", "-")]


@needs_torch
@pytest.mark.parametrize("dtype, symbol", CASES)
def test_operators_match_pytorch(dtype, symbol):
    fn = OPERATORS[symbol]
    for (x, y), (tx, ty) in zip(_pairs(torsh, dtype), _pairs(torch_ref, dtype)):
        got, want = fn(x, y), fn(tx, ty)
        assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1], (symbol, dtype, x, y)
        assert tuple(got.shape) == tuple(want.shape)
        assert_close(got, want)


@pytest.mark.parametrize("symbol", OPERATORS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16", "complex64"])
def test_shortcut_equals_general_op(dtype, symbol):
    general = {"+": torsh.add, "-": torsh.sub, "*": torsh.mul, "/": torsh.div}[symbol]
    for x, y in _pairs(torsh, dtype):
        fast, slow = OPERATORS[symbol](x, y), general(x, y)
        assert fast.dtype == slow.dtype and fast.shape == slow.shape
        np.testing.assert_array_equal(np.asarray(fast._data), np.asarray(slow._data))
        assert isinstance(fast._data, np.ndarray)  # 0-d results too: in-place ops need an array


def test_bool_subtraction_keeps_pytorch_error():
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        torsh.tensor([True]) - torsh.tensor([False])


def test_broadcast_error_names_the_sizes():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(2\)"):
        torsh.ones(3) + torsh.ones(2)


@pytest.mark.parametrize("symbol", OPERATORS)
def test_graph_is_recorded_when_an_operand_requires_grad(symbol):
    x = torsh.tensor([1.0, 2.0], requires_grad=True)
    for y in (torsh.tensor([3.0, 4.0]), 2.0):
        for left, right in ((x, y), (y, x)):
            out = OPERATORS[symbol](left, right)
            assert out.requires_grad and out.grad_fn is not None
    with torsh.no_grad():
        assert OPERATORS[symbol](x, x).grad_fn is None


def test_dispatch_listeners_see_small_adds():
    a, b = torsh.ones(5), torsh.ones(5)
    with dispatch.record() as records:
        a + b
    assert [r.op for r in records] == ["add"]


def test_results_are_counted_by_the_memory_statistics():
    a = torsh.ones(1000)
    before = torsh.memory_allocated()
    c = a + a
    assert torsh.memory_allocated() - before == c.numel() * c.element_size()


@pytest.mark.parametrize("make, value", [(lambda: torsh.div(torsh.tensor(4), torsh.tensor(3)), 4 / 3),
                                         (lambda: torsh.tensor(4.0) / torsh.tensor(3.0), 4 / 3),
                                         (lambda: torsh.tensor([4.0, 1.0]).sum(), 5.0)])
def test_zero_dim_results_can_be_written_in_place(make, value):
    c = make()
    c.add_(1)
    c.mul_(2)
    assert c.item() == pytest.approx((value + 1) * 2, rel=1e-6)


def test_division_by_zero_is_silent_as_in_pytorch():
    import subprocess
    import sys
    code = ("import torsh\n"
            "x = torsh.ones(3) / torsh.zeros(3)\n"
            "y = torsh.log(torsh.zeros(2)) + torsh.sqrt(-torsh.ones(2))\n"
            "print(x.tolist(), y.isnan().tolist())\n")
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[inf, inf, inf] [True, True]"
    assert "RuntimeWarning" not in done.stderr, done.stderr
