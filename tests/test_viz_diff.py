"""torsh.viz.diff(a, b): two runs (torsh profiles, torsh or PyTorch Chrome trace files) aligned by op, step
(ProfilerStep#N) and module scope (nn.Module: name); per-op counts and self times checked against each
library's own key_averages, and exact numbers on hand-written traces."""
import json

import pytest

import torsh
import torsh.viz as viz
from helpers import needs_torch, torch_ref


def _train(lib, steps, extra_sigmoids=0):
    """Profile ``steps`` training steps of a small model (after one warm-up step), inside a module scope."""
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(16, 32), lib.nn.ReLU(), lib.nn.Linear(32, 4))
    x = lib.randn(8, 16)
    schedule = lib.profiler.schedule(wait=0, warmup=1, active=steps, repeat=1)
    with lib.profiler.profile(schedule=schedule) as prof:
        for _ in range(steps + 1):
            with lib.profiler.record_function("nn.Module: Block"):
                y = model(x)
                for _ in range(extra_sigmoids):
                    y = y.sigmoid()
            y.sum().backward()
            prof.step()
    return prof


def _averages(prof):
    """{op: (calls, self time us)} from the library's own table."""
    return {e.key: (e.count, e.self_cpu_time_total) for e in prof.key_averages()}


def _assert_side_matches(rows, side, averages):
    for row in rows:
        count = getattr(row, "count_" + side)
        if count:
            calls, self_time = averages[row.name]
            assert count == calls, row.name
            assert getattr(row, "self_" + side) == pytest.approx(self_time, abs=0.002 * count + 1e-6), row.name


# -- exact numbers on hand-written traces --------------------------------------------------------

def _x(name, ts, dur, cat="cpu_op", tid=1):
    return {"ph": "X", "cat": cat, "name": name, "pid": 7, "tid": tid, "ts": ts, "dur": dur, "args": {}}


def _trace(*events):
    return {"traceEvents": [{"ph": "M", "name": "process_name", "pid": 7, "tid": 0, "args": {"name": "python"}},
                            *events]}


TRACE_A = _trace(
    _x("ProfilerStep#4", 0, 100, "user_annotation"),
    _x("nn.Module: Net_0", 5, 60, "python_function"),  # PyTorch's with_modules + with_stack scope
    _x("aten::mm", 10, 40),
    _x("aten::mm", 12, 36),  # the only child of an op of its name: folded into it (PyTorch's tables do)
    _x("aten::copy_", 20, 10),
    _x("aten::add", 70, 10),
    _x("ProfilerStep#5", 100, 50, "user_annotation"),
    _x("aten::add", 110, 20),
    _x("aten::add", 120, 5, tid=2),  # another thread, inside step 5's time
    _x("ProfilerStep#6", 150, 50, "user_annotation"),  # b has two steps: not compared
    _x("aten::relu", 160, 30),
    _x("some.py(1): f", 0, 200, "python_function"),  # a Python frame: not a span of the diff
)
TRACE_B = _trace(
    _x("ProfilerStep#1", 1000, 60, "user_annotation"),
    _x("nn.Module: Net_0", 1005, 30, "python_function"),
    _x("aten::mm", 1010, 20),
    _x("ProfilerStep#2", 1060, 90, "user_annotation"),
    _x("aten::add", 1070, 70),
    _x("aten::sigmoid", 1145, 4),
)


def test_hand_written_traces_exact_rows():
    d = viz.diff(TRACE_A, TRACE_B)
    rows = {r.name: r for r in d.ops}
    assert set(rows) == {"aten::mm", "aten::copy_", "aten::add", "aten::sigmoid"}  # relu: in a's third step
    mm, copy, add, sigmoid = rows["aten::mm"], rows["aten::copy_"], rows["aten::add"], rows["aten::sigmoid"]
    assert (mm.count_a, mm.self_a, mm.total_a, mm.count_b, mm.self_b) == (1, 30, 40, 1, 20)
    assert (copy.count_a, copy.self_a, copy.count_b, copy.self_b) == (1, 10, 0, 0)
    assert (add.count_a, add.self_a, add.count_b, add.self_b) == (3, 35, 1, 70)
    assert (add.delta, add.ratio) == (35, 2.0)
    assert (sigmoid.count_a, sigmoid.count_b, sigmoid.delta, sigmoid.ratio) == (0, 1, 4, None)
    assert mm.delta == -10 and mm.ratio == pytest.approx(2 / 3)
    assert [r.name for r in d.ops] == ["aten::add", "aten::copy_", "aten::mm", "aten::sigmoid"]  # by |delta|
    assert (d.self_a, d.self_b) == (75, 94)
    assert [(s.name_a, s.name_b, s.time_a, s.time_b, s.delta) for s in d.steps] == [
        ("ProfilerStep#4", "ProfilerStep#1", 100, 60, -40), ("ProfilerStep#5", "ProfilerStep#2", 50, 90, 40)]
    assert d.notes == ["a recorded 3 steps, b 2: compared the first 2 of each"]
    (module,) = d.modules
    assert (module.name, module.count_a, module.total_a, module.count_b, module.total_b) == ("Net_0", 1, 60, 1, 30)
    assert d.op("aten::add") is add
    with pytest.raises(KeyError):
        d.op("aten::nothing")


