"""Batching rules: how an op runs once on a whole vmap batch (``batched_tensor.RULES``, and ``OpDef.vmap``).

A rule is ``rule(call, args, kwargs)``: ``call`` names the op (``call.fn`` the original function,
``call.level`` the vmap level, ``call(*args)`` runs the op again through dispatch, ``call.wrap(out)``
batches a result); ``args`` are as the user passed them, with BatchedTensors of ``call.level``
(``unwrap`` gives their physical tensors, batch dimension first). A rule returns the batched result,
or NotImplemented to leave the call to the per-sample loop. Rules work on logical dims (one sample's)
and shift them by one for the physical tensor. They call ops only through Tensor methods or ``call``
(so outer vmap levels see them), never a torsh op function directly.
"""
import warnings

import numpy as np

from ..._tensor import Tensor, wrap
from ...autograd import grad_mode
from ...autograd.function import Function
from ...backend import dispatch, kernels, memory, threads
from .. import registry
from .._helpers import normalize_dim
from .batched_tensor import RULES, BatchedTensor, DATA_DEPENDENT, active_levels, batched_at, check_inplace, unwrap
from .jvp_rules import _unary_node_class

BOOLEAN_MASK = ("vmap: We do not support batching operators that can support dynamic shape. Attempting to batch "
                "over indexing with a boolean mask.")


def _rule(*names):
    def register(fn):
        for name in names:
            RULES[name] = fn
        return fn
    return register


def _logical_ndim(x):
    return x.dim() if isinstance(x, Tensor) else 0


def _pad_to(phys, logical_ndim, rank):
    """A physical tensor [B, *s] viewed as [B, 1, ..., 1, *s] with ``rank`` logical dims."""
    if logical_ndim >= rank:
        return phys
    shape = list(phys.shape)
    return phys.reshape(shape[:1] + [1] * (rank - logical_ndim) + shape[1:])


def _batched_tensors(call, args, kwargs):
    return [a for a in (*args, *kwargs.values()) if batched_at(a, call.level)]


# -- elementwise ----------------------------------------------------------------------------------
def elementwise(call, args, kwargs):
    """n-ary elementwise ops with broadcasting: batched operands get unit dims after the batch dim so every
    operand lines up from the right."""
    level = call.level
    rank = max((_logical_ndim(a) for a in (*args, *kwargs.values()) if isinstance(a, Tensor)), default=0)

    def physical(a):
        if isinstance(a, BatchedTensor) and a._level is level:
            return _pad_to(a._value, a.dim(), rank)
        if isinstance(a, (list, tuple)) and any(batched_at(e, level) for e in a):
            raise _Unsupported
        return a
    try:
        pargs = [physical(a) for a in args]
        pkwargs = {k: physical(v) for k, v in kwargs.items()}
    except _Unsupported:
        return NotImplemented
    return call.wrap(call(*pargs, **pkwargs))


class _Unsupported(Exception):
    pass


_ELEMENTWISE = (
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder",
    "fmod", "pow", "float_power", "atan2", "arctan2", "maximum", "minimum", "fmax", "fmin", "eq", "ne", "lt", "le",
    "gt", "ge", "greater", "less", "greater_equal", "less_equal", "not_equal", "clamp", "clip", "clamp_min",
    "clamp_max", "lerp", "addcmul", "addcdiv", "hypot", "copysign", "xlogy", "logaddexp", "logaddexp2",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "masked_fill", "heaviside", "nextafter", "isclose", "square", "abs", "neg", "negative",
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "celu", "softplus", "softsign",
    "hardtanh", "hardsigmoid", "hardswish", "mish", "logsigmoid", "tanhshrink", "softshrink", "hardshrink",
    "threshold", "clone", "contiguous", "detach", "float", "double", "half", "bfloat16", "long", "int", "short",
    "bool", "byte", "char", "to", "zeros_like", "ones_like", "empty_like", "full_like", "nan_to_num", "sign",
    "isnan", "isinf", "isfinite", "real", "imag", "conj",
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__eq__", "__ne__", "__lt__",
    "__le__", "__gt__", "__ge__", "__and__", "__or__", "__xor__", "__rand__", "__ror__", "__rxor__", "__neg__",
    "__abs__", "__pos__", "__invert__")
_rule(*_ELEMENTWISE)(elementwise)


@_rule("where")
def where(call, args, kwargs):
    if len(args) + len(kwargs) < 3:
        return NotImplemented  # where(cond): nonzero, a dynamic shape
    return elementwise(call, args, kwargs)


@_rule("max", "min")
def max_min(call, args, kwargs):
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if isinstance(other, Tensor):
        return elementwise(call, args, kwargs)
    return reduction(call, args, kwargs)


