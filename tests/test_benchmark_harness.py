"""The benchmark harness (benchmarks/run.py, solo.py, report.py) and its workloads.

The harness must run every (workload, library) pair in a process of its own (torch and torsh in
one process measured PyTorch's W9 at 11.5-15.2 ms instead of 2.7 ms), record failures instead of
crashing, and write the JSON the RESULTS.md tables come from. Every workload must keep running
on torsh (and, being PyTorch code, on torch): they run once here at their tiny sizes.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
BENCH_MODULES = ("machine", "timing", "workloads", "solo", "report", "run")
TINY_TIMING = ["--budget", "0.01", "--min-repeat", "0.001", "--warmup", "1"]


@pytest.fixture(scope="module")
def bench():
    """benchmarks/ importable for this module only: {name: module} of the harness's modules."""
    sys.path.insert(0, BENCH_DIR)
    try:
        modules = {name: __import__(name) for name in BENCH_MODULES}
        yield modules
    finally:
        sys.path.remove(BENCH_DIR)
        for name in BENCH_MODULES:
            sys.modules.pop(name, None)


def run_script(args, timeout=120):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=BENCH_DIR)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def solo_result(stdout):
    line = [x for x in stdout.splitlines() if x.startswith("SOLO-RESULT ")][-1]
    return json.loads(line[len("SOLO-RESULT "):])


# -- the harness: separate processes, JSON structure ---------------------------------------------
@pytest.fixture(scope="module")
def harness_output(tmp_path_factory):
    """run.py on the 1-element add, torsh and NumPy, two rounds, tiny timing budgets."""
    out = tmp_path_factory.mktemp("bench")
    run_script(["run.py", "--only", "W1.1", "--libs", "torsh,numpy", "--rounds", "2", *TINY_TIMING,
                "--json", str(out / "r.json"), "--markdown", str(out / "r.md")])
    with open(out / "r.json") as f:
        return json.load(f), (out / "r.md").read_text()


def test_harness_output_structure(harness_output):
    output, markdown = harness_output
    assert {"mode", "commit", "machine", "threads", "rounds", "settings", "command", "load_average",
            "results"} <= set(output)
    assert output["mode"].startswith("solo")
    assert output["threads"] == 2 and output["rounds"] == 2
    commit = output["commit"].removesuffix("-dirty")  # others may commit meanwhile: HEAD or an ancestor
    assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=BENCH_DIR).returncode == 0
    for when in ("before", "after"):
        assert len(output["load_average"][when]) == 3
    assert output["machine"]["torsh"] == torsh.__version__
    assert output["machine"]["numpy"] == np.__version__
    [row] = output["results"]
    assert row["id"] == "W1.1" and row["key"] == "W1" and row["target"] == 1.5
    cells = row["cells"]
    assert cells["torch"]["status"] == "n/a" and row["ratio"] is None  # not run: --libs torsh,numpy
    for name in ("torsh", "numpy"):
        c = cells[name]
        assert c["status"] == "ok" and len(c["rounds"]) == 2
        assert 0 < c["min"] <= c["median"] <= c["max"] < 1
    assert row["torsh_variant"] not in ("", "-")  # the add went through the dispatcher, which says how
    assert "| W1.1" in markdown and str(output["load_average"]["before"]) in markdown


def test_harness_runs_each_library_in_its_own_process(harness_output):
    output, _ = harness_output
    cells = output["results"][0]["cells"]
    pids = [p["pid"] for name in ("torsh", "numpy") for p in cells[name]["processes"]]
    assert len(pids) == 4 and len(set(pids)) == 4 and os.getpid() not in pids  # a fresh process per round
    for p in cells["torsh"]["processes"]:
        assert p["loaded"] == ["numpy", "torsh"]  # no torch beside torsh
    for p in cells["numpy"]["processes"]:
        assert p["loaded"] == ["numpy"]


@needs_torch
def test_torch_worker_loads_no_torsh():
    result = solo_result(run_script(["solo.py", "--lib", "torch", "--workload", "W1.1", *TINY_TIMING]).stdout)
    assert result["status"] == "ok" and result["lib"] == "torch"
    assert result["loaded"] == ["numpy", "torch"]
    assert result["version"] == torch_ref.__version__
    assert result["threads"] == 2


# -- failures are recorded, not fatal -------------------------------------------------------------
def missing_feature(lib):
    raise NotImplementedError("torsh.fancy_op is not implemented\nsecond line")


def failing_call(lib):
    def call():
        raise RuntimeError("shapes (2, 3) and (4, 5) do not match")
    return call


def test_failing_workload_is_recorded(bench):
    settings = {"budget_seconds": 0.01, "min_repeat_seconds": 0.001, "warmup_calls": 1}
    setup_fails = bench["workloads"].Workload("WX", "broken setup", missing_feature, id="WX.1")
    call_fails = bench["workloads"].Workload("WX", "broken call", failing_call, id="WX.2")
    assert bench["solo"].measure(setup_fails, torsh, settings) == {
        "status": "fails", "error": "NotImplementedError: torsh.fancy_op is not implemented"}
    assert bench["solo"].measure(call_fails, torsh, settings) == {
        "status": "fails", "error": "RuntimeError: shapes (2, 3) and (4, 5) do not match"}

    records = {"torsh": [{"status": "fails", "error": "NotImplementedError: x | y"}],
               "torch": [{"status": "ok", "value": 1e-3}, {"status": "ok", "value": 2e-3}],
               "numpy": [{"status": "n/a"}]}
    row = bench["report"].summarize(setup_fails, records)
    assert row["ratio"] is None
    assert row["cells"]["torch"]["median"] == pytest.approx(1.5e-3)
    table = bench["report"].markdown_table(bench["report"].table_rows([row]))
    assert "fails: NotImplementedError: x \\| y" in table and "1.5 ms (1 ms - 2 ms)" in table


