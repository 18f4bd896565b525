"""Traces that scale: what keep_steps and the running summaries cost, and what they save.

    python benchmarks/trace_scale.py [--quick]

1. Per-step cost of a tiny profiled step (``x.mul(2).add(1)`` then ``prof.step()``), each variant
   in alternating batches, the fastest batch counting (shared machine):
   - "no summaries": the profiler with the step hooks made no-ops (what it did before summaries);
   - default (``keep_steps=None``): one mark per step, the fold runs once at stop;
   - ``keep_steps=10``: the step's calls are folded and the oldest step's detail dropped at each step;
   - ``with_stack=True``: the Python stack and the source line of every op.
2. A 10,000-step run, full detail vs keep_steps=10: stop + export time, trace size, detail kept.
3. The open time of such traces in the JupyterLab extension, measured in headless Chromium by
   tests/browser/test_trace_scale.py (artifacts/browser/trace-open-times.json), if present.
   Measured there (2 shared cores, load 7-12, 2026-12-07): keep_steps=10, 1.9 MB: 0.38-0.75 s; full
   detail, 8.1 MB (20,000 op calls with stacks): 0.49-1.28 s (the issue asks for < 3 s).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import torsh
from torsh.profiler import _collector, profile

from machine import describe
from timing import calls_per_repeat, seconds_per_call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPEN_TIMES = os.path.join(ROOT, "artifacts", "browser", "trace-open-times.json")
SETTINGS = {False: {"repeats": 15, "min_repeat_seconds": 0.1}, True: {"repeats": 5, "min_repeat_seconds": 0.03}}


class _NoSummaries(_collector.Collector):
    """The collector with its step hooks off: the profiler as it was before running summaries."""

    def end_step(self, step):
        pass

    def finish(self, step):
        pass


def _tiny_step(prof, x):
    def step():
        x.mul(2.0).add(1.0)
        prof.step()
    return step


def _per_step(variants, settings):
    """Fastest per-step seconds of each variant, batches alternating between variants."""
    x = torsh.ones(4)
    best = {name: float("inf") for name in variants}
    for _ in range(settings["repeats"]):
        for name, options in variants.items():
            collector_class = options.pop("collector", None)
            original = _collector.Collector
            if collector_class is not None:
                _collector.Collector = collector_class
            try:
                prof = profile(**options)
                prof.start()
                try:
                    step = _tiny_step(prof, x)
                    number = calls_per_repeat(step, settings["min_repeat_seconds"])
                    best[name] = min(best[name], seconds_per_call(step, number))
                finally:
                    prof.stop()
            finally:
                _collector.Collector = original
                if collector_class is not None:
                    options["collector"] = collector_class
    return best


def _long_run(keep_steps, steps=10_000):
    x = torsh.ones(4)
    with profile(keep_steps=keep_steps) as prof:
        for _ in range(steps):
            x.mul(2.0).add(1.0)
            prof.step()
        stop_started = time.perf_counter()
    stop = time.perf_counter() - stop_started
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "long.trace.json")
        started = time.perf_counter()
        prof.export_chrome_trace(path)
        export = time.perf_counter() - started
        size = os.path.getsize(path)
    return stop, export, size, len(prof.events())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    args = parser.parse_args(argv)
    settings = SETTINGS[args.quick]
    torsh.set_num_threads(1)
    print(" ".join(f"{k}={v}" for k, v in describe({"torsh": torsh}).items()))

    variants = {"no summaries (before)": {"collector": _NoSummaries}, "default": {},
                "keep_steps=10": {"keep_steps": 10}, "with_stack=True": {"with_stack": True}}
    print("\nper profiled step (2 tiny ops + prof.step())")
    for name, seconds in _per_step(variants, settings).items():
        print(f"  {name:24s} {seconds * 1e6:9.2f} us")

    print("\n10,000 steps           stop (s)  export (s)   trace (MB)  events kept")
    for keep in (None, 10):
        stop, export, size, kept = _long_run(keep)
        print(f"  keep_steps={str(keep):6s} {stop:10.2f} {export:11.2f} {size / 1e6:12.2f} {kept:12d}")

    if os.path.exists(OPEN_TIMES):
        with open(OPEN_TIMES) as f:
            print("\nopen in the JupyterLab trace viewer (tests/browser/test_trace_scale.py):")
            for name, row in json.load(f).items():
                print(f"  {name:24s} {row['bytes'] / 1e6:6.1f} MB  {row['open_ms'] / 1000:6.2f} s")
    else:
        print(f"\n(no browser open times: run tests/browser/test_trace_scale.py to write {OPEN_TIMES})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
