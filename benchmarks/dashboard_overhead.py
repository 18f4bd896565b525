"""What torsh.viz.Dashboard and the live views cost a training loop (goal: <= 5% of the step time).

    python benchmarks/dashboard_overhead.py [--quick] [--mlp]

Workload: the LeNet-5 training step of benchmarks/workloads.py (W7: batch 64, 1x28x28,
cross-entropy, backward, SGD momentum 0.9), or with ``--mlp`` an nn.Sequential MLP (64-128-10,
batch 32). ``dash.step(loss)`` once per step, dispatch watched on 1 step in 10 and one step in
200 profiled and advised (the defaults), redraws at the default interval (0.5 s) and budget (1%
of wall time) into a widget that is not displayed (plotly still builds every update). The last
measured row runs the Dashboard, MemoryTimeline and DispatchView together (all live views),
which share one redraw/walk budget; the DispatchView watches 1 optimizer step in 10.

Two estimates of the overhead ratio (dashboard / plain, goal <= 1.05):
1. counted: the work the dashboard adds per step, each piece timed on its own with timeit
   (one ``dash.step``, one observed dispatch decision, one counted allocation) times how
   often it happens per step, plus the redraw budget (at most 1% of wall time by
   construction, see torsh/viz/_live.py). Stable on a noisy machine.
2. measured: plain and dashboard batches of 200 steps (each holding one advised step and about
   one redraw) interleaved in pairs in one process (ab_pairs.py): the median of the pairs'
   ratios, their quartiles (how far to trust it on a shared machine) and the pooled ratio.

Memory counting, once anything starts it, stays on for the process (backend/memory.py), so
it is measured first, before anything turns it on.
"""
import argparse
import sys
import time
import timeit

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.backend import dispatch, events, memory
from torsh.viz._dispatch_counts import DispatchCounter

from ab_pairs import paired_ratio
from workloads import as_lib, class_targets, float32_data, lenet5, seeded

# steps: per batch, 200 = one advised step (advise_every) and about one redraw (0.5 s) per batch
SETTINGS = {False: {"repeats": 7, "steps": 200, "pairs": 9}, True: {"repeats": 3, "steps": 100, "pairs": 5}}


def lenet_loop():
    """W7's LeNet-5 step (benchmarks/workloads.py), returning its loss for dash.step."""
    model = seeded(torsh, lambda: lenet5(torsh))
    opt = torsh.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = as_lib(torsh, float32_data(64 * 28 * 28).reshape(64, 1, 28, 28))
    y = class_targets(torsh, 64, 10)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def mlp_loop():
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torsh.optim.SGD(model.parameters(), lr=0.01)
    x, y = torsh.randn(32, 64), torsh.randint(0, 10, (32,))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def per_call(fn, number=20_000, repeat=5):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def run(step, steps, dash=None):
    """Seconds per step; with a dashboard the time covers the steps and the throttled redraws
    inside ``with dash``, not the one-off draws at enter and exit."""
    if dash is None:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps
    with dash:
        start = time.perf_counter()
        for _ in range(steps):
            dash.step(step())
        elapsed = time.perf_counter() - start
    return elapsed / steps


def sampled_step_cost(step, plain_step, settings):
    """Seconds one advised step adds: the step under the profiler (record_shapes) plus advise()."""
    costs = []
    for _ in range(settings["repeats"]):
        prof = torsh.profiler.profile(record_shapes=True)
        start = time.perf_counter()
        prof.start()
        with torsh.profiler.record_function("ProfilerStep#0"):
            step()
        prof.stop()
        prof.advise()
        costs.append(time.perf_counter() - start - plain_step)
    return max(min(costs), 0.0)