def test_crashed_worker_becomes_a_failure(bench):
    record = bench["run"].run_worker([sys.executable, "-c", "import sys; sys.exit('worker blew up')"], 60)
    assert record == {"status": "fails", "error": "worker exited with code 1: worker blew up"}


def test_rounds_alternate_the_library_order(bench):
    libraries = ["torsh", "torch", "numpy"]
    assert bench["run"].round_order(libraries, 0) == libraries
    assert bench["run"].round_order(libraries, 1) == ["numpy", "torch", "torsh"]


def test_ratio_is_median_ratio_with_round_range(bench):
    cells = {"torsh": {"status": "ok", "median": 2.0, "rounds": [1.0, 2.0, 3.0]},
             "torch": {"status": "ok", "median": 4.0, "rounds": [4.0, 4.0, 2.0]}}
    assert bench["report"].ratio(cells) == {"median": 0.5, "min": 0.25, "max": 1.5}


# -- every workload runs (tiny sizes) on torsh, and on torch and NumPy as the same code -------------
def workload_ids():
    sys.path.insert(0, BENCH_DIR)
    try:
        import workloads
        return [w.id for w in workloads.WORKLOADS]
    finally:
        sys.path.remove(BENCH_DIR)
        sys.modules.pop("workloads", None)


def run_once(workload, lib):
    """Set the row up at its tiny sizes and call it once; False if ``lib`` has no version of it."""
    fn = workload.setup(lib, **workload.tiny)
    if fn is None:
        return False
    fn()
    return True  # fn and its objects (a DataLoader's persistent workers) go with this frame


@pytest.mark.parametrize("row_id", workload_ids())
def test_workload_runs_on_torsh(bench, row_id):
    assert run_once(bench["workloads"].by_id(row_id), torsh)  # torsh has a version of every row


@needs_torch
@pytest.mark.parametrize("row_id", workload_ids())
def test_workload_is_pytorch_code(bench, row_id):
    """The same row runs on torch (so it measures PyTorch code) and on NumPy where it has a version."""
    workload = bench["workloads"].by_id(row_id)
    assert run_once(workload, torch_ref)
    run_once(workload, np)


def test_workload_ids_are_unique(bench):
    ids = [w.id for w in bench["workloads"].WORKLOADS]
    assert len(ids) == len(set(ids))
    assert {"W11", "W12", "W13", "W14", "W15", "W16"} <= {w.key for w in bench["workloads"].WORKLOADS}


# -- issue 20's targets, per row where the rows of a key differ ------------------------------------
def test_rows_carry_issue_20_targets(bench):
    target = {w.id: w.target for w in bench["workloads"].WORKLOADS}
    assert target["W1.2"] == 1.5 and target["W2.2"] == 1.1 and target["W2.4"] is None
    assert target["W6.1"] == target["W6.2"] == 0.9 and target["W8.1"] == target["W8.2"] == 1.0
    assert all(target[i] == 1.0 for i in ("W7.1", "W9.1", "W11.1", "W12.1", "W13.1", "W15.1"))
    assert all(target[f"W14.{n}"] == 1.2 for n in (1, 2, 3)) and target["W16.2"] == 1.1
    assert (target["W3.2"], target["W4.1"], target["W5.2"], target["W10.1"]) == (0.7, 1.1, 1.5, 0.7)  # kept
    assert target["W17.1"] == 1.5 and target["W17.2"] is None
    assert bench["workloads"].by_id("W17.1").speedup_target == ("W17.2", 5.0)
    assert "GPT-style block" in bench["workloads"].by_id("W8.2").name


def result_row(row_id, workload, target=None, copy_target=None, speedup_target=None, torsh=None, torch=None,
               numpy=None, work=None, unit=None):
    def cell(seconds):
        return {"status": "n/a"} if seconds is None else {"status": "ok", "median": seconds, "rounds": [seconds]}
    cells = {"torsh": cell(torsh), "torch": cell(torch), "numpy": cell(numpy)}
    ratio = {"median": torsh / torch, "min": torsh / torch, "max": torsh / torch} if torsh and torch else None
    return {"id": row_id, "workload": workload, "metric": "seconds", "work": work, "unit": unit, "target": target,
            "copy_target": copy_target, "speedup_target": speedup_target, "cells": cells, "ratio": ratio}


def test_targets_table_lists_every_target_of_a_row(bench):
    results = [
        result_row("W2.2", "add, 1e6 elements f32", target=1.1, copy_target=1.2, torsh=1e-3, torch=0.8e-3,
                   work=12e6, unit="GB/s"),
        result_row("W2.4", "copy, 1e6 f32", torsh=1e-3, numpy=0.5e-3, work=8e6, unit="GB/s"),
        result_row("W17.1", "vmap", target=1.5, speedup_target=("W17.2", 5.0), torsh=1e-3, torch=1e-3),
        result_row("W17.2", "loop", torsh=4e-3, torch=3e-3),
    ]
    rows = list(bench["report"].target_rows(results))[1:]
    assert [(r[0], r[4]) for r in rows] == [("W2.2", "missed"), ("W2.2", "missed"), ("W17.1", "met"),
                                            ("W17.1", "missed")]
    assert rows[0][2] == "torsh/PyTorch <= 1.1" and rows[0][3] == "1.25x"
    assert rows[1][3] == "12 vs 16 GB/s (factor 1.33)"  # add 12e6 B in 1 ms, NumPy's copy 8e6 B in 0.5 ms
    assert rows[3][2] == "torsh W17.2 time / this row's >= 5.0" and rows[3][3] == "4.00x"
