"""What profiling costs: torsh with and without torsh.profiler, PyTorch with and without its profiler.

    python benchmarks/profiler_overhead.py [--quick] [--lenet]

Three workloads, each timed unprofiled and inside a running profiler (per call; short plain and
profiled batches interleaved in pairs, see ``compare`` and ab_pairs.py), with the ratio
profiled / unprofiled (the median of the pairs' ratios, its quartiles, and the pooled ratio):
- small op: ``x + y`` on 1-element tensors, the case where per-call overhead shows most;
- training step: a 2-layer MLP (64-128-10, batch 32) forward, MSE loss, backward, SGD update,
  written in plain tensor ops so that the same code runs on both libraries;
- LeNet step: benchmarks/workloads.py's W7 (LeNet-5, batch 64, 1x28x28, SGD momentum), the
  step the goal is stated on: the profiler with record_shapes=True costs <= 20% of it.
The "inside" time is the recording cost per call; turning the records into events, tables and
traces happens once at stop and is reported separately, per recorded step. For a measure that
load does not move, benchmarks/profiler_bytecodes.py counts the bytecodes a profile adds per step.

On a loaded machine the step's own time varies 2-5x from batch to batch: the pairs keep both sides
of each ratio at the same moment, and the quartiles show how far to trust it. The script also
prints a counted estimate: the added cost of one profiled call (a small op, the fastest of many
timeit batches, stable under load) times the events a LeNet step records, over the unprofiled step.

No profiler active: torsh swaps op names for timing wrappers only while a profiler runs,
so an idle profiler leaves the ops untouched. What remains are the guards in the autograd
engine (one per backward node) and in graph.record (one per op that records a node), each
a dict lookup; the script times that lookup against the small op, and checks that a small
op costs the same before any profiler ran and after one ran and stopped.
"""
import argparse
import statistics
import sys
import time
import timeit

import torsh
from torsh.backend import events

from machine import describe
from ab_pairs import paired_ratio
from timing import calls_per_repeat, seconds_per_call
from workloads import lenet_step

try:
    import torch
except ImportError:  # the torsh rows still run
    torch = None

SETTINGS = {False: {"repeats": 15, "pairs": 31, "min_repeat_seconds": 0.02},
            True: {"repeats": 5, "pairs": 9, "min_repeat_seconds": 0.01}}


def small_op(lib):
    x, y = lib.ones(1), lib.ones(1)
    return lambda: x + y


def training_step(lib):
    lib.manual_seed(0)
    x, target = lib.randn(32, 64), lib.randn(32, 10)
    params = [lib.randn(64, 128).mul_(0.1).requires_grad_(), lib.zeros(128).requires_grad_(),
              lib.randn(128, 10).mul_(0.1).requires_grad_(), lib.zeros(10).requires_grad_()]
    w1, b1, w2, b2 = params

    def step():
        hidden = (x @ w1 + b1).relu()
        loss = ((hidden @ w2 + b2 - target) ** 2).mean()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p.sub_(p.grad * 0.01)
                p.grad = None
    return step


def fastest(fn, settings):
    """Per-call seconds of the least disturbed batch (robust on a shared machine)."""
    fn()  # warm-up
    number = calls_per_repeat(fn, settings["min_repeat_seconds"])
    return min(seconds_per_call(fn, number) for _ in range(settings["repeats"]))


def compare(lib, fn, settings, **profile_options):
    """(PairedRatio of per-call seconds unprofiled / profiled, median stop + key_averages per recorded call).

    The machine is shared and noisy: short plain and profiled batches alternate in pairs
    (ab_pairs.paired_ratio), so both sides of a ratio see the same moment of the machine.
    """
    fn()  # warm-up
    number = calls_per_repeat(fn, settings["min_repeat_seconds"])
    finish = []

    def plain_batch():
        return seconds_per_call(fn, number)

    def profiled_batch():
        prof = lib.profiler.profile(**profile_options)
        prof.start()
        try:
            return seconds_per_call(fn, number)
        finally:
            start = time.perf_counter()
            prof.stop()
            prof.key_averages()  # what a user asks for next; PyTorch builds its tables lazily here
            finish.append((time.perf_counter() - start) / number)

    return paired_ratio(plain_batch, profiled_batch, settings["pairs"]), statistics.median(finish)


