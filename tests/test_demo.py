"""torsh.demo (the main job): it trains with torsh.nn/optim, and its profile is a valid,
properly nested Chrome trace holding the training phases and the kernel dispatch decisions."""
import json

import pytest

from test_profiler_trace_format import check_trace
from torsh import demo

PHASES = ("forward", "backward", "optimizer")
STEPS = 40


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo.main(["--out", str(out), "--steps", str(STEPS)])
    with open(out / "demo.trace.json") as f:
        trace = json.load(f)
    with open(out / "summary.json") as f:
        assert json.load(f) == summary  # JSON round-trips Python floats exactly
    return summary, trace


def ranges(trace, name):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e["name"] == name]


def inside(inner, outer):
    return (inner["tid"] == outer["tid"] and outer["ts"] <= inner["ts"]
            and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"] + 0.01)


def test_training_reduces_the_loss(run):
    summary, _ = run
    assert summary["steps"] == STEPS
    assert summary["final_loss"] < 0.5 * summary["first_loss"]
    assert 0.0 <= summary["accuracy"] <= 1.0


def test_profile_is_a_valid_chrome_trace(run):
    _, trace = run
    check_trace(trace)  # every event against the Trace Event Format, and nesting per thread


def test_each_step_holds_its_three_phases(run):
    _, trace = run
    steps = ranges(trace, "step")
    assert len(steps) == STEPS
    for phase in PHASES:
        events = ranges(trace, phase)
        assert len(events) == STEPS
        assert all(any(inside(e, s) for s in steps) for e in events)


def test_ops_carry_their_dispatch_decisions(run):
    summary, trace = run
    decisions = [d for e in trace["traceEvents"] if e["ph"] == "X"
                 for d in e.get("args", {}).get("Dispatch", ())]
    assert decisions and all(d["variant"] in ("numpy", "pythran_simd", "pythran_omp") for d in decisions)
    # the hidden tanh runs on 1500 x 64 = 96,000 elements: NumPy's SIMD tanh, which beats the compiled kernel
    # at every size (backend/families.py)
    assert summary["dispatch"]["tanh:numpy"] == 2 * STEPS
