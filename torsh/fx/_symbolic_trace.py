"""``torch.fx.symbolic_trace`` and ``Tracer``: run ``forward`` on Proxies and record what it does.

While a trace runs, three things are patched and put back after: ``nn.Module.__call__`` (a leaf module becomes one
``call_module`` node, any other is traced through), ``nn.Module.__getattr__`` (parameters become ``get_attr``
nodes), and every torsh op, through the op registry's call hook (``registry.observe``): an op called with a
Proxy among its arguments records a ``call_function`` node (a Tensor method: ``call_method``) instead of running.
So every registered op, and every function of the namespaces the hook adopts (``torsh.nn.functional``...), is
traceable without a list here; ``wrap`` adds plain Python functions."""
import builtins
import contextlib
import functools
import inspect
import math

import torsh
from .._dtype import dtype
from .._layouts import layout, memory_format
from .._ops import registry
from .._tensor import device
from .._toplevel import _assert
from .graph import Graph
from .graph_module import GraphModule, exec_forward, standard_globals
from .node import map_aggregate
from .proxy import Proxy, TraceError, TracerBase

_BASE_TYPES = (int, float, bool, complex, str, bytes, type(None), type(Ellipsis), dtype, device, memory_format,
               layout)
_WRAPPED = []  # (globals dict, name) registered by wrap()


def _assert_is_none(value, message):
    if value is not None:
        raise AssertionError(message)


