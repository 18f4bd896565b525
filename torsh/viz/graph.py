"""torsh.viz.graph: the autograd graph behind some outputs as plain data (schema: docs/schemas/graph.schema.json).

The Graph holds only plain values (ids, names, shapes, byte counts), never the autograd
nodes: a notebook keeps displayed objects alive in its output history, and a reference to a
node would keep every tensor it saved alive with it.
"""
import math
import re
from dataclasses import asdict, dataclass, field

from ..autograd.graph import AccumulateGrad, accumulator_of
from ._modules import MODULE_KEY, MODULE_TYPE_KEY

MIME_TYPE = "application/vnd.torsh.graph+json"
SCHEMA_VERSION = 1


@dataclass
class GraphNode:
    id: str
    kind: str  # "op" | "leaf" | "parameter" | "output"
    label: str
    op: object  # str | None
    shape: object  # list[int] | None
    dtype: object  # str | None
    outputs: list
    saved_bytes: int
    released: bool
    sequence_nr: object  # int | None
    module: object  # str | None


@dataclass
class GraphEdge:
    source: str  # producer (forward direction)
    target: str  # consumer
    output_nr: int
    input_nr: int


@dataclass
class GraphGroup:
    id: str
    label: str
    module: str
    type: object  # str | None
    parent: object  # str | None
    nodes: list = field(default_factory=list)


class Graph:
    """Nodes, edges and module groups of an autograd graph; ``to_json()`` follows the schema."""

    def __init__(self, nodes, edges, groups):
        self.nodes, self.edges, self.groups = nodes, edges, groups

    def to_json(self):
        return {"version": SCHEMA_VERSION,
                "nodes": [asdict(n) for n in self.nodes],
                "edges": [asdict(e) for e in self.edges],
                "groups": [asdict(g) for g in self.groups]}

    def node(self, node_id):
        return next(n for n in self.nodes if n.id == node_id)

    def summary(self):
        counts = {}
        for n in self.nodes:
            counts[n.kind] = counts.get(n.kind, 0) + 1
        kinds = ", ".join(f"{counts[k]} {k}" for k in ("op", "parameter", "leaf", "output") if k in counts)
        saved = sum(n.saved_bytes for n in self.nodes)
        text = f"Graph: {len(self.nodes)} nodes ({kinds}), {len(self.edges)} edges, {_bytes(saved)} saved for backward"
        if self.groups:
            text += f", {len(self.groups)} module groups"
        return text

    def __repr__(self):
        return f"<torsh.viz.{self.summary()}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME_TYPE: self.to_json(), "text/plain": self.summary()}


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def op_name(node_name):
    """Forward op name from a backward node name: MulBackward0 -> mul, NllLossBackward0 -> nll_loss."""
    base = re.sub(r"Backward\d*$", "", node_name) or node_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base).lower()


def _dtype_name(dtype):
    return str(dtype).rpartition(".")[2]


def _meta(shape, dtype):
    return {"shape": [int(s) for s in shape], "dtype": _dtype_name(dtype)}


def _saved_bytes(node):
    total = 0
    for saved in node._saved or ():
        if saved is None:
            continue
        data = saved.data if saved.tensor is None else saved.tensor._data
        total += int(data.nbytes)
    return total


def _as_outputs(tensor_or_tensors):
    """[(name, tensor)] from a tensor, a sequence of tensors or a dict name -> tensor."""
    if hasattr(tensor_or_tensors, "_data"):
        return [("output", tensor_or_tensors)]
    if isinstance(tensor_or_tensors, dict):
        return [(str(k), t) for k, t in tensor_or_tensors.items()]
    tensors = list(tensor_or_tensors)
    return [(f"output {i}", t) for i, t in enumerate(tensors)]


def _walk(roots):
    """Every node reachable from ``roots`` through next_functions, in discovery order (no recursion)."""
    order, seen, stack = [], set(), list(reversed(roots))
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        order.append(fn)
        stack.extend(next_fn for next_fn, _ in reversed(fn.next_functions) if next_fn is not None)
    return order


