"""The export trace: run the module once, eagerly, on copies of its parameters, buffers and inputs, and record
each op called from its Python code (not the ops inside other ops) as an ATen-named ``call_function`` node.

Recording sits on the op registry's call hook (``registry.observe``), as torsh.fx does, but with real values
instead of Proxies: Python control flow on shapes just runs (and is specialized, as PyTorch's export does),
while control flow on a traced tensor's *values* (``bool``, ``int``, ``float``, ``item``, ``tolist``) raises
PyTorch's ``GuardOnDataDependentSymNode``. A dimension declared dynamic is a ``Symbol``: ``x.size(0)`` /
``x.shape[0]`` then return a ``SymInt`` (an int recording ``aten.sym_size.int`` and the arithmetic done on it),
so ``x.view(x.size(0), -1)`` keeps the batch symbolic; an op's output dim equal to a symbol's example size is
taken for that symbol (PyTorch's duck sizing)."""
import contextlib
import functools
import inspect
import operator

import torsh
from .._ops import registry
from .. import nn
from .._op_overloads import OpOverload, OpOverloadPacket, _aten_functions, ops
from ..fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode
from ..fx.graph import Graph
from ..utils import _pytree
from .graph_signature import (ConstantArgument, InputKind, InputSpec, OutputKind, OutputSpec, SymIntArgument,
                              TensorArgument)

_ACTIVE = None  # the running _Trace

# Tensor operators recorded as the ATen op they compute ((name, swap arguments))
_DUNDER_OPS = {"__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "rsub", "__mul__": "mul",
               "__rmul__": "mul", "__truediv__": "div", "__matmul__": "matmul", "__pow__": "pow",
               "__mod__": "remainder", "__floordiv__": "floor_divide", "__neg__": "neg", "__abs__": "abs",
               "__invert__": "bitwise_not", "__and__": "bitwise_and", "__or__": "bitwise_or",
               "__xor__": "bitwise_xor", "__lshift__": "bitwise_left_shift", "__rshift__": "bitwise_right_shift",
               "__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
               "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
               "__ipow__": "pow_", "__imod__": "remainder_", "__ifloordiv__": "floor_divide_",
               "__iand__": "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_"}
_SCALAR_OR_TENSOR = {"eq", "ne", "lt", "le", "gt", "ge", "remainder", "fmod", "bitwise_and", "bitwise_or",
                     "bitwise_xor", "rsub", "floor_divide"}
_ALWAYS_TENSOR = {"add", "sub", "mul", "div", "true_divide"}
_FIXED_OVERLOADS = {"select": "int", "transpose": "int", "flatten": "using_ints", "softmax": "int",
                    "log_softmax": "int", "unbind": "int", "split": "Tensor", "chunk": "default",
                    "size": "int", "sym_size": "int", "std": "correction", "var": "correction",
                    "slice": "Tensor", "where": "self", "index_select": "default", "gather": "default"}
_DIM_OVERLOADS = {"sum": "dim_IntList", "mean": "dim", "amax": "default", "max": "dim", "min": "dim",
                  "any": "dim", "all": "dim", "prod": "dim_int", "squeeze": "dim", "norm": "ScalarOpt_dim",
                  "logsumexp": "default"}


def overload_name(name, args, kwargs):
    """The ATen overload PyTorch's export names for ``name`` called with these arguments."""
    base = name[:-1] if name.endswith("_") and not name.endswith("__") else name
    other = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("exponent"))
    if base in _ALWAYS_TENSOR:
        return "Tensor"
    if base in _SCALAR_OR_TENSOR:
        return "Tensor" if isinstance(other, torsh.Tensor) else "Scalar"
    if base == "pow":
        first = args[0] if args else kwargs.get("input", kwargs.get("self"))
        if not isinstance(first, torsh.Tensor):
            return "Scalar"
        return "Tensor_Tensor" if isinstance(other, torsh.Tensor) else "Tensor_Scalar"
    if base in _FIXED_OVERLOADS:
        return _FIXED_OVERLOADS[base]
    if base in _DIM_OVERLOADS and (len(args) > 1 or "dim" in kwargs):
        return _DIM_OVERLOADS[base]
    if base == "clamp" and any(isinstance(a, torsh.Tensor) for a in list(args[1:]) + list(kwargs.values())):
        return "Tensor"
    return "default"


