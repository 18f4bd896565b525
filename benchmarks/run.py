"""Time torsh, PyTorch and NumPy side by side on the workloads in workloads.py.

    python benchmarks/run.py [--quick] [--full] [--json PATH]

All three run in this one process, one workload after another, so they see the same machine
state. Each cell is the median per-call time over the repeats (see timing.py). The last column
says which kernel variant torsh's dispatcher chose for the workload's ops.

OPENBLAS_CORETYPE may be set on this machine (it pins the CPU kernels OpenBLAS picks); it
affects only BLAS workloads such as matmul and conv2d, none of W1/W2. Its value is printed.
"""
import argparse
import json
import sys

import numpy as np

import torsh
from torsh.backend import dispatch

from machine import describe
from timing import median_seconds
from workloads import WORKLOADS

try:
    import torch
except ImportError:  # the table still runs; the PyTorch column says n/a
    torch = None

LIBRARIES = {"torsh": torsh, "torch": torch, "numpy": np}  # column order; None = not importable
DEFAULT_THREADS = 2  # the reference machine's core count; every library gets the same
SETTINGS = {False: {"repeats": 15, "min_repeat_seconds": 0.02},  # default
            True: {"repeats": 5, "min_repeat_seconds": 0.005}}  # --quick


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--full", action="store_true", help="also the slow rows (add at 1e7, ...)")
    parser.add_argument("--json", metavar="PATH", help="also save the results as JSON")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads for every library (1 gives steadier numbers on a busy machine)")
    return parser.parse_args(argv)


def set_threads(n):
    torsh.set_num_threads(n)  # also limits NumPy's BLAS, through threadpoolctl
    if torch is not None:
        torch.set_num_threads(n)


def torsh_variants(fn):
    """The kernel variants torsh's dispatcher picks during one call of ``fn``, e.g. "numpy"."""
    with dispatch.record() as records:
        fn()
    return ", ".join(sorted({r.variant for r in records})) or "-"


def measure(workload, settings):
    """One table row: seconds per call for each library (None if unavailable) and torsh's variants.

    A setup returns None where a library has no equivalent (NumPy has no autograd)."""
    seconds = {}
    for name, lib in LIBRARIES.items():
        fn = workload.setup(lib) if lib is not None else None
        seconds[name] = median_seconds(fn, **settings) if fn is not None else None
    return {"key": workload.key, "workload": workload.name, "seconds": seconds,
            "torsh_variant": torsh_variants(workload.setup(torsh))}


def format_seconds(seconds):
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_ratio(numerator, denominator):
    return "n/a" if numerator is None or denominator is None else f"{numerator / denominator:.2f}x"


def table_rows(results):
    yield ("", "workload", "torsh", "PyTorch", "NumPy", "torsh/PyTorch", "torsh/NumPy", "torsh kernel")
    for r in results:
        s = r["seconds"]
        yield (r["key"], r["workload"], format_seconds(s["torsh"]), format_seconds(s["torch"]),
               format_seconds(s["numpy"]), format_ratio(s["torsh"], s["torch"]),
               format_ratio(s["torsh"], s["numpy"]), r["torsh_variant"])


def print_table(results):
    """A Markdown pipe table: readable in a terminal and pasteable into RESULTS.md."""
    rows = list(table_rows(results))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines))


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    machine = describe(LIBRARIES)
    print(", ".join(f"{k}: {v}" for k, v in machine.items()) + f", threads: {args.threads}")
    settings = SETTINGS[args.quick]
    results = []
    for workload in WORKLOADS:
        if workload.full_only and not args.full:
            continue
        results.append(measure(workload, settings))
        print(f"  measured {workload.key} {workload.name}", file=sys.stderr)
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "threads": args.threads, "settings": settings,
                       "command": " ".join(["python"] + sys.argv), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
