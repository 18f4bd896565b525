"""torsh.viz: notebook views of what torsh is doing, as documented JSON (docs/schemas/README.md).

``graph(loss, model)`` returns the autograd graph (MIME ``application/vnd.torsh.graph+json``);
``record_modules(model)`` stamps the nodes created inside each module so the graph can group
them by module path.
"""
from ._modules import record_modules
from .graph import MIME_TYPE as GRAPH_MIME_TYPE, Graph, GraphEdge, GraphGroup, GraphNode, graph

TRACE_MIME_TYPE = "application/vnd.torsh.trace+json"

__all__ = ["graph", "record_modules", "Graph", "GraphNode", "GraphEdge", "GraphGroup",
           "GRAPH_MIME_TYPE", "TRACE_MIME_TYPE"]
