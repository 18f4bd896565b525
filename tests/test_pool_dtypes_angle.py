"""Dtypes the max-pooling kernels lack raise PyTorch's NotImplementedError (found by the fuzz suite: torsh
raised NumPy's ValueError for complex input), angle of +-inf is 0 / pi as in PyTorch (not NaN), and eval-mode
batch_norm without running statistics raises PyTorch's error instead of using the batch's."""
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


@pytest.mark.parametrize("stats", [(None, None), ("mean", None), (None, "var")])
def test_eval_batch_norm_needs_running_statistics(stats):
    def call(lib):
        mean = None if stats[0] is None else lib.zeros(3)
        var = None if stats[1] is None else lib.ones(3)
        return lib.nn.functional.batch_norm(lib.ones(4, 3), mean, var, training=False)
    check_same_error(call)


def test_modules_without_running_statistics_still_normalise_in_eval():
    x = torsh.randn(4, 3)
    bn = torsh.nn.BatchNorm1d(3, track_running_stats=False).eval()
    torsh.testing.assert_close(bn(x), torsh.nn.functional.batch_norm(x, None, None, training=True))
