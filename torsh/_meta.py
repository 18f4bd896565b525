"""The meta device: tensors with a shape, dtype and strides but no data (``device='meta'``), as PyTorch's.

A meta tensor holds a ``MetaArray`` (``torsh/_meta_array.py``: zero strides over one element, so a 10 GB model
costs nothing). While meta tensors exist, or the default device is meta, ``_listener`` wraps every op binding
(the registry's base layer, ``registry.set_base_listener``): a call given a meta tensor runs the op on
zero-stride stand-ins (no graph) and answers meta tensors of the results' shapes and dtypes; in-place
initializers (``uniform_``, ``normal_``, ``zero_``, ``fill_``, ``copy_``, ...) are no-ops; ops whose result
shape depends on the data raise PyTorch's errors; a CPU tensor beside a meta one raises PyTorch's device error.
Autograd: a result of inputs requiring grad gets a node named as PyTorch's (``grad_fn=<AddmmBackward0>``) whose
backward gives each input a meta gradient of its shape and dtype.
"""
import contextlib
import threading

import numpy as np

from . import _meta_array
from ._meta_array import MetaArray, meta_array
from ._tensor import META, Tensor, device as Device, require_cpu, wrap
from ._ops import registry
from .autograd import grad_mode
from .autograd.graph import AccumulateGrad, Node, record

__all__ = ["is_meta_device", "empty", "like", "activate"]


def is_meta_device(where):
    """True for the meta device; None and the CPU are False; any other device raises PyTorch's error."""
    if where is None:
        return False
    if isinstance(where, str) and where == "meta":
        return True
    dev = where if isinstance(where, Device) else Device(where) if isinstance(where, str) else None
    if dev is not None and dev.type == "meta":
        return True
    require_cpu(where)
    return False


def factory_device(device):
    """The device a factory builds on: ``device``, else the default one; True for meta, False for the CPU."""
    if device is None:
        device = _meta_array.default_device
        if device is None or _suspended.depth:
            return False
    return is_meta_device(device)


@contextlib.contextmanager
def on_device(device):
    """Factories build on ``device`` (a module constructor given ``device='meta'``)."""
    _meta_array.enter(device if isinstance(device, Device) else Device(device))
    try:
        yield
    finally:
        _meta_array.exit_()


def empty(shape, dtype, requires_grad=False, strides=None):
    """A meta tensor of ``shape`` and torsh ``dtype``."""
    activate()
    t = wrap(meta_array(shape, dtype.np, strides))
    if requires_grad:
        t.requires_grad_(True)
    return t


def like(t, dtype=None):
    return empty(t._data.shape, dtype or t.dtype)


# -- the op hook --------------------------------------------------------------------------------------------
_active = [False]


def activate():
    """Install the op hook (once); it removes itself at the first op call after the last meta tensor is gone
    and the default device is no longer meta."""
    if not _active[0]:
        _active[0] = True
        registry.set_base_listener(_listener)


_meta_array.on_meta_default.append(activate)


def _deactivate_if_idle():
    if _active[0] and not _meta_array.LIVE[0] and _meta_array.default_device is None:
        _active[0] = False
        registry.set_base_listener(None)


class _Suspended(threading.local):
    depth = 0  # > 0 while an op runs: its own factory calls build on the CPU, as PyTorch's device mode


_suspended = _Suspended()

# initializers and writes that leave a meta tensor as it is (PyTorch's meta kernels do nothing)
_NO_OPS = frozenset({
    "uniform_", "normal_", "zero_", "fill_", "copy_", "random_", "bernoulli_", "exponential_", "geometric_",
    "log_normal_", "cauchy_", "fill_diagonal_", "__setitem__", "index_fill_", "masked_fill_", "index_put_",
    "index_copy_", "masked_scatter_", "scatter_", "scatter_add_", "scatter_reduce_", "put_", "clamp_",
    "clamp_min_", "clamp_max_", "clip_", "requires_grad_", "detach_", "share_memory_", "set_"})
# ops run on the meta tensors themselves (metadata only)
_PASS_THROUGH = frozenset({"detach", "item", "to", "size", "dim", "numel", "stride", "is_contiguous", "float",
                           "double", "half", "bfloat16", "int", "long", "short", "char", "byte", "bool", "cfloat",
                           "cdouble", "type_as"})
_FAKE_IMPL = ("attempted to run this operator with Meta tensors, but there was no fake impl or Meta kernel "
              "registered. You may have run into this message while using an operator with PT2 compilation APIs "
              "(torch.compile/torch.export); in order to use this operator with those APIs you'll need to add a "
              "fake impl. Please see the following for next steps:  "
              "https://pytorch.org/tutorials/advanced/custom_ops_landing_page.html")
