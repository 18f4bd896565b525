"""``torch.fx.Proxy``: the stand-in value a traced ``forward`` computes with. Every operation on a Proxy
(operators, attribute access, method calls, indexing, torsh ops through the registry hook) records a Node in
the tracer's graph and returns a new Proxy."""
import dis
import inspect
import operator
from bisect import bisect_left

from .graph import MAGIC_METHODS, REFLECTABLE_MAGIC_METHODS
from .node import map_aggregate


class TraceError(ValueError):
    """A traced program did something a symbolic value cannot answer (control flow, iteration)."""


class Proxy:
    """A value seen while tracing; ``node`` is the Node that computes it."""

    def __init__(self, node, tracer=None):
        self.node = node
        self.tracer = tracer if tracer is not None else _GraphAppendingTracer(node.graph)

    def __repr__(self):
        return f"Proxy({self.node.name})"

    def __getattr__(self, k):
        if k.startswith("__") and k.endswith("__"):  # copy/pickle probes are no recorded attributes
            raise AttributeError(k)
        return Attribute(self, k)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__ = state

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __iter__(self):
        """``a, b = proxy`` unpacks by indexing (the caller's bytecode says how many); other iteration raises."""
        caller = inspect.currentframe().f_back
        instructions = list(dis.get_instructions(caller.f_code))
        current = instructions[bisect_left(instructions, caller.f_lasti, key=lambda i: i.offset)]
        if current.opname == "UNPACK_SEQUENCE":
            return (self[i] for i in range(current.argval))
        return self.tracer.iter(self)

    def __bool__(self):
        return self.tracer.to_bool(self)

    def __len__(self):
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want this call to be "
                           "recorded, please call torch.fx.wrap('len') at module scope")

    def __abs__(self):
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    def keys(self):
        return self.tracer.keys(self)

    __hash__ = object.__hash__


class Attribute(Proxy):
    """``proxy.name``: a ``call_method`` when called, else (lazily) a ``getattr`` node."""

    def __init__(self, root, attr):
        self.root, self.attr, self.tracer = root, attr, root.tracer
        self._node = None

    @property
    def node(self):
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


class TracerBase:
    """What every tracer answers for the Python protocols a Proxy cannot honour (PyTorch's TracerBase)."""

    def to_bool(self, obj):
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def iter(self, obj):
        raise TraceError(ITERATION_ERROR)

    def keys(self, obj):
        return Attribute(obj, "keys")()


class _GraphAppendingTracer(TracerBase):
    """The tracer of a Proxy made directly on a graph's node (graph rewriting code): appends to that graph."""

    def __init__(self, graph):
        self.graph = graph
        self.tensor_attrs = {}

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None):
        from_proxy = lambda a: a.node if isinstance(a, Proxy) else a  # noqa: E731
        node = self.graph.create_node(kind, target, map_aggregate(args, from_proxy),
                                      map_aggregate(kwargs, from_proxy), name, type_expr)
        return Proxy(node, self)


ITERATION_ERROR = ("Proxy object cannot be iterated. This can be attempted when the Proxy is used in a loop or as "
                   "a *args or **kwargs function argument. See the torch.fx docs on pytorch.org for a more "
                   "detailed explanation of what types of control flow can be traced, and check out the Proxy "
                   "docstring for help troubleshooting Proxy iteration errors")


def _define_operator(method):
    target = getattr(operator, method)

    def impl(*args, **kwargs):
        return args[0].tracer.create_proxy("call_function", target, args, kwargs)
    impl.__name__ = impl.__qualname__ = method
    setattr(Proxy, f"__{method.strip('_')}__", impl)


def _define_reflected(method):
    target = getattr(operator, method)
    name = f"__r{method.strip('_')}__"

    def impl(self, rhs):
        return self.tracer.create_proxy("call_function", target, (rhs, self), {})
    impl.__name__ = impl.__qualname__ = name
    setattr(Proxy, name, impl)


for _method in MAGIC_METHODS:
    if hasattr(operator, _method):  # "div" is only a code-printing alias of truediv
        _define_operator(_method)
for _method in REFLECTABLE_MAGIC_METHODS:
    if hasattr(operator, _method):
        _define_reflected(_method)
