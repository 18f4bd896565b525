"""``torch.fx.Graph``: the nodes of a traced program in execution order, their unique names, and the Python code
generated from them (``python_code``: what ``GraphModule.forward`` runs)."""
import builtins
import contextlib
import inspect
import keyword
import math
import re
import sys
from dataclasses import dataclass, field

import torsh

from .node import Node, map_arg, pretty_target, qualified_name

# names generated code may not shadow (keywords, builtins, and the globals it always has)
_ILLEGAL_NAMES = set(keyword.kwlist) | set(builtins.__dict__) | {"inf", "nan", "NoneType", "torsh", "torch",
                                                                 "device"}
_ILLEGAL_CHARS = re.compile("[^0-9a-zA-Z_]+")
_NAME = re.compile(r"^([a-zA-Z_][0-9a-zA-Z_]*?)(?:_(\d+))?$")
_CAMEL_HUMP = re.compile(r"(?<=[a-z])([A-Z])")

# operators the code generator writes as Python syntax (PyTorch's magic_methods)
REFLECTABLE_MAGIC_METHODS = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "floordiv": "{} // {}", "truediv": "{} / {}",
    "div": "{} / {}", "mod": "{} % {}", "pow": "{} ** {}", "lshift": "{} << {}", "rshift": "{} >> {}",
    "and_": "{} & {}", "or_": "{} | {}", "xor": "{} ^ {}", "getitem": "{}[{}]", "matmul": "{} @ {}"}
MAGIC_METHODS = {"eq": "{} == {}", "ne": "{} != {}", "lt": "{} < {}", "gt": "{} > {}", "le": "{} <= {}",
                 "ge": "{} >= {}", "pos": "+{}", "neg": "-{}", "invert": "~{}", **REFLECTABLE_MAGIC_METHODS}


_DTYPE_ABBREVIATIONS = {"bfloat16": "bf16", "float64": "f64", "float32": "f32", "float16": "f16",
                        "complex64": "c64", "complex128": "c128", "int8": "i8", "int16": "i16", "int32": "i32",
                        "int64": "i64", "bool": "b8", "uint8": "u8", "uint16": "u16", "uint32": "u32",
                        "uint64": "u64"}


def snake_case(s):
    """``mod.pascalCase`` -> ``mod.pascal_case`` (call_module node names)."""
    return _CAMEL_HUMP.sub(r"_\1", s).lower()


class _Namespace:
    """Unique Python names: each candidate gets a ``_N`` suffix when taken or when it would shadow a builtin."""

    def __init__(self):
        self._used = set()
        self._base_count = {}

    def create_name(self, candidate):
        match = _NAME.match(candidate)
        if match is None:
            candidate = _ILLEGAL_CHARS.sub("_", candidate) or "_unnamed"
            if candidate[0].isdigit():
                candidate = f"_{candidate}"
            match = _NAME.match(candidate)
        base, num = match.group(1, 2)
        if num is None or candidate in self._used:
            num = self._base_count.get(base, 0)
            if candidate in _ILLEGAL_NAMES:
                num += 1
                candidate = f"{base}_{num}"
        else:
            num = int(num)
        while candidate in self._used:
            num += 1
            candidate = f"{base}_{num}"
        self._used.add(candidate)
        self._base_count[base] = num
        return candidate

    def release(self, name):
        self._used.discard(name)


@dataclass
class PythonCode:
    """The generated source of ``forward`` and the globals it reads."""
    src: str
    globals: dict = field(default_factory=dict)


def _format_target(base, target):
    """``self.a.b`` for the dotted path ``a.b``; ``getattr(self, "0")`` for parts that are no identifiers."""
    result = base
    for part in target.split("."):
        result = f"{result}.{part}" if part.isidentifier() else f'getattr({result}, "{part}")'
    return result


class _NodeList:
    """The nodes of a graph, in order (a live view: ``len``, iteration, ``reversed``)."""

    def __init__(self, graph, reverse=False):
        self._graph, self._reverse = graph, reverse

    def __len__(self):
        return self._graph._len

    def __iter__(self):
        root = self._graph._root
        node = root._prev if self._reverse else root._next
        while node is not root:
            following = node._prev if self._reverse else node._next
            if not node._erased:
                yield node
            node = following

    def __reversed__(self):
        return iter(_NodeList(self._graph, not self._reverse))