_NONZERO = ("The register_meta function for torch.nonzero() raises unimplemented by default, as a correct "
            "data-independent implementation does not exist. This implementation returns a fake value, assuming "
            "all elements of the tensor are non-zero. To enable this registration, please set "
            "'torch.fx.experimental._config.meta_nonzero_assume_all_nonzero' to True.")
# ops whose result's shape (or value) depends on the data: PyTorch's meta errors, by ATen name
_DATA_DEPENDENT = {"masked_select": "masked_select", "unique": "_unique2", "unique_consecutive": "unique_consecutive",
                   "equal": "equal", "bincount": "bincount"}
_NEEDS_ITEM = frozenset({"allclose", "is_nonzero"})
_NO_COPY = "Cannot copy out of meta tensor; no data!"
# views that never read their input's elements: run again on probes with the inputs' strides, they give the
# results' strides (PyTorch's for a view); view/reshape are not among them (they may copy)
_STRIDED_VIEWS = frozenset({"t", "transpose", "permute", "expand", "expand_as", "select", "narrow", "unsqueeze",
                            "squeeze", "diagonal", "movedim", "moveaxis", "swapaxes", "swapdims", "split", "chunk",
                            "unbind", "__getitem__", "mT", "mH", "T", "H", "adjoint", "unfold", "as_strided",
                            "tensor_split", "hsplit", "vsplit", "dsplit"})
# PyTorch's device constructors (torch.utils._device): the default device applies to their public calls
_CONSTRUCTORS = frozenset({
    "empty", "empty_strided", "empty_permuted", "ones", "arange", "bartlett_window", "blackman_window", "eye",
    "fftfreq", "rfftfreq", "full", "hamming_window", "hann_window", "kaiser_window", "linspace", "logspace", "rand",
    "randn", "randint", "randperm", "range", "zeros", "asarray", "tensor", "as_tensor", "scalar_tensor",
    "tril_indices", "triu_indices"})


_CPU_INDICES = frozenset({"__getitem__", "__setitem__", "index_select", "gather", "take_along_dim"})


def _is_meta(x):
    return type(getattr(x, "_data", None)) is MetaArray


def _tensors(args, kwargs):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (b for b in a if isinstance(b, Tensor))
    for a in kwargs.values():
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (b for b in a if isinstance(b, Tensor))


def _listener(binding):
    fn, name = binding.fn, binding.attribute
    inplace = (name.endswith("_") and not name.startswith("__")) or name in _NO_OPS or (
        name.startswith("__i") and name not in ("__index__", "__init__", "__iter__", "__invert__"))
    constructor = name in _CONSTRUCTORS and not isinstance(binding.owner, type)

    def op(*args, **kwargs):
        for t in _tensors(args, kwargs):
            if type(t._data) is MetaArray:
                return _run(fn, name, inplace, constructor, args, kwargs)
        if _meta_array.default_device is None:
            if not _meta_array.LIVE[0]:
                _deactivate_if_idle()
            return fn(*args, **kwargs)
        if constructor:
            return fn(*args, **kwargs)
        _suspended.depth += 1  # an op's own temporaries stay on the CPU under `with torch.device('meta')`
        try:
            return fn(*args, **kwargs)
        finally:
            _suspended.depth -= 1
    op.__name__ = getattr(fn, "__name__", name)
    op.__qualname__ = getattr(fn, "__qualname__", name)
    op.__doc__ = getattr(fn, "__doc__", None)
    op.__wrapped__ = fn
    return op


