"""Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly).

While enabled, every recorded node keeps the stack of the forward call that made it (in
``node.metadata["traceback_"]``, as PyTorch), a failing backward names that forward call,
and with ``check_nan`` a backward that produces NaN raises at once.
"""
import traceback
import warnings

_enabled = False
_check_nan = True


def is_anomaly_enabled():
    return _enabled


def is_anomaly_check_nan_enabled():
    return _check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off; works as a function call and as a context manager."""

    def __init__(self, mode, check_nan=True):
        global _enabled, _check_nan
        self._prev = (_enabled, _check_nan)
        _enabled, _check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        global _enabled, _check_nan
        _enabled, _check_nan = self._prev
        return False


class detect_anomaly(set_detect_anomaly):
    def __init__(self, check_nan=True):
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                      "be enabled for debugging.", stacklevel=2)
        super().__init__(True, check_nan)


def remember_forward_stack(node):
    node.metadata["traceback_"] = traceback.format_stack()[:-3]  # drop the frames inside torsh's recorder


def report_failure(node):
    stack = node.metadata.get("traceback_")
    if stack:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n"
                      + "".join(stack), stacklevel=2)


def check_for_nan(node, grad_inputs):
    import numpy as np
    for i, g in enumerate(grad_inputs):
        if g is not None and g._data.dtype.kind in "fc" and np.isnan(g._data).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