_SIZE_LIST_OPS = frozenset({"view", "reshape", "expand", "permute", "repeat", "tile", "new_zeros", "new_ones",
                            "new_empty"})
_TARGETS = {}  # (aten name, overload, fn) -> the target object recorded in graphs


def export_target(name, overload, fn, path):
    """``torsh.ops.aten.<name>.<overload>`` when that is ``fn`` itself, else an ``OpOverload`` of that name
    calling ``fn`` (``path``: where ``fn`` is found again, for torsh.export.load)."""
    key = (name, overload, fn)
    target = _TARGETS.get(key)
    if target is None:
        canonical = getattr(getattr(ops.aten, name, None), overload, None) if _resolves(name) else None
        if canonical is not None and inspect.unwrap(canonical._op) is inspect.unwrap(fn):
            target = canonical
        else:
            target = OpOverload(OpOverloadPacket("aten", name, fn), overload, fn)
        target._torsh_path = path
        _TARGETS[key] = target
    return target


def _resolves(name):
    return name in ops.aten._packets


def _define_aten_packets():
    """Make every ``torsh.ops.aten.<name>`` packet now: under the op hook the registry's binding scan sees
    the hook's wrappers, so ``ops.aten`` cannot resolve new names while a trace runs."""
    for name, fn in _aten_functions().items():
        if name not in ops.aten._packets:
            ops.aten._define(name, fn)


def _sym_size_int(t, dim):
    return t.size(dim)


def _slice_tensor(t, dim=0, start=None, end=None, step=1):
    """``aten.slice.Tensor``: basic slicing of one dim (torsh names no ``slice`` op)."""
    return t[(slice(None),) * dim + (slice(start, end, step),)]


_INT64_MAX = 9223372036854775807


def _basic_index(index):
    """The index as a tuple when it is basic (ints, slices, None, Ellipsis), else None."""
    items = index if isinstance(index, tuple) else (index,)
    ok = all(i is None or i is Ellipsis or isinstance(i, slice) or (isinstance(i, int) and not isinstance(i, bool))
             for i in items)
    return items if ok and sum(i is Ellipsis for i in items) <= 1 else None


def _record_getitem(trace, tensor, index, result):
    """``x[0, 1:3, None]`` as PyTorch's export writes it: select.int / slice.Tensor / unsqueeze per index item.
    False when the index is not basic (a tensor, a list, a bool): then it is one ``operator.getitem``."""
    items = _basic_index(index)
    if items is None or not trace.tracked(tensor):
        return False
    node = trace.node_of[id(tensor)]
    dim = 0
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    for item in items:
        if item is Ellipsis:
            dim += tensor.dim() - consumed
        elif item is None:
            node = trace.graph.create_node("call_function", ops.aten.unsqueeze.default, (node, dim), {}, "unsqueeze")
            dim += 1
        elif isinstance(item, slice):
            if item == slice(None):
                dim += 1
                continue
            start = 0 if item.start is None else trace.lower(item.start)
            end = _INT64_MAX if item.stop is None else trace.lower(item.stop)
            args = (node, dim, start, end) + (() if item.step in (None, 1) else (item.step,))
            target = export_target("slice", "Tensor", _slice_tensor, "torsh.export._trace._slice_tensor")
            node = trace.graph.create_node("call_function", target, args, {}, "slice")
            dim += 1
        else:
            node = trace.graph.create_node("call_function", ops.aten.select.int, (node, dim, item), {}, "select")
    if node is trace.node_of[id(tensor)]:  # x[...] or x[:]: PyTorch records an alias
        node = trace.graph.create_node("call_function", ops.aten.alias.default if _resolves("alias") else
                                       export_target("alias", "default", _alias, "torsh.export._trace._alias"),
                                       (node,), {}, "alias")
    trace.track(result, node)
    return True


def _alias(t):
    return t.view(t.shape)