def _run(fn, name, inplace, constructor, args, kwargs):
    """``fn`` called with a meta tensor among its arguments."""
    base = name.rstrip("_") if not name.startswith("__") else name
    if name in _PASS_THROUGH or constructor:  # these handle meta tensors themselves
        return fn(*args, **kwargs)
    if name == "contiguous" and _is_meta(args[0]):
        t = args[0]
        return t if t._data.meta_strides is None else _meta_from(t._data.shape, t._data.dtype, t._requires_grad)
    if name == "cpu" or name == "numpy" or name == "tolist":
        raise NotImplementedError(_NO_COPY)
    self_meta = bool(args) and _is_meta(args[0])
    if inplace and not self_meta and name in ("copy_", "__setitem__"):
        raise NotImplementedError(_NO_COPY)
    if inplace and self_meta and name in _NO_OPS:
        if name in ("requires_grad_", "detach_", "share_memory_"):
            return fn(*args, **kwargs)
        return args[0]
    if base in ("nonzero", "argwhere") or (base == "where" and len(args) + len(kwargs) == 1):
        raise NotImplementedError(_NONZERO)
    if base in _DATA_DEPENDENT:
        raise NotImplementedError(f"aten::{_DATA_DEPENDENT[base]}: {_FAKE_IMPL}")
    if base in _NEEDS_ITEM:
        raise RuntimeError("Tensor.item() cannot be called on meta tensors")
    if base == "repeat_interleave" and kwargs.get("output_size") is None:
        raise RuntimeError("cannot repeat_interleave a meta tensor without output_size")
    if name == "__getitem__" and _has_mask(args[1] if len(args) > 1 else None):
        raise NotImplementedError(_NONZERO)
    if not (inplace and self_meta) and name not in _CPU_INDICES:  # CPU indices are fine there
        _check_devices(args, kwargs)
    if name in _PRODUCTS and not inplace and "out" not in kwargs and not registry.observed():  # (a listener
        # such as FlopCounterMode sees the op run)
        fast = _product(name, fn, args, kwargs)
        if fast is not None:
            return fast
    out = kwargs.get("out")
    if _is_meta(out) or (isinstance(out, (tuple, list)) and any(_is_meta(o) for o in out)):
        kwargs = dict(kwargs)
        del kwargs["out"]
    else:
        out = None
    stand_ins = {}
    graph = grad_mode.is_grad_enabled() and any(t._requires_grad for t in _tensors(args, kwargs) if _is_meta(t))
    try:
        result = _call(fn, args, kwargs, stand_ins, False, graph)
    except Exception:  # noqa: BLE001 (a compiled kernel wants contiguous operands: retried on dense ones)
        if not any(t._data.size > 1 for t, _ in stand_ins.values()):
            raise
        stand_ins = {}
        result = _call(fn, args, kwargs, stand_ins, True, graph)
    node_name = _result_node_name(result) if graph else None
    originals = {id(s): t for t, s in stand_ins.values()}
    for t, s in stand_ins.values():  # an in-place view op (squeeze_, t_, resize_) gave self another shape
        if s._data.shape != t._data.shape or s._data.dtype != t._data.dtype:
            t._data = meta_array(s._data.shape, s._data.dtype)
    strides = _view_strides(fn, name, args, kwargs, stand_ins) if name in _STRIDED_VIEWS else None
    result = _metas(result, originals, False, iter(strides) if strides else None)
    if graph:
        _record(node_name, list(_tensors(args, kwargs)), result, originals)
    if out is not None:
        return _into_out(result, out)
    return result


# products whose result shape has a rule: answered without running them (a meta model's forward would
# otherwise multiply every weight-sized stand-in)
_PRODUCTS = frozenset({"matmul", "__matmul__", "mm", "bmm", "linear"})


def _product(name, fn, args, kwargs):
    """A product's meta result by PyTorch's shape rules, or None (then it runs, raising its error if any)."""
    tensors = list(_tensors(args, kwargs))
    if not all(type(t._data) is MetaArray for t in tensors) or len({t.dtype for t in tensors}) != 1:
        return None
    params = dict(zip(("input", "weight", "bias") if name == "linear" else ("input", "other"), args))
    params.update(kwargs)
    a, b = params.get("input", params.get("self")), params.get("weight", params.get("mat2", params.get("other")))
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        return None
    sa, sb = a._data.shape, b._data.shape
    try:
        if name == "linear":
            if len(sb) not in (1, 2) or not sa or sa[-1] != sb[-1]:
                return None
            shape = sa[:-1] + sb[:-1]
            bias = params.get("bias")
            if bias is not None and np.broadcast_shapes(shape, bias._data.shape) != shape:
                return None
        elif name == "mm" and not (len(sa) == len(sb) == 2) or name == "bmm" and not (
                len(sa) == len(sb) == 3 and sa[0] == sb[0]):
            return None
        else:
            shape = _matmul_shape(sa, sb)
            if shape is None:
                return None
    except ValueError:  # batch dims that do not broadcast
        return None
    result = wrap(meta_array(shape, a._data.dtype))
    if grad_mode.is_grad_enabled() and any(t._requires_grad for t in tensors):
        # the node PyTorch names depends on the ranks (and broadcast dims) only: the op run on small stand-ins,
        # every dim of more than one element made two, names it
        small = {}
        for t in tensors:
            s = wrap(np.ones(tuple(min(n, 2) for n in t._data.shape), t._data.dtype))
            s._requires_grad = t._requires_grad
            small[id(t)] = (t, s)
        with contextlib.suppress(Exception):
            named = fn(*[_swap_in(x, small) for x in args], **{k: _swap_in(v, small) for k, v in kwargs.items()})
            _record(_result_node_name(named), tensors, result, {})
    return result