def test_runs_without_steps_compare_whole_runs():
    no_steps = _trace(_x("aten::add", 0, 10), _x("aten::add", 500, 10))
    d = viz.diff(no_steps, TRACE_A)
    assert d.steps == [] and d.notes == ["only one run has ProfilerStep ranges: compared the whole runs"]
    assert d.op("aten::add").count_a == 2 and d.op("aten::relu").count_b == 1  # every op of each run


def test_html_has_a_red_bar_where_b_spends_more_and_green_where_less():
    d = viz.diff(TRACE_A, TRACE_B)
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    page = bundle["text/html"]
    rows = page.split("<tr>")
    add_row = next(r for r in rows if "<code>aten::add</code>" in r)
    mm_row = next(r for r in rows if "<code>aten::mm</code>" in r)
    assert viz._diff.SLOWER_COLOR in add_row and viz._diff.FASTER_COLOR not in add_row
    assert viz._diff.FASTER_COLOR in mm_row and viz._diff.SLOWER_COLOR not in mm_row
    assert "width='80.0'" in add_row  # the largest |delta| fills its half of the bar
    assert "width='22.9'" in mm_row  # 10 of 35 us
    assert "<code>Net_0</code>" in page and "ProfilerStep#4 / ProfilerStep#1" in page
    text = bundle["text/plain"]
    assert text.startswith("torsh.viz.diff: a = trace, b = trace; op self time 75.000us -> 94.000us (+19.000us)")
    assert "aten::add" in text and "+35.000us" in text and "2.00x" in text


def test_inputs_that_are_not_runs():
    with pytest.raises(TypeError, match="torsh.viz.diff: expected a torsh.profiler.profile"):
        viz.diff(42, TRACE_A)
    with pytest.raises(ValueError, match="no 'traceEvents' list"):
        viz.diff({"events": []}, TRACE_A)


