"""Statistics and numerical calculus: cov, corrcoef, histogramdd, gradient, trapezoid / trapz,
cumulative_trapezoid, combinations, vander, unravel_index.

The differentiable ones are compositions of torsh ops (so autograd and double backward follow), written
as PyTorch's ATen composites are, so values, dtypes and empty-input behaviour match."""
import itertools
import warnings

import numpy as np

from .... import _dtype, return_types
from ...._tensor import wrap
from .. import creation
from ... import registry
from ..._helpers import dtype_name, is_tensor, normalize_dim, shape_str
from ..misc import complex
from ..shape.views import cat

__all__ = ["cov", "corrcoef", "histogramdd", "gradient", "trapezoid", "trapz", "cumulative_trapezoid",
           "combinations", "vander", "unravel_index"]


# -- cov / corrcoef -------------------------------------------------------------------------------
def _check_weights(name, weights, num_observations, integral):
    if weights.dim() > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                           f"{weights.dim()} dimensions")
    kind_ok = (weights._data.dtype.kind in "iu") if integral else weights.dtype.is_floating_point
    if not kind_ok:
        wanted = "integral" if integral else "floating point"
        raise RuntimeError(f"cov(): expected {name} to have {wanted} dtype but got {name} with "
                           f"{dtype_name(weights.dtype)} dtype")
    if weights.numel() != num_observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the input "
                           f"but got {weights.numel()} != {num_observations}")
    if weights._data.size and weights._data.min() < 0:
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) of ``input`` over its columns (observations), as ATen's composite."""
    if input.dtype is _dtype.bool:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    num_observations = input.numel() if input.dim() < 2 else input.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, num_observations, integral=True)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, num_observations, integral=False)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = creation.tensor(num_observations, dtype=_dtype.int64)
    else:
        w_sum = w.sum()
        if not bool(w_sum._data != 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    avg = (x if w is None else x * w).sum(1) / w_sum
    if w is not None and correction != 0 and aweights is not None:
        norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm_factor = w_sum - correction
    if bool(norm_factor._data <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor * 0
    centred = x - avg.unsqueeze(1)
    c = centred.mm((centred if w is None else centred * w).t().conj())
    return (c / norm_factor).squeeze()


def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input`` (clipped to [-1, 1], as PyTorch)."""
    if input.dim() > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    c = cov(input)
    if c.dim() == 0:  # one variable: nan for a zero/nan/inf variance, 1 otherwise
        return c / c
    d = c.diagonal()
    stddev = (d.real if d.is_complex() else d).sqrt()
    c = c / stddev.reshape(-1, 1)
    c = c / stddev.reshape(1, -1)
    if c.is_complex():
        return complex(c.real.clip(-1, 1), c.imag.clip(-1, 1))
    return c.clip(-1, 1)


# -- histogramdd ----------------------------------------------------------------------------------


def _outer_edges(sample, dims, range):
    """(leftmost, rightmost) edge per dim: ``range`` or the data's extent, an empty extent widened by 0.5."""
    if range is not None:
        if len(range) != 2 * dims:
            raise RuntimeError(f"torch.histogramdd: for a {dims}-dimensional histogram range should have "
                               f"{2 * dims} elements, but got {len(range)}")
        lows, highs = np.array(range[0::2], dtype=np.float64), np.array(range[1::2], dtype=np.float64)
    elif sample.shape[0]:
        lows, highs = sample.min(axis=0).astype(np.float64), sample.max(axis=0).astype(np.float64)
    else:  # no sample: PyTorch's default range [0, 1]
        lows, highs = np.zeros(dims), np.ones(dims)
    same = lows == highs
    return np.where(same, lows - 0.5, lows), np.where(same, highs + 0.5, highs)


def histogramdd(input, bins, *, range=None, weight=None, density=False, out=None):
    """The D-dimensional histogram of the points in the last dim of ``input``: (hist, bin_edges)."""
    int_bins = isinstance(bins, (int, np.integer))
    if input.dim() == 0:  # PyTorch reads input.size(-1) for int bins, checks the rank otherwise
        if int_bins:
            raise IndexError("Dimension specified as -1 but tensor has no dimensions")
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    tensor_bins = not int_bins and all(is_tensor(b) for b in bins)
    if not input.dtype.is_floating_point and not tensor_bins:
        raise NotImplementedError(f'"histogramdd" not implemented for \'{dtype_name(input.dtype)}\'')
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                           f"but got input {input.dtype} and bins {input.dtype}")
    dims = input.shape[-1] if input.dim() else 1
    sample = input._data.reshape(-1, dims)
    np_dtype = input._data.dtype
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * dims
    if all(is_tensor(b) for b in bins):
        edges = [b._data.astype(np_dtype) for b in bins]
    else:
        lows, highs = _outer_edges(sample, dims, range)
        edges = [np.linspace(lo, hi, int(n) + 1).astype(np_dtype) for lo, hi, n in zip(lows, highs, bins)]
    weights = None if weight is None else weight._data.reshape(-1)
    hist, _ = np.histogramdd(sample, bins=[e.astype(np.float64) for e in edges], weights=weights,
                             density=density)
    result = return_types.histogramdd(wrap(hist.astype(np_dtype)), tuple(wrap(e) for e in edges))
    if out is not None:  # (hist, bin_edges) tensors to write into
        out[0].copy_(result.hist)
        for target, edge in zip(out[1], result.bin_edges):
            target.copy_(edge)
        return return_types.histogramdd(out[0], tuple(out[1]))
    return result


# -- gradient -------------------------------------------------------------------------------------
def _gradient_dims(input, spacing, dim):
    if spacing is None:  # spacing=None is the default unit spacing
        spacing = 1
    if dim is None:
        dims = list(range(input.dim()))
    else:
        dims = [dim] if isinstance(dim, (int, np.integer)) else list(dim)
        dims = [normalize_dim(int(d), input.dim()) for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            if dim is None:
                raise RuntimeError(
                    f"torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal to "
                    f"'self.dim() = {input.dim()}', since dim argument was not given, but got a list of length "
                    f"{len(spacing)}")
            raise RuntimeError(
                f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim arguments "
                f"to have the same length, but got a spacing argument of length {len(spacing)} and a dim argument "
                f"of length {len(dims)}.")
        return dims, list(spacing)
    return dims, [spacing] * len(dims)


def _gradient_uniform(f, d, h, edge_order):
    """Second-order central differences inside, one-sided ones of ``edge_order`` at the ends (step ``h``)."""
    n = f.shape[d]
    at = lambda start, length: f.narrow(d, start, length)  # noqa: E731
    interior = (at(2, n - 2) - at(0, n - 2)) / (2 * h)
    if edge_order == 1:
        first = (at(1, 1) - at(0, 1)) / h
        last = (at(n - 1, 1) - at(n - 2, 1)) / h
    else:
        first = (-1.5 * at(0, 1) + 2 * at(1, 1) - 0.5 * at(2, 1)) / h
        last = (0.5 * at(n - 3, 1) - 2 * at(n - 2, 1) + 1.5 * at(n - 1, 1)) / h
    return cat([first, interior, last], d)


def _gradient_coordinates(f, d, x, edge_order):
    """np.gradient's formulas for samples at the coordinates ``x`` (1-D) along dim ``d``."""
    n = f.shape[d]
    shape = [1] * f.dim()
    shape[d] = -1
    dx = x[1:] - x[:-1]
    at = lambda start, length: f.narrow(d, start, length)  # noqa: E731
    dx1, dx2 = dx[:-1].reshape(shape), dx[1:].reshape(shape)
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    interior = a * at(0, n - 2) + b * at(1, n - 2) + c * at(2, n - 2)
    if edge_order == 1:
        first = (at(1, 1) - at(0, 1)) / dx[0]
        last = (at(n - 1, 1) - at(n - 2, 1)) / dx[-1]
    else:
        h1, h2 = dx[0], dx[1]
        first = (-(2 * h1 + h2) / (h1 * (h1 + h2)) * at(0, 1) + (h1 + h2) / (h1 * h2) * at(1, 1)
                 - h1 / (h2 * (h1 + h2)) * at(2, 1))
        h1, h2 = dx[-2], dx[-1]
        last = (h2 / (h1 * (h1 + h2)) * at(n - 3, 1) - (h2 + h1) / (h1 * h2) * at(n - 2, 1)
                + (2 * h2 + h1) / (h2 * (h1 + h2)) * at(n - 1, 1))
    return cat([first, interior, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of the derivative of ``input`` along each of ``dim`` (np.gradient's formulas): a tuple."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if input.dtype is _dtype.bool:  # PyTorch subtracts neighbours, which bool refuses
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    dims, spacings = _gradient_dims(input, spacing, dim)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    if input._data.dtype.kind in "biu":  # PyTorch differentiates integers in the default float dtype
        input = input.to(_dtype.get_default_dtype())
    results = []
    for d, h in zip(dims, spacings):
        if is_tensor(h) and h.dim() == 1:
            results.append(_gradient_coordinates(input, d, h, edge_order))
        else:
            results.append(_gradient_uniform(input, d, h.item() if is_tensor(h) else h, edge_order))
    return tuple(results)


# -- trapezoid rules ------------------------------------------------------------------------------
def _floating(t):
    return t if t.dtype.is_floating_point or t.is_complex() else t.to(_dtype.get_default_dtype())


def _x_steps(y, x, d):
    """The widths between sample points ``x`` along dim ``d`` of ``y``, shaped to broadcast with y."""
    if x.dim() == 1 and x.shape[0] != y.shape[d]:
        raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
    if x.dim() == 1:
        shape = [1] * y.dim()
        shape[d] = -1
        x = x.reshape(shape)
    n = x.shape[d if x.dim() == y.dim() else -1]
    dd = d if x.dim() == y.dim() else x.dim() - 1
    return x.narrow(dd, 1, n - 1) - x.narrow(dd, 0, n - 1)


def _check_not_bool(op, y):
    if y.dtype is _dtype.bool:
        raise RuntimeError(f"{op}: received a bool input for `y`, but bool is not supported")


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along ``dim``: with sample points ``x``, or a constant spacing ``dx`` (default 1)."""
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments - got (Tensor, x=Tensor, dx=...)")
    _check_not_bool("trapezoid", y)
    if y.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = normalize_dim(dim, y.dim())
    n = y.shape[d]
    if x is not None and is_tensor(x):
        if n == 0:
            return creation.zeros(*[s for i, s in enumerate(y.shape) if i != d], dtype=_floating(y).dtype)
        pairs = y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)
        return (_x_steps(y, x, d) * pairs).sum(d) / 2
    step = 1 if dx is None else (x if x is not None else dx)
    if n == 0:
        return _floating(y).sum(d) * 0
    ends = y.narrow(d, 0, 1).squeeze(d) + y.narrow(d, n - 1, 1).squeeze(d)
    return (y.sum(d) - ends * 0.5) * step


def trapz(y, x=None, *, dx=None, dim=-1):
    """torch.trapz: trapezoid's older name (``trapz(y, x, dim=)`` or ``trapz(y, dx=, dim=)``)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid rule along ``dim`` (one element fewer than ``y`` along it)."""
    _check_not_bool("cumulative_trapezoid", y)
    if y.dim() == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, y.dim())
    n = y.shape[d]
    if n == 0:
        return _floating(y).narrow(d, 0, 0) * 1
    halves = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2
    if x is not None:
        if x.dim() == 1 and x.shape[0] != n:
            raise RuntimeError("cumulative_trapezoid: There must be one `x` value for each sample point")
        return (_x_steps(y, x, d) * halves).cumsum(d)
    return (halves * (1 if dx is None else dx)).cumsum(d)


# -- combinations / vander / unravel_index --------------------------------------------------------
def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of the elements of the 1-D ``input``, one per row (itertools' order)."""
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {shape_str(input)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return creation.empty(0, dtype=input.dtype)
    choose = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(choose(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    picked = input[wrap(rows.reshape(-1))]
    return picked.reshape(-1, r)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D ``x``: columns x^0 .. x^(N-1) (decreasing unless ``increasing``)."""
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":  # PyTorch promotes integer inputs with Long
        x = x.to(_dtype.int64)
    if n == 0:
        return creation.empty(x.shape[0], 0, dtype=x.dtype)
    ones = creation.ones(x.shape[0], 1, dtype=x.dtype)
    columns = cat([ones, x.unsqueeze(1).expand(x.shape[0], n - 1)], 1) if n > 1 else ones
    result = columns.cumprod(1)
    return result if increasing else result.flip(1)


def unravel_index(indices, shape):
    """Coordinates (a tuple of tensors) of the flat ``indices`` in a tensor of ``shape`` (wrapping as PyTorch)."""
    if not is_tensor(indices) or indices.is_complex() or indices.dtype.is_floating_point or \
            indices.dtype is _dtype.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    elif not isinstance(shape, (list, tuple)):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    for size in shape:
        if not isinstance(size, (int, np.integer)):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(size)}")
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    coefs = np.cumprod((1,) + shape[:0:-1])[::-1].astype(np.int64) if shape else np.zeros(0, np.int64)
    flat = indices._data.astype(np.int64)[..., None]
    with np.errstate(divide="ignore"):
        coords = np.floor_divide(flat, coefs) % np.array(shape, dtype=np.int64) if shape else flat[..., :0]
    return tuple(wrap(np.array(coords[..., i], copy=True)) for i in range(len(shape)))


for _name in ("cov", "corrcoef", "gradient", "trapezoid", "trapz", "cumulative_trapezoid", "combinations",
              "unravel_index", "vander", "histogramdd"):
    registry.register(globals()[_name], _name,
                      method=_name in ("cov", "corrcoef"))