class SymInt(int):
    """A size that depends on a dynamic dimension: an int carrying the graph node computing it."""

    def __new__(cls, value, node):
        self = super().__new__(cls, value)
        self.node = node
        return self

    def _binary(self, other, op, reflected=False):
        value = op(int(other), int(self)) if reflected else op(int(self), int(other))
        trace = _ACTIVE
        if trace is None or trace.depth or not isinstance(value, int):
            return value
        a, b = (other, self) if reflected else (self, other)
        node = trace.graph.create_node("call_function", op, (trace.lower(a), trace.lower(b)), {})
        return SymInt(value, node)

    def __repr__(self):
        return int.__repr__(self)


for _name, _op in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("floordiv", operator.floordiv), ("mod", operator.mod)):
    setattr(SymInt, f"__{_name}__", functools.partialmethod(SymInt._binary, op=_op))
    setattr(SymInt, f"__r{_name}__", functools.partialmethod(SymInt._binary, op=_op, reflected=True))


class TensorMeta:
    """``node.meta["val"]``: a value's shape (symbols for dynamic dims) and dtype, as the printout shows."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype

    def __repr__(self):
        return f"TensorMeta(shape={self.shape}, dtype={self.dtype})"


def _data_dependent(what):
    return GuardOnDataDependentSymNode(
        f"Could not guard on data-dependent expression ({what} of a tensor computed from the exported "
        "program's inputs, parameters or buffers). torch.export records shapes, not values: express the "
        "branch with tensor ops (torch.where), or torch.cond for both branches.")


def _unrecorded(tensor):
    """A tensor computed from the traced inputs by code that called no registered op (an nn module running its
    kernels directly): its value would be baked in as a constant, so the export stops instead."""
    return NotImplementedError(
        f"torch.export (torsh): a tensor of shape {list(tensor.shape)} was computed from the program's inputs or "
        f"parameters by code that calls no registered torsh op (its grad_fn is {type(tensor.grad_fn).__name__}), "
        "so the exported graph cannot compute it. torsh's export records the ops of torch, torch.nn.functional "
        "and Tensor methods; modules that run fused kernels directly (nn.LSTM, nn.GRU, nn.RNN) are not exportable "
        "yet.")


class _Trace:
    """The state of one export trace: the graph, which tensor (by id) each node computes, the symbols."""

    def __init__(self):
        self.graph = Graph()
        self.node_of, self.keep = {}, []
        self.syms = {}  # id(tensor) -> per-dim Symbol or None
        self.symbols = []  # (Symbol, placeholder node, dim)
        self.sym_nodes = {}
        self.depth = 0
        self.constants = {}  # lifted target -> tensor
        self.constant_names = {}  # id(tensor) -> (placeholder name, target) of module attributes
        self.first_user_input = None

    def track(self, tensor, node, syms=None):
        self.node_of[id(tensor)] = node
        self.keep.append(tensor)
        if syms is None and self.symbols:
            examples = {}
            for symbol, _, _ in self.symbols:
                examples.setdefault(symbol.example, symbol)
            syms = tuple(examples.get(size) for size in tensor.shape)
        if syms is not None and any(s is not None for s in syms):
            self.syms[id(tensor)] = tuple(syms)
        node.meta["val"] = TensorMeta(tuple(s if s is not None else n for s, n in
                                            zip(self.syms.get(id(tensor), (None,) * tensor.dim()), tensor.shape)),
                                      tensor.dtype)

    def tracked(self, value):
        return isinstance(value, torsh.Tensor) and id(value) in self.node_of

    def lower(self, a):
        """An argument as the node stores it: nodes for traced tensors and sizes, lifted constants."""
        if isinstance(a, SymInt):
            return a.node
        if isinstance(a, torsh.Tensor):
            node = self.node_of.get(id(a))
            if node is None and a.grad_fn is not None:
                raise _unrecorded(a)
            return node if node is not None else self._lift(a)
        if isinstance(a, torsh.Size):
            return [self.lower(s) for s in a]
        if isinstance(a, tuple) and hasattr(a, "_fields"):
            return type(a)(*[self.lower(e) for e in a])
        if isinstance(a, (tuple, list)):
            return type(a)(self.lower(e) for e in a)
        if isinstance(a, dict):
            return {k: self.lower(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self.lower(a.start), self.lower(a.stop), self.lower(a.step))
        return a

    def _lift(self, tensor):
        """A tensor the program reads but did not compute from its inputs: a CONSTANT_TENSOR placeholder."""
        name, target = self.constant_names.get(id(tensor), (None, None))
        if name is None:
            i = len(self.constants)
            name, target = f"c_lifted_tensor_{i}", f"lifted_tensor_{i}"
        with self.graph.inserting_before(self.first_user_input):
            node = self.graph.create_node("placeholder", name, (), {}, name)
        self.constants[target] = tensor
        node.meta["lifted"] = target
        self.track(tensor, node, ())
        return node

    def sym_size(self, symbol):
        node = self.sym_nodes.get(symbol.name)
        if node is None:
            placeholder, dim = next((p, d) for s, p, d in self.symbols if s is symbol)
            target = export_target("sym_size", "int", _sym_size_int, "torsh.export._trace._sym_size_int")
            node = self.graph.create_node("call_function", target, (placeholder, dim), {}, "sym_size_int")
            node.meta["val"] = symbol
            self.sym_nodes[symbol.name] = node
        return SymInt(symbol.example, node)

    def record(self, target, name, args, kwargs, result):
        """A node for an op call that ran at the program's level; its tensor results become traced."""
        if name in _SIZE_LIST_OPS and len(args) > 1 and not isinstance(args[1], (list, tuple)):
            args = (args[0], list(args[1:]))  # x.view(5, -1) is aten.view(x, [5, -1])
        kwargs = _without_defaults(getattr(target, "_op", target), kwargs)
        node = self.graph.create_node("call_function", target, self.lower(tuple(args)), self.lower(dict(kwargs)),
                                      name)
        if isinstance(result, torsh.Tensor):
            if not (self.tracked(result) and name.endswith("_")):  # an in-place op's result keeps its node
                self.track(result, node)
            else:
                node.meta["val"] = TensorMeta(result.shape, result.dtype)
        elif isinstance(result, (tuple, list)):
            for i, item in enumerate(result):
                if isinstance(item, torsh.Tensor):
                    self.track(item, self.graph.create_node("call_function", operator.getitem, (node, i), {},
                                                            "getitem"))
        return result