class Graph:
    """The IR of torch.fx: a list of Nodes (placeholder, get_attr, call_function, call_method, call_module,
    output) that jit / onnx export can read as well as ``GraphModule`` runs it."""

    def __init__(self, owning_module=None, tracer_cls=None, tracer_extras=None):
        self._root = Node(self, "", "root", "", (), {})
        self._len = 0
        self._namespace = _Namespace()
        self._insert = self._root.prepend
        self.owning_module = owning_module
        self._tracer_cls = tracer_cls
        self._tracer_extras = tracer_extras

    @property
    def nodes(self):
        return _NodeList(self)

    def find_nodes(self, *, op, target=None):
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    # -- building ------------------------------------------------------------------------------------
    def create_node(self, op, target, args=None, kwargs=None, name=None, type_expr=None):
        """Add a node at the insertion point (the end unless ``inserting_before``/``after``)."""
        candidate = name if name is not None else self._target_to_str(target)
        node = Node(self, self._namespace.create_name(candidate), op, target, tuple(args or ()), dict(kwargs or {}),
                    type_expr)
        self._insert(node)
        self._len += 1
        return node

    @staticmethod
    def _target_to_str(target):
        if callable(target):
            name = target.__name__
        else:
            name = target[2:-2] if target.startswith("__") and target.endswith("__") else target
        return snake_case(name)

    def placeholder(self, name, type_expr=None, default_value=inspect.Signature.empty):
        args = () if default_value is inspect.Signature.empty else (default_value,)
        return self.create_node("placeholder", name, args, type_expr=type_expr)

    def get_attr(self, qualified_name, type_expr=None):
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(self, module_name, args=None, kwargs=None, type_expr=None):
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(self, method_name, args=None, kwargs=None, type_expr=None):
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(self, the_function, args=None, kwargs=None, type_expr=None):
        return self.create_node("call_function", the_function, args, kwargs, type_expr=type_expr)

    def output(self, result, type_expr=None):
        return self.create_node("output", "output", (result,), type_expr=type_expr)

    def node_copy(self, node, arg_transform=lambda x: x):
        """A copy of ``node`` (from any graph) in this one, its Node arguments mapped by ``arg_transform``."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        copy = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        copy.meta = dict(node.meta)
        return copy

    def graph_copy(self, g, val_map):
        """Copy every node of ``g`` but its output into this graph; returns the output's value."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                return map_arg(node.args[0], lambda n: val_map[n])
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    # -- insertion point -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _inserting(self, insert):
        previous, self._insert = self._insert, insert
        try:
            yield
        finally:
            self._insert = previous

    def inserting_before(self, n=None):
        """``with graph.inserting_before(n):`` new nodes go before ``n`` (default: at the start)."""
        if n is None:
            return self.inserting_after(self._root)
        if n.graph is not self:
            raise AssertionError("Node to insert before is not in graph.")
        return self._inserting(n.prepend)

    def inserting_after(self, n=None):
        """``with graph.inserting_after(n):`` new nodes go after ``n`` (default: at the end)."""
        if n is None:
            return self.inserting_before(self._root)
        if n.graph is not self:
            raise AssertionError("Node to insert after is not in graph.")
        return self._inserting(n.append)

    # -- removing --------------------------------------------------------------------------------------
    def erase_node(self, to_erase):
        """Remove a node that has no users (RuntimeError otherwise, as PyTorch)."""
        if len(to_erase.users) > 0:
            raise RuntimeError(f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} "
                               f"users in the graph: {to_erase.users}!")
        if to_erase.graph is not self:
            raise RuntimeError(f"Attempting to remove {to_erase} from wrong graph!")
        if to_erase._erased:
            return
        to_erase._remove_from_list()
        to_erase._erased = True
        self._len -= 1
        self._namespace.release(to_erase.name)
        to_erase._update_args_kwargs((), {})

    def eliminate_dead_code(self, is_impure_node=None):
        """Erase the nodes nobody reads (last to first), keeping impure ones; True when something changed."""
        impure = is_impure_node or (lambda node: node.is_impure())
        changed = False
        for node in reversed(self.nodes):
            if not impure(node) and len(node.users) == 0:
                self.erase_node(node)
                changed = True
        return changed

    # -- checks and printing ----------------------------------------------------------------------------
    def lint(self):
        """Check the graph is well formed: each node owned here, inputs defined before use, unique names,
        targets of get_attr/call_module present in the owning module."""
        seen_names, defined = set(), set()
        for node in self.nodes:
            if node.op not in ("placeholder", "get_attr", "call_function", "call_method", "call_module", "output"):
                raise RuntimeError(f"Node {node} had unknown opcode {node.op}!")
            if node.graph is not self:
                raise RuntimeError(f"Node '{node}' does not belong to this Graph!")
            for arg in node._input_nodes:
                if arg.graph is not self:
                    raise RuntimeError(f"Arg {arg} of Node {node} does not belong to this Graph, "
                                       f"but {arg.graph} does!")
                if arg not in defined:
                    raise RuntimeError(f"Argument '{arg}' of Node '{node}' was used before it has been defined! "
                                       "Please check that Nodes in the graph are topologically ordered\n"
                                       f"{self}")
            if node.name in seen_names:
                raise RuntimeError(f"Node redefined name {node.name}!")
            seen_names.add(node.name)
            defined.add(node)
            if self.owning_module is not None and node.op in ("get_attr", "call_module"):
                self._lint_target(node)

    def _lint_target(self, node):
        owner = self.owning_module
        path = []
        for atom in node.target.split("."):
            if not hasattr(owner, atom):
                kind = "module" if node.op == "call_module" else "attribute"
                raise RuntimeError(f"Node {node} target {node.target} references nonexistent {kind} "
                                   f"{'.'.join(path + [atom])}")
            owner = getattr(owner, atom)
            path.append(atom)

    def print_tabular(self):
        """The nodes as a table (needs ``tabulate``, as in PyTorch)."""
        try:
            from tabulate import tabulate
        except ImportError:
            print("`print_tabular` relies on the library `tabulate`, which could not be found on this machine. "
                  "Run `pip install tabulate` to install the library.")
            raise
        rows = [[n.op, n.name, n.target, n.args, n.kwargs] for n in self.nodes]
        print(tabulate(rows, headers=["opcode", "name", "target", "args", "kwargs"]))

    def __str__(self):
        lines = ["graph():"]
        lines.extend("    " + node.format_node() for node in self.nodes)
        return "\n".join(lines)

    # -- code generation ------------------------------------------------------------------------------
    def python_code(self, root_module, *, verbose=False):
        """The source of ``def forward(self, ...)`` running this graph, and its globals; ``verbose``: each
        value annotated with its ``tensor_meta`` (``"f32[2, 3]"``), as ``print_readable`` shows it."""
        return _CodeGen(self, root_module, verbose).generate()

    def on_generate_code(self, make_transformer):  # PyTorch's hook; torsh generates code one way
        return contextlib.nullcontext()


