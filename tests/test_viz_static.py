"""torsh.viz views in a saved notebook: each view's output carries a static frame (a MIME type a
JupyterLab renderer draws without a kernel) beside its widget, and a live view replaces its output
with its final frame when it stops; the tutorials are saved that way; trace_view draws instants,
flow arrows and searches."""
import base64
import json
import pathlib
import sys

import jsonschema
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.profiler import profile, record_function

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GRAPH_MIME, TRACE_MIME = viz.GRAPH_MIME_TYPE, viz.TRACE_MIME_TYPE


def _schema(name):
    return jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "schemas" / name).read_text()))


def _model():
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, torsh.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _train(model, optimizer, steps=5):
    x, y = torsh.randn(32, 8), torsh.tensor([0, 1, 2, 0] * 8)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss


def _values(array):
    """A plotly JSON array (a list, or plotly's base64 typed array) as numbers."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])).tolist()
    return list(array)


def _profiled(**options):
    model, optimizer = _model()
    with profile(**options) as prof:
        with record_function("step"):
            _train(model, optimizer, steps=2)
    return prof


# -- static frames of each view ---------------------------------------------------------------
def test_graph_and_trace_views_carry_their_documents():
    model, _ = _model()
    x = torsh.randn(4, 8)
    view = viz.graph_view(model, inputs=x)
    bundle = view._repr_mimebundle_()
    assert WIDGET_MIME in bundle and bundle[GRAPH_MIME] == view.doc
    _schema("graph.schema.json").validate(bundle[GRAPH_MIME])
    assert bundle["text/plain"] == (f"torsh.viz.GraphView: {len(view.doc['nodes'])} nodes, {len(view.doc['edges'])} "
                                    f"edges, {len(view.doc['groups'])} module groups")
    prof = _profiled(profile_memory=True)
    trace_view = viz.trace_view(prof)
    bundle = trace_view._repr_mimebundle_()
    _schema("trace.schema.json").validate(bundle[TRACE_MIME])
    complete = sum(e["ph"] == "X" for e in bundle[TRACE_MIME]["traceEvents"])
    assert complete == len(trace_view.bars) and bundle["text/plain"].startswith(f"torsh.viz.TraceView: {complete} calls")
    json.dumps({k: v for k, v in bundle.items()})  # plain JSON, as Jupyter sends it


def test_live_views_carry_their_last_frame():
    model, optimizer = _model()
    timeline = viz.MemoryTimeline(model, optimizer)
    dispatch_view = viz.DispatchView()
    dashboard = viz.Dashboard(model, optimizer)
    with timeline, dispatch_view, dashboard:
        for _ in range(4):
            loss = _train(model, optimizer, steps=1)
            dashboard.step(loss)
    frame = timeline._repr_mimebundle_()[PLOTLY_MIME]
    assert [t["name"] for t in frame["data"]] == [t.name for t in timeline.figure.data]
    live = next(t for t in frame["data"] if t["name"] == "live bytes")
    assert _values(live["y"]) == pytest.approx(list(timeline.figure.data[-2].y))
    params = _values(frame["data"][0]["y"])  # the parameters area
    assert params[-1] == sum(p._data.nbytes for p in model.parameters())
    assert "peak" in frame["layout"]["title"]["text"]
    assert timeline._repr_mimebundle_()["text/plain"].startswith("torsh.viz.MemoryTimeline: memory (stopped)")

    html = dispatch_view._repr_mimebundle_()["text/html"]
    ops = [r["op"] for r in dispatch_view.rows()]
    assert "sgd_step" in ops and all(f"<code>{op}</code>" in html for op in ops)
    assert dispatch_view.table.value in html
    assert dispatch_view._repr_mimebundle_()["text/plain"].startswith("torsh.viz.DispatchView: dispatch (stopped)")

    frame = dashboard._repr_mimebundle_()[PLOTLY_MIME]
    loss_trace = frame["data"][0]
    assert _values(loss_trace["y"]) == pytest.approx([row["loss"] for row in dashboard.history])
    for view in (timeline, dispatch_view, dashboard):
        json.dumps(view._repr_mimebundle_())


def test_a_view_displayed_before_its_loop_puts_its_final_frame_in_that_output():
    InteractiveShell.instance()
    model, optimizer = _model()
    timeline = viz.MemoryTimeline(model, optimizer)
    with capture_output() as captured:
        timeline._ipython_display_()
        with timeline:
            _train(model, optimizer, steps=3)
    first, last = captured.outputs
    display_id = first.transient["display_id"]
    assert last.update and last.transient["display_id"] == display_id
    before = _values(next(t for t in first.data[PLOTLY_MIME]["data"] if t["name"] == "live bytes")["y"])
    after = _values(next(t for t in last.data[PLOTLY_MIME]["data"] if t["name"] == "live bytes")["y"])
    assert len(before) <= 1 < len(after) and len(after) == len(timeline.figure.data[-2].y)
    assert last.data[WIDGET_MIME]["model_id"] == first.data[WIDGET_MIME]["model_id"]  # the same widget


# -- trace view: instants, flows, search, table width --------------------------------------------
def test_trace_view_draws_instant_events_and_forward_to_backward_arrows():
    prof = _profiled(profile_memory=True)
    trace = prof.trace()
    view = viz.trace_view(prof)
    instants = [e for e in trace["traceEvents"] if e["ph"] == "i"]
    assert len(view.figure.data[1].x) == len(instants) > 10
    starts = [e for e in trace["traceEvents"] if e["ph"] == "s"]
    assert len(view.flows) == len(starts) > 5  # every flow of the trace binds to its two calls
    for forward, backward in view.flows:
        # the arrow goes from a forward op to the backward node with its sequence number, later in time
        assert forward["args"]["Sequence number"] == backward["args"]["Sequence number"]
        assert forward["ts"] < backward["ts"] and forward["cat"] == "cpu_op"
    xs = view.figure.data[2].x
    assert len(xs) == 3 * len(view.flows) and xs[2::3] == (None,) * len(view.flows)


def test_trace_view_search_highlights_matches_and_filters_the_table():
    view = viz.trace_view(_profiled())
    hits = view.search("RELU")
    assert hits and all("relu" in b["name"].lower() for b in hits)
    opacity = view.figure.data[0].marker.opacity
    assert sum(o == 1.0 for o in opacity) == len(hits) == sum("relu" in b["name"].lower() for b in view.drawn)
    assert "aten::relu" in view.table.value and "ReluBackward0" in view.table.value
    assert "aten::linear" not in view.table.value
    assert f"{len(hits)} calls match" in view.found.value
    view.search_box.value = "linear"  # the text box drives the same search
    assert "aten::linear" in view.table.value and "aten::relu" not in view.table.value
    view.search_box.value = ""
    assert set(view.figure.data[0].marker.opacity) == {1.0} and "aten::linear" in view.table.value
    assert "width:100%" in view.table.value and "table-layout:fixed" in view.table.value


# -- the saved tutorials ------------------------------------------------------------------------
def _renderable_mime_types():
    """MIME types a JupyterLab with torsh's extension and plotly draws from a saved output:
    torsh's renderers (read from the built extension), plotly's (read from its labextension), and HTML."""
    types = {"text/html"}
    renderers = (ROOT / "extension" / "lib" / "renderers.js").read_text()
    types |= {m for m in (GRAPH_MIME, TRACE_MIME) if m in renderers}
    plotly_ext = pathlib.Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-plotly" / "static"
    if any(PLOTLY_MIME in p.read_text(errors="ignore") for p in plotly_ext.glob("*.js")):
        types.add(PLOTLY_MIME)
    return types


VIEW_CALLS = ("trace_view(", "graph_view(", "MemoryTimeline(", "DispatchView(", "Dashboard(", "%%torsh_profile")


def test_saved_tutorials_show_every_view_as_a_static_frame():
    renderable = _renderable_mime_types()
    assert {GRAPH_MIME, TRACE_MIME, PLOTLY_MIME} <= renderable
    views = 0
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        nb = json.loads(path.read_text())
        for index, cell in enumerate(nb["cells"]):
            source = "".join(cell["source"])
            outputs = [o for o in cell.get("outputs", []) if "data" in o]
            for output in outputs:
                text = "".join(output["data"].get("text/plain", ""))
                where = f"{path.name} cell {index}: {text[:80]!r}"
                # no Python repr of a widget where a view was
                assert not text.startswith(("VBox(", "HBox(", "TraceView(", "GraphView(", "FigureWidget(")), where
                if text.startswith("torsh.viz."):
                    views += 1
                    assert set(output["data"]) & renderable, where
                    assert WIDGET_MIME not in output["data"], where  # saved as its frame, no "Loading widget..."
            if cell["cell_type"] == "code" and any(call in source for call in VIEW_CALLS):
                assert any("".join(o["data"].get("text/plain", "")).startswith("torsh.viz.") for o in outputs), \
                    f"{path.name} cell {index} shows a view but saved no frame of it"
    assert views >= 6