def graph(tensor_or_tensors, params=None, *, module=None):
    """The autograd graph behind ``tensor_or_tensors`` (a tensor, a sequence or a dict name -> tensor).

    ``params``: a dict name -> tensor (``dict(model.named_parameters())``) naming parameter
    leaves, or a Module (the same as ``module=``). ``module``: names parameters after it and
    types the module groups; nodes get their module path from ``torsh.viz.record_modules``.
    """
    if params is not None and hasattr(params, "named_parameters"):
        module, params = params, None
    names = {}
    if module is not None:
        names.update((id(p), name) for name, p in module.named_parameters())
    if params:
        names.update((id(p), name) for name, p in params.items())
    module_types = {path: type(m).__name__ for path, m in module.named_modules()} if module is not None else {}

    outputs = _as_outputs(tensor_or_tensors)
    fns = _walk([_producer(t) for _, t in outputs])
    for fn in fns:  # without module=, the class names come from the stamps
        if MODULE_KEY in fn.metadata:
            module_types.setdefault(fn.metadata[MODULE_KEY], fn.metadata.get(MODULE_TYPE_KEY))
    ids = {id(fn): f"n{i}" for i, fn in enumerate(fns)}

    nodes = [_node(fn, ids[id(fn)], names, module_types) for fn in fns]
    edges = [GraphEdge(ids[id(next_fn)], ids[id(fn)], int(output_nr), input_nr)
             for fn in fns for input_nr, (next_fn, output_nr) in enumerate(fn.next_functions) if next_fn is not None]
    for index, (name, tensor) in enumerate(outputs):
        node_id = f"out{index}"
        meta = [_meta(tensor.shape, tensor.dtype)]
        nodes.append(GraphNode(node_id, "output", name, None, *_shape_dtype(meta), meta, 0, False, None, None))
        producer = _producer(tensor)
        if producer is not None:
            edges.append(GraphEdge(ids[id(producer)], node_id, int(tensor.output_nr), 0))
    return Graph(nodes, edges, _groups(nodes, module_types))


def _producer(tensor):
    """The node an output hangs off: its grad_fn, a leaf's AccumulateGrad, or None (no grad)."""
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    return accumulator_of(tensor) if tensor.requires_grad else None


def _shape_dtype(outputs):
    return (outputs[0]["shape"], outputs[0]["dtype"]) if outputs else (None, None)


def _node(fn, node_id, names, module_types):
    if isinstance(fn, AccumulateGrad):
        var = fn.variable
        name = names.get(id(var))
        meta = [_meta(var.shape, var.dtype)]
        owner = None
        if name is not None:  # "fc1.weight" belongs to module "fc1"; "weight" to the top module
            owner = name.rpartition(".")[0] if "." in name or module_types else None
        return GraphNode(node_id, "leaf" if name is None else "parameter", name or fn.name(), None,
                         *_shape_dtype(meta), meta, 0, False, None, owner)
    meta = [_meta(shape, dtype) for shape, dtype in fn._output_meta]
    seq = fn._sequence_nr  # JSON has no inf: a node outside the ordering gets null
    return GraphNode(node_id, "op", fn.name(), op_name(fn.name()), *_shape_dtype(meta), meta,
                     _saved_bytes(fn), bool(fn._released), int(seq) if math.isfinite(seq) else None,
                     fn.metadata.get(MODULE_KEY))


def _groups(nodes, module_types):
    """One group per module path holding nodes (and per enclosing path), parents before children.

    A group lists the nodes of its module and of all its submodules, so a renderer can
    collapse any level with one lookup; ``parent`` gives the nesting. The top module ('')
    gets no group: collapsing everything into one box shows nothing.
    """
    members = {}
    for node in nodes:
        path = node.module
        while path:  # the node's module and every enclosing one
            members.setdefault(path, []).append(node.id)
            path = path.rpartition(".")[0]
    groups = []
    for path in sorted(members, key=lambda p: (p.count("."), p)):
        parent = path.rpartition(".")[0]
        type_name = module_types.get(path)
        label = f"{path} ({type_name})" if type_name else path
        groups.append(GraphGroup(f"g:{path}", label, path, type_name,
                                 f"g:{parent}" if parent else None, members[path]))
    return groups
