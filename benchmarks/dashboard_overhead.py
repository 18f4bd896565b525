"""What torsh.viz.Dashboard costs a small training loop: steps per second with and without it.

    python benchmarks/dashboard_overhead.py [--quick]

Workload: an nn.Sequential MLP (64-128-10, batch 32), cross-entropy, backward, SGD step;
``dash.step(loss)`` once per step, redraws at the default interval (0.5 s) into a widget
that is not displayed (plotly still builds every update). Plain and dashboard batches
alternate so both see the same (shared, noisy) machine, and the fastest batch of each
counts. Rows: the default dashboard (memory + dispatch), without dispatch counting, and
without memory either. Prints ratio = dashboard / plain per step (goal: <= 1.05).

Note: memory counting, once anything starts it, stays on for the process (backend/memory.py),
so the "plain" loop after the first dashboard batch pays for it too; the first line reports
the loop before and after counting started.
"""
import argparse
import sys
import time

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz

SETTINGS = {False: {"repeats": 7, "steps": 400}, True: {"repeats": 3, "steps": 150}}


def training_loop():
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


def run(step, steps, dash=None):
    """Seconds per step. With a dashboard, the loop runs inside ``with dash`` and the time
    covers the steps and the throttled redraws in between, not the one-off draws at enter/exit."""
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


def compare(settings, **options):
    model, opt, step = training_loop()
    dash = viz.Dashboard(model, opt, **options)
    run(step, 10)  # warm-up
    run(step, 10, dash)
    plain, watched = [], []
    for _ in range(settings["repeats"]):
        plain.append(run(step, settings["steps"]))
        watched.append(run(step, settings["steps"], dash))
    return min(plain), min(watched), dash


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter batches")
    args = parser.parse_args(argv)
    settings = SETTINGS[args.quick]
    torsh.set_num_threads(1)
    _, _, step = training_loop()
    run(step, 10)
    before = min(run(step, settings["steps"]) for _ in range(3))
    torsh.backend.memory.live_bytes()  # starts memory counting for good
    after = min(run(step, settings["steps"]) for _ in range(3))
    print(f"plain step: {before * 1e6:.1f} us; once memory counting is on: {after * 1e6:.1f} us "
          f"(ratio {after / before:.3f})")
    print(f"{'dashboard':30s} {'plain us/step':>14s} {'dashboard us/step':>18s} {'ratio':>7s} {'redraws':>8s} "
          f"{'ms/redraw':>10s}")
    for label, options in (("default (memory + dispatch)", {}), ("dispatch=False", {"dispatch": False}),
                           ("dispatch=False, memory=False", {"dispatch": False, "memory": False})):
        plain, watched, dash = compare(settings, **options)
        print(f"{label:30s} {plain * 1e6:14.1f} {watched * 1e6:18.1f} {watched / plain:7.3f} {dash.redraws:8d} "
              f"{dash.redraw_seconds / max(dash.redraws, 1) * 1e3:10.1f}")
    print("(shared 2-core machine: timings are noisy; fastest batch of each kind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
