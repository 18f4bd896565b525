"""Trace detail in pages: ``export_chrome_trace(path, pages=...)`` writes the summaries, the step track
and the last page's detail at ``path`` and the other pages beside it; together they are the full export."""
import gzip
import json
import os
import pathlib

import jsonschema
import pytest

import torsh
from torsh.profiler import chrome_trace, profile
from torsh.viz import _trace_view

from helpers import needs_torch, torch_ref
from test_profiler_trace_format import check_trace


SCHEMA = json.loads((pathlib.Path(__file__).resolve().parent.parent / "docs/schemas/trace.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)
TRACE = jsonschema.Draft202012Validator(SCHEMA)


def _run(steps, lib=torsh, **options):
    w = lib.ones(8, requires_grad=True)
    with lib.profiler.profile(profile_memory=True, **options) as prof:
        for _ in range(steps):
            (w * 2.0).sum().backward()
            prof.step()
    return prof


def _read(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def _canonical(events):
    return sorted(json.dumps(e, sort_keys=True) for e in events)


@pytest.mark.parametrize("name", ["run.trace.json", "run.trace.json.gz"])
def test_main_file_and_pages_hold_exactly_the_full_export(tmp_path, name):
    prof = _run(40)
    full, paged = tmp_path / ("full_" + name), tmp_path / name
    prof.export_chrome_trace(str(full), pages=False)
    prof.export_chrome_trace(str(paged), pages=True, page_events=200)
    whole, main = _read(full), _read(paged)
    assert "torshPages" not in whole and not os.path.exists(str(full) + ".pages")
    index = main["torshPages"]
    assert index["version"] == 1 and index["dir"] == name + ".pages" and len(index["pages"]) > 3
    events = list(main["traceEvents"])
    for entry in index["pages"][:-1]:
        page = _read(tmp_path / index["dir"] / entry["file"])
        assert page["torshPage"] == entry and len(page["traceEvents"]) == entry["events"]
        check_trace({"traceEvents": [e for e in main["traceEvents"] if e["ph"] == "M"] + page["traceEvents"]})
        events += page["traceEvents"]
    assert index["pages"][-1]["file"] is None  # the last page is the main file's own detail
    assert _canonical(events) == _canonical(whole["traceEvents"])
    assert index["events"] == sum(e["ph"] != "M" and e.get("cat") != "step_summary" for e in whole["traceEvents"])
    check_trace(main)  # Perfetto / chrome://tracing open the main file on its own
    assert main["torshSummary"] == whole["torshSummary"]
    read_back = chrome_trace.read_trace(paged)  # main + pages, as one trace again
    assert _canonical(read_back["traceEvents"]) == _canonical(whole["traceEvents"])
    assert {k: v for k, v in read_back.items() if k not in ("traceEvents", "traceName")} == \
        {k: v for k, v in whole.items() if k not in ("traceEvents", "traceName")}


def test_pages_hold_whole_steps_in_time_order(tmp_path):
    prof = _run(30)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=150)
    main = _read(path)
    pages = main["torshPages"]["pages"]
    steps = {e["args"]["Step"]: e for e in main["traceEvents"] if e.get("cat") == "step_summary"}
    assert len(steps) == 30 and pages[0]["steps"][0] == 0 and pages[-1]["steps"][1] == 29
    for before, after in zip(pages, pages[1:]):
        assert after["steps"][0] == before["steps"][1] + 1  # contiguous, no step in two pages
        assert before["ts"][1] <= after["ts"][0] + 1e-3
    per_step = {op["name"]: op["count"] // 30 for op in main["torshSummary"]["ops"]}["aten::mul"]
    for entry in pages:
        events = chrome_trace.read_page(path, main, entry)
        first, last = steps[entry["steps"][0]], steps[entry["steps"][1]]
        muls = [e for e in events if e["name"] == "aten::mul" and e["ph"] == "X"]
        assert len(muls) == per_step * (entry["steps"][1] - entry["steps"][0] + 1)  # every call of its steps
        assert all(first["ts"] <= e["ts"] <= last["ts"] + last["dur"] for e in events if e["ph"] == "X")


def test_small_traces_are_not_paged_unless_asked_and_stale_pages_go(tmp_path):
    prof = _run(3)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=10)
    assert len(os.listdir(str(path) + ".pages")) == len(_read(path)["torshPages"]["pages"]) - 1 > 0
    prof.export_chrome_trace(str(path))  # 3 steps: far under the threshold, one file
    assert "torshPages" not in _read(path) and not os.path.exists(str(path) + ".pages")


def test_default_pages_a_trace_above_the_threshold(tmp_path, monkeypatch):
    prof = _run(10)
    monkeypatch.setattr(chrome_trace, "PAGED_ABOVE_EVENTS", 50)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), page_events=40)
    assert len(_read(path)["torshPages"]["pages"]) > 1


