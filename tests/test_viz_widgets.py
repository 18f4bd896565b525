"""torsh.viz widgets: what they draw (plotly figure data) and hold, checked against the models and runs that made them.

Clicks are simulated the way the browser sends them (FigureWidget._js2py_pointsCallback).
"""
import gc
import json
import pathlib
import subprocess
import sys

import jsonschema
import pytest

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.profiler import profile, record_function

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "schemas"


def _validator(name):
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _blocks(n_blocks, width=8):
    torsh.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(n_blocks)]
    return nn.Sequential(*blocks, nn.Linear(width, 3))


def _loss(model, width=8):
    x = torsh.randn(5, width)
    return F.cross_entropy(model(x), torsh.tensor([0, 1, 2, 0, 1]))


def _click(figure, trace_index, point_index):
    """Send a plotly_click the way the browser does."""
    trace = figure.data[trace_index]
    figure._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {"xs": [trace.x[point_index]], "ys": [trace.y[point_index]],
                   "point_indexes": [point_index], "trace_indexes": [trace_index]}}


def test_import_torsh_does_not_import_widget_libraries():
    code = ("import sys, torsh, torsh.viz; "
            "print(sorted(m for m in ('ipywidgets', 'plotly', 'IPython', 'anywidget') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_stay_functions_after_every_submodule_is_imported():
    # importing torsh.viz.<name> binds the module to the package attribute <name>; no module may shadow an export
    code = ("import importlib, pkgutil, types, torsh.viz as viz\n"
            "for m in pkgutil.iter_modules(viz.__path__): importlib.import_module('torsh.viz.' + m.name)\n"
            "bad = [n for n in viz.__all__ if isinstance(getattr(viz, n), types.ModuleType)]\n"
            "print(bad, callable(viz.trace_view), callable(viz.graph_view))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True True"


# -- graph view -------------------------------------------------------------------------------
def test_graph_view_draws_one_marker_per_node_and_every_edge():
    model = _blocks(2)
    loss = _loss(model)
    doc = viz.graph(loss, model).to_json()
    view = viz.graph_view(loss, model)
    edges, nodes = view.figure.data
    assert view.collapsed == []  # small graph: nothing folded
    assert len(nodes.x) == len(doc["nodes"]) and len(nodes.customdata) == len(doc["nodes"])
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert list(nodes.text) == [by_id[i]["label"] for i in nodes.customdata]
    assert sorted(nodes.text) == sorted(n["label"] for n in doc["nodes"])
    assert len(edges.x) == 3 * len(doc["edges"])  # x0, x1, None per edge
    # top-down: every producer is drawn above its consumer
    y = dict(zip(nodes.customdata, nodes.y))
    assert all(y[e["source"]] > y[e["target"]] for e in doc["edges"])
    # the output is at the bottom, and the first layer holds no op that consumes anything drawn
    assert y["out0"] == min(nodes.y)
    _expect_labels_clear(view)


def _expect_labels_clear(view):
    """In each layer a node's label (drawn right of its marker, ~7 px per character of 11 px text) ends
    before the next node's marker, at the figure's initial scale."""
    from torsh.viz import _graph_view
    nodes, layout = view.figure.data[1], view.figure.layout
    plot_px = layout.width - layout.margin.l - layout.margin.r
    px_per_unit = plot_px / (layout.xaxis.range[1] - layout.xaxis.range[0])
    assert px_per_unit >= _graph_view.PX_PER_UNIT - 1e-9 and nodes.textfont.size <= 11
    layers = {}
    for x, y, text in zip(nodes.x, nodes.y, nodes.text):
        layers.setdefault(y, []).append((x, text))
    crowded = 0
    for row in layers.values():
        row.sort()
        crowded += len(row) > 1
        for (x0, text), (x1, _) in zip(row, row[1:]):
            assert (x1 - x0) * px_per_unit >= (_graph_view.MARKER_UNITS + len(text)) * 7, (text, x0, x1)
        xs = [x for x, _ in row]
        assert layout.xaxis.range[0] <= min(xs) and max(x + _graph_view.MARKER_UNITS + len(t) for x, t in row) <= layout.xaxis.range[1]
    assert crowded  # some layer holds several nodes side by side


def test_graph_view_click_fills_details():
    model = _blocks(1)
    view = viz.graph_view(_loss(model), model)
    nodes = view.figure.data[1]
    relu = list(nodes.text).index("ReluBackward0")
    _click(view.figure, 1, relu)
    assert view.selected["label"] == "ReluBackward0"
    details = view.details.value
    assert "ReluBackward0" in details and "(5, 8) float32" in details and "160 B" in details  # 5*8*4 saved
    weight = list(nodes.text).index("0.0.weight")
    _click(view.figure, 1, weight)
    assert "0.0.weight" in view.details.value and "parameter" in view.details.value


def test_graph_view_folds_repeated_blocks_and_expands_on_demand():
    model = _blocks(8)
    with viz.record_modules(model):
        loss = _loss(model)
    doc = viz.graph(loss, model).to_json()
    assert len(doc["nodes"]) > 60
    view = viz.graph_view(loss, model)  # auto: folds the deepest module level that fits in 60
    nodes = view.figure.data[1]
    assert 0 < len(nodes.x) <= 60 and view.collapsed
    boxes = [n for n in view.visible_nodes if n["kind"] == "group"]
    assert len(boxes) == 24 and {b["label"] for b in boxes} >= {"0.0 (Linear)", "7.1 (ReLU)"}
    # every hidden node is inside exactly one box; all drawn edges join drawn nodes
    drawn = {n["id"] for n in view.visible_nodes}
    hidden = {i for b in boxes for i in b["members"]}
    assert hidden.isdisjoint(drawn) and len(hidden) + len(drawn) - len(boxes) == len(doc["nodes"])
    assert all(e["source"] in drawn and e["target"] in drawn for e in view.visible_edges)
    assert len(view.figure.data[0].x) == 3 * len(view.visible_edges)

    # coarser: fold the eight top-level blocks
    coarse = viz.graph_view(loss, model, collapse=True)
    assert sum(n["kind"] == "group" for n in coarse.visible_nodes) == 9  # 8 blocks + the last Linear
    # click a box, then Expand: its members come back
    box = [n["id"] for n in coarse.visible_nodes].index("g:3")
    _click(coarse.figure, 1, box)
    assert "3 (Sequential) (folded)" in coarse.details.value and "mm x2" in coarse.details.value
    before = len(coarse.figure.data[1].x)
    coarse.toggle.click()
    assert "g:3" not in coarse.collapsed
    assert len(coarse.figure.data[1].x) == before - 1 + len(next(g for g in doc["groups"] if g["id"] == "g:3")["nodes"])
    # and a node inside it folds its module again
    mm = next(i for i, n in enumerate(coarse.visible_nodes) if n.get("module") == "3.0" and n["kind"] == "op")
    _click(coarse.figure, 1, mm)
    assert coarse.toggle.description == "Collapse its module" and not coarse.toggle.disabled
    coarse.toggle.click()
    assert "g:3.0" in coarse.collapsed

    flat = viz.graph_view(viz.graph(loss, model), collapse=False)
    assert len(flat.figure.data[1].x) == len(doc["nodes"])


def test_graph_view_of_a_module_forward_groups_by_module():
    model = _blocks(2)
    view = viz.graph_view(model, inputs=torsh.randn(5, 8), collapse=False)
    ops = [n for n in view.visible_nodes if n["kind"] == "op"]
    assert {n["module"] for n in ops} == {"0.0", "0.1", "0.2", "1.0", "1.1", "1.2", "2"}
    assert sum(n["op"] == "addmm" for n in ops) == 5
    assert {g["module"] for g in view.doc["groups"]} >= {"0", "1", "0.0", "2"}
    assert list(view.figure.data[1].text).count("AddmmBackward0") == 5
    with pytest.raises(TypeError, match="inputs"):
        viz.graph_view(model)


def test_graph_view_of_a_deep_chain_lays_out_without_recursion():
    x = torsh.ones(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    view = viz.graph_view(y)
    assert len(view.figure.data[1].x) == 3002
    assert len(set(view.figure.data[1].y)) == 3002  # a chain: one node per layer


def test_figures_open_their_comm_with_data_and_layout(monkeypatch):
    """The browser creates a widget's model from the state in comm_open; an update sent right
    after can be lost while the model's module loads (plotly sends data that way). Our figures
    open the comm only once data, layout and config are set."""
    import ipywidgets.widgets.widget as widget_module
    opened = []
    real_create = widget_module.comm.create_comm

    def recording_create(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real_create(**kwargs)
    monkeypatch.setattr(widget_module.comm, "create_comm", recording_create)
    model = _blocks(1)
    view = viz.graph_view(_loss(model), model)
    (state,) = [s for s in opened if "_widget_data" in s]
    edges, nodes = state["_widget_data"]
    assert len(nodes["x"]) == len(view.visible_nodes) > 5 and nodes["text"] == list(view.figure.data[1].text)
    assert len(edges["x"]) == 3 * len(view.visible_edges)
    assert state["_widget_layout"]["height"] == view.figure.layout.height and state["_config"]["scrollZoom"]
    opened.clear()
    import plotly.graph_objects as go
    go.FigureWidget(data=[go.Scatter(x=[1, 2], y=[3, 4])])  # plotly's own: opens empty, sends the data after
    assert [s["_widget_data"] for s in opened if "_widget_data" in s] == [[]]


# -- trace view and the profiler's MIME bundle ------------------------------------------------------
def _profiled(**options):
    model = _blocks(2)
    with profile(**options) as prof:
        with record_function("step"):
            loss = _loss(model)
            loss.backward()
    return prof


def test_trace_view_has_one_bar_per_complete_event_nested_by_time():
    prof = _profiled(record_shapes=True)
    trace = prof.trace()
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    view = viz.trace_view(prof)
    bars = view.figure.data[0]
    assert len(bars.x) == len(complete) > 20
    assert sorted(bars.text) == sorted(e["name"] for e in complete)
    assert sorted(bars.x) == pytest.approx(sorted(e["dur"] / 1000.0 for e in complete))
    # the user range encloses the ops: it is on the top row of its thread, ops below it
    rows = dict(zip(bars.text, bars.y))
    assert rows["step"] < rows["aten::linear"] < rows["aten::matmul"]
    for bar in view.bars:  # a nested call lies inside a call one row up on its thread
        assert 0 <= bar["self"] <= bar["dur"] + 1e-6
        if bar["depth"]:
            assert any(p["tid"] == bar["tid"] and p["row"] == bar["row"] - 1 and p["ts"] <= bar["ts"]
                       and bar["end"] <= p["end"] + 1e-3 for p in view.bars), bar
    # table: key_averages rows, most self time first, counts as recorded
    averages = {a.key: a for a in prof.key_averages()}
    table = {r["name"]: r for r in view.rows}
    assert [r["self_ms"] for r in view.rows] == sorted((r["self_ms"] for r in view.rows), reverse=True)
    assert table["aten::matmul"]["calls"] == averages["aten::matmul"].count == sum(e["name"] == "aten::matmul" for e in complete)
    assert "aten::matmul" in view.table.value


def test_trace_view_leaves_out_the_shortest_calls_of_a_huge_trace():
    prof = _profiled()
    view = viz.trace_view(prof, max_bars=10)
    longest = sorted((b["dur"] for b in view.bars), reverse=True)[:10]
    assert sorted(view.figure.data[0].x, reverse=True) == pytest.approx([d / 1000.0 for d in longest])
    assert f"({len(view.bars) - 10} shortest not drawn)" in view.children[0].value
    assert sum(r["calls"] for r in viz.trace_view(prof.trace(), max_bars=10, row_limit=1000).rows) == len(view.bars)


def test_trace_view_reads_a_trace_file(tmp_path):
    prof = _profiled()
    path = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(path))
    view = viz.trace_view(str(path))
    complete = [e for e in prof.trace()["traceEvents"] if e["ph"] == "X"]
    assert len(view.figure.data[0].x) == len(complete)
    # computed from the file alone: the op table still counts every call
    mm_calls = sum(e["name"] == "aten::matmul" for e in complete)
    assert {r["name"]: r["calls"] for r in view.rows}["aten::matmul"] == mm_calls > 5
    step = next(r for r in view.rows if r["name"] == "step")
    assert step["self_ms"] < step["total_ms"]  # the range's children are not its self time


def test_profile_mimebundle_validates_against_trace_schema():
    trace_schema = _validator("trace.schema.json")
    prof = profile()
    assert set(prof._repr_mimebundle_()) == {"text/plain"}  # nothing recorded yet
    prof = _profiled(profile_memory=True)
    bundle = prof._repr_mimebundle_()
    assert set(bundle) == {viz.TRACE_MIME_TYPE, "text/plain"}
    trace_schema.validate(bundle[viz.TRACE_MIME_TYPE])
    json.dumps(bundle)  # plain JSON, as Jupyter sends it
    calls = sum(e["ph"] == "X" for e in bundle[viz.TRACE_MIME_TYPE]["traceEvents"])
    assert f"{calls} calls" in bundle["text/plain"]


# -- memory timeline ----------------------------------------------------------------------------
def _mlp_and_adam():
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, torsh.optim.Adam(model.parameters(), lr=1e-3)


def test_memory_timeline_records_events_and_categories():
    from torsh.backend import events, memory
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(64, 32), torsh.randint(0, 10, (64,))
    param_bytes = sum(p._data.nbytes for p in model.parameters())
    gc.collect()  # graphs other tests left to the cyclic collector hold saved tensors too
    seen = []
    unsubscribe = events.subscribe(memory.TOPIC, seen.append)  # an independent count of the events
    try:
        with viz.MemoryTimeline(model, opt, interval=0.02) as mt:
            for _ in range(3):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                mid = mt.sample()  # the graph is alive: the relu output is saved for backward
                loss.backward()
                opt.step()
                del loss
    finally:
        unsubscribe()
    assert len(mt.events) == len(seen) + 1 > 20  # + the start point
    times = [e[0] for e in mt.events]
    assert times == sorted(times)
    assert [e[1:] for e in mt.events[1:]] == [(e.kind, e.nbytes, e.live_bytes) for e in seen]
    assert all(mt.peak_bytes >= e[3] for e in mt.events)
    assert all(mt.peak_bytes >= s["total"] for s in mt.samples)
    for s in mt.samples:
        assert sum(s[c] for c in ("parameters", "gradients", "saved_activations", "optimizer_state",
                                  "temporaries")) == s["total"]
    first, last = mt.samples[0], mt.samples[-1]  # saved_activations counts every live graph in the process
    assert mid["saved_activations"] >= first["saved_activations"] + 64 * 128 * 4  # the (64, 128) relu output
    assert mid["parameters"] == param_bytes
    # after opt.step: Adam holds exp_avg and exp_avg_sq per parameter; backward freed the graphs' tensors
    assert last["gradients"] == param_bytes and last["optimizer_state"] >= 2 * param_bytes
    assert last["saved_activations"] <= first["saved_activations"]
    # the figure: stacked categories per sample, the live line per event (below max_points), peak
    data = mt.figure.data
    assert [d.name for d in data[:5]] == ["parameters", "gradients", "saved activations", "optimizer state",
                                         "temporaries"]
    assert all(len(d.x) == len(mt.samples) for d in data[:5])
    assert list(data[5].y) == [e[3] for e in mt.events]
    assert any("alloc" in text for text in data[5].hovertext)
    assert max(data[6].y) == mt.peak_bytes
    assert 2 <= mt.redraws and "stopped" in mt.header.value


def test_memory_timeline_samples_categories_at_allocations_and_draws_steps():
    """Sampled only at redraws (start and stop here), the areas would interpolate between two
    points; sampled at allocations they see the activations saved mid-step, drawn as steps."""
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(64, 32), torsh.randint(0, 10, (64,))
    gc.collect()
    with viz.MemoryTimeline(model, opt, interval=float("inf"), split_budget=1.0) as mt:  # no time limit
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    assert mt.redraws == 2  # start and stop: every other sample came from an allocation
    allocations = sum(1 for e in mt.events if e[1] == "alloc")
    assert len(mt.samples) >= allocations > 20
    saved = [s["saved_activations"] for s in mt.samples]
    assert max(saved) >= min(saved) + 64 * 128 * 4  # the (64, 128) relu output, saved while its graph lived
    for s in mt.samples:
        assert sum(s[c] for c in ("parameters", "gradients", "saved_activations", "optimizer_state",
                                  "temporaries")) == s["total"]
    data = mt.figure.data
    assert all(d.line.shape == "hv" for d in data[:5])
    assert list(data[2].y) == saved and list(data[2].x) == [s["t"] for s in mt.samples]
    assert data[5].mode == "lines"  # more events than markers can show apart


def test_memory_timeline_sampling_stays_within_its_time_budget():
    clock = _FakeClock()
    walk = 0.001  # each category walk takes 1 ms on this clock

    class Timeline(viz.MemoryTimeline):
        def sample(self):
            clock.now += walk
            return super().sample()
    mt = Timeline(interval=float("inf"), split_budget=0.1)
    mt.clock = clock
    with mt:
        keep = []
        for _ in range(200):
            clock.now += 0.0001  # an allocation every 0.1 ms
            keep.append(torsh.zeros(8))
    walks = len(mt.samples) - 2  # the start and stop samples are not budgeted
    elapsed = clock.now
    # each walk of 1 ms is followed by a 9 ms gap: at most a tenth of the time is spent walking
    assert 1 <= walks and walks * walk <= 0.1 * elapsed + walk
    del keep


def test_memory_timeline_keeps_a_bounded_sample_buffer_and_marks_few_points():
    with viz.MemoryTimeline(interval=float("inf"), split_budget=1.0, max_samples=50) as mt:
        for _ in range(300):
            torsh.ones(10)
    assert len(mt.samples) <= 51
    times = [s["t"] for s in mt.samples]
    assert times == sorted(times)
    with viz.MemoryTimeline(interval=float("inf")) as few:
        keep = [torsh.zeros(100) for _ in range(5)]
    assert few.figure.data[5].mode == "lines+markers" and len(few.figure.data[5].x) <= 40
    del keep


def test_memory_timeline_thins_long_runs_but_keeps_the_peak():
    with viz.MemoryTimeline(interval=float("inf"), max_points=50) as mt:
        keep = [torsh.zeros(1000) for _ in range(10)]
        del keep
        for _ in range(300):
            torsh.ones(10)
    assert mt.redraws == 2  # start and stop only: nothing in between with an infinite interval
    drawn = mt.figure.data[5]
    assert len(drawn.x) <= 51 and max(drawn.y) == max(e[3] for e in mt.events)


def test_memory_timeline_keeps_a_bounded_record():
    with viz.MemoryTimeline(interval=float("inf"), max_events=100) as mt:
        big = torsh.zeros(100_000)  # the peak, early on
        del big
        for _ in range(400):
            torsh.ones(10)
    assert len(mt.events) <= 101
    times = [e[0] for e in mt.events]
    assert times == sorted(times)
    assert max(e[3] for e in mt.events) == mt.peak_bytes >= 400_000  # the peak event survived thinning


# -- dispatch view -----------------------------------------------------------------------------
def test_dispatch_view_counts_match_calls_with_forced_thresholds():
    import math
    from torsh.backend import dispatch
    x, small, ints = torsh.randn(1000), torsh.randn(10), torsh.arange(1000)
    saved = dispatch.thresholds["tanh"]
    try:
        dispatch.set_thresholds("tanh", simd=100, parallel=math.inf)
        with viz.DispatchView(interval=0.0, budget=1.0) as dv:  # no throttle at all
            for _ in range(7):
                x.tanh()  # 1000 >= 100: the SIMD kernel
            for _ in range(3):
                small.tanh()  # 10 < 100: NumPy
            for _ in range(2):
                x[::2].tanh()  # a strided view: NumPy, operands not contiguous
            for _ in range(4):
                ints + ints  # int64: no compiled kernel
            rows = {r["op"]: r for r in dv.rows()}
    finally:
        dispatch.set_thresholds("tanh", *saved)
    tanh, add = rows["tanh"], rows["add"]
    assert tanh["count"] == 12 and tanh["variants"] == {"pythran_simd": 7, "numpy": 5}
    assert tanh["numel_histogram"] == {512: 7, 8: 3, 256: 2}  # log2 buckets: 1000, 10, 500
    assert tanh["thresholds"] == {"simd": 100, "parallel": None}
    assert tanh["numpy_reasons"] == {"numel < threshold": 3, "operands not contiguous or not of one shape": 2}
    assert add["variants"] == {"numpy": 4} and add["numpy_reasons"] == {"dtype int64 has no compiled kernel": 4}
    assert set(rows) == {"tanh", "add"}
    assert dv.redraws == 16 + 2  # unthrottled: one redraw per decision, plus start and stop
    assert "tanh" in dv.table.value and dv.table.value.count("<rect") == 3 + 1  # tanh's 3 buckets + add's 1
    assert "16 decisions over 2 ops" in dv.header.value
    assert not torsh.backend.events.listening("dispatch")


def test_buffered_dispatch_counts_equal_counting_each_decision():
    """The live views' buffered counter (an append per decision, counted later) counts what the
    per-decision one counts: calls, variants, buckets, NumPy reasons, dtypes, seconds."""
    import math
    from torsh.backend import dispatch
    from torsh.viz._dispatch_counts import DispatchCounter
    x, small, ints, doubles = torsh.randn(1000), torsh.randn(10), torsh.arange(1000), torsh.randn(300).double()
    direct, buffered = DispatchCounter(), DispatchCounter()
    saved = dispatch.thresholds["tanh"]
    try:
        dispatch.set_thresholds("tanh", simd=100, parallel=math.inf)
        stops = [direct.subscribe(), buffered.subscribe(buffered=True)]
        for _ in range(3):
            x.tanh(), small.tanh(), x[::2].tanh(), doubles.tanh()
            ints + ints
            x + x
        assert buffered.pending and not direct.pending  # nothing counted yet on the buffered side
        for stop in stops:
            stop()
    finally:
        dispatch.set_thresholds("tanh", *saved)
    assert not buffered.pending
    assert buffered.rows() == direct.rows()
    tanh = {r["op"]: r for r in buffered.rows()}["tanh"]
    assert tanh["count"] == 12 and tanh["variants"] == {"pythran_simd": 6, "numpy": 6}
    assert tanh["dtypes"] == {"float32": 9, "float64": 3}


def test_dispatch_view_watches_one_optimizer_step_in_n():
    from torsh.backend import dispatch
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torsh.optim.SGD(model.parameters(), lr=0.1)
    x, y = torsh.randn(8, 16), torsh.randint(0, 4, (8,))

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    train_step()
    with dispatch.record() as one_step:
        train_step()
    with viz.DispatchView(interval=float("inf"), every=3) as dv:
        for _ in range(7):
            assert torsh.backend.events.listening("dispatch") == (dv.steps % 3 == 0)
            train_step()
    assert dv.steps == 7 and dv.watched_steps == 3  # steps 0, 3 and 6
    assert sum(r["count"] for r in dv.rows()) == 3 * len(one_step) > 0  # the watched steps' own counts
    assert f"{3 * len(one_step):,} decisions over" in dv.header.value
    assert "in 3 watched steps of 7 (1 optimizer step in 3)" in dv.header.value
    assert not torsh.backend.events.listening("dispatch")


def test_live_views_running_together_share_one_redraw_budget():
    """Fake clock: each step 1 ms, each view's redraw 10 ms. Alone, each view would take its 5%;
    together they draw at the same moments and take 5% of the time between them."""
    clock = _FakeClock()
    views = [viz.Dashboard(interval=0.1, memory=False, dispatch=False, budget=0.05),
             viz.DispatchView(interval=0.1, budget=0.05)]
    for view in views:
        view.clock = clock
        real_redraw = view.redraw

        def slow_redraw(real_redraw=real_redraw):
            real_redraw()
            clock.now += 0.010
        view.redraw = slow_redraw
    dash = views[0]
    with views[0], views[1]:
        for _ in range(5_000):  # 5 s of steps
            clock.now += 0.001
            dash.step(loss=1.0)
    in_loop = [view.redraws - 2 for view in views]  # without the forced draws at start and stop
    drawing = sum(view.redraw_seconds for view in views) - 4 * 0.010
    assert in_loop[0] == in_loop[1] >= 1  # the dispatch view drew whenever the dashboard did
    assert drawing <= 0.05 * clock.now
    assert all(abs(r["step_time"] - 0.001) < 1e-9 for r in dash.history[1:])  # redraws not charged to steps


# -- dashboard ---------------------------------------------------------------------------------
class _CountingList(list):
    """A list that counts reads of its elements (recording must not walk the history)."""

    reads = 0

    def __iter__(self):
        type(self).reads += 1
        return super().__iter__()

    def __getitem__(self, index):
        type(self).reads += 1
        return super().__getitem__(index)


def test_dashboard_records_steps_and_redraws_at_a_bounded_rate():
    import time
    from torsh.backend import dispatch
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(64, 32), torsh.randint(0, 10, (64,))
    dash = viz.Dashboard(model, opt, interval=0.02, dispatch_every=1)
    losses = []
    with dispatch.record() as decisions:
        start = time.perf_counter()
        with dash:
            for i in range(40):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if i % 2:
                    dash.step(loss, acc=0.5)
                else:
                    dash.log(loss=loss.item())
        elapsed = time.perf_counter() - start
    assert len(dash.history) == 40 and [r["step"] for r in dash.history] == list(range(40))
    assert [r["loss"] for r in dash.history] == pytest.approx(losses)
    assert 2 <= dash.redraws <= elapsed / dash.interval + 2
    assert all(r["step_time"] > 0 for r in dash.history)
    assert all(r["peak_bytes"] >= r["live_bytes"] > 0 for r in dash.history)
    data = dash.figure.data
    assert list(data[0].y) == pytest.approx(losses) and len(data[1].y) == 40
    # the dispatch bars count exactly the decisions made while the dashboard ran
    from torsh.viz.dispatch_view import VARIANTS
    counted = sum(sum(d.y) for d in data[4:4 + len(VARIANTS)])  # (metric traces such as acc follow the bars)
    assert counted == len(decisions) > 0
    assert list(data[dash.trace_of[("acc", "train")]].y) == [0.5] * 20  # logged on odd steps
    assert "step 39" in dash.header.value and "lr 0.001" in dash.header.value
    assert "optimizer state" in dash.header.value  # the category split of the last redraw


def test_dashboard_peak_is_the_runs_not_the_process_peak_before_it():
    from torsh.backend import memory
    big = torsh.zeros(1_000_000)  # 4 MB, freed before the loop: the process peak
    del big
    gc.collect()
    peak_before, live_before = memory.peak_bytes(), memory.live_bytes()
    assert peak_before >= live_before + 4_000_000
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(8, 32), torsh.randint(0, 10, (8,))
    dash = viz.Dashboard(model, opt, interval=float("inf"), dispatch=False)
    with dash:
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            dash.step(loss)
    peaks = [r["peak_bytes"] for r in dash.history]
    assert all(r["peak_bytes"] >= r["live_bytes"] for r in dash.history)
    assert max(peaks) < live_before + 1_000_000 < peak_before  # the run never held the 4 MB
    assert list(dash.figure.data[3].y) == peaks


def test_dashboard_plots_every_logged_metric_with_validation_on_the_training_plot():
    dash = viz.Dashboard(interval=float("inf"), memory=False, dispatch=False)
    with dash:
        for step in range(60):
            row = {"loss": 1.0 / (step + 1), "acc": step / 60}
            if step % 20 == 19:  # an evaluation every 20 steps, two ways of logging it
                row["val_loss"] = 2.0 / (step + 1)
            dash.log(step, **row)
            if step % 30 == 29:
                dash.log(split="val", acc=0.5 + step / 100)
    data = dash.figure.data
    assert dash.series == [("loss", "train"), ("acc", "train"), ("loss", "val"), ("acc", "val")]
    titles = [a.text for a in dash.figure.layout.annotations]
    assert titles[:2] == ["loss", "acc"] and len(titles) == 5  # + step time, memory, dispatch

    def trace(plot, split):
        return data[dash.trace_of[(plot, split)]]
    assert list(trace("loss", "train").y) == [1.0 / (s + 1) for s in range(60)]
    assert list(trace("acc", "train").x) == list(range(60)) and trace("acc", "train").mode == "lines"
    val_loss, val_acc = trace("loss", "val"), trace("acc", "val")
    assert list(val_loss.x) == [19, 39, 59] and list(val_loss.y) == [2.0 / 20, 2.0 / 40, 2.0 / 60]
    assert list(val_acc.x) == [29, 59] and list(val_acc.y) == [0.5 + 0.29, 0.5 + 0.59]
    # a validation curve shares its training metric's plot (same axes) and colour, dashed, with markers
    for train, val in ((trace("loss", "train"), val_loss), (trace("acc", "train"), val_acc)):
        assert (val.xaxis, val.yaxis) == (train.xaxis, train.yaxis)
        assert val.line.color == train.line.color and val.line.dash == "dash" and val.mode == "lines+markers"
    assert trace("loss", "train").xaxis != trace("acc", "train").xaxis
    assert [r["step"] for r in dash.eval_history] == [29, 59] and len(dash.history) == 60
    assert "val acc 1.09" in dash.header.value
    assert dash.widget.children[1] is dash.figure  # the figure rebuilt for new metrics is the one shown


def test_dashboard_watches_dispatch_on_one_step_in_n():
    from torsh.backend import dispatch
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(64, 32), torsh.randint(0, 10, (64,))

    def train_step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    train_step()
    with dispatch.record() as one_step:
        train_step()
    dash = viz.Dashboard(model, opt, interval=float("inf"), dispatch_every=4)
    with dash:
        for _ in range(12):
            dash.step(train_step())
            assert torsh.backend.events.listening("dispatch") == (dash.steps % 4 == 0)
    assert dash.dispatch_steps == 3  # steps 0, 4 and 8
    assert sum(s.count for s in dash.counter.ops.values()) == 3 * len(one_step) > 0
    assert not torsh.backend.events.listening("dispatch")
    assert "3 watched steps, 1 in 4" in dash.header.value


def test_dashboard_step_is_constant_work_between_redraws():
    dash = viz.Dashboard(interval=float("inf"))
    dash.history = _CountingList()
    _CountingList.reads = 0
    with dash:
        reads_after_start = _CountingList.reads
        for step in range(500):
            dash.step(loss=1.0 / (step + 1))
        reads_in_loop = _CountingList.reads - reads_after_start
    assert reads_in_loop == 0  # recording never walks the history: O(1) per step
    assert dash.redraws == 2  # start and stop; the infinite interval never came due
    assert len(dash.history) == 500 and len(dash.figure.data[0].y) == 500


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_dashboard_redraws_stay_within_the_time_budget():
    """Fake clock: each step takes 1 ms, each redraw 30 ms. With interval 0.1 s alone the
    redraws would take 30 / 130 = 23% of the time; the budget stretches the gap so they take 5%."""
    clock = _FakeClock()
    dash = viz.Dashboard(interval=0.1, memory=False, dispatch=False, budget=0.05)
    dash.clock = clock
    real_redraw = dash.redraw

    def slow_redraw():
        real_redraw()
        clock.now += 0.030
    dash.redraw = slow_redraw
    with dash:
        for _ in range(10_000):  # 10 s of steps
            clock.now += 0.001
            dash.step(loss=1.0)
    loop_time = clock.now - dash.started_at
    in_loop = dash.redraws - 2  # without the forced draws at start and stop
    # a redraw every 0.6 s (30 ms + a 570 ms gap = 30 * 0.95 / 0.05), from 0.6 s on: 10 s of steps + 17 redraws
    assert in_loop == 17 and loop_time == pytest.approx(10.0 + (17 + 2) * 0.030)  # + the draws at start, stop
    assert in_loop * 0.030 <= 0.05 * loop_time
    assert all(abs(r["step_time"] - 0.001) < 1e-9 for r in dash.history[1:])  # redraws not charged to steps


def test_dashboard_keeps_a_bounded_history():
    dash = viz.Dashboard(interval=float("inf"), memory=False, dispatch=False, max_history=64)
    with dash:
        for step in range(200):
            dash.step(loss=float(step))
    steps = [r["step"] for r in dash.history]
    assert dash.steps == 200 and len(steps) <= 65 and steps == sorted(set(steps))
    assert steps[0] == 0 and steps[-1] == 199
    assert all(r["loss"] == r["step"] for r in dash.history)
    assert list(dash.figure.data[0].x) == steps


# -- kernel_stats --------------------------------------------------------------------------------
def test_kernel_stats_validates_and_counts_dispatch_from_the_first_call():
    from torsh.backend import kernels, memory
    from torsh.viz import stats
    schema = _validator("stats.schema.json")
    model, opt = _mlp_and_adam()
    a = torsh.randn(10)
    stats.start_memory_counting()  # kernel_stats() reports memory only once counting is on
    try:
        first = viz.kernel_stats()
        schema.validate(first)
        before = {(r["op"], r["variant"]): r["count"] for r in first["dispatch"]}
        for _ in range(5):
            a + a
        after = viz.kernel_stats(model, opt)
        schema.validate(after)
        json.dumps(after)
        counts = {(r["op"], r["variant"]): r["count"] for r in after["dispatch"]}
        assert counts[("add", "numpy")] == before.get(("add", "numpy"), 0) + 5
        assert after["kernels"] == kernels.available()
        mem = after["memory"]
        assert mem["allocated_bytes"] == memory.live_bytes() and mem["peak_bytes"] >= mem["allocated_bytes"]
        split = mem["by_category"]
        assert split["parameters"] == sum(p._data.nbytes for p in model.parameters())
        assert sum(v for k, v in split.items() if k != "total") == split["total"]
        bad = json.loads(json.dumps(after))
        bad["dispatch"].append({"op": "add", "variant": "cuda", "count": 1})
        assert not schema.is_valid(bad)
    finally:
        stats.stop_counting()
    assert not torsh.backend.events.listening("dispatch")


def test_kernel_stats_never_turns_memory_counting_on():
    """The side panel polls kernel_stats(); counting tensor memory costs every later tensor ~1-3 us,
    so only an explicit start turns it on. Fresh interpreter: counting may be on in this one."""
    code = """if True:
        import json, torsh, torsh.viz
        from torsh.backend import memory
        from torsh.viz import stats
        a = torsh.ones(10)
        off = torsh.viz.kernel_stats()
        print(json.dumps([off["memory"], memory.counting]))
        stats.start_memory_counting()
        on = torsh.viz.kernel_stats()
        print(json.dumps([on["memory"]["allocated_bytes"], memory.counting]))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    off, on = [json.loads(line) for line in out.stdout.splitlines()]
    assert off == [None, False]
    assert on == [40, True]  # the tensor made before counting started is found by its start
    schema = _validator("stats.schema.json")
    schema.validate({"version": 1, "memory": None, "dispatch": [], "kernels": {}})


def test_kernel_stats_rows_of_optimizer_steps_and_compiled_functions_validate():
    from torsh.backend import dispatch
    from torsh.viz import stats
    schema = _validator("stats.schema.json")
    model, opt = _mlp_and_adam()
    fused = torsh.compile(lambda x: x * 2 + 1)
    try:
        viz.kernel_stats()
        with _forced_numexpr_adam(dispatch):
            F.mse_loss(model(torsh.randn(4, 32)), torsh.randn(4, 10)).backward()
            opt.step()
        fused(torsh.randn(5))
        after = viz.kernel_stats(model, opt)
        schema.validate(after)
        variants = {(r["op"], r["variant"]) for r in after["dispatch"]}
        assert ("adam_step", "numexpr") in variants
        assert any(op.startswith("compiled:") and variant == "numexpr" for op, variant in variants)
    finally:
        stats.stop_counting()


class _forced_numexpr_adam:
    """adam_step on its numexpr reference path for the block (thresholds restored after)."""

    def __init__(self, dispatch):
        self.dispatch = dispatch

    def __enter__(self):
        self.saved = self.dispatch.thresholds["adam_step"]
        self.dispatch.set_thresholds("adam_step", simd=float("inf"), parallel=float("inf"))

    def __exit__(self, *exc):
        self.dispatch.set_thresholds("adam_step", *self.saved)


def test_stopping_a_live_view_shows_its_final_state_in_a_figure_opened_with_it():
    # redraw messages sent while the browser loads plotly's module can be lost; the figure the
    # view ends with is a new one whose comm opens with the final data (see LiveView._reopen_figure)
    model, opt = _mlp_and_adam()
    x, y = torsh.randn(16, 32), torsh.randint(0, 10, (16,))
    mt = viz.MemoryTimeline(model, opt, interval=1e9)  # no redraw during the loop
    from torsh.viz._figure import Figure
    first_figure = mt.figure
    opened_with = []
    original_open = Figure.open

    def spy(self):
        if not getattr(self, "_defer_open", False):
            opened_with.append(0 if self.data[0].x is None else len(self.data[0].x))
        return original_open(self)

    Figure.open = spy
    try:
        with mt:
            for _ in range(3):
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
    finally:
        Figure.open = original_open
    assert mt.figure is not first_figure and first_figure.comm is None  # the old one is closed
    assert mt.figure in mt.widget.children and first_figure not in mt.widget.children
    assert len(mt.figure.data[0].x) == len(mt.samples) >= 2
    assert opened_with and opened_with[-1] == len(mt.samples)  # the comm opened with the final points


def test_a_stopped_memory_timeline_leaves_no_cycle_holding_the_model():
    """Once stopped and dropped, the view frees its model at once (no view <-> memory sink cycle waiting for
    the collector), so memory_allocated() drops back as soon as the program deletes its objects."""
    import weakref
    model = nn.Linear(64, 32)
    optimizer = torsh.optim.SGD(model.parameters(), lr=0.1)
    timeline = viz.MemoryTimeline(model, optimizer)
    with timeline:
        F.mse_loss(model(torsh.randn(8, 64)), torsh.zeros(8, 32)).backward()
        optimizer.step()
    weight = weakref.ref(model.weight)
    gc.disable()
    try:
        del model, optimizer, timeline
        assert weight() is None
    finally:
        gc.enable()
