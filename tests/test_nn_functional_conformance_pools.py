"""Pooling's dtype rules, argument forms, edge cases and errors against PyTorch 2.13 (avg/adaptive/lp pools): each
case runs the same lambda on torsh and on torch (``lib``); accepted calls must give PyTorch's dtype, shape and values,
rejected ones PyTorch's exception type and message."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch

F = lambda lib: lib.nn.functional  # noqa: E731


def _x(lib, shape, dtype="float32"):
    """Values -2..2 (exact in every dtype), so integer and float pools can be compared exactly."""
    values = np.arange(int(np.prod(shape))).reshape(shape) * 7 % 5 - 2
    return lib.tensor(values).to(getattr(lib, dtype))


def _same_result(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = fn(torsh), fn(torch_ref)
    if isinstance(ref, tuple):
        for o, r in zip(ours, ref):
            assert_close(o, r.detach())
    else:
        assert_close(ours, ref.detach())


# -- dtypes: which each kernel has, and what the accepted ones give ----------------------------------------------
_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
           "complex64")
_POOLS = {
    "avg_pool1d": lambda lib, d: F(lib).avg_pool1d(_x(lib, (1, 2, 5), d), 2),
    "avg_pool2d": lambda lib, d: F(lib).avg_pool2d(_x(lib, (1, 2, 4, 5), d), 2, 1, 1, count_include_pad=False),
    "avg_pool3d": lambda lib, d: F(lib).avg_pool3d(_x(lib, (1, 1, 3, 4, 4), d), 2, ceil_mode=True),
    "adaptive_avg_pool1d": lambda lib, d: F(lib).adaptive_avg_pool1d(_x(lib, (1, 2, 5), d), 3),
    "adaptive_avg_pool2d": lambda lib, d: F(lib).adaptive_avg_pool2d(_x(lib, (1, 2, 4, 5), d), (2, 3)),
    "adaptive_avg_pool3d": lambda lib, d: F(lib).adaptive_avg_pool3d(_x(lib, (1, 1, 3, 4, 4), d), 2),
    "adaptive_max_pool1d": lambda lib, d: F(lib).adaptive_max_pool1d(_x(lib, (1, 2, 5), d), 3, True),
    "lp_pool1d": lambda lib, d: F(lib).lp_pool1d(_x(lib, (1, 2, 5), d), 2.0, 2),
    "lp_pool2d": lambda lib, d: F(lib).lp_pool2d(_x(lib, (1, 2, 4, 4), d), 2.0, 2),
    "lp_pool3d": lambda lib, d: F(lib).lp_pool3d(_x(lib, (1, 1, 2, 4, 4), d), 2.0, 2),
}


def _outcome(fn):
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return None, e


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("op", sorted(_POOLS))
def test_pool_dtypes_match_pytorch(op, dtype):
    """Same accept/reject decision per dtype; accepted: PyTorch's dtype and values (int64 averages truncate)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ref_error = _outcome(lambda: _POOLS[op](torch_ref, dtype))
    if ref_error is not None:
        check_same_error(lambda lib: _POOLS[op](lib, dtype))
    else:
        _same_result(lambda lib: _POOLS[op](lib, dtype))