class _CodeGen:
    """Writes a graph as PyTorch's generated ``forward``: one statement per node, each value set to None
    after its last use."""

    def __init__(self, graph, root_module, verbose=False):
        self.graph, self.root_module, self.verbose = graph, root_module, verbose
        self.globals = {"inf": math.inf, "nan": math.nan, "NoneType": type(None), "torsh": torsh,
                        "device": torsh.device}  # graph_module.standard_globals
        self._global_names = {}

    def generate(self):
        nodes = list(self.graph.nodes)
        last_uses = self._last_uses(nodes)
        free_vars, body = [], []
        summary_written = False
        for node in nodes:
            if node.op == "placeholder":
                default = f" = {self._repr(node.args[0])}" if node.args else ""
                free_vars.append(f"{node.target}{self._annotation(node)}{default}")
                if node.target.replace("*", "") != node.name:
                    body.append(f"{node.name} = {node.target.replace('*', '')}\n")
                continue
            if self.verbose and node.op != "output" and not summary_written:
                body.append("\n# No stacktrace found for following nodes\n")  # torsh records no stack traces
                summary_written = True
            statement = self._statement(node)
            if node.op != "output":
                statement = statement.replace(" = ", f"{self._annotation(node)} = ", 1)
            body.append(statement)
            body.append(self._deletions(node, last_uses))
        code = "".join(body).lstrip("\n") or "pass\n"
        code = "\n".join("    " + line for line in code.split("\n"))
        wrap_statements = self._wrap_statements(nodes)
        src = f"\n{wrap_statements}\n\ndef forward(self, {', '.join(free_vars)}):\n{code}" if free_vars else \
            f"\n{wrap_statements}\n\ndef forward(self):\n{code}"
        return PythonCode(src, dict(self.globals))

    def _wrap_statements(self, nodes):
        """``wrap("name")`` for the functions recorded by wrap()/autowrap, so retracing the code keeps them
        leaves (as PyTorch's code)."""
        names = dict.fromkeys(self._add_global(n.target) for n in nodes
                              if n.op == "call_function" and n.meta.get("is_wrapped", False))
        if not names:
            return ""
        wrap = self._add_global(sys.modules["torsh.fx._symbolic_trace"].wrap)
        return "\n".join(f'{wrap}("{name}")' for name in names)

    def _annotation(self, node):
        """``: "f32[2, 3]"`` in verbose code for a node whose ``tensor_meta`` is one tensor's."""
        meta = node.meta.get("val", node.meta.get("tensor_meta", node.meta.get("example_value")))
        if self.verbose and hasattr(meta, "fx_annotation"):  # torch.export's symbolic sizes: "Sym(s0)"
            return f': "{meta.fx_annotation}"'
        if not self.verbose or not (hasattr(meta, "shape") and hasattr(meta, "dtype")):
            return ""
        dtype = _DTYPE_ABBREVIATIONS.get(str(meta.dtype).split(".")[-1], str(meta.dtype))
        shape = ", ".join(str(size) for size in meta.shape)
        return f': "{dtype}[{shape}]"'

    @staticmethod
    def _last_uses(nodes):
        """{user: [nodes whose last use it is]}."""
        seen, result = set(), {}
        for node in reversed(nodes):
            for used in node._input_nodes:
                if used not in seen:
                    seen.add(used)
                    result.setdefault(node, []).append(used)
        return result

    def _deletions(self, node, last_uses):
        if node.op == "output":
            return "\n"
        dead = list(last_uses.get(node, []))
        if len(node.users) == 0:
            dead.append(node)
        if not dead:
            return "\n"
        return ";  " + " = ".join([repr(n) for n in dead] + ["None"]) + "\n"

    def _statement(self, node):
        args, kwargs, name = node.args, node.kwargs, node.name
        if node.op == "call_method":
            return f"{name} = {_format_target(self._repr(args[0]), node.target)}({self._format_args(args[1:], kwargs)})"
        if node.op == "call_module":
            return f"{name} = {_format_target(self.root_module, node.target)}({self._format_args(args, kwargs)})"
        if node.op == "get_attr":
            return f"{name} = {_format_target(self.root_module, node.target)}"
        if node.op == "output":
            return f"return {self._repr(args[0])}"
        return self._call_function(node)

    def _call_function(self, node):
        target, args, name = node.target, node.args, node.name
        if getattr(target, "__module__", "") == "_operator" and target.__name__ in MAGIC_METHODS:
            return f"{name} = {MAGIC_METHODS[target.__name__].format(*(self._repr(a) for a in args))}"
        global_name = self._add_global(target)
        if global_name == "getattr" and len(args) == 2 and isinstance(args[1], str) and args[1].isidentifier():
            return f"{name} = {_format_target(self._repr(args[0]), args[1])}"
        return f"{name} = {global_name}({self._format_args(args, node.kwargs)})"

    def _add_global(self, obj):
        """The name generated code calls ``obj`` by: builtins by name, torsh's public functions by their
        dotted path (``torsh`` is a global), anything else under a unique sanitised name."""
        if getattr(obj, "__module__", None) == "builtins" and getattr(builtins, obj.__name__, None) is obj:
            return obj.__name__
        name = qualified_name(obj)
        if name.startswith("torsh.") and _resolves_to(name, obj):
            return name
        if id(obj) in self._global_names:
            return self._global_names[id(obj)]
        candidate = _ILLEGAL_CHARS.sub("_", name)
        unique, i = candidate, 0
        while unique in self.globals or unique in _ILLEGAL_NAMES:
            i += 1
            unique = f"{candidate}_{i}"
        self.globals[unique] = obj
        self._global_names[id(obj)] = unique
        return unique

    def _repr(self, arg):
        if isinstance(arg, Node):
            return repr(arg)
        if isinstance(arg, tuple) and hasattr(arg, "_fields"):
            return f"{self._add_global(type(arg))}{tuple(self._repr(a) for a in arg)}"
        if isinstance(arg, tuple):
            return f"({self._repr(arg[0])},)" if len(arg) == 1 else "(" + ", ".join(self._repr(a) for a in arg) + ")"
        if isinstance(arg, list):
            return "[" + ", ".join(self._repr(a) for a in arg) + "]"
        if isinstance(arg, dict):
            return "{" + ", ".join(f"{self._repr(k)}: {self._repr(v)}" for k, v in arg.items()) + "}"
        if isinstance(arg, slice):
            return f"slice({self._repr(arg.start)}, {self._repr(arg.stop)}, {self._repr(arg.step)})"
        return repr(arg)  # dtypes and devices print as torsh.float32, device(type='cpu'): both are globals

    def _format_args(self, args, kwargs):
        parts = [self._repr(a) for a in args] + [f"{k} = {self._repr(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)


def _resolves_to(dotted, obj):
    """Whether ``torsh.a.b`` reaches ``obj`` by attribute access from the torsh package."""
    value = torsh
    for part in dotted.split(".")[1:]:
        value = getattr(value, part, None)
    return value is obj