def elementwise_inplace(call, args, kwargs):
    """``self.op_(others)``: the physical self is written; a batched other needs a batched self (PyTorch's error)."""
    check_inplace(call, args, kwargs)
    self = args[0]
    if not batched_at(self, call.level):
        return NotImplemented
    rank = self.dim()
    level = call.level

    def physical(a):
        if isinstance(a, BatchedTensor) and a._level is level:
            if a.dim() > rank:
                raise _Unsupported
            return _pad_to(a._value, a.dim(), rank)
        return a
    try:
        pargs = [self._value] + [physical(a) for a in args[1:]]
        pkwargs = {k: physical(v) for k, v in kwargs.items()}
    except _Unsupported:
        return NotImplemented
    call(*pargs, **pkwargs)
    return self


_INPLACE = ("add_", "sub_", "mul_", "div_", "pow_", "clamp_", "clamp_min_", "clamp_max_", "copy_", "zero_",
            "relu_", "sigmoid_", "tanh_", "neg_", "abs_", "exp_", "log_", "sqrt_", "masked_fill_", "addcmul_",
            "addcdiv_", "lerp_", "detach_",
            "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__")
_rule(*_INPLACE)(elementwise_inplace)


@_rule("fill_")
def fill_(call, args, kwargs):
    value = args[1] if len(args) > 1 else kwargs.get("value")
    if batched_at(value, call.level):
        check_inplace(call, args, kwargs)
        return NotImplemented
    return elementwise_inplace(call, args, kwargs)


# -- dims -------------------------------------------------------------------------------------------
def _shift(dim, ndim):
    return normalize_dim(dim, ndim) + 1


def _shift_many(dims, ndim):
    if isinstance(dims, (int, np.integer)):
        return _shift(int(dims), ndim)
    return type(dims)(_shift(int(d), ndim) for d in dims)


def _argument(args, kwargs, position, name, default=None):
    if len(args) > position:
        return args[position], True
    return kwargs.get(name, default), False


def _with_argument(args, kwargs, position, name, value):
    if len(args) > position:
        args = args[:position] + (value,) + args[position + 1:]
    else:
        kwargs = dict(kwargs, **{name: value})
    return args, kwargs


def _only_first_batched(call, args, kwargs):
    return batched_at(args[0], call.level) and not any(
        batched_at(a, call.level) for a in (*args[1:], *kwargs.values()))


def reduction(call, args, kwargs, position=1):
    """Reductions over ``dim`` (int, tuple or None: all dims) of one batched input."""
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    phys, n = x._value, x.dim()
    dim, given = _argument(args, kwargs, position, "dim")
    if isinstance(dim, bool):  # var(x, unbiased) / std(x, unbiased)
        return NotImplemented
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0 and call.name in ("sum", "mean")):
        # every logical dim: flatten them into one and reduce it (a 0-d sample becomes one element)
        flat = phys.reshape(phys.shape[0], -1)
        if call.name in ("max", "min", "median", "nanmedian"):  # the all-elements form returns values only
            return call.wrap(call(flat, 1)[0])
        args, kwargs = _with_argument(args, kwargs, position, "dim", 1)
        return call.wrap(call(flat, *args[1:], **kwargs))
    if n == 0:  # dim 0 / -1 of a scalar sample
        normalize_dim(dim if isinstance(dim, int) else dim[0], 0)
        args, kwargs = _with_argument(args, kwargs, position, "dim", 1)
        out = call(phys.unsqueeze(1), *args[1:], **kwargs)
        return call.wrap(_squeeze_keepdim(out, kwargs, args, position))
    args, kwargs = _with_argument(args, kwargs, position, "dim", _shift_many(dim, n))
    return call.wrap(call(phys, *args[1:], **kwargs))