_SIGNATURES = {}


def _without_defaults(fn, kwargs):
    """``kwargs`` less the constants equal to ``fn``'s defaults (F.relu(x, inplace=False) is aten.relu(x))."""
    if not kwargs:
        return kwargs
    parameters = _SIGNATURES.get(fn)
    if parameters is None:
        try:
            parameters = _SIGNATURES[fn] = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            parameters = _SIGNATURES[fn] = {}
    kept = {}
    for key, value in kwargs.items():
        parameter = parameters.get(key)
        default = parameter.default if parameter is not None else inspect.Parameter.empty
        if isinstance(value, (bool, int, float, str, type(None))) and type(value) is type(default) \
                and value == default:
            continue
        kept[key] = value
    return kept


def _binding_path(binding):
    owner = binding.owner
    prefix = "torsh.Tensor" if owner is torsh.Tensor else owner.__name__
    return f"{prefix}.{binding.attribute}"


def _recorder(binding):
    """The registry hook's wrapper for one binding: at the program's level (not inside another op) under a
    running export, the call runs and is recorded."""
    fn = binding.fn
    attribute = binding.attribute
    path = _binding_path(binding)
    if binding.owner is torsh.Tensor and attribute in ("__getitem__", "__setitem__"):
        special = operator.getitem if attribute == "__getitem__" else operator.setitem
        name = special.__name__
    else:
        special = None
        name = _DUNDER_OPS.get(attribute, binding.prefix + attribute)
    reflected = attribute in ("__radd__", "__rmul__")
    plain_function = binding.owner is torsh.Tensor and attribute.startswith("__") and attribute not in _DUNDER_OPS \
        and special is None  # reflected operators without an ATen twin: recorded as the method itself

    def wrapper(*args, **kwargs):
        trace = _ACTIVE
        if trace is None or trace.depth:
            return fn(*args, **kwargs)
        if name == "item" and args and trace.tracked(args[0]):
            raise _data_dependent("item()")
        trace.depth += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            trace.depth -= 1
        if special is operator.getitem and _record_getitem(trace, args[0], args[1], result):
            return result
        if special is not None:
            target, call_name = special, name
        elif plain_function:
            target, call_name = fn, attribute.strip("_")
        else:
            canonical_fn = fn
            if binding.owner is torsh.Tensor and attribute in _DUNDER_OPS:
                canonical_fn = getattr(torsh, name, None) or getattr(torsh.Tensor, name)
                path_of = f"torsh.{name}" if hasattr(torsh, name) else f"torsh.Tensor.{name}"
            else:
                path_of = path
            target = export_target(name, overload_name(name, args, kwargs), canonical_fn, path_of)
            call_name = name
        return trace.record(target, call_name, args, kwargs, result)
    functools.update_wrapper(wrapper, fn)
    del reflected
    return wrapper


