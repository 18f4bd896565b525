"""``torch.fx.Node``: one operation of a Graph (its opcode, target, arguments and users), and the helpers that map
over the nested arguments (``map_arg``, ``map_aggregate``)."""
import builtins
import operator
import sys

# the opcodes a Node may have, as PyTorch's
OPCODES = ("placeholder", "get_attr", "call_function", "call_method", "call_module", "output", "root")

# functions that change state: never dead code (PyTorch's _side_effectful_functions, torsh's names)
SIDE_EFFECTFUL_FUNCTIONS = set()


def map_aggregate(a, fn):
    """Apply ``fn`` to each leaf of ``a`` (tuples, named tuples, lists, dicts and slices are walked)."""
    if isinstance(a, tuple):
        mapped = [map_aggregate(elem, fn) for elem in a]
        return type(a)(*mapped) if hasattr(a, "_fields") else type(a)(mapped)
    if isinstance(a, list):
        return [map_aggregate(elem, fn) for elem in a]
    if isinstance(a, dict):
        return {k: map_aggregate(v, fn) for k, v in a.items()}
    if isinstance(a, slice):
        return slice(map_aggregate(a.start, fn), map_aggregate(a.stop, fn), map_aggregate(a.step, fn))
    return fn(a)


def map_arg(a, fn):
    """Apply ``fn`` to each Node in ``a``, keeping the rest."""
    if not callable(fn):
        raise AssertionError("torch.fx.map_arg(a, fn): fn must be a callable")
    return map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


def qualified_name(func):
    """Where ``func`` is reachable from: ``torsh.relu``, ``torsh.nn.functional.relu``, ``operator.add``,
    ``getattr``; else its module and qualified name. torsh's ops are named by their public binding, not by the
    ``torsh._ops...`` module defining them."""
    if getattr(func, "__module__", None) == "builtins" or func is getattr(builtins, getattr(func, "__name__", ""), None):
        return func.__name__
    name = func.__name__
    module = getattr(func, "__module__", None) or ""
    if module == "_operator":
        return f"operator.{name}"
    if module.startswith("torsh"):
        for namespace in ("torsh", "torsh.nn.functional", "torsh.linalg", "torsh.special", "torsh.fft"):
            owner = sys.modules.get(namespace)
            if owner is not None and owner.__dict__.get(name) is func:
                return f"{namespace}.{name}"
    return f"{module}.{getattr(func, '__qualname__', name)}"


def pretty_target(target):
    """The target as Graph's printout names it: ``builtins.getattr``, ``operator.add``, ``torsh.relu``."""
    if isinstance(target, str):
        return target
    if getattr(target, "__module__", None) == "builtins":
        return f"builtins.{target.__name__}"
    return qualified_name(target)


def format_arg(arg):
    """An argument as Graph's printout shows it: nodes as ``%name``, containers recursively."""
    if isinstance(arg, list):
        return "[" + ", ".join(format_arg(a) for a in arg) + "]"
    if isinstance(arg, tuple):
        return "(" + ", ".join(format_arg(a) for a in arg) + ("," if len(arg) == 1 else "") + ")"
    if isinstance(arg, dict):
        return "{" + ", ".join(f"{k}: {format_arg(v)}" for k, v in arg.items()) + "}"
    if isinstance(arg, Node):
        return "%" + str(arg)
    return str(arg)


