"""torsh.demo: it trains, and its trace.json is a well-formed, properly nested Chrome trace."""
import json
from collections import defaultdict

import pytest

from torsh import demo

PHASES = ("forward", "backward", "optimizer")
REQUIRED_KEYS = {"X": {"name", "ph", "ts", "dur", "pid", "tid"}, "C": {"name", "ph", "ts", "pid", "args"}}
SLACK_US = 0.01  # ts and dur are rounded to 1 ns independently, so ts + dur may overshoot by that much


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo.main(["--out", str(out), "--steps", "60"])
    with open(out / "trace.json") as f:
        trace = json.load(f)
    return summary, trace


def complete_events(trace, name=None, cat=None):
    return [e for e in trace["traceEvents"] if e["ph"] == "X"
            and (name is None or e["name"] == name) and (cat is None or e.get("cat") == cat)]


def lies_within(inner, outers):
    return any(outer["pid"] == inner["pid"] and outer["tid"] == inner["tid"]
               and outer["ts"] - SLACK_US <= inner["ts"]
               and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + SLACK_US
               for outer in outers)


def test_loss_decreases(run):
    summary, trace = run
    losses = [e["args"]["loss"] for e in trace["traceEvents"] if e["ph"] == "C" and e["name"] == "loss"]
    assert len(losses) == summary["steps"] == 60
    assert losses[-1] < losses[0]
    assert summary["final_loss"] == pytest.approx(losses[-1])


def test_trace_is_chrome_trace_format(run):
    _, trace = run
    assert trace["displayTimeUnit"] == "ms"
    assert {e["name"] for e in trace["traceEvents"] if e["ph"] == "M"} >= {"process_name", "thread_name"}
    for event in trace["traceEvents"]:
        missing = REQUIRED_KEYS.get(event["ph"], set()) - event.keys()
        assert not missing, f"{event} lacks {missing}"


def test_one_step_event_per_step_each_with_all_phases(run):
    summary, trace = run
    steps = complete_events(trace, "step")
    assert len(steps) == summary["steps"]
    for phase in PHASES:
        assert len(complete_events(trace, phase)) == len(steps)


def test_phases_nest_in_steps_and_dispatches_in_phases(run):
    _, trace = run
    steps = complete_events(trace, "step")
    phases = [e for e in complete_events(trace) if e["name"] in PHASES]
    for phase in phases:
        assert lies_within(phase, steps), f"{phase} is not inside any step"
    phases_by_thread = defaultdict(list)
    for phase in phases:
        phases_by_thread[phase["pid"], phase["tid"]].append(phase)
    for event in complete_events(trace, cat="dispatch"):
        assert lies_within(event, phases_by_thread[event["pid"], event["tid"]]), f"{event} is not inside any phase"


def test_dispatch_decisions_are_recorded(run):
    summary, trace = run
    dispatches = complete_events(trace, cat="dispatch")
    assert dispatches
    assert all(isinstance(e["args"]["variant"], str) and e["args"]["variant"] for e in dispatches)
    assert sum(sum(by_variant.values()) for by_variant in summary["dispatch_counts"].values()) == len(dispatches)