_FACTORY_METHODS = ("new_zeros", "new_ones", "new_empty", "new_full")
_TENSOR_VALUE_READS = ("__bool__", "__int__", "__float__", "__index__", "__complex__", "tolist", "numpy")
_VIEW_PROPERTIES = {"T": lambda t: t.permute(*reversed(range(t.dim()))), "mT": lambda t: t.transpose(-2, -1),
                    "H": lambda t: t.permute(*reversed(range(t.dim()))).conj(),
                    "mH": lambda t: t.transpose(-2, -1).conj(), "data": lambda t: t.detach()}


@contextlib.contextmanager
def _patched_tensor():
    """While the trace runs: value reads of traced tensors raise, size reads give SymInts for dynamic dims, and
    the view properties (``.T``, ``.mT``...) go through recorded ops."""
    cls = torsh.Tensor
    saved = {name: cls.__dict__[name] for name in _TENSOR_VALUE_READS + ("size", "shape") + tuple(_VIEW_PROPERTIES)
             + _FACTORY_METHODS if name in cls.__dict__}

    def value_read(name, original):
        def read(self, *args, **kwargs):
            trace = _ACTIVE
            if trace is not None and not trace.depth and trace.tracked(self):
                raise _data_dependent(f"{name}()" if not name.startswith("__") else name.strip("_"))
            return original(self, *args, **kwargs)
        return read

    def size(self, dim=None):
        original = saved["size"]
        trace = _ACTIVE
        syms = None if trace is None or trace.depth else trace.syms.get(id(self))
        if syms is None:
            return original(self, dim)
        if dim is None:
            return tuple.__new__(torsh.Size, [trace.sym_size(s) if s is not None else n
                                              for s, n in zip(syms, original(self))])
        n = original(self, dim)
        symbol = syms[dim % self.dim()]
        return trace.sym_size(symbol) if symbol is not None else n

    def view_property(name, original, rule):
        def get(self):
            trace = _ACTIVE
            if trace is None or trace.depth or not trace.tracked(self):
                return original.__get__(self, cls)
            return rule(self)
        return property(get)

    def overload_call(self, *args, **kwargs):  # torsh.ops.aten.linear.default(...) in traced code
        trace = _ACTIVE
        if trace is None or trace.depth:
            return self._op(*args, **kwargs)
        trace.depth += 1
        try:
            result = self._op(*args, **kwargs)
        finally:
            trace.depth -= 1
        return trace.record(self, self.overloadpacket.__name__, args, kwargs, result)

    def factory_method(name, original):  # x.new_zeros(n, 2): no registry op, recorded as aten.new_zeros
        def method(self, *args, **kwargs):
            trace = _ACTIVE
            if trace is None or trace.depth:
                return original(self, *args, **kwargs)
            trace.depth += 1
            try:
                result = original(self, *args, **kwargs)
            finally:
                trace.depth -= 1
            target = export_target(name, "default", original, f"torsh.Tensor.{name}")
            return trace.record(target, name, (self,) + args, kwargs, result)
        return method

    for name in _FACTORY_METHODS:
        if name in saved:
            setattr(cls, name, factory_method(name, saved[name]))
    saved_call = OpOverload.__dict__["__call__"]
    try:
        OpOverload.__call__ = overload_call
        for name in _TENSOR_VALUE_READS:
            if name in saved:
                setattr(cls, name, value_read(name, saved[name]))
        cls.size = size
        cls.shape = property(lambda self: size(self))
        for name, rule in _VIEW_PROPERTIES.items():
            if name in saved:
                setattr(cls, name, view_property(name, saved[name], rule))
        yield
    finally:
        OpOverload.__call__ = saved_call
        for name, value in saved.items():
            setattr(cls, name, value)


