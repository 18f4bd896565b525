"""torch.masked's reductions and normalizations on strided tensors.

Every op replaces the masked-out elements of ``input`` by the identity of its reduction (0 for sum, 1 for
prod, -inf for amax, ...) and runs the plain op, so a fully masked-out slice gives what the plain op gives on
identities: 0 for sum, -inf for amax and logsumexp, nan for mean/var/std (0 / 0). Gradients flow through
``torsh.where``: zero at masked-out positions. Without ``mask`` the plain op runs.
"""
import math

import torsh
from .. import nn

__all__ = ["amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp", "logsumexp",
           "mean", "median", "norm", "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]

# integer inputs of sum/prod are accumulated in int64, as torch.sum does
_WIDENED_TO_INT64 = ("uint8", "bool", "int8", "int16", "int32")


def _dtype_name(dtype):
    return str(dtype).split(".")[-1]


def _reduction_identity(op_name, input, ord=2):
    """The value that leaves the reduction ``op_name`` unchanged, as a 0-d tensor of input's dtype (None if
    the op has none: mean, var, std)."""
    dtype = input.dtype
    floating = dtype.is_floating_point
    integral = not floating and not dtype.is_complex and dtype != torsh.bool
    if op_name in ("sum", "cumsum"):
        return torsh.tensor(0, dtype=dtype)
    if op_name in ("prod", "cumprod"):
        return torsh.tensor(1, dtype=dtype)
    if op_name in ("amax", "argmax", "logaddexp") and (floating or integral):
        return torsh.tensor(-math.inf if floating else torsh.iinfo(dtype).min, dtype=dtype)
    if op_name == "logsumexp" and (floating or integral or dtype.is_complex):
        return torsh.tensor(torsh.iinfo(dtype).min if integral else -math.inf, dtype=dtype)
    if op_name in ("amin", "argmin") and (floating or integral):
        return torsh.tensor(math.inf if floating else torsh.iinfo(dtype).max, dtype=dtype)
    if op_name == "norm":
        return torsh.tensor(math.inf if ord == -math.inf else 0, dtype=dtype)
    if op_name == "median":  # nanmedian skips NaN
        return torsh.tensor(math.nan, dtype=dtype if floating else torsh.float32)
    if op_name in ("mean", "var", "std"):
        return None
    raise NotImplementedError(f"identity of {op_name} on {dtype} input")


def _canonical_dim(dim, ndim):
    """``dim`` (None, () or an int or ints) as a sorted tuple of non-negative dims; None and () mean all."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    ndim = max(ndim, 1)
    dims = []
    for d in (dim,) if isinstance(dim, int) else dim:
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if d >= ndim or d < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})")
        dims.append(d % ndim)
    return tuple(sorted(dims))


def _input_mask(input, mask):
    """``mask`` broadcast to input's shape, as bool."""
    if mask is None:
        raise ValueError("_input_mask requires explicit mask")
    if tuple(mask.shape) != tuple(input.shape):
        if mask.ndim > input.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of "
                             "the input)")
        mask = torsh.broadcast_to(mask.clone(), input.shape)
    return mask.to(dtype=torsh.bool)


def _masked_input(op_name, input, mask, ord=2):
    """input with its masked-out elements replaced by the identity of ``op_name``."""
    if mask is None:
        return input
    return torsh.where(_input_mask(input, mask), input, _reduction_identity(op_name, input, ord))


def _accumulation_dtype(input, dtype):
    if dtype is not None:
        return dtype
    return torsh.int64 if _dtype_name(input.dtype) in _WIDENED_TO_INT64 else input.dtype