def test_a_run_without_steps_pages_by_time_without_splitting_a_call(tmp_path):
    x = torsh.ones(4)
    with profile() as prof:
        for _ in range(50):
            with torsh.profiler.record_function("block"):
                x.mul(2.0).add(1.0)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=20)
    main = _read(path)
    pages = main["torshPages"]["pages"]
    assert len(pages) > 2 and all(entry["steps"] is None for entry in pages)
    for entry in pages:
        events = chrome_trace.read_page(path, main, entry)
        names = [e["name"] for e in events]
        assert names.count("block") == names.count("aten::mul") == names.count("aten::add")  # whole trees


@needs_torch
def test_the_paged_export_keeps_the_calls_pytorch_records():
    """Paging moves events between files, it drops none: per-op counts over main + pages are PyTorch's."""
    prof = _run(12)
    main, files = chrome_trace.paged_trace(prof.trace(), "x.pages", page_events=30)
    events = main["traceEvents"] + [e for _, page in files for e in page["traceEvents"]]
    counts = {}
    for e in events:
        if e["ph"] == "X" and e.get("cat") == "cpu_op":
            counts[e["name"]] = counts.get(e["name"], 0) + 1
    reference = _run(12, lib=torch_ref)
    expected = {a.key: a.count for a in reference.key_averages()}
    for name in ("aten::mul", "aten::sum"):
        assert counts[name] == expected[name]


def test_paged_trace_summaries_and_sources_match_the_schema(tmp_path):
    x = torsh.ones(4)
    with profile(keep_steps=5, with_stack=True) as prof:
        for _ in range(12):
            x.mul(2.0).add(1.0)
            prof.step()
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=6)
    main = _read(path)
    TRACE.validate(main)
    for entry in main["torshPages"]["pages"][:-1]:
        TRACE.validate(_read(tmp_path / main["torshPages"]["dir"] / entry["file"]))
    assert len(main["torshPages"]["pages"]) > 1 and main["torshSummary"]["steps"] == 12
    step = next(e for e in main["traceEvents"] if e.get("cat") == "step_summary")
    wrong = [dict(main, torshPages=dict(main["torshPages"], version=2)),
             dict(main, torshPages=dict(main["torshPages"], pages=[])),
             dict(main, torshSummary={"steps": 12}),
             dict(main, traceEvents=[dict(step, args=dict(step["args"], Detailed=2))]),
             dict(main, traceEvents=[dict(step, args={"Step": 0})])]
    for bad in wrong:
        assert not TRACE.is_valid(bad)
    [call] = [e for e in main["traceEvents"] if e["name"] == "aten::mul"][:1]
    named_cell = dict(call, args=dict(call["args"], **{"Source cell": "In [3]"}))  # a count, not a label
    assert not TRACE.is_valid(dict(main, traceEvents=[named_cell]))


def _zoom(view, start_us, end_us):
    """What a zoom in the browser sends over the figure's comm (plotly's relayout message)."""
    view.figure.plotly_relayout({"xaxis.range[0]": (start_us - view.t0) / 1000.0,
                                 "xaxis.range[1]": (end_us - view.t0) / 1000.0})