def _placeholder_names(fn, args, kwargs):
    """(flat leaves, their placeholder names, in_spec) of the user inputs, named as PyTorch names them."""
    signature = inspect.signature(fn)
    bound = signature.bind(*args, **kwargs)
    names, leaves = [], []
    for arg_name, value in bound.arguments.items():
        parameter = signature.parameters[arg_name]
        if parameter.kind == parameter.VAR_POSITIONAL:
            paths = _pytree.tree_flatten_with_path(tuple(value))[0]
            prefix = arg_name
        elif parameter.kind == parameter.VAR_KEYWORD:
            paths = _pytree.tree_flatten_with_path(dict(value))[0]
            prefix = ""
        else:
            paths = _pytree.tree_flatten_with_path(value)[0]
            prefix = arg_name
        for path, leaf in paths:
            parts = [prefix] + [str(getattr(k, "idx", getattr(k, "key", k))) for k in path]
            names.append("_".join(p for p in parts if p))
            leaves.append(leaf)
    flat, in_spec = _pytree.tree_flatten((tuple(args), dict(kwargs)))
    return flat, names, in_spec


@contextlib.contextmanager
def _swapped_state(module):
    """The module's parameters and buffers replaced by copies while the trace runs (an export must not
    update running statistics or parameters); yields {copy id: (kind, name)}."""
    swapped, originals = {}, {}
    for prefix, mod in module.named_modules(remove_duplicate=False):
        for name, value in list(mod._parameters.items()):
            if value is None:
                continue
            copy = originals.get(id(value))
            if copy is None:
                copy = originals[id(value)] = nn.Parameter(value.detach().clone(), requires_grad=value.requires_grad)
            swapped.setdefault(id(mod), (mod, {}, {}))[1][name] = value
            mod._parameters[name] = copy
        for name, value in list(mod._buffers.items()):
            if value is None:
                continue
            copy = originals.get(id(value))
            if copy is None:
                copy = originals[id(value)] = value.detach().clone()
            swapped.setdefault(id(mod), (mod, {}, {}))[2][name] = value
            mod._buffers[name] = copy
    try:
        yield originals
    finally:
        for mod, params, buffers in swapped.values():
            mod._parameters.update(params)
            mod._buffers.update(buffers)