# -- errors: ranks, argument lengths, empty dims, in PyTorch's order ---------------------------------------------
POOL_ERRORS = {
    "avg_pool2d 0-d": lambda lib: F(lib).avg_pool2d(lib.tensor(1.0), 2),
    "avg_pool2d 2-d": lambda lib: F(lib).avg_pool2d(_x(lib, (4, 4)), 2),
    "avg_pool2d 5-d": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 1, 1, 4, 4)), 2),
    "avg_pool2d 5-d stride 0": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 1, 1, 4, 4)), 2, 0),
    "avg_pool2d 2-d divisor 0": lambda lib: F(lib).avg_pool2d(_x(lib, (4, 4)), 2, divisor_override=0),
    "avg_pool2d 2-d kernel length": lambda lib: F(lib).avg_pool2d(_x(lib, (4, 4)), (2, 2, 2)),
    "avg_pool2d stride length": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 2, 4, 4)), 2, (2, 2, 2)),
    "avg_pool2d bool stride 0": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 4, 4), "bool"), 0),
    "avg_pool2d bool divisor 0": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 4, 4), "bool"), 2, divisor_override=0),
    "avg_pool1d empty channels": lambda lib: F(lib).avg_pool1d(_x(lib, (0, 4)), 2),
    "avg_pool1d kernel length": lambda lib: F(lib).avg_pool1d(_x(lib, (1, 2, 4)), (2, 2)),
    "avg_pool1d stride length": lambda lib: F(lib).avg_pool1d(_x(lib, (1, 2, 4)), 2, (1, 1)),
    "avg_pool1d padding length": lambda lib: F(lib).avg_pool1d(_x(lib, (1, 2, 4)), 2, 1, (1, 1)),
    "avg_pool3d kernel length": lambda lib: F(lib).avg_pool3d(_x(lib, (1, 2, 4, 4, 4)), (2, 2)),
    "avg_pool3d stride length": lambda lib: F(lib).avg_pool3d(_x(lib, (1, 2, 4, 4, 4)), 2, (2, 2)),
    "avg_pool3d padding length": lambda lib: F(lib).avg_pool3d(_x(lib, (2, 4, 4)), 2, 2, (0, 0)),
    "avg_pool3d divisor 0": lambda lib: F(lib).avg_pool3d(_x(lib, (2, 2, 4, 4)), 2, divisor_override=0),
    "avg_pool3d half channels_last": lambda lib: F(lib).avg_pool3d(
        _x(lib, (1, 1, 4, 4, 4), "float16").to(memory_format=lib.channels_last_3d), 2),
    "max_pool2d stride length": lambda lib: F(lib).max_pool2d(_x(lib, (1, 2, 4, 4)), 2, (2, 2, 2)),
    "max_pool2d dilation length": lambda lib: F(lib).max_pool2d(_x(lib, (1, 2, 4, 4)), 2, 2, 0, (1, 1, 1)),
    "max_pool3d stride length": lambda lib: F(lib).max_pool3d(_x(lib, (1, 2, 4, 4, 4)), 2, (2, 2)),
    "max_pool3d dilation length": lambda lib: F(lib).max_pool3d(_x(lib, (1, 2, 4, 4, 4)), 2, 2, 0, (1, 1)),
    "max_pool1d kernel length": lambda lib: F(lib).max_pool1d(_x(lib, (1, 2, 4)), (2, 2)),
    "max_pool1d stride length": lambda lib: F(lib).max_pool1d(_x(lib, (1, 2, 4)), 2, (2, 2)),
    "max_pool1d padding length": lambda lib: F(lib).max_pool1d(_x(lib, (1, 2, 4)), 2, 2, (0, 0)),
    "max_pool1d dilation length": lambda lib: F(lib).max_pool1d(_x(lib, (1, 2, 4)), 2, 2, 0, (1, 1)),
    "max_pool1d indices kernel length": lambda lib: F(lib).max_pool1d(_x(lib, (1, 2, 4)), (2, 2), return_indices=True),
    "lp_pool2d 0-d": lambda lib: F(lib).lp_pool2d(lib.tensor(1.0), 2.0, 2),
    "adaptive_avg_pool1d 0-d": lambda lib: F(lib).adaptive_avg_pool1d(lib.tensor(1.0), 2),
    "adaptive_avg_pool1d 4-d": lambda lib: F(lib).adaptive_avg_pool1d(_x(lib, (1, 1, 2, 3)), 2),
    "adaptive_avg_pool1d output length": lambda lib: F(lib).adaptive_avg_pool1d(_x(lib, (2, 4)), (2, 2)),
    "adaptive_avg_pool1d empty output list": lambda lib: F(lib).adaptive_avg_pool1d(_x(lib, (2, 4)), []),
    "adaptive_max_pool1d 0-d": lambda lib: F(lib).adaptive_max_pool1d(lib.tensor(1.0), 2),
    "adaptive_max_pool1d empty channels": lambda lib: F(lib).adaptive_max_pool1d(_x(lib, (2, 0, 4)), 2),
    "adaptive_max_pool1d output length": lambda lib: F(lib).adaptive_max_pool1d(_x(lib, (2, 4)), (2, 2)),
    "adaptive_avg_pool2d 1-d, 1x1": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (4,)), (1, 1)),
    "adaptive_avg_pool2d 1-d, int 1": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (4,)), 1),
    "adaptive_avg_pool3d 0-d, int 1": lambda lib: F(lib).adaptive_avg_pool3d(lib.tensor(1.0), 1),
    "adaptive_avg_pool3d empty last dim, 3-d": lambda lib: F(lib).adaptive_avg_pool3d(_x(lib, (2, 4, 0)), 2),
    "adaptive_max_pool2d output length": lambda lib: F(lib).adaptive_max_pool2d(_x(lib, (2, 2, 2, 4)), (2, 2, 2)),
    "adaptive_max_pool2d short output": lambda lib: F(lib).adaptive_max_pool2d(_x(lib, (2, 2, 2, 4)), (2,)),
    "adaptive_max_pool3d output length": lambda lib: F(lib).adaptive_max_pool3d(_x(lib, (2, 2, 2, 2, 4)), (2,)),
    "adaptive_max_pool3d negative output": lambda lib: F(lib).adaptive_max_pool3d(_x(lib, (2, 2, 4, 4)), (1, -1, 2)),
}


