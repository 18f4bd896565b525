"""graph_view(loss_or_graph): the autograd graph drawn top-down in a plotly FigureWidget.

Imports ipywidgets and plotly, so torsh.viz loads this module only when ``graph_view`` is
first used. The layout is computed in Python (``_layout``): producers above consumers,
zoom/pan with plotly's tools, click a node for its details; module groups fold into one box
(click a box, then "Expand", or pick a node and "Collapse its module").
"""
import html

import ipywidgets as widgets
import plotly.graph_objects as go

from . import _layout
from ._figure import WHEEL_ZOOM, Figure
from ._modules import record_modules
from ._static import widget_bundle
from .graph import MIME_TYPE as GRAPH_MIME, Graph, _bytes, graph

KIND_COLORS = {"op": "#4c78a8", "parameter": "#54a24b", "leaf": "#f58518", "output": "#e45756", "group": "#b279a2"}
KIND_SYMBOLS = {"op": "circle", "parameter": "diamond", "leaf": "diamond", "output": "star", "group": "square"}
EDGE_TRACE, NODE_TRACE = 0, 1  # indices into figure.data
# x is measured in characters of the labels (drawn right of their marker): the figure is made wide
# enough for PX_PER_UNIT pixels per character, so neighbours in a layer never overlap unzoomed
PX_PER_UNIT, MARKER_UNITS, LABEL_CHARS = 7.0, 3.0, 28


def graph_view(loss_or_graph, model=None, *, inputs=None, collapse=None, height=None):
    """A widget drawing the autograd graph behind ``loss_or_graph`` (tensor(s), a Graph or its JSON).

    ``model`` names parameters and types module groups (as ``torsh.viz.graph``). For a Module's
    forward, pass the module and its ``inputs`` (a tensor or a tuple): ``graph_view(model,
    inputs=x)`` runs ``model(*inputs)`` under ``record_modules`` and draws the output's graph,
    grouped by module. ``collapse``: ``None`` folds module groups when more than 60 nodes would
    show (the deepest module level that fits), ``True`` folds the top-level modules, ``False``
    nothing, or an iterable of module paths / group ids to fold.
    """
    if hasattr(loss_or_graph, "named_modules") and hasattr(loss_or_graph, "forward"):
        if inputs is None:
            raise TypeError("graph_view(module): pass the forward's inputs, e.g. graph_view(model, inputs=x)")
        model = loss_or_graph
        with record_modules(model):
            loss_or_graph = model(*(inputs if isinstance(inputs, tuple) else (inputs,)))
    if isinstance(loss_or_graph, Graph):
        doc = loss_or_graph.to_json()
    elif isinstance(loss_or_graph, dict) and "nodes" in loss_or_graph and "edges" in loss_or_graph:
        doc = loss_or_graph
    else:
        doc = graph(loss_or_graph, module=model).to_json()
    return GraphView(doc, collapse=collapse, height=height)


def _initial_collapse(doc, collapse):
    if collapse is None:
        return _layout.auto_collapse(doc)
    if collapse is True:
        return [g["id"] for g in doc["groups"] if g["parent"] is None]
    if collapse is False:
        return []
    wanted = {c if str(c).startswith("g:") else f"g:{c}" for c in collapse}
    return [g["id"] for g in doc["groups"] if g["id"] in wanted]


