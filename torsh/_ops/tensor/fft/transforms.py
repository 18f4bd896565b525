"""torsh.fft: discrete Fourier transforms on scipy.fft (keeps single precision), differentiable.

Backward is the adjoint transform in PyTorch's complex-gradient convention: the adjoint of a
transform with norm N is the inverse-direction transform with the "dual" norm (backward <->
forward, ortho <-> ortho); real-input transforms take the real part of it, and the adjoint of a
complex-to-real transform doubles the bins that stand for two conjugate frequencies.
"""
import functools

import numpy as np
import scipy.fft as sfft

from .... import _dtype
from ...._autocast import float32_policy
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import normalize_dim
from ...registry import register
from ..conversion import conj as _conj

_fft_op = functools.partial(register, namespace="torsh.fft", method=False, out="copy")  # torch.fft.<name>

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _norm(norm):
    norm = norm or "backward"
    if norm not in _DUAL:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _as_float_or_complex(x):
    d = x._data
    if d.dtype.kind in "biu":
        return d.astype(_dtype.get_default_dtype().np)
    if d.dtype == np.float16:
        return d.astype(np.float32)
    return d


def _complex_dtype(array):
    return np.complex64 if array.dtype in (np.float32, np.complex64) else np.complex128


def _resize(t, dims, sizes):
    """Zero-pad or trim tensor ``t`` along ``dims`` to ``sizes`` (differentiable: narrow / cat)."""
    from ..creation import zeros
    from ..shape.views import cat
    for d, n in zip(dims, sizes):
        have = t._data.shape[d]
        if n < have:
            t = t.narrow(d, 0, n)
        elif n > have:
            pad_shape = list(t._data.shape)
            pad_shape[d] = n - have
            t = cat([t, zeros(pad_shape, dtype=t.dtype)], d)
    return t


