"""Window functions written in torsh ops, so that ``requires_grad=True`` gives a differentiable result
(its graph starts at the sample positions, as in PyTorch).

Every window samples a formula at M evenly spaced positions; ``sym=False`` (periodic, for spectral
analysis) samples M of the M + 1 points of the symmetric window.
"""
import math
from collections.abc import Iterable

import torsh

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _check(name, M, dtype, layout):
    """PyTorch's argument checks; returns the dtype to use."""
    dtype = torsh.get_default_dtype() if dtype is None else dtype
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not torsh.strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (torsh.float32, torsh.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _trivial(M, dtype, requires_grad):
    """The window of length 0 (empty) or 1 (a single 1), or None for longer windows."""
    if M == 0:
        return torsh.empty((0,), dtype=dtype, requires_grad=requires_grad)
    if M == 1:
        return torsh.ones((1,), dtype=dtype, requires_grad=requires_grad)
    return None


def _positions(start, step, M, dtype, requires_grad):
    """M points start, start + step, ...: the sample positions every window is a function of."""
    return torsh.linspace(start, start + (M - 1) * step, M, dtype=dtype, requires_grad=requires_grad)


def _span(M, sym):
    """Number of intervals the window's support is divided into: M - 1, or M for a periodic window."""
    return M if not sym and M > 1 else M - 1


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=torsh.strided, device=None,
                requires_grad=False):
    """exp(-|n - center| / tau); ``center`` defaults to the middle and may be set only when ``sym=False``."""
    dtype = _check("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return torsh.empty((0,), dtype=dtype, requires_grad=requires_grad)
    center = _span(M, sym) / 2.0 if center is None else center
    k = _positions(-center / tau, 1 / tau, M, dtype, requires_grad)
    return torsh.exp(-torsh.abs(k))


def cosine(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    """sin(pi (n + 1/2) / M): a half period of a sine."""
    dtype = _check("cosine", M, dtype, layout)
    if M == 0:
        return torsh.empty((0,), dtype=dtype, requires_grad=requires_grad)
    step = math.pi / (M + 1 if not sym and M > 1 else M)
    return torsh.sin(_positions(0.5 * step, step, M, dtype, requires_grad))


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    """exp(-n^2 / (2 std^2)) with n measured from the middle."""
    dtype = _check("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return torsh.empty((0,), dtype=dtype, requires_grad=requires_grad)
    scale = 1 / (std * math.sqrt(2))
    k = _positions(-_span(M, sym) / 2.0 * scale, scale, M, dtype, requires_grad)
    return torsh.exp(-(k ** 2))


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    """I0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / I0(beta): a Bessel-function taper, sharper as beta grows."""
    dtype = _check("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    trivial = _trivial(M, dtype, requires_grad)
    if trivial is not None:
        return trivial
    beta_t = torsh.tensor(beta, dtype=dtype)  # in the window's dtype, so beta^2 - k^2 stays >= 0
    step = 2.0 * beta / (M if not sym else M - 1)
    end = min(float(beta_t), float(-beta_t + (M - 1) * step))  # rounding must not carry k past beta
    k = torsh.linspace(-float(beta_t), end, M, dtype=dtype, requires_grad=requires_grad)
    return torsh.i0(torsh.sqrt(beta_t * beta_t - k ** 2)) / torsh.i0(beta_t)


def general_cosine(M, *, a, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    """sum_i (-1)^i a_i cos(2 pi i n / (M - 1)): the family of Hann, Hamming, Blackman and Nuttall."""
    dtype = _check("general_cosine", M, dtype, layout)
    trivial = _trivial(M, dtype, requires_grad)
    if trivial is not None:
        return trivial
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    k = _positions(0.0, 2 * math.pi / (M if not sym else M - 1), M, dtype, requires_grad)
    coefficients = torsh.tensor([(-1) ** i * w for i, w in enumerate(a)], dtype=dtype, requires_grad=requires_grad)
    order = torsh.arange(coefficients.shape[0], dtype=dtype).requires_grad_(requires_grad)
    return (coefficients.unsqueeze(-1) * torsh.cos(order.unsqueeze(-1) * k)).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=torsh.strided, device=None,
                    requires_grad=False):
    """alpha - (1 - alpha) cos(2 pi n / (M - 1))."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    dtype = _check("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype,
                          layout=layout, device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=torsh.strided, device=None, requires_grad=False):
    """1 - |2n/(M-1) - 1|: a triangle."""
    dtype = _check("bartlett", M, dtype, layout)
    trivial = _trivial(M, dtype, requires_grad)
    if trivial is not None:
        return trivial
    k = _positions(-1.0, 2 / (M if not sym else M - 1), M, dtype, requires_grad)
    return 1 - torsh.abs(k)