class GraphView(widgets.VBox):
    """VBox(controls, FigureWidget, details). ``figure.data[1]`` has one marker per visible node."""

    def __init__(self, doc, collapse=None, height=None):
        self.doc = doc
        self.collapsed = _initial_collapse(doc, collapse)
        self.selected = None
        self.visible_nodes, self.visible_edges = [], []
        self._height = height
        edges, nodes, height = self._traces()  # the figure is built whole: see _figure.py
        self.figure = Figure(
            data=[go.Scatter(mode="lines", hoverinfo="skip", name="edges", line={"color": "#999", "width": 1},
                             **edges),
                  go.Scatter(mode="markers+text", name="nodes", textposition="middle right", hoverinfo="text",
                       textfont={"size": 11},  # <= PX_PER_UNIT per character
                             **nodes)],
            layout={"showlegend": False, "dragmode": "pan", "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
                    "xaxis": {"visible": False, "range": self._x_range}, "yaxis": {"visible": False},
                    "plot_bgcolor": "white", "hovermode": "closest", "height": height, "width": self._width()},
            config=WHEEL_ZOOM)
        self.figure.data[NODE_TRACE].on_click(self._on_click)
        self.summary = widgets.HTML()
        self.toggle = widgets.Button(description="Expand", disabled=True, tooltip="fold or unfold the selected module")
        self.toggle.on_click(lambda _: self._toggle_selected())
        self.expand_all = widgets.Button(description="Expand all")
        self.expand_all.on_click(lambda _: self.set_collapsed([]))
        self.fold = widgets.Button(description="Fold modules")
        self.fold.on_click(lambda _: self.set_collapsed(_initial_collapse(self.doc, True)))
        self.details = widgets.HTML(value="<i>click a node for its details</i>")
        super().__init__([widgets.HBox([self.summary, self.toggle, self.expand_all, self.fold]),
                          self.figure, self.details])
        self._summarize()

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and the graph document the torsh JupyterLab extension draws without a kernel."""
        summary = (f"torsh.viz.GraphView: {len(self.doc['nodes'])} nodes, {len(self.doc['edges'])} edges, "
                   f"{len(self.doc['groups'])} module groups")
        return widget_bundle(super(), {GRAPH_MIME: self.doc, "text/plain": summary}, **kwargs)

    # -- drawing ---------------------------------------------------------------------------
    def set_collapsed(self, group_ids):
        """Fold exactly these groups (ids or module paths) and redraw."""
        self.collapsed = _initial_collapse(self.doc, list(group_ids))
        self._draw()

    def _traces(self):
        """(edge trace values, node trace values, figure height) of the current folding."""
        nodes, edges = _layout.collapse_view(self.doc, self.collapsed)
        widths = {n["id"]: MARKER_UNITS + len(_short(n["label"])) for n in nodes}
        coords = _layout.spread_by_labels(_layout.layered_layout(nodes, edges), widths)
        self.visible_nodes, self.visible_edges = nodes, edges
        left = min((x for x, _ in coords.values()), default=0.0) - 1.0
        right = max((coords[i][0] + widths[i] for i in coords), default=1.0) + 1.0
        self._x_range = [left, right]
        ex, ey = [], []
        for e in edges:
            (x0, y0), (x1, y1) = coords[e["source"]], coords[e["target"]]
            ex += [x0, x1, None]
            ey += [y0, y1, None]
        layers = len({y for _, y in coords.values()}) if coords else 1
        node_values = {
            "x": [coords[n["id"]][0] for n in nodes], "y": [coords[n["id"]][1] for n in nodes],
            "text": [_short(n["label"]) for n in nodes], "customdata": [n["id"] for n in nodes],
            "hovertext": [_hover(n) for n in nodes],
            "marker": {"color": [KIND_COLORS[n["kind"]] for n in nodes],
                       "symbol": [KIND_SYMBOLS[n["kind"]] for n in nodes],
                       "size": [18 if n["kind"] == "group" else 12 for n in nodes],
                       "line": {"width": 1, "color": "#333"}}}
        return {"x": ex, "y": ey}, node_values, self._height or min(900, 160 + 45 * layers)

    def _width(self):
        """Pixels for PX_PER_UNIT per character across the widest layer (at least 600)."""
        return int(max(600, (self._x_range[1] - self._x_range[0]) * PX_PER_UNIT + 20))

    def _draw(self):
        edges, nodes, height = self._traces()
        with self.figure.batch_update():
            self.figure.data[EDGE_TRACE].update(**edges)
            self.figure.data[NODE_TRACE].update(**nodes)
            self.figure.layout.height = height
            self.figure.layout.width = self._width()
            self.figure.layout.xaxis.range = self._x_range
        self._summarize()

    def _summarize(self):
        folded = f", {len(self.collapsed)} modules folded" if self.collapsed else ""
        self.summary.value = (f"<b>{len(self.doc['nodes'])}</b> nodes, {len(self.doc['edges'])} edges; "
                              f"showing {len(self.visible_nodes)} nodes, {len(self.visible_edges)} edges{folded}")

    # -- interaction -------------------------------------------------------------------------
    def _on_click(self, trace, points, selector):
        if points.point_inds:
            self.select(self.visible_nodes[points.point_inds[0]]["id"])

    def select(self, node_id):
        """Show the details of a visible node (or folded group) and arm the fold/unfold button."""
        node = next(n for n in self.visible_nodes if n["id"] == node_id)
        self.selected = node
        if node["kind"] == "group":
            self.details.value = self._group_details(node)
            self.toggle.description, self.toggle.disabled = "Expand", False
        else:
            self.details.value = _node_details(node)
            module = node.get("module")
            self.toggle.description = "Collapse its module"
            self.toggle.disabled = not module or f"g:{module}" not in {g["id"] for g in self.doc["groups"]}

    def _toggle_selected(self):
        node = self.selected
        if node is None:
            return
        if node["kind"] == "group":
            self.set_collapsed([gid for gid in self.collapsed if gid != node["id"]])
        elif node.get("module"):
            self.set_collapsed(self.collapsed + [f"g:{node['module']}"])
        self.selected = None
        self.toggle.disabled = True

    def _group_details(self, box):
        members = {n["id"]: n for n in self.doc["nodes"]}
        inner = [members[i] for i in box["members"]]
        ops = {}
        for n in inner:
            if n["kind"] == "op":
                ops[n["op"]] = ops.get(n["op"], 0) + 1
        rows = [("module", box["module"]), ("type", box["type"]), ("nodes", len(inner)),
                ("ops", ", ".join(f"{op} x{k}" if k > 1 else op for op, k in ops.items())),
                ("parameters", ", ".join(n["label"] for n in inner if n["kind"] == "parameter")),
                ("saved for backward", _bytes(sum(n["saved_bytes"] for n in inner)))]
        return _table(f"{box['label']} (folded)", rows)


def _short(label):
    """A label as drawn beside its marker (the hover text has it whole)."""
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def _hover(node):
    if node["kind"] == "group":
        return f"<b>{html.escape(node['label'])}</b><br>{len(node['members'])} nodes folded (click, then Expand)"
    parts = [f"<b>{html.escape(node['label'])}</b>", node["kind"]]
    if node.get("shape") is not None:
        parts.append(f"{tuple(node['shape'])} {node['dtype']}")
    if node.get("saved_bytes"):
        parts.append(f"saved {_bytes(node['saved_bytes'])}")
    if node.get("module"):
        parts.append(f"module {html.escape(node['module'])}")
    return "<br>".join(parts)


def _node_details(node):
    outputs = ", ".join(f"{tuple(o['shape'])} {o['dtype']}" for o in node["outputs"])
    rows = [("id", node["id"]), ("kind", node["kind"]), ("op", node["op"]), ("outputs", outputs),
            ("saved for backward", _bytes(node["saved_bytes"]) + (" (released)" if node["released"] else "")),
            ("sequence nr", node["sequence_nr"]), ("module", node["module"])]
    return _table(node["label"], rows)


def _table(title, rows):
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td>{html.escape('-' if v is None else str(v))}</td></tr>" for k, v in rows)
    return f"<b>{html.escape(title)}</b><table>{body}</table>"
