"""torch.hann_window, hamming_window, blackman_window, bartlett_window, kaiser_window: the top-level
factory windows (periodic by default, unlike torch.signal.windows). Each returns a leaf tensor."""
import numpy as np

import torsh
from .. import _dtype
from .._tensor import _CPP_TYPE

__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]

_COMPLEX_NAMES = {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _checked_dtype(name, window_length, dtype):
    if isinstance(window_length, bool) or not isinstance(window_length, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, "
                        f"not {type(window_length).__name__}")
    dtype = _dtype.get_default_dtype() if dtype is None else _dtype.to_dtype(dtype)
    if dtype.is_complex:  # PyTorch accepts the dtype, then its arange has no complex kernel
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{_COMPLEX_NAMES[dtype.name]}'")
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions(dtype={_CPP_TYPE[dtype.name]}, "
                           "device=cpu, layout=Strided (default), requires_grad=false (default), "
                           "pinned_memory=false, memory_format=(nullopt))")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    return dtype


def _rounding(dtype):
    """(NumPy type to compute in, rounding applied after every step) so that results match PyTorch's,
    which computes half-precision windows one op at a time, each op in float32 rounded to the dtype."""
    if dtype == torsh.float64:
        return np.float64, lambda x: x
    if dtype == torsh.float32:
        return np.float32, lambda x: x
    return np.float32, lambda x: x.astype(dtype.np).astype(np.float32)


def _window(name, window_length, periodic, dtype, requires_grad, formula):
    """Shared frame: checks, the length-0/1 cases, and the periodic window as the first L of L + 1 points.

    ``formula(n, length, q)`` gets the sample indices ``n`` (0 .. length - 1, in the working type) and
    the rounding ``q`` to apply after each step, and returns the window values.
    """
    dtype = _checked_dtype(name, window_length, dtype)
    working, q = _rounding(dtype)
    if window_length <= 1:
        values = np.ones(window_length, dtype=working)
    else:
        length = window_length + 1 if periodic else window_length
        values = formula(np.arange(length, dtype=working), length, q)[:window_length]
    result = torsh.from_numpy(np.ascontiguousarray(values, dtype=working)).to(dtype)
    return result.requires_grad_(requires_grad)


def _cosine_sum(n, length, q, alpha, beta):
    """alpha - beta cos(2 pi n / (length - 1)), step by step as PyTorch computes it."""
    return q(alpha - q(beta * q(np.cos(q(n * (2 * np.pi / (length - 1)))))))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   pin_memory=False, requires_grad=False):
    """alpha - beta cos(2 pi n / (N - 1))."""
    def formula(n, length, q):
        return _cosine_sum(n, length, q, alpha, beta)
    return _window("hamming_window", window_length, periodic, dtype, requires_grad, formula)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / (N - 1))."""
    def formula(n, length, q):
        return _cosine_sum(n, length, q, 0.5, 0.5)
    return _window("hann_window", window_length, periodic, dtype, requires_grad, formula)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    def formula(n, length, q):
        w = q(n * (np.pi / (length - 1)))
        high = q(0.08 * q(np.cos(q(4 * w))))
        low = q(0.5 * q(np.cos(q(2 * w))))
        return q(q(high - low) + 0.42)
    return _window("blackman_window", window_length, periodic, dtype, requires_grad, formula)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    """The triangle 1 - |2n / (N - 1) - 1|, rising over the first half and falling over the second."""
    def formula(n, length, q):
        rise = q(n * (2.0 / (length - 1)))
        half = (length - 1) // 2 + 1
        rise[half:] = q(2 - rise[half:])
        return rise
    return _window("bartlett_window", window_length, periodic, dtype, requires_grad, formula)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  pin_memory=False, requires_grad=False):
    """I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta) with a = (N - 1) / 2."""
    def formula(n, length, q):  # one fused kernel in PyTorch: rounded once, at the end
        middle = (length - 1) / 2.0
        return np.i0(beta * np.sqrt(np.abs(1 - ((n - middle) / middle) ** 2))) / np.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, requires_grad, formula)
