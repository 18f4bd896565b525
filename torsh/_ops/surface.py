"""The wider op surface (issue 3): re-exports the ops of the newer modules for ``torsh``'s namespace
and binds them as Tensor methods and in-place variants, in one place.

``_ops/__init__.py`` binds the core ops; this module only adds names. (maximum/minimum moved to
``pointwise_more``; ``pointwise`` re-exports them, so both bindings are the same function.)
"""
from .._tensor import Tensor
from . import gather_scatter, indexing, pointwise, pointwise_more, products, scan
from . import activation, misc_ops, random_ops, reduction_more, registry, shape_extra, sorting
from .inplace import apply_inplace
from . import statistics  # noqa: F401  (registers its ops: cov, gradient, trapezoid, ...)
from . import scatter_views  # noqa: F401  (registers slice_scatter, index_reduce, segment_reduce, ...)
from . import spectral  # noqa: F401  (registers stft, istft, view_as_real, view_as_complex, polar)
from . import tensor_methods  # noqa: F401  (Tensor.apply_, map_, dim_order, to_dense, ...)

_MODULES = (activation, gather_scatter, misc_ops, pointwise_more, products, random_ops, reduction_more, scan,
            shape_extra, sorting)


def with_out(fn):
    """``fn`` honouring ``out=`` the one way for every op: compute, then copy into ``out`` (a tensor, or a
    tuple of tensors for ops returning several) as PyTorch's out= variants do."""
    import functools
    import inspect
    try:
        takes_out = "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_out = False
    if not takes_out:
        return fn

    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        from .pointwise import _out
        if isinstance(result, tuple):
            for r, o in zip(result, out):
                _out(r, o)
            return out
        return _out(result, out)
    return op


# torsh.<name> for every public op of the newer modules
__all__ = sorted({name for m in _MODULES for name in m.__all__})
for _m in _MODULES:
    for _name in _m.__all__:
        globals()[_name] = with_out(getattr(_m, _name))
# the registry's ops: torsh.<name>, Tensor methods and in-place variants, the declared functions themselves
__all__ = sorted(set(__all__) | set(registry.bind_all(globals())))


# Tensor.<name>(self, ...) is the op with self first
_METHODS = {
    gather_scatter: ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add", "index_copy",
                     "index_fill", "take", "take_along_dim", "masked_select", "masked_scatter", "put"],
    pointwise_more: ["atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "fmod", "fmax", "fmin", "maximum",
                     "minimum", "xlogy", "copysign", "ldexp", "nextafter", "heaviside", "gcd", "lcm",
                     "bitwise_left_shift", "bitwise_right_shift", "logit", "nan_to_num", "positive", "signbit",
                     "isposinf", "isneginf", "isreal", "isclose", "allclose", "equal", "mvlgamma"],
    products: ["addmm", "addmv", "addr", "baddbmm", "addbmm", "tensordot", "kron", "cross", "trace", "inner", "vdot"],
    scan: ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"],
    shape_extra: ["flip", "fliplr", "flipud", "roll", "rot90", "repeat_interleave", "tile", "tril", "triu",
                  "diagonal", "diagonal_scatter", "diag_embed", "diag", "diagflat", "broadcast_to", "tensor_split",
                  "hsplit", "vsplit", "dsplit"],
    activation: ["softmax", "log_softmax"],
    reduction_more: ["nansum", "nanmean"],
    misc_ops: ["is_nonzero", "diff", "ravel", "angle", "as_strided", "unfold", "sum_to_size", "split_with_sizes", "resolve_conj",
               "resolve_neg", "is_conj", "is_neg", "is_same_size", "is_signed", "is_inference"],
    sorting: ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "aminmax", "quantile",
              "nanquantile", "unique", "unique_consecutive", "bincount", "histc", "histogram"],
}
for _m, _names in _METHODS.items():
    for _name in _names:
        setattr(Tensor, _name, getattr(_m, _name))
Tensor.repeat = shape_extra.repeat

# linear algebra under their top-level torch names (torch.det, Tensor.inverse, ...)
from . import linalg_ops as _la  # noqa: E402

inverse, det, slogdet, matrix_power, pinverse = _la.inv, _la.det, _la.slogdet, _la.matrix_power, _la.pinv


def logdet(input):
    """log(det(A)): NaN for a negative determinant, -inf for a singular matrix (as PyTorch)."""
    sign, logabs = _la.slogdet(input)
    from .pointwise import where
    return where(sign < 0, float("nan"), where(sign == 0, float("-inf"), logabs))


__all__ += ["inverse", "det", "slogdet", "logdet", "matrix_power", "pinverse"]
for _name in ("inverse", "det", "slogdet", "logdet", "matrix_power", "pinverse"):
    setattr(Tensor, _name, globals()[_name])
Tensor.polygamma = lambda self, n: pointwise_more.polygamma(n, self)


def _inplace(name, op):
    def method(self, *args, **kwargs):
        return apply_inplace(self, name, op, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"In-place version of :meth:`Tensor.{name[:-1]}`."
    return method


# in-place variants PyTorch has (Tensor.<name>_), each the out-of-place op written back into self
_INPLACE_OF = {
    gather_scatter: ["scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy", "index_fill",
                     "masked_scatter", "put"],
    pointwise_more: ["atan2", "arctan2", "hypot", "fmod", "xlogy", "copysign", "ldexp", "nextafter",
                     "heaviside", "gcd", "lcm", "bitwise_left_shift", "bitwise_right_shift", "logit", "nan_to_num",
                     "mvlgamma"],
    scan: ["cumsum", "cumprod"],
    shape_extra: ["tril", "triu"],
    products: ["addmm", "addmv", "addr", "baddbmm", "addbmm"],
    pointwise: ["float_power", "true_divide", "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
                "bitwise_or", "bitwise_xor", "bitwise_not", "clip"],
}
for _m, _names in _INPLACE_OF.items():
    for _name in _names:
        if not hasattr(Tensor, _name + "_"):
            setattr(Tensor, _name + "_", _inplace(_name + "_", getattr(_m, _name)))
# in-place view ops: self takes the view's array and place in the graph (metadata change, no version bump)
def _inplace_view(name, op):
    def method(self, *args, **kwargs):
        out = op(self, *args, **kwargs)
        self._data = out._data
        if self._grad_fn is not None:  # a non-leaf: its history continues through the view op
            self._grad_fn, self._output_nr = out._grad_fn, out._output_nr
        return self
    method.__name__ = name
    return method


for _name in ("squeeze", "unsqueeze", "swapaxes", "swapdims", "transpose", "t"):
    if not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _inplace_view(_name + "_", getattr(Tensor, _name)))

index_put = indexing.index_put
__all__.append("index_put")
Tensor.fill_diagonal_ = _inplace("fill_diagonal_", misc_ops.fill_diagonal)
Tensor.polygamma_ = lambda self, n: apply_inplace(self, "polygamma_", lambda t: pointwise_more.polygamma(n, t))
Tensor.__lshift__ = pointwise_more.bitwise_left_shift
Tensor.__rshift__ = pointwise_more.bitwise_right_shift
Tensor.__rlshift__ = lambda self, other: pointwise_more.bitwise_left_shift(other, self)
Tensor.__rrshift__ = lambda self, other: pointwise_more.bitwise_right_shift(other, self)
Tensor.__ilshift__ = Tensor.bitwise_left_shift_
Tensor.__irshift__ = Tensor.bitwise_right_shift_
Tensor.__ixor__ = lambda self, other: Tensor.copy_(self, self ^ other)
