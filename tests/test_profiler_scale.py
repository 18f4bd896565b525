"""Traces that scale: ``profile(keep_steps=N)`` keeps detail for the last N steps only, and running
per-op / per-step summaries count every step (torsh/profiler/summary.py)."""
import json
import tracemalloc

import pytest

import torsh
from torsh.profiler import chrome_trace, profile, record_function

from helpers import needs_torch, torch_ref
from test_profiler_trace_format import check_trace


def _train_step(lib, w):
    with record_function("step_body") if lib is torsh else lib.profiler.record_function("step_body"):
        loss = (w * 2.0).sum()
        loss.backward()


def _run(keep_steps, steps, lib=torsh, **options):
    w = lib.ones(8, requires_grad=True)
    with profile(keep_steps=keep_steps, **options) as prof:
        for _ in range(steps):
            _train_step(lib, w)
            prof.step()
    return prof


def test_summaries_equal_key_averages_of_a_full_detail_run():
    prof = _run(None, 30, profile_memory=True)
    averages = {(a.key, a.is_user_annotation): a for a in prof.key_averages()}
    ops = prof.summary().ops
    assert {(op.name, op.cat == "user_annotation") for op in ops.values()} == set(averages)
    for op in ops.values():
        average = averages[(op.name, op.cat == "user_annotation")]
        assert op.count == average.count
        assert op.total_ns / 1000 == pytest.approx(average.cpu_time_total, rel=1e-9, abs=1e-3)
        assert op.self_ns / 1000 == pytest.approx(average.self_cpu_time_total, rel=1e-9, abs=1e-3)
        assert op.memory == average.cpu_memory_usage and op.self_memory == average.self_cpu_memory_usage
        durations = [e.cpu_time_total for e in prof.events() if e.name == op.name]
        assert op.min_ns / 1000 == pytest.approx(min(durations), abs=1e-3)
        assert op.max_ns / 1000 == pytest.approx(max(durations), abs=1e-3)
    assert [s.step for s in prof.summary().steps] == list(range(30))


def test_ring_buffer_keeps_the_last_steps_and_counts_every_step():
    full, ring = _run(None, 60), _run(5, 60)
    full_counts = {op.name: op.count for op in full.summary().ops.values()}
    assert {op.name: op.count for op in ring.summary().ops.values()} == full_counts
    assert full_counts["aten::sum"] == full_counts["step_body"] == 60
    kept = ring.summary().steps
    assert [s.step for s in kept if s.detailed] == [55, 56, 57, 58, 59]
    # the detail kept is exactly those steps' calls: per-step totals match the summaries
    by_name = {}
    for event in ring.events():
        by_name[event.name] = by_name.get(event.name, 0) + 1
    assert by_name["aten::sum"] == by_name["step_body"] == 5
    for step in (s for s in kept if s.detailed):
        inside = [e for e in ring.events() if e.category == "cpu_op"
                  and step.start_ns / 1000 <= e.time_range.start <= step.end_ns / 1000]
        assert len(inside) == step.ops
        assert sum(e.self_cpu_time_total for e in inside) == pytest.approx(step.op_self_ns / 1000, abs=1e-3)


@needs_torch
def test_summary_counts_match_pytorch_key_averages():
    """The ops and call counts over all steps are those PyTorch's profiler counts for the same loop."""
    torsh_counts = {op.name: op.count for op in _run(3, 12).summary().ops.values()}
    w = torch_ref.ones(8, requires_grad=True)
    with torch_ref.profiler.profile() as reference:
        for _ in range(12):
            _train_step(torch_ref, w)
    expected = {a.key: a.count for a in reference.key_averages()}
    for name in ("aten::mul", "aten::sum", "step_body"):
        assert torsh_counts[name] == expected[name]


def test_keep_steps_must_be_positive():
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="keep_steps must be a positive int"):
            profile(keep_steps=bad)


def _tiny_steps(prof, x, steps):
    for _ in range(steps):
        x.mul(2.0).add(1.0)
        prof.step()