@pytest.mark.parametrize("case", sorted(POOL_ERRORS))
def test_pool_errors_match_pytorch(case):
    check_same_error(POOL_ERRORS[case])


POOL_RESULTS = {
    "adaptive_avg_pool2d empty batch, unbatched": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (0, 4, 4)), 2),
    "adaptive_avg_pool2d no channels": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (1, 0, 4, 4)), 2),
    "adaptive_avg_pool2d int64 empty output": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (2, 2, 4, 4), "int64"),
                                                                                     (0, 2)),
    "adaptive_avg_pool2d 2-d, int 1": lambda lib: F(lib).adaptive_avg_pool2d(_x(lib, (4, 4)), 1),
    "adaptive_avg_pool3d empty batch, unbatched": lambda lib: F(lib).adaptive_avg_pool3d(_x(lib, (0, 4, 4, 4)), 2),
    "adaptive_avg_pool3d None sizes": lambda lib: F(lib).adaptive_avg_pool3d(_x(lib, (1, 3, 4, 5)), (None, 3, None)),
    "adaptive_avg_pool1d no channels": lambda lib: F(lib).adaptive_avg_pool1d(_x(lib, (2, 0, 4)), 2),
    "adaptive_avg_pool1d int64 empty output": lambda lib: F(lib).adaptive_avg_pool1d(_x(lib, (2, 2, 4), "int64"), 0),
    "adaptive_max_pool1d empty batch, unbatched": lambda lib: F(lib).adaptive_max_pool1d(_x(lib, (0, 4)), 2),
    "adaptive_max_pool2d empty batch, unbatched": lambda lib: F(lib).adaptive_max_pool2d(_x(lib, (0, 4, 4)), 2,
                                                                                         return_indices=True),
    "adaptive_max_pool3d empty batch, unbatched": lambda lib: F(lib).adaptive_max_pool3d(_x(lib, (0, 4, 4, 4)), 2),
    "adaptive_max_pool1d indices": lambda lib: F(lib).adaptive_max_pool1d(_x(lib, (3, 20)), 7, return_indices=True),
    "avg_pool3d int64 ceil, padding": lambda lib: F(lib).avg_pool3d(_x(lib, (1, 1, 4, 4, 4), "int64") * 7, 3, 2, 1,
                                                                    ceil_mode=True, count_include_pad=False),
    "avg_pool3d int64 negative divisor": lambda lib: F(lib).avg_pool3d(_x(lib, (1, 1, 4, 4, 4), "int64") * 7, 3, 2, 1,
                                                                       divisor_override=-4),
    "avg_pool2d int64 divisor": lambda lib: F(lib).avg_pool2d(_x(lib, (1, 4, 4, 4), "int64") * 7, 3, 2, 1,
                                                              divisor_override=4),
    "avg_pool1d int64 ceil": lambda lib: F(lib).avg_pool1d(_x(lib, (4, 16), "int64") * 7, 4, 3, 2, ceil_mode=True),
    "avg_pool1d empty stride": lambda lib: F(lib).avg_pool1d(_x(lib, (1, 2, 4)), 2, ()),
    "avg_pool2d tuple geometry": lambda lib: F(lib).avg_pool2d(_x(lib, (4, 4, 4)), (3, 2), (2, 1), (1, 0),
                                                               ceil_mode=True, count_include_pad=False),
    "lp_pool2d tuple kernel, ceil": lambda lib: F(lib).lp_pool2d(_x(lib, (2, 4, 4)).abs() + 1, 3, (3, 2), 1,
                                                                 ceil_mode=True),
    "lp_pool1d ceil": lambda lib: F(lib).lp_pool1d(_x(lib, (1, 2, 4)).abs() + 1, 2, 3, 1, ceil_mode=True),
}


@pytest.mark.parametrize("case", sorted(POOL_RESULTS))
def test_pool_results_match_pytorch(case):
    _same_result(POOL_RESULTS[case])


def test_avg_pool1d_graph_reads_as_pytorch():
    """avg_pool1d is avg_pool2d of the (N, C, 1, L) view: the result's node is the squeeze, as in PyTorch."""
    names = [F(lib).avg_pool1d(_x(lib, (2, 16)).requires_grad_(), 2).grad_fn.name() for lib in (torsh, torch_ref)]
    assert names[0] == names[1] == "SqueezeBackward1"
