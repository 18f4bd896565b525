"""What profiling costs in executed Python bytecodes: a load-independent measure of the profiler's overhead.

    python benchmarks/profiler_bytecodes.py [--top N] [--steps K]

Counts the bytecodes one LeNet training step (benchmarks/workloads.py's W7, the step issue 23's bound
is stated on) executes unprofiled and inside a running profiler (default options, record_shapes,
record_shapes + profile_memory), with ``sys.settrace`` opcode events. Wall-clock ratios on a shared
machine swing 2-5x between batches; these counts do not, so they show whether a change to the
recording path made it cheaper. The ratio of counts is not the time ratio (the step's time is mostly
in compiled kernels, which no bytecode counts), but the count added per step is the profiler's
Python cost. ``--top N`` lists the N files and functions adding the most bytecodes under record_shapes. Besides the
recording itself (torsh/profiler/), a profile makes the core take its observed paths: dispatch decisions
timed and reasoned (torsh/backend/dispatch.py and the callers that skip it when nobody records), and
backward formulas on torsh ops, recorded inside each node as PyTorch's rows show them (not on arrays).

tests/test_profiler_cost.py runs ``count_step`` on a small step and bounds the profiled count.
"""
import argparse
import collections
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CONFIGS = (("default (dispatch recorded)", {}),
           ("with_dispatch=False", {"with_dispatch": False}),
           ("record_shapes", {"record_shapes": True}),
           ("record_shapes, with_dispatch=False", {"record_shapes": True, "with_dispatch": False}),
           ("record_shapes + profile_memory", {"record_shapes": True, "profile_memory": True}))


class OpcodeCounter:
    """Counts opcode events per code object while installed (this thread only)."""

    def __init__(self):
        self.counts = collections.Counter()

    def _trace(self, frame, event, arg):
        frame.f_trace_opcodes = True
        counts = self.counts

        def local(frame, event, arg):
            if event == "opcode":
                counts[frame.f_code] += 1
            return local
        return local

    def __enter__(self):
        self._previous = sys.gettrace()
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc):
        sys.settrace(self._previous)
        return False

    @property
    def total(self):
        return sum(self.counts.values())


def count_step(step, profile_options=None, steps=1, warmup=2):
    """(total bytecodes per step, Counter per code object) of ``step()``, profiled when ``profile_options``
    is a dict (torsh.profiler.profile's keywords), plain when None. The profiler's start and stop are
    outside the count: only the recording cost on the step's path is counted."""
    import torsh
    for _ in range(warmup):
        step()
    prof = None
    if profile_options is not None:
        prof = torsh.profiler.profile(**profile_options)
        prof.start()
        step()  # warm the profiler's caches (wrappers, names) as a long run would
    try:
        with OpcodeCounter() as counter:
            for _ in range(steps):
                step()
    finally:
        if prof is not None:
            prof.stop()
    return counter.total / steps, counter.counts


def describe(code):
    return f"{os.path.relpath(code.co_filename)}:{code.co_firstlineno} {code.co_name}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=0, help="list the N functions adding most under record_shapes")
    parser.add_argument("--steps", type=int, default=2, help="steps counted per configuration")
    args = parser.parse_args(argv)
    import torsh
    from workloads import lenet_step
    torsh.set_num_threads(1)
    assert threading.active_count() >= 1
    step = lenet_step(torsh)
    plain, plain_counts = count_step(step, None, args.steps)
    print(f"LeNet step (W7), bytecodes executed per step, {args.steps} steps counted")
    print(f"  {'unprofiled':34s} {plain:9,.0f}")
    per_config = {}
    for label, options in CONFIGS:
        total, counts = count_step(step, options, args.steps)
        per_config[label] = counts
        print(f"  {label:34s} {total:9,.0f}   x{total / plain:.3f}   +{total - plain:,.0f}")
    if args.top:
        counts = per_config["record_shapes"]
        added = collections.Counter({code: (n - plain_counts.get(code, 0)) / args.steps
                                     for code in set(counts) | set(plain_counts) for n in (counts.get(code, 0),)})
        per_file = collections.Counter()
        for code, n in added.items():
            per_file[os.path.relpath(code.co_filename)] += n
        print(f"\nfiles adding most bytecodes per step under record_shapes (top {args.top}; negative: run less)")
        for filename, n in per_file.most_common(args.top):
            print(f"  {n:8,.0f}  {filename}")
        print(f"\nfunctions adding most bytecodes per step under record_shapes (top {args.top})")
        for code, n in added.most_common(args.top):
            print(f"  {n:8,.0f}  {describe(code)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