def counted(step, plain_step, settings):
    """Overhead ratio from per-event costs x events per step."""
    one = torsh.ones(1)
    alloc_plain = per_call(lambda: one + one)
    memory.live_bytes()  # counting on, for good
    alloc_counted = per_call(lambda: one + one)
    alloc_cost = max(alloc_counted - alloc_plain, 0.0)  # one op, one output storage counted

    counter = DispatchCounter()
    decision_plain = per_call(lambda: one.tanh())
    unsubscribe = counter.subscribe()
    decision_observed = per_call(lambda: one.tanh())
    unsubscribe()
    decision_cost = max(decision_observed - decision_plain, 0.0)

    dash = viz.Dashboard(interval=float("inf"))
    with dash:
        step_cost = per_call(lambda: dash.step(loss=1.0), number=5_000)

    allocations = []
    unsubscribe = events.subscribe(memory.TOPIC, lambda e: allocations.append(e) if e.kind == "alloc" else None)
    with dispatch.record() as decisions:
        step()
    unsubscribe()
    every = dash.dispatch_every  # decisions are observed on one step in `every`
    advised = sampled_step_cost(step, plain_step, settings)
    added = (step_cost + len(decisions) * decision_cost / every + len(allocations) * alloc_cost
             + advised / dash.advise_every)
    print(f"per event: dash.step {step_cost * 1e6:.2f} us, dispatch decision observed +{decision_cost * 1e6:.2f} us, "
          f"allocation counted +{alloc_cost * 1e6:.2f} us, advised step +{advised * 1e3:.2f} ms")
    print(f"per step: {len(decisions)} decisions (watched 1 step in {every}), {len(allocations)} allocations, "
          f"1/{dash.advise_every} advised step -> {added * 1e6:.1f} us added to a {plain_step * 1e6:.1f} us step")
    ratio = 1 + added / plain_step
    budget = viz.Dashboard(memory=False, dispatch=False).budget
    print(f"counted overhead ratio: {ratio:.3f}; with redraws (at most {budget:.0%} of wall time by the budget): "
          f"<= {ratio / (1 - budget):.3f}")

    # all live views: the MemoryTimeline hears every alloc and free event, the DispatchView counts
    # the decisions of its watched steps (counted again in full: an upper bound), and their redraws
    # and category walks share the views' one budget (torsh/viz/_live.py)
    with viz.MemoryTimeline(interval=float("inf")):
        alloc_heard = per_call(lambda: one + one)
    heard_cost = max(alloc_heard - alloc_counted, 0.0)  # an alloc and a free event heard
    view = viz.DispatchView()
    all_added = added + len(allocations) * heard_cost + len(decisions) * decision_cost / view.every
    all_ratio = 1 + all_added / plain_step
    print(f"all live views: allocation heard by the MemoryTimeline +{heard_cost * 1e6:.2f} us (alloc and free), "
          f"DispatchView watching 1 step in {view.every} -> {all_added * 1e6:.1f} us added")
    print(f"all live views counted ratio: {all_ratio:.3f}; with their shared redraw/walk budget: "
          f"<= {all_ratio / (1 - budget):.3f}")


class AllViews:
    """Dashboard, MemoryTimeline and DispatchView entered together; ``step`` and the redraw
    counters are the dashboard's."""

    def __init__(self, model, opt):
        self.dash = viz.Dashboard(model, opt)
        self.views = [self.dash, viz.MemoryTimeline(model, opt), viz.DispatchView()]

    def __enter__(self):
        for view in self.views:
            view.__enter__()
        return self

    def __exit__(self, *exc):
        for view in reversed(self.views):
            view.__exit__(*exc)

    def step(self, loss):
        self.dash.step(loss)

    @property
    def redraws(self):
        return sum(v.redraws for v in self.views)

    @property
    def redraw_seconds(self):
        return sum(v.redraw_seconds for v in self.views)


def measured(loop, settings, all_views=False, **options):
    """(PairedRatio of seconds per step plain / watched, the dashboard): interleaved batch pairs."""
    model, opt, step = loop()
    dash = AllViews(model, opt) if all_views else viz.Dashboard(model, opt, **options)
    run(step, 10)  # warm-up
    run(step, 10, dash)
    result = paired_ratio(lambda: run(step, settings["steps"]), lambda: run(step, settings["steps"], dash),
                          settings["pairs"])
    return result, dash


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter batches")
    parser.add_argument("--mlp", action="store_true", help="the small MLP step instead of LeNet-5")
    args = parser.parse_args(argv)
    settings = SETTINGS[args.quick]
    loop = mlp_loop if args.mlp else lenet_loop
    torsh.set_num_threads(1)
    _, _, step = loop()
    run(step, 10)
    plain_step = min(run(step, settings["steps"]) for _ in range(3))
    print(f"workload: {'MLP 64-128-10, batch 32' if args.mlp else 'LeNet-5 (W7), batch 64'}; "
          f"plain step {plain_step * 1e6:.1f} us")
    counted(step, plain_step, settings)
    print()
    print(f"{'measured':38s} {'plain us/step':>14s} {'dashboard us/step':>18s} {'ratio':>7s} {'quartiles':>16s} "
          f"{'pooled':>7s} {'redraws':>8s} {'ms/redraw':>10s}")
    for label, options in (("default (dispatch 1/10, advise 1/200)", {}), ("advise_every=0", {"advise_every": 0}),
                           ("dispatch_every=1", {"dispatch_every": 1}), ("dispatch=False", {"dispatch": False}),
                           ("all live views (+timeline, dispatch)", {"all_views": True})):
        result, dash = measured(loop, settings, **options)
        print(f"{label:38s} {result.plain * 1e6:14.1f} {result.other * 1e6:18.1f} {result.ratio:7.3f} "
              f"{result.spread():>16s} {result.pooled:7.3f} {dash.redraws:8d} "
              f"{dash.redraw_seconds / max(dash.redraws, 1) * 1e3:10.1f}")
    print(f"(ratio: median over {settings['pairs']} interleaved plain/dashboard batch pairs of {settings['steps']} steps, "
          "with its quartiles; pooled: all dashboard time over all plain time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
