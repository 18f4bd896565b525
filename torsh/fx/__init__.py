"""torch.fx: symbolic tracing of modules into a Graph of Nodes, GraphModules running generated code, and the
Interpreter / Transformer passes over them. The Graph is the IR graph capture shares (jit / onnx export can
read ``gm.graph``); tracing sits on the op registry's call hook, so every registered op is traceable."""
from . import passes  # noqa: F401
from ._symbolic_trace import Tracer, _assert, _assert_is_none, symbolic_trace, wrap  # noqa: F401
from .graph import Graph, PythonCode
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from .node import Node, map_arg
from .proxy import Attribute, Proxy, TraceError

__all__ = ["symbolic_trace", "Tracer", "wrap", "Graph", "GraphModule", "Node", "Proxy", "Interpreter",
           "Transformer", "map_arg", "PythonCode"]