def _matmul_shape(sa, sb):
    if not sa or not sb:
        return None
    if len(sa) == 1 and len(sb) == 1:
        return () if sa[0] == sb[0] else None
    a = (1,) + sa if len(sa) == 1 else sa
    b = sb + (1,) if len(sb) == 1 else sb
    if a[-1] != b[-2]:
        return None
    shape = np.broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
    if len(sa) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(sb) == 1:
        shape = shape[:-1]
    return tuple(shape)


def _meta_from(shape, dtype, requires_grad):
    t = wrap(meta_array(shape, dtype))
    t._requires_grad = requires_grad
    return t


def _call(fn, args, kwargs, stand_ins, dense, graph):
    """``fn`` on the stand-ins; with ``graph``, they require grad as the meta tensors do (so PyTorch's in-place
    checks apply and the result's node names the op); that graph is dropped with the stand-ins."""
    call_args = [_stand_in(a, stand_ins, dense) for a in args]
    call_kwargs = {k: _stand_in(v, stand_ins, dense) for k, v in kwargs.items()}
    _suspended.depth += 1
    try:
        if graph:
            for t, s in stand_ins.values():
                s._requires_grad, s._grad_fn, s._output_nr = t._requires_grad, t._grad_fn, t._output_nr
            return fn(*call_args, **call_kwargs)
        with grad_mode.no_grad():
            return fn(*call_args, **call_kwargs)
    finally:
        _suspended.depth -= 1


def _result_node_name(result):
    for r in (result if isinstance(result, (tuple, list)) else (result,)):
        fn = getattr(r, "grad_fn", None)
        if fn is not None:
            return fn.name()
    return None


def module_forward(module, forward, *args, **kwargs):
    """``forward(*args, **kwargs)`` of a module whose computation reaches its tensors outside the op bindings
    (the recurrent layers' kernels): when a meta tensor is among its parameters, buffers or arguments, it runs on
    dense stand-ins swapped into those tensors for the call, and answers meta tensors of its results' shapes."""
    params = list(module.parameters())
    inputs = list(_tensors(args, kwargs))
    tensors = [t for t in params + list(module.buffers()) + inputs if type(t._data) is MetaArray]
    if not tensors:
        return forward(*args, **kwargs)
    for x in inputs[:1]:
        for p in params:
            if p.is_meta != x.is_meta:
                raise RuntimeError(f"Input and parameter tensors are not at the same device, found input tensor at "
                                   f"{x.device} and parameter tensor at {p.device}")
    saved = {id(t): (t, t._data) for t in tensors}
    originals = {}
    try:
        for t, data in saved.values():
            element = np.ones((), data.dtype) if data.dtype.kind in "fc" else np.zeros((), data.dtype)
            t._data = np.full(data.shape, element)
            originals[id(t)] = t
        _suspended.depth += 1
        try:
            with grad_mode.no_grad():
                result = forward(*args, **kwargs)
        finally:
            _suspended.depth -= 1
    finally:
        for t, data in saved.values():
            t._data = data
    result = _metas(result, originals, False)
    if grad_mode.is_grad_enabled() and any(t._requires_grad for t, _ in saved.values()):
        _record(None, list(_tensors(args, kwargs)) + params, result, originals)
    return result


class MetaBackward0(Node):
    """A meta op's backward: PyTorch's node name for the op; each input's gradient is a meta tensor of its
    shape and dtype (there are no values to compute)."""
    op_name = "MetaBackward0"

    def name(self):
        return self.op_name

    def backward(self, *grads):
        out = []
        for (fn, _), m in zip(self.next_functions, self._input_meta):
            leaf = getattr(fn, "variable", None) if isinstance(fn, AccumulateGrad) else None
            if leaf is not None and type(leaf._data) is MetaArray:  # a meta leaf: its .grad is meta (no values)
                if leaf._grad is None:
                    leaf._grad = empty(m[0], m[1])
                out.append(None)
            else:
                out.append(None if m is None or fn is None else empty(m[0], m[1]))
        return tuple(out)


