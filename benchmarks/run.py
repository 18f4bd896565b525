"""Time torsh, PyTorch and NumPy side by side on the workloads in workloads.py.

    python benchmarks/run.py [--quick] [--full] [--only W5,W6] [--json PATH] [--markdown PATH]

All three run in this one process, one workload after another, so they see the same machine
state. Each cell is the median per-call time over the repeats (see timing.py); a workload
whose single call takes more than 50 ms gets fewer repeats (at least 3, about 1 s per cell)
so that the default run stays within a few minutes. "torsh kernel" says which kernel variants
torsh's dispatcher chose for the workload's dispatched ops (recorded during the warm-up call).

``--markdown PATH`` writes the machine, the command, the numbers and the targets table
(met/missed against workloads.TARGETS) as Markdown, ready for RESULTS.md.

OPENBLAS_CORETYPE may be set on this machine (it pins the CPU kernels OpenBLAS picks); it
affects only BLAS workloads (matmul, conv2d, the models). Its value is printed.

Freed memory stays in the process (``machine.keep_freed_memory``, unless ``--return-memory``):
page faults are so slow on this VM that a library returning an 8 MB block to the kernel
between calls measured 5x slower for it, depending on what ran before.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

import torsh
from torsh.backend import dispatch

from machine import describe, keep_freed_memory
from timing import median_seconds, seconds_per_call
from workloads import WORKLOADS

try:
    import torch
except ImportError:  # the table still runs; the PyTorch column says n/a
    torch = None

LIBRARIES = {"torsh": torsh, "torch": torch, "numpy": np}  # column order; None = not importable
DEFAULT_THREADS = 2  # the reference machine's core count; every library gets the same
SETTINGS = {False: {"repeats": 15, "min_repeat_seconds": 0.02, "slow_cell_seconds": 1.0},  # default
            True: {"repeats": 5, "min_repeat_seconds": 0.005, "slow_cell_seconds": 0.3}}  # --quick
SLOW_CALL = 0.05  # seconds: above this a call is timed one by one, within the slow-cell budget


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--full", action="store_true", help="also the slow rows (add at 1e7, ...)")
    parser.add_argument("--only", metavar="KEYS", help="comma-separated workload keys, e.g. W5,W6")
    parser.add_argument("--json", metavar="PATH", help="also save the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write machine, command, table and targets as Markdown")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads for every library (1 gives steadier numbers on a busy machine)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every row this many times (the libraries take turns each round); "
                             "cells are the median over rounds and the ratio column shows the rounds' range")
    parser.add_argument("--return-memory", action="store_true",
                        help="keep glibc's default of handing large freed blocks back to the kernel (by default "
                             "they are kept: page faults on this VM cost ~5 us each, see machine.keep_freed_memory)")
    return parser.parse_args(argv)


def set_threads(n):
    torsh.set_num_threads(n)  # also limits NumPy's BLAS, through threadpoolctl
    if torch is not None:
        torch.set_num_threads(n)


def time_cell(fn, settings):
    """Median seconds per call; the first (warm-up) call decides between batches and single calls."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first < SLOW_CALL:
        return median_seconds(fn, settings["repeats"], settings["min_repeat_seconds"])
    repeats = max(3, min(settings["repeats"], int(settings["slow_cell_seconds"] / first)))
    return statistics.median(seconds_per_call(fn, 1) for _ in range(repeats))


def torsh_variants(fn):
    """Run ``fn`` once; the kernel variants torsh's dispatcher picked, e.g. "numpy"."""
    with dispatch.record() as records:
        fn()
    return ", ".join(sorted({r.variant for r in records})) or "-"


def measure(workload, settings):
    """One table row: seconds per call for each library (None if unavailable) and torsh's variants.

    A setup returns None where a library has no equivalent (NumPy has no autograd)."""
    seconds, variant = {}, "-"
    for name, lib in LIBRARIES.items():
        fn = workload.setup(lib) if lib is not None else None
        if fn is not None and name == "torsh":
            variant = torsh_variants(fn)  # doubles as a warm-up call
        seconds[name] = time_cell(fn, settings) if fn is not None else None
    return {"key": workload.key, "workload": workload.name, "seconds": seconds, "torsh_variant": variant,
            "work": workload.work, "unit": workload.unit, "target": workload.target,
            "copy_target": workload.copy_target}


def measure_rounds(workload, settings, rounds):
    """``measure`` ``rounds`` times: per library the median over rounds, plus the range of the
    per-round torsh/PyTorch ratios (on a shared VM one round can land in a slow spell of the host)."""
    runs = [measure(workload, settings) for _ in range(rounds)]
    result = dict(runs[0])
    result["seconds"] = {name: None if runs[0]["seconds"][name] is None else
                         statistics.median(r["seconds"][name] for r in runs) for name in runs[0]["seconds"]}
    ratios = [r["seconds"]["torsh"] / r["seconds"]["torch"] for r in runs
              if r["seconds"]["torsh"] is not None and r["seconds"].get("torch")]
    result["ratio_range"] = (min(ratios), max(ratios)) if len(ratios) > 1 else None
    return result


