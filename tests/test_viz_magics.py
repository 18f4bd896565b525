"""torsh.viz IPython magics, run in an in-process IPython shell: what each magic displays."""
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import torsh
from torsh.backend import events, memory

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "torsh.viz")
    shell.run_cell("import torsh, torsh.nn as nn\n"
                   "torsh.manual_seed(0)\n"
                   "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))\n"
                   "opt = torsh.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
                   "x = torsh.randn(5, 4)\n", store_history=False)
    yield shell
    shell.run_line_magic("unload_ext", "torsh.viz")
    assert not events.listening("dispatch")


def _widget(output):
    from ipywidgets.widgets.widget import _instances
    return _instances[output.data[WIDGET_MIME]["model_id"]]


def test_load_ext_registers_magics_and_starts_dispatch_counting(ip):
    assert "torsh_profile" in ip.magics_manager.magics["cell"]
    assert "torsh_memory" in ip.magics_manager.magics["line"]
    assert events.listening("dispatch")
    import torsh.viz
    before = {(r["op"], r["variant"]): r["count"] for r in torsh.viz.kernel_stats()["dispatch"]}
    ip.run_cell("for _ in range(3): x + x", store_history=False)
    after = {(r["op"], r["variant"]): r["count"] for r in torsh.viz.kernel_stats()["dispatch"]}
    assert after[("add", "numpy")] == before.get(("add", "numpy"), 0) + 3


def test_torsh_profile_shows_trace_view_of_the_cell(ip):
    from torsh.viz import TraceView
    with capture_output() as captured:
        result = ip.run_cell("%%torsh_profile --record-shapes\n"
                             "loss = model(x).sum()\n"
                             "loss.backward()\n", store_history=False)
    assert result.success
    assert len(captured.outputs) == 1
    view = _widget(captured.outputs[0])
    assert isinstance(view, TraceView)
    prof = ip.user_ns["_torsh_prof"]
    trace = prof.trace()
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(view.figure.data[0].x) == len(complete)
    assert trace["record_shapes"] == 1 and any("Input Dims" in e["args"] for e in complete)
    names = {e["name"] for e in complete}
    assert {"aten::linear", "aten::relu", "aten::sum"} <= names
    assert "aten::linear" in view.table.value
    assert ip.user_ns["loss"].grad_fn is not None  # the cell ran in the user namespace


def test_torsh_profile_memory_adds_a_memory_timeline(ip):
    with capture_output() as captured:
        ip.run_cell("%%torsh_profile --memory\nh = model(x)\nloss = (h * h).sum()\n", store_history=False)
    assert len(captured.outputs) == 2
    assert ip.user_ns["_torsh_prof"].trace()["profile_memory"] == 1
    timeline = _widget(captured.outputs[1])
    header, figure = timeline.children
    assert "memory" in header.value and len(figure.data[5].x) > 3  # start + the cell's allocations


def test_torsh_profile_memory_with_model_and_optimizer_splits_by_category(ip):
    # without them, parameters and gradients showed as 0 B; with them the split counts their bytes
    with capture_output() as captured:
        ip.run_cell("%%torsh_profile --memory model opt\nloss = model(x).sum()\nloss.backward()\nopt.step()\n",
                    store_history=False)
    assert len(captured.outputs) == 2
    param_bytes = sum(p._data.nbytes for p in ip.user_ns["model"].parameters())
    frame = captured.outputs[1].data["application/vnd.plotly.v1+json"]  # the static frame beside the widget
    figure = _widget(captured.outputs[1]).children[1]
    parameters, gradients, _, optimizer_state = (figure.data[i].y for i in range(4))
    assert parameters[-1] == param_bytes and gradients[-1] == param_bytes and optimizer_state[-1] == param_bytes
    assert frame["data"][0]["name"] == "parameters"
    with pytest.raises(NameError, match="torsh_profile: name 'nope'"):
        ip.run_cell_magic("torsh_profile", "--memory nope", "pass")


def test_torsh_profile_of_a_failing_cell_still_shows_the_trace(ip):
    with capture_output() as captured:
        result = ip.run_cell("%%torsh_profile\ny = model(x)\nraise ValueError('boom')\n", store_history=False)
    assert "the cell raised" in captured.stdout
    names = {e["name"] for e in ip.user_ns["_torsh_prof"].trace()["traceEvents"] if e["ph"] == "X"}
    assert "aten::linear" in names
    assert len(captured.outputs) == 1


def test_torsh_memory_shows_live_peak_and_categories(ip):
    ip.run_cell("loss = model(x).sum(); loss.backward(); opt.step()", store_history=False)
    with capture_output() as captured:
        ip.run_line_magic("torsh_memory", "model opt")
    (output,) = captured.outputs
    text = output.data["text/plain"]
    param_bytes = sum(p._data.nbytes for p in ip.user_ns["model"].parameters())
    lines = dict(line.strip().rsplit(None, 2)[:2] if line.startswith("  ") else (line, "") for line in text.splitlines())
    assert f"{memory.live_bytes():,} B" in text.splitlines()[0]
    assert lines["parameters"].replace(",", "") == str(param_bytes)
    assert lines["gradients"].replace(",", "") == str(param_bytes)
    assert lines["optimizer state"].replace(",", "") == str(param_bytes)  # SGD momentum buffers
    assert "<table>" in output.data["text/html"] and "temporaries" in output.data["text/html"]
    with capture_output() as captured:
        ip.run_line_magic("torsh_memory", "--reset-peak")
    assert memory.peak_bytes() == memory.live_bytes()
    with pytest.raises(NameError, match="nope"):
        ip.run_line_magic("torsh_memory", "nope")