@pytest.mark.parametrize("source", ["file", "profile"])
def test_trace_view_reads_a_page_when_a_zoom_reaches_it(tmp_path, monkeypatch, source):
    prof = _run(30)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=150)
    main = _read(path)
    index = main["torshPages"]["pages"]
    if source == "file":
        view = _trace_view.trace_view(str(path))
    else:
        monkeypatch.setattr(chrome_trace, "PAGE_EVENTS", 150)
        monkeypatch.setattr(chrome_trace, "PAGED_ABOVE_EVENTS", 100)
        view = _trace_view.trace_view(prof)
        assert view.pages.index["pages"] == index  # the same pages as the export, kept in the kernel
    muls = lambda: sum(1 for b in view.bars if b["name"] == "aten::mul")  # noqa: E731
    assert muls() == sum(1 for e in main["traceEvents"] if e["name"] == "aten::mul" and e["ph"] == "X")
    assert view.figure.layout.xaxis.range[1] == pytest.approx((index[-1]["ts"][1] - view.t0) / 1000.0)
    _zoom(view, index[0]["ts"][0], index[-1]["ts"][1])  # the whole run: its pages fit the budget, all read
    assert view.pages.loaded == set(range(len(index)))
    every = sum(1 for e in prof.trace()["traceEvents"] if e["name"] == "aten::mul" and e["ph"] == "X")
    assert muls() == every
    drawn = view.figure.data[0]
    assert list(drawn.text).count("aten::mul") == every and len(drawn.x) == len(view.drawn)


def test_trace_view_reads_only_the_pages_in_view_and_none_when_zoomed_out_too_far(tmp_path, monkeypatch):
    prof = _run(30)
    path = tmp_path / "run.trace.json"
    prof.export_chrome_trace(str(path), pages=True, page_events=150)
    view = _trace_view.trace_view(str(path))
    pages = view.pages.index["pages"]
    last = len(pages) - 1
    assert view.pages.loaded == {last} and "1 read" in view.page_status.value
    monkeypatch.setattr(_trace_view, "PAGE_BUDGET", pages[0]["events"] + pages[1]["events"] - 1)
    _zoom(view, pages[0]["ts"][0], pages[1]["ts"][1])  # two pages: over the budget, nothing read
    assert view.pages.loaded == {last}
    middle = (pages[1]["ts"][0] + pages[1]["ts"][1]) / 2
    _zoom(view, middle - 1, middle + 1)
    assert view.pages.loaded == {1, last}
    read = chrome_trace.read_page(path, _read(path), pages[1])
    names = [b["name"] for b in view.bars]
    assert names.count("aten::mul") == sum(e["name"] == "aten::mul" and e["ph"] == "X"
                                           for e in read + _read(path)["traceEvents"])
    bundle = view._repr_mimebundle_()[chrome_trace.MIME_TYPE]  # the main part, pointing at the page files
    assert os.path.abspath(bundle["torshPages"]["dir"]) == str(path) + ".pages"
    assert len(bundle["traceEvents"]) == len(_read(path)["traceEvents"])


@needs_torch
def test_export_chrome_trace_takes_pytorchs_arguments(tmp_path):
    """PyTorch's export_chrome_trace(path, use_python_export=False): both exporters write the same file here."""
    for lib in (torsh, torch_ref):
        prof = _run(2, lib=lib)
        prof.export_chrome_trace(str(tmp_path / f"{lib.__name__}_a.json"), True)
        prof.export_chrome_trace(str(tmp_path / f"{lib.__name__}_b.json"), use_python_export=False)
        for name in ("a", "b"):
            names = {e["name"] for e in _read(tmp_path / f"{lib.__name__}_{name}.json")["traceEvents"]}
            assert "aten::mul" in names


def test_trace_view_puts_every_step_of_the_step_track_on_one_row():
    """Steps end where the next starts; rounded to ns apart, one may end 1 ns late: still not nested."""
    prof = _run(40)
    bars, _ = _trace_view.flame_rows(prof.trace())
    steps = [b for b in bars if b["cat"] == "step_summary"]
    assert len(steps) == 40 and {b["depth"] for b in steps} == {0}