def test_ten_thousand_steps_stay_bounded(tmp_path):
    """10,000 profiled steps: the profiler's memory stops growing with the steps (only a small summary
    per step remains) and the trace stays a few MB, valid Chrome format, every step on the step track."""
    x = torsh.ones(4)
    with profile(keep_steps=10, record_shapes=True) as prof:
        _tiny_steps(prof, x, 1_000)  # the ring buffer is full from here on
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            _tiny_steps(prof, x, 9_000)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert grown < 9_000 * 400, f"{grown} bytes kept for 9,000 steps"  # full detail keeps ~1.2 KB a step
    path = tmp_path / "long.trace.json"
    prof.export_chrome_trace(str(path))
    size = path.stat().st_size
    assert size < 5_000_000, size  # the bound is 50 MB; full detail of these steps is ~6 MB
    trace = json.loads(path.read_text())
    check_trace(trace)
    steps = [e for e in trace["traceEvents"] if e.get("cat") == "step_summary"]
    assert len(steps) == 10_000 and sum(e["args"]["Detailed"] for e in steps) == 10
    summary = trace["torshSummary"]
    assert summary["steps"] == 10_000 and summary["keepSteps"] == 10 and summary["detailedSteps"] == [9990, 9999]
    counts = {op["name"]: op["count"] for op in summary["ops"]}
    assert counts["aten::mul"] == counts["aten::add"] == 10_000
    detail = [e for e in trace["traceEvents"] if e.get("name") == "aten::mul" and e["ph"] == "X"]
    assert len(detail) == 10


def _scheduled_run(lib, keep_steps=None):
    x = lib.ones(4)
    options = {"keep_steps": keep_steps} if lib is torsh else {}
    with lib.profiler.profile(schedule=lib.profiler.schedule(wait=1, warmup=1, active=6), **options) as prof:
        for _ in range(8):
            x.mul(2.0)
            prof.step()
    return prof


@needs_torch
def test_keep_steps_with_a_schedule_summarizes_every_active_step_as_pytorch_counts_them():
    prof = _scheduled_run(torsh, keep_steps=2)
    steps = prof.summary().steps
    assert [s.step for s in steps] == [2, 3, 4, 5, 6, 7]  # the active window; warm-up dropped
    assert [s.step for s in steps if s.detailed] == [6, 7]
    assert sorted(e.name for e in prof.events() if e.is_user_annotation) == ["ProfilerStep#6", "ProfilerStep#7"]
    reference = {a.key: a.count for a in _scheduled_run(torch_ref).key_averages()}
    summary = {op.name: op.count for op in prof.summary().ops.values()}
    assert summary["aten::mul"] == reference["aten::mul"] == 6
    assert sum(n for name, n in summary.items() if name.startswith("ProfilerStep#")) == 6
    check_trace(prof.trace())


def test_notebook_output_of_a_long_full_detail_run_keeps_the_last_steps_calls():
    x = torsh.ones(4)
    with profile() as prof:
        for _ in range(300):
            x.mul(2.0).add(1.0)
            prof.step()
    trace = prof.trace()
    shown = chrome_trace.for_display(trace, max_calls=101)
    check_trace(shown)
    calls = [e for e in shown["traceEvents"] if e["ph"] == "X" and e.get("cat") == "cpu_op"]
    assert 99 <= len(calls) <= 101 and len(calls) % 2 == 0  # whole steps only, 2 calls each
    steps = [e for e in shown["traceEvents"] if e.get("cat") == "step_summary"]
    assert len(steps) == 300 and sum(e["args"]["Detailed"] for e in steps) == len(calls) // 2
    assert shown["torshSummary"]["detailedSteps"] == [300 - len(calls) // 2, 299]
    assert {op["name"]: op["count"] for op in shown["torshSummary"]["ops"]}["aten::mul"] == 300
    assert shown["torshDisplay"]["calls"] == 600
    assert chrome_trace.for_display(trace, max_calls=600) is trace  # under the bound: the whole trace
    bundle = prof._repr_mimebundle_()
    assert len([e for e in bundle[chrome_trace.MIME_TYPE]["traceEvents"] if e.get("cat") == "cpu_op"]) == 600