class Node:
    """One operation of a ``Graph``. ``args``/``kwargs`` hold constants and other Nodes; ``users`` are the Nodes
    reading this one (a dict used as an ordered set); ``meta`` is free for passes (``ShapeProp``:
    ``tensor_meta``)."""

    def __init__(self, graph, name, op, target, args, kwargs, return_type=None):
        if op not in OPCODES:
            raise AssertionError(f"Invalid op {op}")
        if op == "call_function" and not callable(target):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type "
                             f"{type(target)} but a Callable is expected")
        if op in ("get_attr", "call_method", "call_module", "placeholder", "output") and not isinstance(target, str):
            raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type "
                             f"{type(target)} but a str is expected")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self._input_nodes = {}
        self.users = {}
        self.type = return_type
        self._prev = self._next = self
        self._erased = False
        self.meta = {}
        self._args, self._kwargs = (), {}
        self._update_args_kwargs(args, kwargs)

    # -- the doubly linked list of the graph --------------------------------------------------------
    @property
    def next(self):
        return self._next

    @property
    def prev(self):
        return self._prev

    def prepend(self, x):
        """Insert ``x`` before this node (moving it if it is already in the graph)."""
        if x is self:
            return
        x._remove_from_list()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x):
        """Insert ``x`` after this node."""
        self._next.prepend(x)

    def _remove_from_list(self):
        p, n = self._prev, self._next
        p._next, n._prev = n, p

    # -- arguments ----------------------------------------------------------------------------------
    @property
    def args(self):
        return self._args

    @args.setter
    def args(self, value):
        self._update_args_kwargs(value, self._kwargs)

    @property
    def kwargs(self):
        return self._kwargs

    @kwargs.setter
    def kwargs(self, value):
        self._update_args_kwargs(self._args, value)

    @property
    def all_input_nodes(self):
        """The Nodes this one reads, in order of first appearance in args then kwargs."""
        return list(self._input_nodes)

    def _update_args_kwargs(self, new_args, new_kwargs):
        for old_use in self._input_nodes:
            old_use.users.pop(self)
        self._input_nodes = {}
        self._args = map_arg(tuple(new_args), self._collect_input)
        self._kwargs = map_arg(dict(new_kwargs), self._collect_input)
        for new_use in self._input_nodes:
            new_use.users.setdefault(self)

    def _collect_input(self, n):
        self._input_nodes.setdefault(n)
        return n

    def update_arg(self, idx, arg):
        args = list(self.args)
        args[idx] = arg
        self.args = tuple(args)

    def update_kwarg(self, key, arg):
        self.kwargs = {**self.kwargs, key: arg}

    def replace_all_uses_with(self, replace_with, delete_user_cb=lambda user: True, *, propagate_meta=False):
        """Make every user of this node read ``replace_with`` instead; returns the users changed."""
        if propagate_meta:
            for k, v in self.meta.items():
                replace_with.meta.setdefault(k, v)
        to_process = [user for user in self.users if delete_user_cb(user)]
        for user in to_process:
            user.replace_input_with(self, replace_with)
        return to_process

    def replace_input_with(self, old_input, new_input):
        """Read ``new_input`` wherever this node reads ``old_input``."""
        swap = lambda n: new_input if n is old_input else n  # noqa: E731
        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    def is_impure(self):
        """Placeholders, outputs and calls of side-effectful functions stay in the graph through DCE."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_function":
            return self.target in SIDE_EFFECTFUL_FUNCTIONS
        if self.op == "call_module":
            module = self.graph.owning_module
            return getattr(module.get_submodule(self.target), "_is_impure", False) if module is not None else False
        return False

    @property
    def stack_trace(self):
        return self.meta.get("stack_trace")

    # -- printing -----------------------------------------------------------------------------------
    def format_node(self, placeholder_names=None, maybe_return_typename=None):
        """This node as ``str(graph)`` prints it (PyTorch's format)."""
        users = f"[num_users={len(self.users)}]"
        if self.op == "placeholder":
            default = f"(default={self.args[0]})" if self.args else ""
            return f"%{self.name} : {users} = {self.op}[target={self.target}]{default}"
        if self.op == "get_attr":
            return f"%{self.name} : {users} = {self.op}[target={pretty_target(self.target)}]"
        if self.op == "output":
            return f"return {self.args[0]}"
        return (f"%{self.name} : {users} = {self.op}[target={pretty_target(self.target)}]"
                f"(args = {format_arg(self.args)}, kwargs = {format_arg(self.kwargs)})")

    def __repr__(self):
        return self.name


SIDE_EFFECTFUL_FUNCTIONS.add(operator.setitem)