class Tracer(TracerBase):
    """Records a Graph from a module's ``forward`` (or a function). Override ``is_leaf_module`` to keep more
    modules opaque, ``create_arg`` to accept more argument types."""

    def __init__(self, autowrap_modules=(math,), autowrap_functions=(), param_shapes_constant=False):
        self._autowrap_modules = tuple(autowrap_modules)
        self._autowrap_ids = {id(value) for module in autowrap_modules for name, value in vars(module).items()
                              if not name.startswith("_") and callable(value)}
        self._autowrap_ids.update(id(f) for f in autowrap_functions)
        self.param_shapes_constant = param_shapes_constant
        self.root = None
        self.graph = None
        self.tensor_attrs = {}

    # -- nodes and proxies ---------------------------------------------------------------------------
    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        if kind == "call_function":
            target = ORIGINAL_OF.get(target, target)
        return self.graph.create_node(kind, target, args, kwargs, name, type_expr)

    def proxy(self, node):
        return Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        """A node for ``target`` called with ``args``/``kwargs`` (lowered by ``create_arg``), as a Proxy."""
        node = self.create_node(kind, target, self.create_arg(tuple(args)), self.create_arg(dict(kwargs)), name,
                                type_expr)
        return proxy_factory_fn(node) if proxy_factory_fn is not None else self.proxy(node)

    def create_arg(self, a):
        """Lower a value seen as an argument into what a Node stores: Nodes for Proxies, ``get_attr`` nodes for
        parameters, buffers and tensor constants, containers element-wise, constants as they are."""
        if isinstance(a, Proxy):
            return a.node
        if hasattr(a, "__fx_create_arg__"):
            return a.__fx_create_arg__(self)
        if isinstance(a, torsh.nn.Parameter):
            for name, p in self.root.named_parameters():
                if a is p:
                    return self.create_node("get_attr", name, (), {})
            raise NameError("parameter is not a member of this module")
        if isinstance(a, torsh.Tensor):
            return self.create_node("get_attr", self._tensor_attr_name(a), (), {})
        if isinstance(a, torsh.nn.Module):
            for name, m in self.root.named_modules():
                if a is m:
                    return self.create_node("get_attr", name, (), {})
            raise NameError("module is not installed as a submodule")
        if isinstance(a, tuple) and hasattr(a, "_fields"):
            return type(a)(*[self.create_arg(e) for e in a])
        if isinstance(a, (tuple, list)):
            return type(a)(self.create_arg(e) for e in a)
        if isinstance(a, dict):
            return {k: self.create_arg(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, range):
            return range(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, _BASE_TYPES):
            return a
        raise NotImplementedError(f"argument of type: {type(a)}")

    def _tensor_attr_name(self, tensor):
        """The attribute path of a buffer or tensor attribute of the root; a new ``_tensor_constantN``
        attribute (set on the root, as PyTorch) for any other tensor."""
        for name, buffer in self.root.named_buffers():
            if tensor is buffer:
                return name
        qualname = self.tensor_attrs.get(id(tensor))
        if qualname is None:
            i = 0
            while hasattr(self.root, f"_tensor_constant{i}"):
                i += 1
            qualname = f"_tensor_constant{i}"
            setattr(self.root, qualname, tensor)
            self.tensor_attrs[id(tensor)] = qualname
            self._keep_alive.append(tensor)
        return qualname

    # -- modules -------------------------------------------------------------------------------------
    def is_leaf_module(self, m, module_qualified_name):
        """torsh.nn's own modules are leaves (one ``call_module`` node); Sequential and user modules are
        traced through."""
        return type(m).__module__.startswith("torsh.nn") and not isinstance(m, torsh.nn.Sequential)

    def path_of_module(self, mod):
        path = self._module_paths.get(id(mod))
        if path is None:
            raise NameError("module is not installed as a submodule")
        return path

    def call_module(self, m, forward, args, kwargs):
        qualname = self.path_of_module(m)
        if not self.is_leaf_module(m, qualname):
            return forward(*args, **kwargs)
        return self.create_proxy("call_module", qualname, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        """A parameter read inside forward: one ``get_attr`` proxy per parameter per trace."""
        if isinstance(attr_val, torsh.nn.Parameter):
            for name, p in self.root.named_parameters():
                if attr_val is p:
                    if name not in parameter_proxy_cache:
                        parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
                    return parameter_proxy_cache[name]
        return attr_val

    # -- the trace -----------------------------------------------------------------------------------
    def trace(self, root, concrete_args=None):
        """The Graph of ``root`` (a module's forward, or a function) called on placeholders."""
        if isinstance(root, torsh.nn.Module):
            self.root, fn = root, type(root).forward
        else:
            self.root, fn = torsh.nn.Module(), root
        self.graph = Graph(tracer_cls=type(self))
        self.tensor_attrs, self._keep_alive = {}, []
        self._collect_tensor_attrs(self.root, [])
        self._module_paths = {id(m): name for name, m in self.root.named_modules()}
        args, kwargs = self._placeholders(fn, isinstance(root, torsh.nn.Module), concrete_args)
        parameter_proxy_cache = {}
        with self._patched(fn, parameter_proxy_cache):
            result = fn(*args, **kwargs)
            self.create_node("output", "output", (self.create_arg(result),), {})
        return self.graph

    def _collect_tensor_attrs(self, module, path):
        for name, value in vars(module).items():
            if isinstance(value, torsh.Tensor):
                self.tensor_attrs[id(value)] = ".".join(path + [name])
        for name, child in module.named_children():
            self._collect_tensor_attrs(child, path + [name])

    def _placeholders(self, fn, is_module, concrete_args):
        """(args, kwargs) for ``fn``: ``self``, then a placeholder (or the concrete value) per parameter."""
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1 if is_module else 0:]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            raise NotImplementedError("symbolic_trace of a forward taking *args or **kwargs is not supported by "
                                      "torsh.fx yet")
        if isinstance(concrete_args, tuple):
            if len(params) != len(concrete_args):
                raise RuntimeError(f"Tracing expected {len(params)} arguments but got {len(concrete_args)} "
                                   "concrete arguments")
            concrete_args = {p.name: v for p, v in zip(params, concrete_args)}
        concrete_args = concrete_args or {}
        args, kwargs = [self.root] if is_module else [], {}
        for param in params:
            value = (self._concrete(param, concrete_args[param.name]) if param.name in concrete_args
                     else self._placeholder(param, param.name))
            if param.kind == param.KEYWORD_ONLY:
                kwargs[param.name] = value
            else:
                args.append(value)
        return args, kwargs

    def _placeholder(self, param, name):
        default = () if param.default is inspect.Parameter.empty else (param.default,)
        return self.create_proxy("placeholder", name, default, {})

    def _concrete(self, param, value):
        """A specialised argument: still a placeholder (``name_1``), asserted equal to ``value``, which the
        traced code sees."""
        out = self._placeholder(param, f"{param.name}_1")
        if value is None:
            self.create_proxy("call_function", _assert_is_none,
                              (out, f"{param.name} has been specialized to have value None but got another value"),
                              {})
        elif type(value) in _BASE_TYPES and not isinstance(value, torsh.Tensor):
            self.create_proxy("call_function", _assert,
                              (out == value, f"{param.name} has been specialized to have value {value} but got "
                                             "another value"), {})
        return value

    @contextlib.contextmanager
    def _patched(self, fn, parameter_proxy_cache):
        """Module calls, parameter reads, torsh ops and wrapped functions record nodes while the trace runs."""
        module_class = torsh.nn.Module
        original_call, original_getattr = module_class.__call__, module_class.__getattr__
        tracer = self

        def module_call(mod, *args, **kwargs):
            def forward(*args, **kwargs):
                return original_call(mod, *args, **kwargs)
            return tracer.call_module(mod, forward, args, kwargs)

        def module_getattr(mod, attr):
            return tracer.getattr(attr, original_getattr(mod, attr), parameter_proxy_cache)

        patched = self._patch_functions(fn)
        module_class.__call__, module_class.__getattr__ = module_call, module_getattr
        try:
            with registry.observe(_record_if_traced):
                yield
        finally:
            module_class.__call__, module_class.__getattr__ = original_call, original_getattr
            for namespace, name, original in reversed(patched):
                if original is _MISSING:
                    namespace.pop(name, None)
                else:
                    namespace[name] = original

    def _patch_functions(self, fn):
        """Swap wrap()'d functions and autowrapped ones (math's) for recording versions; returns what to undo."""
        patched = []
        fn_globals = getattr(inspect.unwrap(fn), "__globals__", {})
        # wrap()'d names, autowrapped functions imported into forward's module, and the autowrap modules' own
        # (math.sqrt(proxy) looks sqrt up in math's namespace, patched while the trace runs, as PyTorch does)
        namespaces = [fn_globals] + [vars(module) for module in self._autowrap_modules]
        targets = list(_WRAPPED) + [(namespace, name) for namespace in namespaces
                                    for name, value in list(namespace.items()) if id(value) in self._autowrap_ids]
        for namespace, name in targets:
            original = namespace.get(name, _MISSING)
            function = getattr(builtins, name) if original is _MISSING else original
            patched.append((namespace, name, original))
            namespace[name] = _recording(function)
        return patched


_MISSING = object()


def _tracer_of(args, kwargs):
    """The tracer of the first Proxy found in (nested) ``args``/``kwargs``, or None."""
    found = []

    def look(a):
        if not found and isinstance(a, Proxy):
            found.append(a.tracer)
        return a
    map_aggregate(args, look)
    map_aggregate(kwargs, look)
    return found[0] if found else None


def _recording(function):
    """``function`` that records a ``call_function`` node when given a Proxy (wrap() and autowrap)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        tracer = _tracer_of(args, kwargs)
        if tracer is None:
            return function(*args, **kwargs)
        proxy = tracer.create_proxy("call_function", function, args, kwargs)
        proxy.node.meta["is_wrapped"] = True
        return proxy
    return wrapper


# Tensor operators recorded as the method PyTorch names them (buffer * proxy -> buffer.mul(proxy))
_OPERATOR_METHODS = {f"__{m}__": m for m in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
                                             "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor", "lshift",
                                             "rshift", "neg", "abs", "invert")}
_OPERATOR_METHODS.update({"__truediv__": "div", "__and__": "bitwise_and", "__or__": "bitwise_or",
                          "__xor__": "bitwise_xor", "__invert__": "bitwise_not"})


def _record_if_traced(binding):
    """The registry hook's wrapper for one op binding: an op given a Proxy records a node, else it runs."""
    fn = binding.fn
    if binding.owner is torsh.Tensor:
        method = _OPERATOR_METHODS.get(binding.attribute, binding.attribute)

        def wrapper(*args, **kwargs):
            tracer = _tracer_of(args, kwargs)
            if tracer is None:
                return fn(*args, **kwargs)
            return tracer.create_proxy("call_method", method, args, kwargs)
    else:
        def wrapper(*args, **kwargs):
            tracer = _tracer_of(args, kwargs)
            if tracer is None:
                return fn(*args, **kwargs)
            return tracer.create_proxy("call_function", fn, args, kwargs)
    functools.update_wrapper(wrapper, fn)
    ORIGINAL_OF[wrapper] = fn
    if binding.owner is not torsh.Tensor:
        WRAPPER_OF.setdefault(fn, wrapper)
    return wrapper


# the hook's wrappers <-> the ops they stand for: a node's target is always the op itself, while code running
# under the hook (a Transformer's overrides) sees torsh.relu as the wrapper, so it is handed the wrapper
ORIGINAL_OF, WRAPPER_OF = {}, {}


def wrap(fn_or_name):
    """Record calls of a module-level function (given by name, or the function) as one ``call_function``
    node when traced code passes it a Proxy, instead of tracing through it. Call at module scope."""
    if callable(fn_or_name):
        name = fn_or_name.__name__
    elif isinstance(fn_or_name, str):
        name = fn_or_name
    else:
        raise AssertionError("Unsupported type for global function! Must be either a callable or string name")
    caller = inspect.currentframe().f_back
    if caller.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    _WRAPPED.append((caller.f_globals, name))
    return fn_or_name


def symbolic_trace(root, concrete_args=None):
    """A GraphModule of ``root`` (an nn.Module or a function) traced on Proxies, its forward generated from
    the graph."""
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    name = type(root).__name__ if isinstance(root, torsh.nn.Module) else root.__name__
    return GraphModule(tracer.root, graph, name)



class _KeepModules(Tracer):
    """Retraces a rebuilt GraphModule's generated forward: its submodules are already the graph's leaves."""

    def is_leaf_module(self, m, module_qualified_name):
        return True


def rebuild_graph_module(state, code, code_globals, class_name):
    """A GraphModule from its pickled attributes and generated forward (``torsh.load``, ``copy.deepcopy``)."""
    holder = torsh.nn.Module()
    holder.__dict__.update(state)
    forward = exec_forward(code, {**standard_globals(), **code_globals})
    holder.__class__ = type(class_name, (torsh.nn.Module,), {"forward": forward})
    graph = _KeepModules().trace(holder)
    return GraphModule(holder, graph, class_name)