def format_seconds(seconds):
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_ratio(numerator, denominator):
    return "n/a" if numerator is None or denominator is None else f"{numerator / denominator:.2f}x"


def throughput(r, lib):
    s = r["seconds"][lib]
    return None if s is None or r["work"] is None else r["work"] / s / 1e9


def format_throughput(r):
    """'torsh / PyTorch / NumPy unit', e.g. '41 / 52 / 50 GFLOP/s'."""
    if r["work"] is None:
        return ""
    values = [throughput(r, lib) for lib in LIBRARIES]
    return " / ".join("n/a" if v is None else f"{v:.3g}" for v in values) + f" {r['unit']}"


def table_rows(results):
    yield ("", "workload", "torsh", "PyTorch", "NumPy", "torsh/PyTorch", "torsh/NumPy",
           "throughput torsh / PyTorch / NumPy", "torsh kernel")
    for r in results:
        s = r["seconds"]
        yield (r["key"], r["workload"], format_seconds(s["torsh"]), format_seconds(s["torch"]),
               format_seconds(s["numpy"]), format_ratio(s["torsh"], s["torch"]) + _range_text(r),
               format_ratio(s["torsh"], s["numpy"]), format_throughput(r), r["torsh_variant"])


def _range_text(r):
    spread = r.get("ratio_range")
    return "" if not spread else f" ({spread[0]:.2f}-{spread[1]:.2f})"


def markdown_table(rows):
    """A Markdown pipe table: readable in a terminal and pasteable into RESULTS.md."""
    rows = list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def copy_bandwidth(results, workload_name):
    """NumPy's np.copyto GB/s at the size named in ``workload_name`` ("1e6" or "1e7"), if measured."""
    size = next((tok.rstrip(",") for tok in workload_name.split() if tok.startswith("1e")), None)
    for r in results:
        if r["workload"].startswith("copy,") and size and size in r["workload"]:
            return throughput(r, "numpy")
    return None


def target_rows(results):
    """(key, workload, target, measured, met) for every row with a target."""
    yield ("", "workload", "target", "measured", "status")
    for r in results:
        s = r["seconds"]
        if r["target"] is not None:
            if s["torsh"] is None or s["torch"] is None:
                yield (r["key"], r["workload"], f"torsh/PyTorch <= {r['target']}", "n/a", "not measured")
                continue
            ratio = s["torsh"] / s["torch"]
            yield (r["key"], r["workload"], f"torsh/PyTorch <= {r['target']}", f"{ratio:.2f}",
                   "met" if ratio <= r["target"] else "missed")
        elif r["copy_target"] is not None:
            copy, mine = copy_bandwidth(results, r["workload"]), throughput(r, "torsh")
            label = f"torsh GB/s >= copy GB/s / {r['copy_target']}"
            if copy is None or mine is None:
                yield (r["key"], r["workload"], label, "n/a (copy row not run)", "not measured")
                continue
            factor = copy / mine
            yield (r["key"], r["workload"], label, f"{mine:.3g} vs {copy:.3g} GB/s (factor {factor:.2f})",
                   "met" if factor <= r["copy_target"] else "missed")


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown_report(machine, threads, command, results):
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine.items()]
    lines += [f"| threads | {threads} for every library |", f"| torsh commit | {git_commit()} |", "",
              "## Command", "", "```", command, "```", "",
              f"## Numbers ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
              markdown_table(table_rows(results)), "", "## Targets (issue 6)", "",
              markdown_table(target_rows(results)), ""]
    return "\n".join(lines)


def selected(args):
    keys = {k.strip().upper() for k in args.only.split(",")} if args.only else None
    for workload in WORKLOADS:
        if keys is not None and workload.key not in keys:
            continue
        if workload.full_only and not args.full:
            continue
        yield workload


def main(argv=None):
    args = parse_args(argv)
    if not args.return_memory:
        keep_freed_memory()
    set_threads(args.threads)
    machine = describe(LIBRARIES)
    print(", ".join(f"{k}: {v}" for k, v in machine.items()) + f", threads: {args.threads}")
    settings = SETTINGS[args.quick]
    results = []
    for workload in selected(args):
        results.append(measure_rounds(workload, settings, args.rounds) if args.rounds > 1
                       else measure(workload, settings))
        print(f"  measured {workload.key} {workload.name}", file=sys.stderr)
    print(markdown_table(table_rows(results)))
    print()
    print(markdown_table(target_rows(results)))
    command = " ".join(["python"] + sys.argv)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "threads": args.threads, "settings": settings,
                       "command": command, "results": results}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_report(machine, args.threads, command, results))
    return results


if __name__ == "__main__":
    main()
