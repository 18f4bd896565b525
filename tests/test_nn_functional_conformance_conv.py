"""Convolution, unfold/fold and conv_tbc dtype rules and edge errors against PyTorch 2.13: same accept/reject
decision per dtype, PyTorch's exception type and message, PyTorch's results where it accepts."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch

F = lambda lib: lib.nn.functional  # noqa: E731


def _x(lib, shape, dtype="float32"):
    values = np.arange(int(np.prod(shape))).reshape(shape) * 7 % 5 - 2
    return lib.tensor(values).to(getattr(lib, dtype))


_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "complex64")
_OPS = {
    "conv1d": lambda lib, d: F(lib).conv1d(_x(lib, (1, 2, 5), d), _x(lib, (3, 2, 2), d)),
    "conv2d": lambda lib, d: F(lib).conv2d(_x(lib, (1, 2, 4, 4), d), _x(lib, (3, 2, 2, 2), d), _x(lib, (3,), d),
                                           padding=1),
    "conv2d empty batch": lambda lib, d: F(lib).conv2d(_x(lib, (0, 2, 4, 4), d), _x(lib, (3, 2, 2, 2), d)),
    "conv3d": lambda lib, d: F(lib).conv3d(_x(lib, (1, 1, 3, 3, 3), d), _x(lib, (2, 1, 2, 2, 2), d)),
    "conv_transpose1d": lambda lib, d: F(lib).conv_transpose1d(_x(lib, (1, 2, 4), d), _x(lib, (2, 3, 2), d)),
    "conv_transpose2d": lambda lib, d: F(lib).conv_transpose2d(_x(lib, (1, 2, 3, 3), d), _x(lib, (2, 3, 2, 2), d),
                                                               stride=2),
    "conv_transpose2d empty batch": lambda lib, d: F(lib).conv_transpose2d(_x(lib, (0, 2, 3, 3), d),
                                                                           _x(lib, (2, 3, 2, 2), d)),
    "conv_transpose3d": lambda lib, d: F(lib).conv_transpose3d(_x(lib, (1, 1, 2, 2, 2), d),
                                                               _x(lib, (1, 2, 2, 2, 2), d)),
    "conv_tbc": lambda lib, d: F(lib).conv_tbc(_x(lib, (4, 1, 2), d), _x(lib, (2, 2, 3), d), _x(lib, (3,), d)),
    "unfold": lambda lib, d: F(lib).unfold(_x(lib, (1, 1, 3, 3), d), 2),
    "fold": lambda lib, d: F(lib).fold(_x(lib, (1, 4, 4), d), (3, 3), 2),
}


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("op", sorted(_OPS))
def test_conv_dtypes_match_pytorch(op, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = _OPS[op](torch_ref, dtype)
        except Exception:  # noqa: BLE001 - PyTorch refuses: torsh must refuse alike
            check_same_error(lambda lib: _OPS[op](lib, dtype))
            return
        ours = _OPS[op](torsh, dtype)
    tol = {"float16": 1e-2, "bfloat16": 5e-2}.get(dtype)
    assert_close(ours, ref, rtol=tol, atol=tol)


CONV_ERRORS = {
    "conv2d bool input, float weight": lambda lib: F(lib).conv2d(_x(lib, (1, 2, 4, 4), "bool"), _x(lib, (3, 2, 2, 2))),
    "conv_transpose2d int32 input, float weight": lambda lib: F(lib).conv_transpose2d(
        _x(lib, (1, 2, 4, 4), "int32"), _x(lib, (2, 3, 2, 2))),
    "conv_tbc too short": lambda lib: F(lib).conv_tbc(_x(lib, (0, 1, 2)), _x(lib, (2, 2, 3)), _x(lib, (3,))),
    "conv_tbc bool too short": lambda lib: F(lib).conv_tbc(_x(lib, (0, 1, 2), "bool"), _x(lib, (2, 2, 3), "bool"),
                                                           _x(lib, (3,), "bool")),
    "unfold 0-d": lambda lib: F(lib).unfold(lib.tensor(1.0), 2),
    "unfold 1-d": lambda lib: F(lib).unfold(_x(lib, (3,)), 2),
    "unfold 2-d": lambda lib: F(lib).unfold(_x(lib, (3, 3)), 2),
    "unfold int64 kernel too large": lambda lib: F(lib).unfold(_x(lib, (1, 1, 3, 3), "int64"), 5),
    "fold int64 block count": lambda lib: F(lib).fold(_x(lib, (1, 4, 5), "int64"), (3, 3), 2),
}


@pytest.mark.parametrize("case", sorted(CONV_ERRORS))
def test_conv_errors_match_pytorch(case):
    check_same_error(CONV_ERRORS[case])


# -- batch_norm / layer_norm: PyTorch's CPU kernels take real floating dtypes only ---------------------------------
_NORMS = {
    "layer_norm": lambda lib, d: F(lib).layer_norm(_x(lib, (3, 4), d), (4,)),
    "layer_norm empty": lambda lib, d: F(lib).layer_norm(_x(lib, (0, 4), d), (4,)),
    "batch_norm training": lambda lib, d: F(lib).batch_norm(_x(lib, (4, 3), d), None, None, training=True),
    "batch_norm eval": lambda lib, d: F(lib).batch_norm(_x(lib, (4, 3), d), lib.zeros(3), lib.ones(3)),
}


@pytest.mark.parametrize("dtype", ("bool", "uint8", "int32", "int64", "complex64"))
@pytest.mark.parametrize("op", sorted(_NORMS))
def test_norm_dtype_refusals_match_pytorch(op, dtype):
    check_same_error(lambda lib: _NORMS[op](lib, dtype))