def test_files_that_are_not_traces(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json is not a JSON trace"):
        viz.diff(broken, TRACE_A)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a Chrome trace"):
        viz.diff(listing, TRACE_A)


def test_to_dataframe_or_a_clear_error_without_pandas():
    d = viz.diff(TRACE_A, TRACE_B)
    try:
        import pandas  # noqa: F401 - optional, not a torsh dependency
    except ImportError:
        with pytest.raises(ModuleNotFoundError, match="needs pandas"):
            d.to_dataframe()
        return
    frame = d.to_dataframe()
    assert list(frame["name"]) == [r.name for r in d.ops]
    assert list(frame["delta"]) == [r.delta for r in d.ops]


# -- real profiles and trace files ---------------------------------------------------------------

def test_torsh_profiles_aligned_by_step_op_and_module():
    a, b = _train(torsh, 3), _train(torsh, 2, extra_sigmoids=2)
    d = viz.diff(a, b)
    assert d.label_a == d.label_b == "torsh profile"
    assert d.notes == ["a recorded 3 steps, b 2: compared the first 2 of each"]
    steps_a = [e for e in a.events() if e.name.startswith("ProfilerStep#")]
    assert [(s.name_a, s.name_b) for s in d.steps] == [("ProfilerStep#1", "ProfilerStep#1"),
                                                       ("ProfilerStep#2", "ProfilerStep#2")]
    assert d.steps[0].time_a == pytest.approx(steps_a[0].cpu_time_total, abs=0.002)
    _assert_side_matches(d.ops, "b", _averages(b))  # b recorded exactly the compared steps
    end_of_second = steps_a[1].time_range.end
    in_two = [e for e in a.events() if e.category == "cpu_op" and e.time_range.start <= end_of_second]
    for row in d.ops:
        assert row.count_a == sum(e.name == row.name for e in in_two), row.name
    sigmoid = d.op("aten::sigmoid")
    assert (sigmoid.count_a, sigmoid.count_b, sigmoid.ratio) == (0, 4, None) and sigmoid.delta > 0
    assert d.op("aten::linear").count_a == d.op("aten::linear").count_b == 4
    deltas = [abs(r.delta) for r in d.ops]
    assert deltas == sorted(deltas, reverse=True)
    (block,) = d.modules
    assert (block.name, block.count_a, block.count_b) == ("Block", 2, 2)


def test_torsh_trace_files_give_the_profile_rows(tmp_path):
    a, b = _train(torsh, 2), _train(torsh, 2, extra_sigmoids=1)
    a.export_chrome_trace(str(tmp_path / "a.json"))
    b.export_chrome_trace(str(tmp_path / "b.json.gz"))
    from_files = viz.diff(tmp_path / "a.json", str(tmp_path / "b.json.gz"))
    from_profiles = viz.diff(a, b)
    assert (from_files.label_a, from_files.label_b) == ("a.json", "b.json.gz")
    assert [r.as_dict() for r in from_files.ops] == [r.as_dict() for r in from_profiles.ops]
    assert viz.diff(a.trace(), b).label_a == "torsh trace"


def test_paged_trace_files_are_read_with_their_pages(tmp_path):
    """A paged export keeps only its last page's detail in the main file: diff reads the page files too, so
    the rows are those of the whole run (each op's count as PyTorch's key_averages of the same steps)."""
    a, b = _train(torsh, 4), _train(torsh, 4, extra_sigmoids=1)
    a.export_chrome_trace(str(tmp_path / "a.json"), pages=True, page_events=20)
    b.export_chrome_trace(str(tmp_path / "b.json.gz"), pages=True, page_events=20)
    assert len(json.load(open(tmp_path / "a.json"))["torshPages"]["pages"]) > 2  # several pages on disk
    from_files = viz.diff(tmp_path / "a.json", str(tmp_path / "b.json.gz"))
    assert [r.as_dict() for r in from_files.ops] == [r.as_dict() for r in viz.diff(a, b).ops]
    reference = _averages(_train(torch_ref, 4))
    counts = {r.name: r.count_a for r in from_files.ops}
    assert counts["aten::linear"] == reference["aten::linear"][0] == 8  # 2 layers x 4 steps: every page read
    assert counts["aten::relu"] == reference["aten::relu"][0] == 4


@needs_torch
def test_pytorch_trace_against_torsh(tmp_path):
    reference = _train(torch_ref, 2)
    path = tmp_path / "torch.json"
    reference.export_chrome_trace(str(path))
    ours = _train(torsh, 2)
    d = viz.diff(path, ours, label_b="torsh")
    assert (d.label_a, d.label_b) == ("torch.json", "torsh")
    assert len(d.steps) == 2 and d.notes == []
    _assert_side_matches(d.ops, "a", _averages(reference))  # PyTorch's own counts and self times
    _assert_side_matches(d.ops, "b", _averages(ours))
    for op in ("aten::linear", "aten::relu", "AddmmBackward0"):  # the same code calls them as often in both
        assert d.op(op).count_a == d.op(op).count_b > 0, op
    (block,) = d.modules
    assert (block.name, block.count_a, block.count_b) == ("Block", 2, 2)
    assert viz.diff(json.loads(path.read_text()), ours).label_a == "PyTorch trace"


@needs_torch
def test_pytorch_module_scopes_of_with_modules(tmp_path):
    torch = torch_ref
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    x = torch.randn(8, 16)
    schedule = torch.profiler.schedule(wait=0, warmup=1, active=2, repeat=1)
    with torch.profiler.profile(schedule=schedule, with_modules=True, with_stack=True) as prof:
        for _ in range(3):
            model(x).sum().backward()
            prof.step()
    path = tmp_path / "modules.json"
    prof.export_chrome_trace(str(path))
    scopes = {}
    for e in json.loads(path.read_text())["traceEvents"]:
        if e.get("ph") == "X" and e["name"].startswith("nn.Module: "):
            scopes.setdefault(e["name"][len("nn.Module: "):], []).append(e["dur"])
    d = viz.diff(path, path)
    rows = {r.name: r for r in d.modules}
    assert set(rows) == set(scopes) >= {"Sequential_0", "Linear_0", "ReLU_0", "Linear_1"}
    for name, durations in scopes.items():
        assert rows[name].count_a == len(durations) == 2
        assert rows[name].total_a == pytest.approx(sum(durations), abs=1e-6)
        assert rows[name].total_b - rows[name].total_a == 0
    assert all(r.delta == 0 for r in d.ops)