def _dims_and_sizes(x, s, dim, default_all):
    ndim = x._data.ndim
    if dim is None:
        dims = list(range(ndim)) if s is None else list(range(ndim - len(s), ndim))
        if not default_all and s is None:
            dims = list(range(ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        if dims and ndim == 0:  # PyTorch wraps transform dims without the 0-d leniency of reductions
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = [normalize_dim(d, ndim) for d in dims]
    if s is not None:
        s = [s] if isinstance(s, int) else list(s)
        if len(s) != len(dims):
            raise RuntimeError(f"When given, dim and shape arguments must have the same length")
        sizes = [x._data.shape[d] if n == -1 else n for d, n in zip(dims, s)]
    else:
        sizes = [x._data.shape[d] for d in dims]
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, sizes


# -- complex-to-complex -------------------------------------------------------------------------
class FftC2CBackward0(Node):
    def backward(self, grad):
        g = _c2c(grad, self.dims, not self.forward, _DUAL[self.norm])
        g = _resize(g, self.dims, self.in_sizes)
        return (g.real if self.real_input else g,)


def _c2c(x, dims, forward, norm):
    data = _as_float_or_complex(x)
    fn = sfft.fftn if forward else sfft.ifftn
    value = fn(data, axes=dims, norm=norm) if dims else data.astype(_complex_dtype(data))
    result = wrap(np.asarray(value, dtype=_complex_dtype(data)))
    if needs_grad(x):
        node = FftC2CBackward0()
        node.dims, node.forward, node.norm = dims, forward, norm
        node.in_sizes, node.real_input = [x._data.shape[d] for d in dims], not x.dtype.is_complex
        record(node, (x,), (result,))
    return result


def _c2c_op(forward, x, s, dim, norm, default_all):
    norm = _norm(norm)
    dims, sizes = _dims_and_sizes(x, s, dim, default_all)
    return _c2c(_resize(x, dims, sizes), dims, forward, norm)


@float32_policy
def fft(input, n=None, dim=-1, norm=None, *, out=None):
    return _c2c_op(True, input, None if n is None else [n], [dim], norm, False)
_fft_op(fft)


@float32_policy
def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    return _c2c_op(False, input, None if n is None else [n], [dim], norm, False)
_fft_op(ifft)


@float32_policy
def fftn(input, s=None, dim=None, norm=None, *, out=None):
    return _c2c_op(True, input, s, dim, norm, True)
_fft_op(fftn)


@float32_policy
def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    return _c2c_op(False, input, s, dim, norm, True)
_fft_op(ifftn)


@float32_policy
def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return fftn(input, s, dim, norm)
_fft_op(fft2)


@float32_policy
def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ifftn(input, s, dim, norm)
_fft_op(ifft2)


# -- real-to-complex and complex-to-real --------------------------------------------------------
def _check_real(op, x):
    if x.dtype.is_complex:
        raise RuntimeError(f"{op} expects a real input tensor, but got {'ComplexFloat' if x.dtype is _dtype.complex64 else 'ComplexDouble'}")


class FftR2CBackward0(Node):
    def backward(self, grad):
        full = _resize(grad, [self.dims[-1]], [self.sizes[-1]])  # the bins rfft dropped get no gradient
        g = _c2c(full, self.dims, False, _DUAL[self.norm]).real
        return (_resize(g, self.dims, self.in_sizes),)


def _r2c(op, x, s, dim, norm, default_all):
    _check_real(op, x)
    norm = _norm(norm)
    dims, sizes = _dims_and_sizes(x, s, dim, default_all)
    _check_some_axis(op, dims)
    xr = _resize(x, dims, sizes)
    data = _as_float_or_complex(xr)
    value = sfft.rfftn(data, axes=dims, norm=norm)
    result = wrap(np.asarray(value, dtype=_complex_dtype(data)))
    if needs_grad(x):
        node = FftR2CBackward0()
        node.dims, node.sizes, node.norm, node.in_sizes = dims, sizes, norm, [x._data.shape[d] for d in dims]
        record(node, (x,), (result,))
    return result


@float32_policy
def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    return _r2c("rfft", input, None if n is None else [n], [dim], norm, False)
_fft_op(rfft)


@float32_policy
def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _r2c("rfftn", input, s, dim, norm, True)
_fft_op(rfftn)


@float32_policy
def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return rfftn(input, s, dim, norm)
_fft_op(rfft2)


class FftC2RBackward0(Node):
    def backward(self, grad):
        g = _r2c("rfftn", grad, None, self.dims, _DUAL[self.norm], True)
        last, n = self.dims[-1], self.sizes[-1]
        doubled = n - g._data.shape[last]  # bins standing for a conjugate pair count twice
        if doubled > 0:
            scale = np.ones(g._data.shape[last])
            scale[1:1 + doubled] = 2
            shape = [1] * g._data.ndim
            shape[last] = scale.size
            g = g * wrap(scale.reshape(shape).astype(grad._data.dtype))
        return (_resize(g, self.dims, self.in_sizes),)


def _check_some_axis(op, dims):
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")


def _c2r(x, s, dim, norm, default_all, op="irfftn"):
    norm = _norm(norm)
    dims, given = _dims_and_sizes(x, s, dim, default_all)
    _check_some_axis(op, dims)
    sizes = list(given)
    if s is None:
        sizes[-1] = 2 * (x._data.shape[dims[-1]] - 1)
    if sizes[-1] < 1:
        raise RuntimeError(f"Invalid number of data points ({sizes[-1]}) specified")
    half = sizes[-1] // 2 + 1
    xr = _resize(x, dims, sizes[:-1] + [half])
    real = _as_float_or_complex(xr)
    data = xr._data if xr.dtype.is_complex else real.astype(_complex_dtype(real))
    value = sfft.irfftn(data, s=sizes, axes=dims, norm=norm)
    real_dtype = np.float32 if data.dtype == np.complex64 else np.float64
    result = wrap(np.asarray(value, dtype=real_dtype))
    if needs_grad(x):
        node = FftC2RBackward0()
        node.dims, node.sizes, node.norm = dims, sizes, norm
        node.in_sizes = [x._data.shape[d] for d in dims]
        record(node, (x,), (result,))
    return result


@float32_policy
def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    return _c2r(input, None if n is None else [n], [dim], norm, False)
_fft_op(irfft)


@float32_policy
def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _c2r(input, s, dim, norm, True)
_fft_op(irfftn)


@float32_policy
def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return irfftn(input, s, dim, norm)
_fft_op(irfft2)


# -- Hermitian-input transforms: the real/complex transforms with conjugates and the dual norm ------


@float32_policy
def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: irfft(conj(x)) un-normalised."""
    return _c2r(_conj(input), None if n is None else [n], [dim], _DUAL[_norm(norm)], False)
_fft_op(hfft)


@float32_policy
def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _c2r(_conj(input), s, dim, _DUAL[_norm(norm)], True, op="hfftn")
_fft_op(hfftn)


@float32_policy
def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return hfftn(input, s, dim, norm)
_fft_op(hfft2)


@float32_policy
def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of hfft: conj(rfft(x)) normalised as an inverse transform."""
    return _conj(_r2c("ihfft", input, None if n is None else [n], [dim], _DUAL[_norm(norm)], False))
_fft_op(ihfft)


def _check_floating(x):
    if x.dtype.is_complex:  # the n-dimensional variants check the dtype before the op
        raise RuntimeError(f"Only supports floating-point dtypes, but found: "
                           f"{'ComplexFloat' if x.dtype is _dtype.complex64 else 'ComplexDouble'}")


@float32_policy
def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    _check_floating(input)
    return _conj(_r2c("ihfftn", input, s, dim, _DUAL[_norm(norm)], True))
_fft_op(ihfftn)


@float32_policy
def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ihfftn(input, s, dim, norm)
_fft_op(ihfft2)


# -- helpers ------------------------------------------------------------------------------------
def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None):
    dt = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    return wrap(np.fft.fftfreq(n, d).astype(dt.np), requires_grad)
_fft_op(fftfreq)


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None):
    dt = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    return wrap(np.fft.rfftfreq(n, d).astype(dt.np), requires_grad)
_fft_op(rfftfreq)


def _shift(input, dim, sign):
    ndim = input._data.ndim
    dims = list(range(ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [normalize_dim(d, ndim) for d in dims]
    shifts = [sign * (input._data.shape[d] // 2) if sign > 0 else -(input._data.shape[d] // 2) for d in dims]
    if not dims:  # PyTorch rolls by no shifts, which roll refuses
        raise RuntimeError("`shifts` required")
    return input.roll(shifts, dims)


def fftshift(input, dim=None):
    return _shift(input, dim, 1)
_fft_op(fftshift)


def ifftshift(input, dim=None):
    return _shift(input, dim, -1)
_fft_op(ifftshift)


__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