def counted_lenet(settings, options_list):
    """Estimated profiled / unprofiled ratio of the LeNet step from per-event costs x events per step."""
    step = lenet_step(torsh)
    plain_step = fastest(step, settings)
    op = small_op(torsh)
    plain_op = min(timeit.repeat(op, number=20_000, repeat=5)) / 20_000
    print(f"counted (LeNet step {us(plain_step)} unprofiled, fastest batch)")
    for label, options in options_list:
        with torsh.profiler.profile(**options) as prof:
            profiled_op = min(timeit.repeat(op, number=20_000, repeat=5)) / 20_000
        with torsh.profiler.profile(**options) as prof:
            step()
        per_event = max(profiled_op - plain_op, 0.0)
        events_per_step = len(prof._results.events)
        ratio = 1 + events_per_step * per_event / plain_step
        print(f"  {label:36s} +{us(per_event)} per event x {events_per_step} events -> ratio ~{ratio:.2f}")


def us(seconds):
    return f"{seconds * 1e6:9.2f} us"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--lenet", action="store_true", help="only the LeNet step rows (the goal's workload)")
    args = parser.parse_args(argv)
    settings = SETTINGS[args.quick]
    torsh.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(" ".join(f"{k}={v}" for k, v in describe({"torsh": torsh, "torch": torch}).items()))

    # no profiler active: before any profiler ran vs after one ran and stopped
    before = fastest(small_op(torsh), settings)
    with torsh.profiler.profile():
        small_op(torsh)()
    after = fastest(small_op(torsh), settings)
    guard = min(timeit.repeat(lambda: "autograd" in events._subscribers, number=200_000, repeat=5)) / 200_000
    guard_empty = min(timeit.repeat(lambda: None, number=200_000, repeat=5)) / 200_000
    guard_cost = max(guard - guard_empty, 0.0)
    print()
    print("no profiler active (torsh)")
    print(f"  small op, before any profiler ran   {us(before)}")
    print(f"  small op, after a profiler stopped  {us(after)}   ratio {after / before:5.2f}")
    print(f"  one autograd guard (dict lookup)    {us(guard_cost)}   = {100 * guard_cost / before:4.1f}% of a small op")

    print()
    counted_lenet(settings, (("torsh (default: dispatch recorded)", {}),
                             ("torsh with_dispatch=False", {"with_dispatch": False}),
                             ("torsh record_shapes", {"record_shapes": True}),
                             ("torsh record_shapes, with_dispatch=False", {"record_shapes": True,
                                                                           "with_dispatch": False})))
    print()
    print(f"{'workload':16s} {'library / profiler options':36s} {'unprofiled':>13s} {'profiled':>13s} {'ratio':>6s} "
          f"{'quartiles':>16s} {'pooled':>6s} {'stop+tables/call':>17s}")
    workloads = (("small op", small_op), ("training step", training_step), ("LeNet step", lenet_step))
    for name, make in workloads[2:] if args.lenet else workloads:
        for label, lib, options in (("torsh (default: dispatch recorded)", torsh, {}),
                                    ("torsh with_dispatch=False", torsh, {"with_dispatch": False}),
                                    ("torsh record_shapes", torsh, {"record_shapes": True}),
                                    ("torsh record_shapes+profile_memory", torsh,
                                     {"record_shapes": True, "profile_memory": True}),
                                    ("torch", torch, {}),
                                    ("torch record_shapes", torch, {"record_shapes": True}),
                                    ("torch record_shapes+profile_memory", torch,
                                     {"record_shapes": True, "profile_memory": True})):
            if lib is None:
                print(f"{name:16s} {label:36s} {'n/a':>13s}")
                continue
            result, finish = compare(lib, make(lib), settings, **options)
            print(f"{name:16s} {label:36s} {us(result.plain)} {us(result.other)} {result.ratio:6.3f} "
                  f"{result.spread():>16s} {result.pooled:6.3f} {us(finish):>17s}")
    print(f"(ratio: median over {settings['pairs']} interleaved plain/profiled batch pairs, with its quartiles; "
          "pooled: all profiled time over all plain time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
