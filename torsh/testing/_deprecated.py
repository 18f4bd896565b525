"""torch.testing.assert_allclose: the pre-1.12 comparison, kept by PyTorch as a deprecated wrapper of assert_close
(looser float tolerances, dtype not checked, NaNs equal by default)."""
import warnings

import torsh

from ._comparison import assert_close

_PRECISIONS = {torsh.float16: (1e-3, 1e-3), torsh.float32: (1e-4, 1e-5), torsh.float64: (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    warnings.warn(
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future release. "
        "Please use `torch.testing.assert_close()` instead. "
        "You can find detailed upgrade instructions in https://github.com/pytorch/pytorch/issues/61844.",
        FutureWarning, stacklevel=2)
    if not isinstance(actual, torsh.Tensor):
        actual = torsh.tensor(actual)
    if not isinstance(expected, torsh.Tensor):
        expected = torsh.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtols, atols = zip(*(_PRECISIONS.get(t.dtype, (0.0, 0.0)) for t in (actual, expected)))
        rtol, atol = max(rtols), max(atols)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True, check_dtype=False,
                 check_stride=False, msg=msg or None)
