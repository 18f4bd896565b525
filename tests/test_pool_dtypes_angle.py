"""Dtypes the max-pooling kernels lack raise PyTorch's NotImplementedError (found by the fuzz suite: torsh
raised NumPy's ValueError for complex input), and angle of +-inf is 0 / pi as in PyTorch (not NaN)."""
import pytest

import torsh
from helpers import check_same_error, torch_ref

POOLS = [("max_pool1d", (1, 2, 3)), ("max_pool2d", (1, 2, 3, 3)), ("max_pool3d", (1, 2, 2, 2, 2)),
         ("adaptive_max_pool1d", (1, 2, 3)), ("adaptive_max_pool2d", (1, 2, 3, 3)),
         ("adaptive_max_pool3d", (1, 2, 2, 2, 2))]


@pytest.mark.parametrize("dtype", ["bool", "complex64", "complex128", "int64", "uint8", "float16"])
@pytest.mark.parametrize("return_indices", [False, True])
@pytest.mark.parametrize("op,shape", POOLS)
def test_max_pool_dtypes_as_pytorch(op, shape, dtype, return_indices):
    def call(lib):
        return getattr(lib.nn.functional, op)(lib.zeros(shape, dtype=getattr(lib, dtype)), 1,
                                              return_indices=return_indices)
    try:
        expected = call(torch_ref)
    except NotImplementedError:
        check_same_error(call)
        return
    result = call(torsh)
    got, want = (result, expected) if not return_indices else (result[0], expected[0])
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1] and tuple(got.shape) == tuple(want.shape)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_angle_of_infinities_and_nan(dtype):
    values = [float("inf"), float("-inf"), float("nan"), -2.0, 0.0, 3.0]
    ours = torsh.angle(torsh.tensor(values, dtype=getattr(torsh, dtype)))
    ref = torch_ref.angle(torch_ref.tensor(values, dtype=getattr(torch_ref, dtype)))
    torsh.testing.assert_close(ours, torsh.tensor(ref.tolist(), dtype=ours.dtype), equal_nan=True)


def test_angle_gradient_is_zero_for_real_input():
    x = torsh.tensor([float("inf"), -1.0, 2.0], requires_grad=True)
    torsh.angle(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
