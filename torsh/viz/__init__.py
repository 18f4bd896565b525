"""torsh.viz: notebook views of what torsh is doing, as documented JSON (docs/schemas/README.md).

``graph(loss, model)`` returns the autograd graph (MIME ``application/vnd.torsh.graph+json``);
``record_modules(model)`` stamps the nodes created inside each module so the graph can group
them by module path. ``kernel_stats()`` is a JSON-able snapshot (docs/schemas/stats.schema.json).
``module_view(prof, model)``: time and memory per nn.Module of a ``profile(with_modules=True)``,
as a collapsible tree (its numbers: ``module_tree``); ``module_memory(prof, model, optimizer)``: one
step's bytes per module by phase and category, and the blocks worth recomputing with utils.checkpoint; ``StatsPublisher`` (``_publisher.py``) pushes
kernel_stats to the JupyterLab side panel while cells run.

Widgets (ipywidgets + plotly, imported only when first used, so ``import torsh`` stays free
of them): ``graph_view``, ``trace_view``, ``MemoryTimeline``, ``DispatchView``, ``Dashboard``.
``diff(a, b)`` compares two runs (profiles or Chrome trace files of torsh or PyTorch) op by op, step
by step and module by module; ``prof.advise()`` (an ``Advice``) says why a profile is slow.
IPython magics: ``%load_ext torsh.viz`` (``%%torsh_profile``, ``%torsh_memory``).
"""
import importlib

from ..profiler.advise import Advice, Finding
from ._diff import RunDiff, diff
from ._modules import record_modules
from .graph import MIME_TYPE as GRAPH_MIME_TYPE, Graph, GraphEdge, GraphGroup, GraphNode, graph
from ..profiler._module_tree import ModuleNode, ModuleTree, module_tree

TRACE_MIME_TYPE = "application/vnd.torsh.trace+json"

# name -> module (relative) that defines it; these modules import ipywidgets / plotly / IPython.
# A module must not share its name with a function exported here: importing torsh.viz.<module>
# binds the module object to that attribute of the package (hence _graph_view, _trace_view).
_LAZY = {"graph_view": "_graph_view", "GraphView": "_graph_view", "trace_view": "_trace_view",
         "TraceView": "_trace_view", "MemoryTimeline": "memory_view", "DispatchView": "dispatch_view",
         "Dashboard": "dashboard", "kernel_stats": "stats"}
_LAZY.update(module_view="_module_view", ModuleView="_module_view", StatsPublisher="_publisher",
             module_memory="_module_view", ModuleMemoryView="_module_view")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torsh.viz' has no attribute '{name}'")


def load_ipython_extension(ipython):
    """``%load_ext torsh.viz``: register the magics and start counting dispatch decisions."""
    from .magics import load_ipython_extension as load
    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload
    unload(ipython)


__all__ = ["graph", "record_modules", "Graph", "GraphNode", "GraphEdge", "GraphGroup",
           "GRAPH_MIME_TYPE", "TRACE_MIME_TYPE", *_LAZY, "load_ipython_extension"]
__all__ += ["diff", "RunDiff", "Advice", "Finding"]
__all__ += ["module_tree", "ModuleTree", "ModuleNode"]