def _squeeze_keepdim(out, kwargs, args, position):
    keepdim = args[position + 1] if len(args) > position + 1 and isinstance(args[position + 1], bool) else \
        kwargs.get("keepdim", False)
    if not keepdim:
        return out
    if isinstance(out, tuple):
        items = [o.squeeze(1) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return out.squeeze(1)


_rule("sum", "mean", "prod", "amax", "amin", "argmax", "argmin", "logsumexp", "var", "std", "all", "any",
      "nansum", "nanmean", "count_nonzero", "median", "nanmedian", "var_mean", "std_mean", "aminmax")(reduction)


@_rule("norm")
def norm(call, args, kwargs):
    return reduction(call, args, kwargs, position=2)


def dim_op(position, default=None, allow_none=False):
    """Ops of one batched input with a ``dim`` argument (int or list of ints) at ``position``."""
    def rule(call, args, kwargs):
        if not _only_first_batched(call, args, kwargs):
            return NotImplemented
        x = args[0]
        dim, _ = _argument(args, kwargs, position, "dim", default)
        if dim is None:
            if not allow_none:
                return NotImplemented
            dim = _softmax_dim(x.dim())
        args, kwargs = _with_argument(args, kwargs, position, "dim", _shift_many(dim, x.dim()))
        return call.wrap(call(x._value, *args[1:], **kwargs))
    return rule


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


_rule("softmax", "log_softmax", "softmin")(dim_op(1, allow_none=True))
_rule("cumsum", "cumprod", "logcumsumexp", "cummax", "cummin", "select", "narrow", "index_select")(dim_op(1))
_rule("unbind")(dim_op(1, default=0))
_rule("sort", "argsort", "glu")(dim_op(1, default=-1))
_rule("split", "chunk", "tensor_split")(dim_op(2, default=0))
_rule("topk", "kthvalue")(dim_op(2, default=-1))
_rule("normalize")(dim_op(2, default=1))


@_rule("flip")
def flip(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    dims = args[1:] if len(args) > 2 else _argument(args, kwargs, 1, "dims")[0]
    return call.wrap(call(x._value, tuple(_shift(d, x.dim()) for d in
                                          ((dims,) if isinstance(dims, int) else dims))))


# -- shapes -----------------------------------------------------------------------------------------
def _sizes(args):
    """The sizes of x.view(2, 3) / x.view((2, 3)) / torsh.reshape(x, (2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


@_rule("view", "reshape")
def reshape(call, args, kwargs):
    """view is reshape on the physical tensor (a copy when the batch layout does not allow a view)."""
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    sizes = _sizes(args[1:]) if len(args) > 1 else tuple(kwargs.get("shape", kwargs.get("size", ())))
    if any(not isinstance(s, (int, np.integer)) for s in sizes):
        return NotImplemented  # view(dtype)
    phys = args[0]._value
    return call.wrap(phys.reshape((phys.shape[0],) + tuple(int(s) for s in sizes)))


@_rule("view_as", "reshape_as")
def reshape_as(call, args, kwargs):
    x, other = args[0], args[1] if len(args) > 1 else kwargs["other"]
    if not batched_at(x, call.level):
        return NotImplemented
    phys = x._value
    return call.wrap(phys.reshape((phys.shape[0],) + tuple(other.shape)))


@_rule("flatten")
def flatten(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    n = x.dim()
    start, _ = _argument(args, kwargs, 1, "start_dim", 0)
    end, _ = _argument(args, kwargs, 2, "end_dim", -1)
    if not isinstance(start, int) or not isinstance(end, int):
        return NotImplemented
    if n == 0:
        return call.wrap(x._value.reshape(-1, 1))
    return call.wrap(x._value.flatten(_shift(start, n), _shift(end, n)))


@_rule("unflatten")
def unflatten(call, args, kwargs):
    return dim_op(1)(call, args, kwargs)


@_rule("transpose", "swapaxes", "swapdims")
def transpose(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs) or len(args) < 3:
        return NotImplemented
    x = args[0]
    return call.wrap(x._value.transpose(_shift(args[1], x.dim()), _shift(args[2], x.dim())))


@_rule("t")
def t(call, args, kwargs):
    x = args[0]
    if x.dim() < 2:
        return call.wrap(x._value)
    return call.wrap(x._value.transpose(1, 2))


@_rule("permute")
def permute(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    dims = _sizes(args[1:]) if len(args) > 1 else tuple(kwargs["dims"])
    return call.wrap(x._value.permute(0, *[_shift(d, x.dim()) for d in dims]))


@_rule("movedim", "moveaxis")
def movedim(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    source, _ = _argument(args, kwargs, 1, "source")
    destination, _ = _argument(args, kwargs, 2, "destination")
    return call.wrap(x._value.movedim(_shift_many(source, x.dim()), _shift_many(destination, x.dim())))


@_rule("unsqueeze")
def unsqueeze(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    dim, _ = _argument(args, kwargs, 1, "dim")
    return call.wrap(x._value.unsqueeze(normalize_dim(dim, x.dim() + 1) + 1))


@_rule("squeeze")
def squeeze(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    x = args[0]
    shape, n = list(x.shape), x.dim()
    dim, given = _argument(args, kwargs, 1, "dim")
    if dim is None:
        keep = [s for s in shape if s != 1]
    else:
        dims = {normalize_dim(int(d), n) for d in ((dim,) if isinstance(dim, (int, np.integer)) else dim)}
        keep = [s for i, s in enumerate(shape) if not (i in dims and s == 1)]
    phys = x._value
    return call.wrap(phys.reshape([phys.shape[0]] + keep))


def _expanded_sizes(x, sizes):
    phys = _pad_to(x._value, x.dim(), len(sizes))
    return phys, (phys.shape[0],) + tuple(sizes)


@_rule("expand", "broadcast_to")
def expand(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    sizes = _sizes(args[1:]) if len(args) > 1 else tuple(kwargs.get("size", kwargs.get("shape", ())))
    phys, full = _expanded_sizes(args[0], sizes)
    return call.wrap(phys.expand(*full))


@_rule("expand_as")
def expand_as(call, args, kwargs):
    x, other = args
    if not batched_at(x, call.level):
        return NotImplemented
    phys, full = _expanded_sizes(x, tuple(other.shape))
    return call.wrap(phys.expand(*full))


@_rule("repeat")
def repeat(call, args, kwargs):
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    sizes = _sizes(args[1:])
    phys = _pad_to(args[0]._value, args[0].dim(), len(sizes))
    return call.wrap(phys.repeat(1, *sizes))


@_rule("cat", "concat", "concatenate", "stack")
def cat_stack(call, args, kwargs):
    tensors, _ = _argument(args, kwargs, 0, "tensors")
    dim, _ = _argument(args, kwargs, 1, "dim", 0)
    if not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return NotImplemented
    level = call.level
    size = level.size
    physical = []
    for t in tensors:
        if batched_at(t, level):
            physical.append(t._value)
        elif isinstance(t, Tensor):
            physical.append(t.unsqueeze(0).expand(size, *t.shape))
        else:
            return NotImplemented
    n = tensors[0].dim() + (1 if call.name == "stack" else 0)
    return call.wrap(call(physical, normalize_dim(dim, n) + 1))


# -- indexing ---------------------------------------------------------------------------------------
def _is_advanced(index):
    return isinstance(index, (Tensor, list, np.ndarray))


@_rule("__getitem__")
def getitem(call, args, kwargs):
    x, index = args
    if not batched_at(x, call.level):
        return NotImplemented
    index = index if isinstance(index, tuple) else (index,)
    if any(batched_at(i, call.level) for i in index):
        if any(isinstance(i, Tensor) and i.dtype.name == "bool" for i in index):
            raise RuntimeError(BOOLEAN_MASK)
        return NotImplemented
    has_tensor = any(_is_advanced(i) for i in index)  # then ints index as advanced indices too
    advanced = [k for k, i in enumerate(index) if _is_advanced(i) or (has_tensor and isinstance(i, int))]
    if advanced and advanced != list(range(advanced[0], advanced[-1] + 1)):
        return NotImplemented  # separated advanced indices put their dims first
    if advanced and any(isinstance(i, Tensor) and i.dtype.name == "bool" for i in index):
        return NotImplemented
    return call.wrap(x._value[(slice(None),) + index])


@_rule("__setitem__")
def setitem(call, args, kwargs):
    check_inplace(call, args, kwargs)
    x, index, value = args
    if not batched_at(x, call.level) or batched_at(value, call.level):
        return NotImplemented
    index = index if isinstance(index, tuple) else (index,)
    if any(_is_advanced(i) for i in index):
        return NotImplemented
    x._value[(slice(None),) + index] = value
    return None


# -- products ----------------------------------------------------------------------------------------
def _batched_matmul(a, b, level):
    """matmul of logical operands a and b (either may be batched at ``level``): one physical matmul."""
    pa, a_batched = unwrap(a, level)
    pb, b_batched = unwrap(b, level)
    na, nb = a.dim(), b.dim()
    if not b_batched and nb <= 2 and na >= 1:
        return level.wrap(pa.matmul(pb))  # [B, ..., k] @ [k(, m)]: the batch dim rides along as a row dim
    vector_a, vector_b = na == 1, nb == 1
    if vector_a:  # (k,) -> (1, k)
        pa, na = pa.unsqueeze(-2), 2
    if vector_b:  # (k,) -> (k, 1)
        pb, nb = pb.unsqueeze(-1), 2
    rank = max(na, nb)
    if a_batched:
        pa = _pad_to(pa, na, rank)
    if b_batched:
        pb = _pad_to(pb, nb, rank)
    out = pa.matmul(pb)
    if vector_b:
        out = out.squeeze(-1)
    if vector_a:
        out = out.squeeze(-1 if vector_b else -2)
    return level.wrap(out)


@_rule("matmul", "mm", "bmm", "mv", "dot", "inner", "__matmul__")
def matmul(call, args, kwargs):
    if len(args) != 2 or kwargs:
        return NotImplemented
    a, b = args
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        return NotImplemented
    return _batched_matmul(a, b, call.level)


@_rule("__rmatmul__")
def rmatmul(call, args, kwargs):
    return _batched_matmul(args[1], args[0], call.level)


@_rule("addmm")
def addmm(call, args, kwargs):
    bias, a, b = args[:3]
    if len(args) > 3:
        return NotImplemented
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    product = _batched_matmul(a, b, call.level)
    if alpha != 1:
        product = product * alpha
    return product + (bias if beta == 1 else bias * beta)


@_rule("outer", "ger")
def outer(call, args, kwargs):
    a, b = args
    return a.unsqueeze(-1) * b.unsqueeze(0) if isinstance(b, Tensor) else NotImplemented


@_rule("linear")
def linear(call, args, kwargs):
    x, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    level = call.level
    if not batched_at(weight, level) and not batched_at(bias, level):
        return call.wrap(call(x._value, weight, bias))  # [B, ..., in] @ W^T: one product for the batch
    out = _per_sample_linear(x, weight, level)
    if out is None:
        out = _batched_matmul(x, weight.transpose(-1, -2) if weight.dim() == 2 else weight, level)
    return out if bias is None else out + bias


class _PerSampleLinear(Function):
    """x [B, n, in] @ w[B, out, in]^T, whose weight gradient for n == 1 (per-sample gradients: the weight is
    the per-sample copy grad makes) is a broadcast outer product: a stacked matmul over k = 1 runs 3x slower."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        shared = _shared_matrix(w)
        if shared is not None:  # one GEMM over every sample's rows, not B products of n rows
            return _rows_matmul(x, shared.transpose(0, 1))
        return x.matmul(w.transpose(-1, -2))

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            shared = _shared_matrix(w)
            grad_x = grad.matmul(w) if shared is None else _rows_matmul(grad, shared)
        grad_w = None
        if ctx.needs_input_grad[1]:
            if x.shape[1] != 1:
                grad_w = grad.transpose(-1, -2).matmul(x)
            elif grad_mode.is_grad_enabled():  # a graph of it is wanted (higher derivatives)
                grad_w = grad.squeeze(1).unsqueeze(-1) * x.squeeze(1).unsqueeze(-2)
            else:
                grad_w = _outer_per_sample(grad._data[:, 0], x._data[:, 0])
        return grad_x, grad_w


def _shared_matrix(w):
    """w [B, out, in] as its one matrix when every sample's is the same memory (an unbatched weight expanded
    per sample, as grad does under vmap: batch stride 0), else None."""
    return w.select(0, 0) if w._data.strides[0] == 0 and w.shape[0] > 0 else None


def _rows_matmul(x, m):
    """x [B, n, k] @ m [k, p] as one [B * n, k] GEMM (a stacked matmul of B GEMVs reads m B times)."""
    b, n, k = x.shape
    return x.reshape(b * n, k).matmul(m).reshape(b, n, m.shape[1])


def _outer_per_sample(g, x):
    """g [B, out], x [B, in] -> [B, out, in] written into a buffer from torsh's pool: per-sample weight
    gradients are large (W17's first layer: 100 MB) and repeat their size call after call, and a fresh
    buffer of that size faults every page on first touch (~40% of the product's time). The product is all
    stores: float32 runs on per_sample's kernel (one vector loop per output row, streamed past the cache when
    large: about twice einsum's speed), other dtypes on einsum's sum-of-products loop, the samples shared among
    torsh's threads."""
    out = memory.empty((g.shape[0], g.shape[1], x.shape[1]), np.result_type(g, x))
    kernel = _PER_SAMPLE_KERNELS if out.dtype == np.float32 and g.dtype == x.dtype == np.float32 else None
    fits = kernel is not None and g.flags.c_contiguous and x.flags.c_contiguous

    def compiled(parallel):
        kernel.outer(g, x, out, g.shape[0], g.shape[1], x.shape[1], parallel)

    def numpy_outer():
        threads.run_in_parts(lambda part: np.einsum("bo,bi->boi", g[part], x[part], out=out[part]), g.shape[0])

    if kernel is None:
        numpy_outer()
    else:
        dispatch.call("per_sample_outer", out.size, out.dtype, fits, compiled, numpy_outer)
    return wrap(out)


_PER_SAMPLE_KERNELS = kernels.get("per_sample")


def _per_sample_linear(x, weight, level):
    """linear with a batched 2-D weight and one or a few rows per sample, on plain physical tensors; or None."""
    px, x_batched = unwrap(x, level)
    pw = weight._value
    if x.dim() not in (1, 2) or weight.dim() != 2 or isinstance(px, BatchedTensor) or isinstance(pw, BatchedTensor):
        return None
    if not x_batched:
        px = px.unsqueeze(0).expand(level.size, *px.shape)
    out = _PerSampleLinear.apply(px.unsqueeze(1) if x.dim() == 1 else px, pw)
    return level.wrap(out.squeeze(1) if x.dim() == 1 else out)


# -- nn: softmax losses, conv, pooling, embedding, normalisation --------------------------------------
def _reduce_per_sample(loss, reduction):
    """``reduction`` of a batched per-element loss, per sample."""
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _reduction_argument(args, kwargs, position):
    value, _ = _argument(args, kwargs, position, "reduction", "mean")
    if kwargs.get("size_average") is not None or kwargs.get("reduce") is not None:
        raise _Unsupported
    return value


def _pointwise_loss(position):
    """Losses computed per element then reduced (mse, l1, smooth l1, huber, bce): reduction='none' batched."""
    def rule(call, args, kwargs):
        try:
            reduction = _reduction_argument(args, kwargs, position)
        except _Unsupported:
            return NotImplemented
        input, in_args = _argument(args, kwargs, 0, "input")
        target, _ = _argument(args, kwargs, 1, "target")
        same_shape = _same_logical_shape(input, target)
        if same_shape and in_args and len(args) > 1:  # the shared operand as big as the batched one
            args = _expanded_to_batch(args[0], args[1], call.level) + tuple(args[2:])
        args, kwargs = _with_argument(args, kwargs, position, "reduction", "none")
        with warnings.catch_warnings():
            if same_shape:  # the physical operands differ only by the batch dim
                warnings.filterwarnings("ignore", message="Using a target size", category=UserWarning)
            loss = elementwise(call, args, kwargs)
        return loss if loss is NotImplemented else _reduce_per_sample(loss, reduction)
    return rule


def _same_logical_shape(a, b):
    return isinstance(a, Tensor) and isinstance(b, Tensor) and tuple(a.shape) == tuple(b.shape)


def _expanded_to_batch(a, b, level):
    """(a, b) of one logical shape where one is batched at ``level`` and the other a plain tensor: the plain one
    expanded to the batched one's physical shape, batched at ``level`` too (binary_cross_entropy_with_logits checks that the shapes it
    gets are equal)."""
    if batched_at(a, level) and not isinstance(b, BatchedTensor):
        return a, level.wrap(b.expand(tuple(a._value.shape)))
    if batched_at(b, level) and not isinstance(a, BatchedTensor):
        return level.wrap(a.expand(tuple(b._value.shape))), b
    return a, b


_rule("mse_loss", "l1_loss", "soft_margin_loss")(_pointwise_loss(4))
_rule("smooth_l1_loss", "binary_cross_entropy")(_pointwise_loss(5))
_rule("huber_loss")(_pointwise_loss(2))
_rule("binary_cross_entropy_with_logits")(_pointwise_loss(5))


@_rule("nll_loss", "cross_entropy")
def nll_loss(call, args, kwargs):
    """nll_loss / cross_entropy (class-index targets) with the batch folded into N, reduction 'none'; then
    each sample reduced: 'mean' divides its sum by its own total target weight, as PyTorch's mean does."""
    names = ("input", "target", "weight", "size_average", "ignore_index", "reduce", "reduction", "label_smoothing")
    bound = dict(zip(names, args), **kwargs)
    target, weight = bound["target"], bound.get("weight")
    if (bound.get("size_average") is not None or bound.get("reduce") is not None or bound.get("label_smoothing")
            or not isinstance(target, Tensor) or target.dtype.is_floating_point or batched_at(weight, call.level)):
        return NotImplemented
    level = call.level
    size = level.size
    input, ignore_index = bound["input"], bound.get("ignore_index", -100)
    scores, _ = unwrap(input, level)
    tgt, t_batched = unwrap(target, level)
    if not batched_at(input, level):
        scores = scores.unsqueeze(0).expand(size, *scores.shape)
    if not t_batched:
        tgt = tgt.unsqueeze(0).expand(size, *tgt.shape)
    if input.dim() > 1:  # (N, C, d...) samples: the batch joins N
        scores = scores.reshape((-1,) + tuple(scores.shape[2:]))
    folded_target = (tgt.reshape((-1,) + tuple(tgt.shape[2:])) if input.dim() > 1 else tgt).contiguous()
    losses = call(scores, folded_target, weight, None,
                  ignore_index, None, "none").reshape(tuple(tgt.shape))
    reduction = bound.get("reduction", "mean")
    if reduction == "none":
        return level.wrap(losses)
    dims = tuple(range(1, losses.dim()))
    total = losses.sum(dims) if dims else losses
    if reduction == "sum":
        return level.wrap(total)
    counted = (tgt != ignore_index).to(losses.dtype)
    if weight is not None:
        counted = counted * weight[tgt.clamp(0, weight.shape[0] - 1)]
    return level.wrap(total / (counted.sum(dims) if dims else counted))


def _conv(spatial):
    def rule(call, args, kwargs):
        names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
        bound = dict(zip(names, args), **kwargs)
        x, weight, bias = bound["input"], bound["weight"], bound.get("bias")
        level = call.level
        rest = {k: v for k, v in bound.items() if k in ("stride", "padding", "dilation")}
        groups = bound.get("groups", 1)
        size = level.size
        px, x_batched = unwrap(x, level)
        unbatched_sample = x.dim() == spatial + 1
        if not x_batched:
            px = px.unsqueeze(0).expand(size, *px.shape)
        if unbatched_sample:
            px = px.unsqueeze(1)
        n = px.shape[1]
        if not batched_at(weight, level) and not batched_at(bias, level):
            out = call(px.reshape((-1,) + tuple(px.shape[2:])), weight, bias, groups=groups, **rest)
            out = out.reshape((size, n) + tuple(out.shape[1:]))
        else:
            # per-sample weights: the batch folded into channels, one grouped convolution
            pw, w_batched = unwrap(weight, level)
            if not w_batched:
                pw = pw.unsqueeze(0).expand(size, *pw.shape)
            out_channels = pw.shape[1]
            folded_x = px.transpose(0, 1).reshape((n, -1) + tuple(px.shape[3:]))
            folded_w = pw.reshape((-1,) + tuple(pw.shape[2:]))
            folded_b = None
            if bias is not None:
                pb, b_batched = unwrap(bias, level)
                folded_b = pb.reshape(-1) if b_batched else pb.repeat(size)
            out = call(folded_x, folded_w, folded_b, groups=groups * size, **rest)
            out = out.reshape((n, size, out_channels) + tuple(out.shape[2:])).transpose(0, 1)
        return level.wrap(out.squeeze(1) if unbatched_sample else out)
    return rule


_rule("conv1d")(_conv(1))
_rule("conv2d")(_conv(2))
_rule("conv3d")(_conv(3))


def _fold_leading(spatial):
    """Ops on (N, C, *spatial) or (C, *spatial) of one batched input: the batch folded into N."""
    def rule(call, args, kwargs):
        if not _only_first_batched(call, args, kwargs):
            return NotImplemented
        x = args[0]
        phys = x._value
        trailing = tuple(phys.shape[-(spatial + 1):])
        out = call(phys.reshape((-1,) + trailing), *args[1:], **kwargs)
        lead = tuple(phys.shape[:-(spatial + 1)])

        def unfold(o):
            return o.reshape(lead + tuple(o.shape[1:]))
        return call.wrap(tuple(unfold(o) for o in out) if isinstance(out, tuple) else unfold(out))
    return rule


_rule("max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "max_pool1d_with_indices")(
    _fold_leading(1))
_rule("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_pool2d_with_indices",
      "lp_pool2d", "pixel_shuffle", "pixel_unshuffle")(_fold_leading(2))
_rule("max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d")(_fold_leading(3))


@_rule("embedding")
def embedding(call, args, kwargs):
    names = ("input", "weight", "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse")
    bound = dict(zip(names, args), **kwargs)
    indices, weight = bound["input"], bound["weight"]
    level = call.level
    if bound.get("max_norm") is not None:
        return NotImplemented  # renormalises the weight in place
    rest = {k: v for k, v in bound.items() if k not in ("input", "weight")}
    if not batched_at(weight, level):
        return call.wrap(call(indices._value, weight, **rest))
    if bound.get("padding_idx") is not None:
        return NotImplemented
    # per-sample tables: rows of sample b live at b * rows + index in the stacked table
    pw = weight._value
    size, rows = pw.shape[0], pw.shape[1]
    pi, i_batched = unwrap(indices, level)
    if not i_batched:
        pi = pi.unsqueeze(0).expand(size, *pi.shape)
    offsets = (pi.new_tensor(np.arange(size)) * rows).reshape((size,) + (1,) * (pi.dim() - 1))
    return call.wrap(call(pi + offsets, pw.reshape(-1, pw.shape[-1]), **rest))


@_rule("layer_norm")
def layer_norm(call, args, kwargs):
    names = ("input", "normalized_shape", "weight", "bias", "eps")
    bound = dict(zip(names, args), **kwargs)
    x, weight, bias = bound["input"], bound.get("weight"), bound.get("bias")
    eps = bound.get("eps", 1e-5)
    level = call.level
    px, x_batched = unwrap(x, level)
    if not x_batched:
        px = px.unsqueeze(0).expand(level.size, *px.shape)
    if not batched_at(weight, level) and not batched_at(bias, level):
        return call.wrap(call(px, bound["normalized_shape"], weight, bias, eps))
    out = call.wrap(call(px, bound["normalized_shape"], None, None, eps))
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


BATCH_NORM_UNBATCHED_STATS = (
    "Batch norm got a batched tensor as input while the running_mean or running_var, which will be updated in "
    "place, were not batched.\nIf you are using a module and do not need eval mode, please set "
    "`track_running_stats` to be False.If you are using a prebuilt module and do not need eval mode, please see the "
    "functorch website for resources on how to patch your module to work with vmap")


@_rule("batch_norm")
def batch_norm(call, args, kwargs):
    """The vmap batch folded into the channels: samples (N, C, *S) -> one (N, B*C, *S) batch norm, so each
    sample keeps its own statistics (training) or running stats (eval); per-channel tensors are stacked
    [B, C] -> [B*C] (batched running stats as a view, so the training update writes each sample's row)."""
    names = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")
    bound = dict(zip(names, args), **kwargs)
    x, level = bound["input"], call.level
    training = bound.get("training", False)
    stats = (bound.get("running_mean"), bound.get("running_var"))
    if training and batched_at(x, level) and any(s is not None and not batched_at(s, level) for s in stats):
        raise RuntimeError(BATCH_NORM_UNBATCHED_STATS)
    if not isinstance(x, Tensor) or x.dim() < 2:
        return NotImplemented  # the op's own error, per sample
    per_channel = {}
    for name in ("running_mean", "running_var", "weight", "bias"):
        folded = _fold_channels(bound.get(name), level, in_place=training and name.startswith("running"))
        if folded is NotImplemented:
            return NotImplemented
        per_channel[name] = folded
    px, x_batched = unwrap(x, level)
    if not x_batched:
        px = px.unsqueeze(0).expand(level.size, *px.shape)
    size, n, channels = px.shape[0], px.shape[1], px.shape[2]
    spatial = tuple(px.shape[3:])
    folded_x = px.transpose(0, 1).reshape((n, size * channels) + spatial)
    rest = {k: bound[k] for k in ("training", "momentum", "eps") if k in bound}
    out = call(folded_x, per_channel["running_mean"], per_channel["running_var"], per_channel["weight"],
               per_channel["bias"], **rest)
    return level.wrap(out.reshape((n, size, channels) + spatial).transpose(0, 1))


def _fold_channels(t, level, in_place):
    """A per-channel tensor for the folded batch norm: [B*C]; a view of the physical one when it is updated."""
    if t is None:
        return None
    pt, t_batched = unwrap(t, level)
    if not t_batched:
        return pt.repeat(level.size)
    if in_place and (isinstance(pt, BatchedTensor) or not pt.is_contiguous()):
        return NotImplemented  # no view of it to update: the loop writes each sample's
    return pt.view(-1) if in_place else pt.reshape(-1)


_DROPOUT_SCALES_ONLY = ("dropout",)  # dropout(ones) is the mask times 1/(1-p): 'same' multiplies by it


@_rule("dropout", "alpha_dropout")
def dropout(call, args, kwargs):
    """Elementwise dropouts: 'different' draws one mask over the physical tensor (a new one per sample); 'same'
    draws one sample's mask and multiplies every sample by it; 'error' raises as soon as a mask is drawn."""
    names = ("input", "p", "training", "inplace")
    bound = dict(zip(names, args), **kwargs)
    defaults = {"dropout": True, "alpha_dropout": False}
    x, p = bound["input"], bound.get("p", 0.5)
    training = bound.get("training", defaults[call.name])
    if not _only_first_batched(call, args, kwargs) or bound.get("inplace"):
        return NotImplemented
    phys = x._value
    if not training or p == 0 or call.level.randomness == "different":
        return call.wrap(call(phys, p, training))
    if p == 1 and call.name == "dropout":
        return call.wrap(phys * 0.0)  # PyTorch draws no mask: no error in 'error' mode
    if call.level.randomness == "same" and call.name in _DROPOUT_SCALES_ONLY and not _any_different_level():
        scaled_mask = call(phys.new_ones(tuple(x.shape)), p, training)
        return call.wrap(phys * scaled_mask)
    return NotImplemented  # 'error' (the loop's first draw raises), 'same' alpha dropout (the loop rewinds)


def _any_different_level():
    """An outer vmap drawing per sample: one unbatched mask would be shared across its samples too."""
    return any(level.randomness == "different" for level in active_levels())


@_rule("einsum")
def einsum(call, args, kwargs):
    """The batch as one more subscript: a letter not in the equation, first in every batched operand
    (``...`` included: the batch dim is the physical tensor's first) and in the output."""
    if kwargs or not args or not isinstance(args[0], str):
        return NotImplemented  # einsum(op, [0, 1], ...) sublists
    equation, operands = args[0].replace(" ", ""), args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    lhs, arrow, rhs = equation.partition("->")
    specs = lhs.split(",")
    letter = next((c for c in _SUBSCRIPTS if c not in equation), None)
    if len(specs) != len(operands) or letter is None or not all(isinstance(o, Tensor) for o in operands):
        return NotImplemented  # the op's own error, per sample
    output = rhs if arrow else _implicit_output(specs)
    level = call.level
    physical = [unwrap(o, level)[0] for o in operands]
    batched = ",".join(letter + spec if batched_at(o, level) else spec for spec, o in zip(specs, operands))
    return call.wrap(call(f"{batched}->{letter}{output}", *physical))


_SUBSCRIPTS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _implicit_output(specs):
    """einsum's output when the equation has no '->': the ellipsis, then the letters used once, sorted."""
    letters = "".join(specs).replace("...", "")
    ellipsis = "..." if any("..." in spec for spec in specs) else ""
    return ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))