def trace(module, args, kwargs, symbols_of):
    """Run ``module(*args, **kwargs)`` once and record it. Returns the graph, the input specs' raw parts and
    the output structure. ``symbols_of``: {(flat input index, dim): Symbol}."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RuntimeError("torch.export.export was called while another export was running")
    flat, names, in_spec = _placeholder_names(module.forward, args, kwargs)
    state = _Trace()
    input_specs = []
    persistent = {name: name.rsplit(".", 1)[-1] not in getattr(_owner(module, name), "_non_persistent_buffers_set",
                                                               ()) for name, _ in module.named_buffers()}
    rng = torsh.get_rng_state()
    _define_aten_packets()
    with _swapped_state(module) as copies, torsh.enable_grad():
        params = dict(module.named_parameters())
        buffers = dict(module.named_buffers())
        for kind, table, prefix in ((InputKind.PARAMETER, params, "p_"), (InputKind.BUFFER, buffers, "b_")):
            for target, tensor in table.items():
                name = prefix + target.replace(".", "_")
                node = state.graph.create_node("placeholder", name, (), {}, name)
                state.track(tensor, node, ())
                input_specs.append(InputSpec(kind, TensorArgument(node.name), target,
                                             persistent[target] if kind == InputKind.BUFFER else None))
        for target, tensor in _tensor_attributes(module):
            state.constant_names[id(tensor)] = ("c_" + target.replace(".", "_"), target)
        traced_leaves, user_nodes = [], []
        for i, (leaf, name) in enumerate(zip(flat, names)):
            node = state.graph.create_node("placeholder", name, (), {}, name)
            user_nodes.append(node)
            if isinstance(leaf, torsh.Tensor):
                # a non-leaf copy requiring grad (floating dtypes): whatever is computed from it carries a grad_fn,
                # which is how an unrecorded computation is told from a constant (see lower)
                source = leaf.detach().clone()
                if source.is_floating_point() or source.is_complex():
                    source.requires_grad_(True)
                    state.keep.append(source)
                    leaf = source.clone()
                else:
                    leaf = source
                state.track(leaf, node, tuple(symbols_of.get((i, d)) for d in range(leaf.dim())))
                for d in range(leaf.dim()):
                    if (i, d) in symbols_of:
                        state.symbols.append((symbols_of[(i, d)], node, d))
                arg = TensorArgument(name)  # the argument's name even where the node's is ``input_1``
            else:
                node.meta["val"] = leaf
                arg = ConstantArgument(node.name, leaf)
            traced_leaves.append(leaf)
            input_specs.append(InputSpec(InputKind.USER_INPUT, arg, None))
        state.first_user_input = user_nodes[0] if user_nodes else _end_marker(state.graph)
        t_args, t_kwargs = _pytree.tree_unflatten(traced_leaves, in_spec)
        if registry.observed():
            raise RuntimeError("torch.export (torsh) records ops through the op-call hook, which a running profiler, "
                               "vmap or fx trace holds: export outside of it")
        _ACTIVE = state
        try:
            with _patched_tensor(), registry.observe(_recorder):
                result = module(*t_args, **t_kwargs)
        finally:
            _ACTIVE = None
            torsh.set_rng_state(rng)
        out_leaves, out_spec = _pytree.tree_flatten(result)
        outputs, output_specs = [], []
        for leaf in out_leaves:
            value = state.lower(leaf)
            outputs.append(value)
            if isinstance(leaf, SymInt):
                arg = SymIntArgument(value.name)
            elif hasattr(value, "op"):
                arg = TensorArgument(value.name)
            else:
                arg = ConstantArgument("", value)
            output_specs.append(OutputSpec(OutputKind.USER_OUTPUT, arg, None))
        state.graph.output(tuple(outputs))
    if state.first_user_input is not None and state.first_user_input.op == "output":
        pass
    _remove_marker(state.graph)
    _eliminate_dead_code(state.graph)
    constant_specs = [InputSpec(InputKind.CONSTANT_TENSOR, TensorArgument(n.name), n.meta["lifted"])
                      for n in state.graph.nodes if n.op == "placeholder" and "lifted" in n.meta]
    n_state = len(params) + len(buffers)
    input_specs = input_specs[:n_state] + constant_specs + input_specs[n_state:]
    del copies
    return state, input_specs, output_specs, in_spec, out_spec, params, buffers


def _owner(module, dotted):
    owner = module
    for part in dotted.split(".")[:-1]:
        owner = getattr(owner, part)
    return owner


def _tensor_attributes(module):
    """(path, tensor) of the plain tensor attributes (neither parameter nor buffer) of every submodule."""
    for prefix, mod in module.named_modules():
        for name, value in vars(mod).items():
            if isinstance(value, torsh.Tensor) and not isinstance(value, torsh.nn.Parameter):
                yield (f"{prefix}.{name}" if prefix else name), value


def _end_marker(graph):
    """A temporary node marking where lifted constants go when the program takes no user input."""
    node = graph.create_node("placeholder", "_export_marker", (), {}, "_export_marker")
    node.meta["marker"] = True
    return node


def _remove_marker(graph):
    for node in list(graph.nodes):
        if node.meta.get("marker"):
            graph.erase_node(node)


def _is_mutation(node):
    if node.target is operator.setitem:
        return True
    name = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
    return name.endswith("_") and not name.endswith("__")


def _eliminate_dead_code(graph):
    """Drop the calls nobody reads (from the end), keeping in-place ops: what they write is state."""
    for node in reversed(list(graph.nodes)):
        if node.op == "call_function" and not node.users and not _is_mutation(node):
            graph.erase_node(node)