def _record(name, inputs, result, originals):
    """Link the meta results of ``inputs`` into the graph (results that are inputs, as in-place ones, stay)."""
    results = result if isinstance(result, (tuple, list)) else (result,)
    outputs = [r for r in results if isinstance(r, Tensor) and id(r) not in {id(t) for t in inputs}
               and (r.dtype.is_floating_point or r.dtype.is_complex)]
    if outputs:
        node = MetaBackward0()
        node.op_name = name or "MetaBackward0"
        record(node, inputs, outputs)


def _has_mask(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, Tensor) and i.dtype.name in ("bool", "uint8") for i in items)


def _check_devices(args, kwargs):
    """PyTorch's error for tensors of two devices in one op (a CPU 0-d tensor counts as a scalar)."""
    expected = None
    for t in _tensors(args, kwargs):
        dev = META if type(t._data) is MetaArray else None
        if expected is None:
            expected = dev or t.device
            continue
        if (dev or t.device) != expected and not (dev is None and t._data.ndim == 0):
            raise RuntimeError(f"Tensor on device {dev or t.device} is not on the expected device {expected}!")


def _stand_in(value, stand_ins, dense=False):
    """A meta tensor's stand-in: a CPU tensor of its shape and dtype over one writable element (fresh per call,
    so that an op writing it changes nothing else); ``dense``: a contiguous array of that element."""
    if isinstance(value, Tensor):
        if type(value._data) is not MetaArray:
            return value
        entry = stand_ins.get(id(value))
        if entry is None:
            data = value._data
            element = np.ones((), data.dtype) if data.dtype.kind in "fc" else np.zeros((), data.dtype)
            if dense:
                array = np.full(data.shape, element)
            else:
                array = np.lib.stride_tricks.as_strided(element, data.shape, (0,) * data.ndim, writeable=True)
            entry = stand_ins[id(value)] = (value, wrap(array))
        return entry[1]
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        items = [_stand_in(v, stand_ins, dense) for v in value]
        return items if isinstance(value, list) else type(value)(items)
    return value


def _view_strides(fn, name, args, kwargs, stand_ins):
    """The strides of a view op's results, from the op run again on probes: read-only arrays of the meta
    inputs' shapes and strides over one element (safe: these ops only make views, reading nothing)."""
    if name == "__getitem__" and not _basic_index(args[1] if len(args) > 1 else None):
        return None
    probes = {}
    for key, (t, _) in stand_ins.items():
        data = t._data
        array = np.lib.stride_tricks.as_strided(np.zeros(1, data.dtype), data.shape,
                                                [s * data.itemsize for s in _meta_array.strides_of(data)],
                                                writeable=False)
        probes[key] = (t, wrap(array))
    try:
        with grad_mode.no_grad():
            result = fn(*[_swap_in(a, probes) for a in args], **{k: _swap_in(v, probes) for k, v in kwargs.items()})
    except Exception:  # noqa: BLE001 (the op ran on the stand-ins: strides stay contiguous)
        return None
    results = result if isinstance(result, (tuple, list)) else (result,)
    if not all(isinstance(r, Tensor) for r in results):
        return None
    return [tuple(s // r._data.itemsize for s in r._data.strides) for r in results]


def _basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) and not isinstance(i, bool) for i in items)


def _swap_in(value, probes):
    if isinstance(value, Tensor):
        entry = probes.get(id(value))
        return value if entry is None else entry[1]
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        items = [_swap_in(v, probes) for v in value]
        return items if isinstance(value, list) else type(value)(items)
    return value


def _metas(result, originals, requires_grad, strides=None):
    if isinstance(result, Tensor):
        original = originals.get(id(result))
        if original is not None:
            return original
        t = wrap(meta_array(result._data.shape, result._data.dtype, next(strides) if strides else None))
        if requires_grad and (result.dtype.is_floating_point or result.dtype.is_complex):
            t._requires_grad = True
        if type(result) is not Tensor:  # a Parameter, ...: keep the class
            t.__class__ = type(result)
        return t
    if isinstance(result, tuple):
        items = [_metas(r, originals, requires_grad, strides) for r in result]
        return _same_tuple(result, items)
    if isinstance(result, list):
        return [_metas(r, originals, requires_grad, strides) for r in result]
    return result


def _same_tuple(result, items):
    if hasattr(result, "_fields"):
        return type(result)(*items)  # torch.return_types.max, ... (namedtuples)
    return type(result)(items)


def _into_out(result, out):
    if isinstance(out, (tuple, list)):
        for r, o in zip(result, out):
            _into_out(r, o)
        return out
    out._data = meta_array(result._data.shape, out._data.dtype)
    return out
