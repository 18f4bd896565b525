"""The main job (``make demo``): train a small MLP with torsh and write its profile.

``python -m torsh.demo --out DIR`` trains a 2-64-64-3 tanh MLP with ``torsh.nn`` and
``torsh.optim.SGD`` (momentum) on a generated three-class spiral, under ``torsh.profiler``,
and writes:

- ``DIR/demo.trace.json``: the profiler's Chrome trace (open it in Perfetto or chrome://tracing):
  one ``step`` range per training step holding ``forward``, ``backward`` and ``optimizer``
  ranges, every op with its kernel dispatch decision, backward nodes linked to their
  forward ops, and the live-bytes counter;
- ``DIR/summary.json``: final loss and accuracy, steps, seconds, and how often each op ran
  on each kernel variant.
"""
import argparse
import json
import os
import time
from collections import Counter

import numpy as np

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
from torsh.backend import dispatch
from torsh.profiler import profile, record_function


def make_spiral(points_per_class=500, classes=3, seed=0):
    """The classic interleaved-spirals toy set: (points, 2) float32 inputs and int64 labels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label in range(classes):
        radius = np.linspace(0.0, 1.0, points_per_class)
        angle = np.linspace(label * 4.0, (label + 1) * 4.0, points_per_class) + rng.normal(0, 0.2, points_per_class)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(points_per_class, label))
    return torsh.tensor(np.concatenate(xs), dtype=torsh.float32), torsh.tensor(np.concatenate(ys))


def build_model(seed=0):
    torsh.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3))


def train(args):
    x, y = make_spiral(seed=args.seed)
    model = build_model(args.seed)
    optimizer = torsh.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    losses = []
    start = time.perf_counter()
    with dispatch.record() as decisions, profile(profile_memory=True) as prof:
        for step in range(args.steps):
            with record_function("step"):
                with record_function("forward"):
                    loss = F.cross_entropy(model(x), y)
                with record_function("backward"):
                    optimizer.zero_grad()
                    loss.backward()
                with record_function("optimizer"):
                    optimizer.step()
            losses.append(loss.item())
            if step % 20 == 0 or step == args.steps - 1:
                print(f"step {step:4d}  loss {losses[-1]:.4f}")
    seconds = time.perf_counter() - start
    with torsh.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    variants = Counter((d.op, d.variant) for d in decisions)
    summary = {"steps": args.steps, "final_loss": losses[-1], "first_loss": losses[0], "accuracy": accuracy,
               "seconds": seconds, "dispatch": {f"{op}:{variant}": n for (op, variant), n in sorted(variants.items())}}
    return prof, summary


def write_json_atomic(path, obj):
    """Write ``obj`` as JSON via a temporary file, so a crash never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Train a small MLP with torsh and write its profile.")
    parser.add_argument("--out", default="profile", help="directory for demo.trace.json and summary.json")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    prof, summary = train(args)
    prof.export_chrome_trace(os.path.join(args.out, "demo.trace.json"))
    write_json_atomic(os.path.join(args.out, "summary.json"), summary)
    print(f"final train accuracy {summary['accuracy']:.3f}  ({summary['steps']} steps in {summary['seconds']:.1f} s)")
    print(f"profile written to {os.path.join(args.out, 'demo.trace.json')} (open in Perfetto, chrome://tracing or JupyterLab)")
    return summary


if __name__ == "__main__":
    main()
