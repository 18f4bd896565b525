"""``torch.fx.GraphModule``: an nn.Module holding a Graph, the submodules and tensors its nodes name (copied from
the traced root), and a ``forward`` generated from the graph and exec'd (``recompile``)."""
import linecache
import sys

import torsh
from .. import nn  # GraphModule subclasses nn.Module (torsh imports fx before its own `nn` line)
from .graph import Graph

_source_counter = [0]
# the globals every generated forward has (modules and builtins: not pickled with a GraphModule)
_STANDARD_GLOBALS = ("torsh", "device", "inf", "nan", "NoneType")


def standard_globals():
    return {"torsh": torsh, "device": torsh.device, "inf": float("inf"), "nan": float("nan"),
            "NoneType": type(None)}


def exec_forward(src, globals_):
    """Compile ``src`` (a ``def forward``) under a unique file name registered in linecache, so tracebacks and
    ``inspect.getsource`` show the generated code."""
    _source_counter[0] += 1
    filename = f"<eval_with_key>.{_source_counter[0]}"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = dict(globals_)
    exec(compile(src, filename, "exec"), namespace)
    return namespace["forward"]


def _copy_attr(from_module, to_module, target):
    """Install ``from_module``'s attribute at dotted path ``target`` into ``to_module``, making empty Modules
    for the missing parents; a plain tensor becomes a buffer."""
    *prefix, field = target.split(".")
    for item in prefix:
        source, dest = getattr(from_module, item), getattr(to_module, item, None)
        if source is dest:  # a parent already installed brought this attribute along
            return
        if dest is None:
            dest = nn.Module()
            setattr(to_module, item, dest)
        from_module, to_module = source, dest
    value = getattr(from_module, field)
    if isinstance(value, torsh.Tensor) and not isinstance(value, nn.Parameter):
        to_module.register_buffer(field, value)
    else:
        setattr(to_module, field, value)


def _assign_attr(value, to_module, target):
    *prefix, field = target.split(".")
    for item in prefix:
        dest = getattr(to_module, item, None)
        if dest is None:
            dest = nn.Module()
            setattr(to_module, item, dest)
        to_module = dest
    if isinstance(value, torsh.Tensor) and not isinstance(value, nn.Parameter):
        to_module.register_buffer(field, value)
    else:
        setattr(to_module, field, value)


def _add_indent(text, spaces):
    """Every non-blank line but the first indented, blank lines emptied (as PyTorch's print_readable)."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line if line.strip() else "" for line in rest]) if rest else text


def _readable(module, name):
    code = module.graph.python_code(root_module="self", verbose=True).src.lstrip("\n")
    text = _add_indent(f"class {name}(torch.nn.Module):\n" + code, 4)
    children = [""] + [_readable(child, child_name) for child_name, child in module.named_children()
                       if isinstance(child, GraphModule)]
    return text + _add_indent("\n".join(children), 4)


class GraphModule(nn.Module):
    """A module running ``graph``; each instance has a class of its own (named as the traced module) so that
    ``recompile`` can set its ``forward``."""

    def __new__(cls, *args, **kwargs):
        base = next(t for t in cls.__mro__ if t.__qualname__.split(".")[-1] != "GraphModuleImpl")

        class GraphModuleImpl(base):
            pass
        return super().__new__(GraphModuleImpl)

    def __init__(self, root, graph, class_name="GraphModule"):
        super().__init__()
        self.__class__.__name__ = class_name
        if isinstance(root, nn.Module):
            self.training = getattr(root, "training", True)
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            targets = []
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(f"Node {node} referenced target {node.target} but that target was not "
                                           "provided in ``root``!")
                    targets.append(node.target)
            for target in sorted(targets, key=lambda t: t.count(".")):
                _assign_attr(root[target], self, target)
        else:
            raise RuntimeError(f"Unsupported type {root} passed for root!")
        self.graph = graph

    @property
    def graph(self):
        return self._graph

    @graph.setter
    def graph(self, g):
        if not isinstance(g, Graph):
            raise AssertionError(f"Expected a Graph instance, but got {type(g)}")
        self.__dict__["_graph"] = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self):
        """The generated source of ``forward``."""
        if not hasattr(self, "_code"):
            raise RuntimeError("Code has not been generated! Please report a bug to PyTorch")
        return self._code

    def recompile(self):
        """Regenerate ``forward`` from the graph (after editing it)."""
        python_code = self._graph.python_code(root_module="self")
        self.__dict__["_code"] = python_code.src
        self.__dict__["_code_globals"] = python_code.globals
        type(self).forward = exec_forward(python_code.src, python_code.globals)
        return python_code

    def print_readable(self, print_output=True):
        """The module as a class with its verbose generated forward (GraphModule children nested)."""
        text = _readable(self, type(self).__name__)
        if print_output:
            print(text)
        return text

    def __str__(self):
        reminder = "# To see more debug info, please use `graph_module.print_readable()`"
        return "\n".join([super().__str__(), self._code, reminder])

    def __reduce__(self):
        """Pickled as its attributes and generated code (its class is per instance): rebuilt by tracing that
        code again with every submodule kept as a leaf."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_graph", "_code", "_code_globals")}
        code_globals = {k: v for k, v in self._code_globals.items() if k not in _STANDARD_GLOBALS}
        rebuild = sys.modules["torsh.fx._symbolic_trace"].rebuild_graph_module
        return rebuild, (state, self._code, code_globals, "GraphModule")  # PyTorch's copies are "GraphModule"
