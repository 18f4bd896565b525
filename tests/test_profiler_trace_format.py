"""A checker for the Chrome Trace Event Format (as Perfetto and chrome://tracing read it), and its own tests.

``check_trace(trace)`` asserts that every event is well formed for its phase and that
complete ("X") events nest on each thread: a child starts and ends inside its parent.
"""
import json
import math

import pytest

_METADATA_NAMES = {"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"}
_TOLERANCE_US = 0.002  # ts and dur are rounded to the nanosecond separately


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_common(event):
    assert isinstance(event.get("name"), str) and event["name"], event
    assert isinstance(event.get("pid"), int), event
    assert _number(event.get("ts")), event


def check_event(event):
    assert isinstance(event, dict), event
    phase = event.get("ph")
    assert phase in ("X", "M", "C", "i", "s", "f"), event
    _check_common(event)
    if phase != "C":
        assert isinstance(event.get("tid"), int), event
    if "args" in event:
        assert isinstance(event["args"], dict), event
    if phase == "X":
        assert _number(event.get("dur")) and event["dur"] >= 0, event
        assert isinstance(event.get("cat", ""), str)
    elif phase == "M":
        assert event["name"] in _METADATA_NAMES, event
        assert isinstance(event.get("args"), dict) and event["args"], event
    elif phase == "C":
        assert event.get("args") and all(_number(v) for v in event["args"].values()), event
    elif phase == "i":
        assert event.get("s", "t") in ("g", "p", "t"), event
    else:  # flow start / finish
        assert "id" in event and isinstance(event.get("cat"), str), event
        if phase == "f":
            assert event.get("bp") == "e", event


def check_nesting(events):
    """On each (pid, tid), complete events either nest or do not overlap at all."""
    by_thread = {}
    for event in events:
        if event["ph"] == "X":
            by_thread.setdefault((event["pid"], event["tid"]), []).append(event)
    for thread_events in by_thread.values():
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        open_ends = []  # ends of the enclosing events, innermost last
        for event in thread_events:
            start, end = event["ts"], event["ts"] + event["dur"]
            while open_ends and open_ends[-1] <= start + _TOLERANCE_US and open_ends[-1] < end:
                open_ends.pop()
            if open_ends:
                assert end <= open_ends[-1] + _TOLERANCE_US, f"{event['name']} overlaps its parent's end"
            open_ends.append(end)


def check_flows(events):
    """Every flow has one start and at least one finish, each inside a complete event of its thread."""
    slices = {}
    for event in events:
        if event["ph"] == "X":
            slices.setdefault(event["tid"], []).append((event["ts"], event["ts"] + event["dur"]))
    starts, finishes = {}, {}
    for event in events:
        if event["ph"] in ("s", "f"):
            (starts if event["ph"] == "s" else finishes).setdefault(event["id"], []).append(event)
            assert any(a - _TOLERANCE_US <= event["ts"] <= b + _TOLERANCE_US for a, b in slices.get(event["tid"], ())), \
                f"flow {event} is not inside any slice of its thread"
    assert set(starts) == set(finishes)
    for flow_id, flow_starts in starts.items():
        assert len(flow_starts) == 1
        assert all(f["ts"] >= flow_starts[0]["ts"] for f in finishes[flow_id])


def check_trace(trace):
    """Assert ``trace`` (the JSON object) is a valid, well-nested Chrome trace."""
    json.loads(json.dumps(trace))  # plain JSON values only
    assert isinstance(trace, dict) and isinstance(trace.get("traceEvents"), list)
    for event in trace["traceEvents"]:
        check_event(event)
    check_nesting(trace["traceEvents"])
    check_flows(trace["traceEvents"])
    thread_ids = {e["tid"] for e in trace["traceEvents"] if e["ph"] == "X"}
    named = {e["tid"] for e in trace["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert thread_ids <= named, "every thread with events has a name"


# -- the checker itself must be able to fail ----------------------------------------------------------

def _x(name, ts, dur, tid=1):
    return {"ph": "X", "name": name, "pid": 1, "tid": tid, "ts": ts, "dur": dur}


_NAMES = [{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "ts": 0, "args": {"name": "main"}}]


def test_checker_accepts_nested_and_sequential_events():
    check_trace({"traceEvents": _NAMES + [_x("a", 0, 10), _x("b", 1, 3), _x("c", 4, 6), _x("d", 10, 1)]})


@pytest.mark.parametrize("bad", [
    [_x("parent", 0, 10), _x("child", 5, 10)],  # child ends after its parent
    [_x("a", 0, -1)],  # negative duration
    [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": "0", "dur": 1}],  # ts not a number
    [{"ph": "Q", "name": "a", "pid": 1, "tid": 1, "ts": 0}],  # unknown phase
    [{"ph": "C", "name": "mem", "pid": 1, "ts": 0, "args": {"bytes": "many"}}],  # non-numeric counter
    [_x("a", 0, 10), {"ph": "s", "name": "f", "cat": "c", "id": 1, "pid": 1, "tid": 1, "ts": 1}],  # no finish
    [_x("a", 0, 10, tid=2)],  # a thread without a name
])
def test_checker_rejects_malformed_traces(bad):
    with pytest.raises(AssertionError):
        check_trace({"traceEvents": _NAMES + bad})
