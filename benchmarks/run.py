"""Time torsh, PyTorch and NumPy on the workloads in workloads.py, each in a process of its own.

    python benchmarks/run.py [--rounds 3] [--threads 2] [--quick] [--full] [--only W5,W6.1]
                             [--libs torsh,torch,numpy] [--json PATH] [--markdown PATH] [--same-process]

Every (workload row, library, round) runs in a fresh worker process (solo.py) that imports
only that library, sets the same thread count for all, warms up and times the median of
repeated calls over ``--budget`` seconds (0.5). Rounds run one after the other over all rows,
and the library order alternates from round to round (torsh, torch, numpy, then the reverse),
so a slow spell of the shared host lands on different libraries. Each cell is the median over
the rounds with the rounds' range; the torsh/PyTorch column is the ratio of the medians with
the range of the per-round ratios. A workload that fails on a library is recorded as
"fails: <error>" and the run goes on. This process imports none of the libraries.

``--same-process`` is the old mode: all libraries imported into this one process, measured
one after another. It is BIASED: PyTorch's W9 took 2.7 ms in a process of its own but
11.5-15.2 ms there after torsh's workloads ran (idle thread pools, OpenMP and BLAS threads of
one library compete with the other's). Kept only to reproduce the old numbers.

The JSON (``--json``) and Markdown (``--markdown``, ready for RESULTS.md) outputs record the
machine, the commit (``git describe --always --dirty``), the command, the load average before
and after, and per cell the rounds and the worker processes (pid and loaded libraries).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import machine
import report
from solo import DEFAULT_SETTINGS, RESULT_PREFIX
from workloads import WORKLOADS

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOLO = os.path.join(BENCH_DIR, "solo.py")
DEFAULT_THREADS = 2  # the reference machine's core count; every library gets the same
QUICK_SETTINGS = {"budget_seconds": 0.15, "min_repeat_seconds": 0.005, "warmup_calls": 1}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing budget per cell (0.15 s)")
    parser.add_argument("--full", action="store_true", help="also the slow rows (add at 1e7, ...)")
    parser.add_argument("--only", metavar="KEYS", help="comma-separated workload keys or row ids, e.g. W5,W6.1")
    parser.add_argument("--libs", default=",".join(report.LIBRARIES), help="comma-separated libraries to run")
    parser.add_argument("--json", metavar="PATH", help="also save the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write machine, command, tables as Markdown")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads for every library (1 gives steadier numbers on a busy machine)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure every cell this many times, the library order alternating per round")
    parser.add_argument("--budget", type=float, help="seconds of timed repeats per cell after warm-up")
    parser.add_argument("--min-repeat", type=float, help="seconds: each repeat times a batch at least this long")
    parser.add_argument("--warmup", type=int, help="warm-up calls before timing")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a worker is given up")
    parser.add_argument("--return-memory", action="store_true",
                        help="keep glibc's default of handing large freed blocks back to the kernel (by default "
                             "the timed rows keep them: page faults on this VM cost ~5 us each, see "
                             "machine.keep_freed_memory)")
    parser.add_argument("--same-process", action="store_true",
                        help="the old, BIASED mode: every library in this one process (see the docstring)")
    return parser.parse_args(argv)


def timing_settings(args):
    settings = dict(QUICK_SETTINGS if args.quick else DEFAULT_SETTINGS)
    for name, value in (("budget_seconds", args.budget), ("min_repeat_seconds", args.min_repeat),
                        ("warmup_calls", args.warmup)):
        if value is not None:
            settings[name] = value
    return settings


def selected(args):
    """The rows named by --only (keys select all their rows, ids one), minus --full-only rows."""
    names = {k.strip().upper() for k in args.only.split(",")} if args.only else None
    for workload in WORKLOADS:
        if names is not None and workload.key not in names and workload.id not in names:
            continue
        if workload.full_only and not args.full and not (names and workload.id in names):
            continue
        yield workload


def installed(libraries):
    """The libraries that can be imported (found without importing them here)."""
    return [name for name in libraries if importlib.util.find_spec(name) is not None]


def round_order(libraries, round_index):
    return list(libraries) if round_index % 2 == 0 else list(reversed(libraries))


def worker_command(workload, library, args, settings):
    command = [sys.executable, SOLO, "--lib", library, "--workload", workload.id, "--threads", str(args.threads),
               "--budget", str(settings["budget_seconds"]), "--min-repeat", str(settings["min_repeat_seconds"]),
               "--warmup", str(settings["warmup_calls"])]
    return command + (["--return-memory"] if args.return_memory else [])


def run_worker(command, timeout):
    """The worker's result record; a crash or a timeout becomes a "fails" record."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=BENCH_DIR)
    except subprocess.TimeoutExpired:
        return {"status": "fails", "error": f"worker timed out after {timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"status": "fails", "error": f"worker exited with code {done.returncode}: {last}"[:300]}


def settled(records):
    """A cell that failed or has no version for its library need not run again next round."""
    return bool(records) and records[-1]["status"] in ("fails", "n/a")


def measure_solo(rows, libraries, args, settings):
    """{row id: {library: [record per round]}}, every record from a fresh worker process."""
    records = {w.id: {name: [] for name in libraries} for w in rows}
    for round_index in range(args.rounds):
        for workload in rows:
            for library in round_order(libraries, round_index):
                cell_records = records[workload.id][library]
                if settled(cell_records):
                    continue
                record = run_worker(worker_command(workload, library, args, settings), args.timeout)
                cell_records.append(record)
                print(f"  round {round_index + 1}/{args.rounds} {workload.id} {library}: {short(record)}",
                      file=sys.stderr)
    return records


def short(record):
    if record["status"] != "ok":
        return record["status"] + (": " + record["error"] if "error" in record else "")
    return f"{record['value']:.4g}"


def git_commit():
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True, cwd=BENCH_DIR).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def machine_info(records, libraries):
    """machine.describe with the versions and the malloc setting the workers reported."""
    versions, malloc = {}, None
    for by_library in records.values():
        for name, rounds in by_library.items():
            for record in rounds:
                versions.setdefault(name, record.get("version"))
                malloc = malloc or (record.get("malloc") if record.get("status") == "ok" else None)
    info = machine.describe({name: versions.get(name) or "n/a" for name in report.LIBRARIES})
    del info["load_average_1min"]  # the output records the load average before and after instead
    info["malloc"] = f"{malloc} (timed rows; memory rows: glibc defaults)" if malloc else machine.malloc_setting
    info["libraries run"] = ", ".join(libraries)
    return info


def main(argv=None):
    args = parse_args(argv)
    settings = timing_settings(args)
    libraries = installed([name.strip() for name in args.libs.split(",")])
    rows = list(selected(args))
    before, started = load_average(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.same_process:
        import same_process  # imports every library into this process
        records = same_process.measure(rows, libraries, args, settings)
    else:
        records = measure_solo(rows, libraries, args, settings)
    results = [report.summarize(w, records[w.id]) for w in rows]
    output = {"mode": "same-process (biased)" if args.same_process else "solo (a fresh process per cell)",
              "commit": git_commit(), "machine": machine_info(records, libraries), "threads": args.threads,
              "rounds": args.rounds, "settings": settings, "command": " ".join(["python"] + sys.argv),
              "load_average": {"before": before, "after": load_average()}, "started": started,
              "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results}
    print(report.markdown_table(report.table_rows(results)))
    print()
    print(report.targets_table(results))
    print(f"\nload average before {before}, after {output['load_average']['after']}; commit {output['commit']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(output, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.markdown_report(output))
    return output


if __name__ == "__main__":
    main()