@_rule("pad")
def pad(call, args, kwargs):
    mode, _ = _argument(args, kwargs, 2, "mode", "constant")
    if mode == "constant":
        if not _only_first_batched(call, args, kwargs):
            return NotImplemented
        return call.wrap(call(args[0]._value, *args[1:], **kwargs))  # pads the trailing dims
    pads, _ = _argument(args, kwargs, 1, "pad")
    return _fold_leading(len(pads) // 2)(call, args, kwargs)


# -- factories and metadata ---------------------------------------------------------------------------
@_rule("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor")
def new_factory(call, args, kwargs):
    """self only gives the dtype: the result is one unbatched tensor."""
    if not _only_first_batched(call, args, kwargs):
        return NotImplemented
    return call(args[0]._value, *args[1:], **kwargs)


@_rule("type_as")
def type_as(call, args, kwargs):
    x, other = args
    px, x_batched = unwrap(x, call.level)
    po, _ = unwrap(other, call.level)
    out = call(px, po)
    return call.wrap(out) if x_batched else out


@_rule("is_nonzero", "equal")
def data_dependent(call, args, kwargs):
    raise RuntimeError(DATA_DEPENDENT)


# -- registry entries ----------------------------------------------------------------------------------
def attach():
    """Every elementwise unary op of the registry batches elementwise; each entry's ``vmap`` slot shows its rule."""
    for entry in registry.entries():
        if _unary_node_class(entry) is not None:
            for name in entry.names:
                RULES.setdefault(name, elementwise)
                RULES.setdefault(name + "_", elementwise_inplace)
        rule = RULES.get(entry.name)
        if rule is not None and entry.vmap is None:
            object.__setattr__(entry, "vmap", rule)  # OpDef is frozen: the registry's late-bound slots


attach()