# -- reductions ----------------------------------------------------------------------------------------------
def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    dtype = _accumulation_dtype(input, dtype)
    dims = _canonical_dim(dim, input.ndim)
    return torsh.sum(_masked_input("sum", input, mask), dims, bool(keepdim), dtype=dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    result = _masked_input("prod", input, mask).to(dtype=_accumulation_dtype(input, dtype))
    for d in reversed(_canonical_dim(dim, input.ndim)):  # torch.prod reduces one dim at a time
        result = result.prod(dim=d, keepdim=bool(keepdim))
    return result


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    masked = _masked_input("amax", input, mask)
    return torsh.amax(masked, _canonical_dim(dim, masked.ndim), bool(keepdim)).to(dtype=dtype or input.dtype)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    masked = _masked_input("amin", input, mask)
    return torsh.amin(masked, _canonical_dim(dim, masked.ndim), bool(keepdim)).to(dtype=dtype or input.dtype)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    masked = _masked_input("argmax", input, mask)
    return torsh.argmax(masked, dim, bool(keepdim)).to(dtype=dtype or input.dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    masked = _masked_input("argmin", input, mask)
    return torsh.argmin(masked, dim, bool(keepdim)).to(dtype=dtype or input.dtype)


def _count(input, dim, keepdim, mask):
    """How many elements each slice reduces over (masked-in ones only when a mask is given)."""
    dims = _canonical_dim(dim, input.ndim)  # every dim for None: torsh.sum refuses keepdim without dim, as PyTorch
    if mask is None:
        return sum(torsh.ones(input.shape, dtype=torsh.int64), dims, keepdim=keepdim)
    return mask.sum(dim=dims, keepdim=bool(keepdim))


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    source = "Optional" if dtype is not None else "Input"
    dtype = dtype or input.dtype
    if not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError(f"mean(): Could not infer output dtype. {source} dtype must be either a floating point or "
                         f"complex dtype. Got: {dtype}")
    inmask = None if mask is None else _input_mask(input, mask)
    total = sum(input, dim, keepdim=keepdim, dtype=dtype, mask=inmask)
    return total / _count(input, dim, keepdim, inmask)


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    dtype = dtype or input.dtype
    d = _canonical_dim(dim, input.ndim)[0]
    is_float = input.dtype.is_floating_point
    if not is_float:
        input = input.to(dtype=torsh.float32)
    output = torsh.nanmedian(_masked_input("median", input, mask), d, keepdim).values
    if is_float:
        return output
    if torsh.isnan(output).any():
        raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")
    return output.to(dtype=dtype)


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    dims = _canonical_dim(dim, input.ndim)
    return torsh.logsumexp(_masked_input("logsumexp", input, mask), dims, keepdim=keepdim).to(
        dtype=dtype or input.dtype)


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    return torsh.logaddexp(_masked_input("logaddexp", input, input_mask),
                           _masked_input("logaddexp", other, other_mask)).to(dtype=dtype or input.dtype)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    masked = _masked_input("norm", input, mask, ord)
    return torsh.linalg.vector_norm(masked, ord, _canonical_dim(dim, input.ndim), bool(keepdim),
                                    dtype=dtype or input.dtype)


def _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    if correction is None:
        correction = 1.0 if unbiased is None or unbiased else 0.0
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point or input.dtype.is_complex else torsh.float32
    compute_dtype = dtype if dtype.is_floating_point or dtype.is_complex else torsh.float32
    inmask = None if mask is None else _input_mask(input, mask)
    count = _count(input, dim, True, inmask)
    sample_mean = torsh.divide(sum(input, dim, keepdim=True, dtype=dtype, mask=inmask), count)
    x = torsh.subtract(input, sample_mean)
    total = sum(x * x.conj(), dim, keepdim=keepdim, dtype=compute_dtype, mask=inmask)
    if not keepdim:
        count = count.reshape(total.shape)
    if correction != 0:
        count = count.to(compute_dtype.to_real() if compute_dtype.is_complex else compute_dtype)
        count = torsh.subtract(count, float(correction))
        count = torsh.maximum(count, count.new_zeros([]))
    output = torsh.divide(total, count).to(dtype=dtype)
    return torsh.sqrt(output) if take_sqrt else output


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=False)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, take_sqrt=True)


# -- normalizations and scans: the result keeps input's shape -------------------------------------------------
def softmax(input, dim, *, dtype=None, mask=None):
    d = _canonical_dim(dim, input.ndim)[0]
    return nn.functional.softmax(_masked_input("amax", input, mask), d, dtype=dtype or input.dtype)


def log_softmax(input, dim, *, dtype=None, mask=None):
    d = _canonical_dim(dim, input.ndim)[0]
    return nn.functional.log_softmax(_masked_input("amax", input, mask), d, dtype=dtype or input.dtype)


def softmin(input, dim, *, dtype=None, mask=None):
    d = _canonical_dim(dim, input.ndim)[0]
    return nn.functional.softmin(_masked_input("amin", input, mask), d, dtype=dtype or input.dtype)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    dtype = dtype or input.dtype
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    denom = torsh.maximum(nrm, nrm.new_full([], eps))
    return torsh.divide(_masked_input("sum", input, mask), denom)


def cumsum(input, dim, *, dtype=None, mask=None):
    dtype = dtype or input.dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return torsh.cumsum(_masked_input("sum", input, mask), d, dtype=dtype).to(dtype=dtype)


def cumprod(input, dim, *, dtype=None, mask=None):
    dtype = dtype or input.dtype
    d = _canonical_dim(dim, input.ndim)[0]
    return torsh.cumprod(_masked_input("prod", input, mask), d, dtype=dtype).to(dtype=dtype)
