"""Train a small MLP with raw torsh tensors and autograd, and write a Chrome trace of it.

    python -m torsh.demo --out DIR [--steps 200]

The model (2 -> 64 -> 64 -> 3, tanh) learns a 3-class spiral with softmax cross-entropy and
SGD with momentum, all written with torsh ops because torsh.nn and torsh.optim do not exist
yet. DIR/trace.json (open it in https://ui.perfetto.dev or chrome://tracing) shows every step
split into forward / backward / optimizer, with one event per kernel dispatch decision inside
them; DIR/summary.json holds the final numbers.

This module is the stand-in until torsh.profiler lands: the small TraceRecorder below does
by hand what the profiler will do properly.
"""
import argparse
import json
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager

import numpy as np

import torsh
from torsh.backend import dispatch, events

LOG_EVERY = 20


# -- trace recording --------------------------------------------------------------------------
class TraceRecorder:
    """Collects Chrome Trace Event Format events; times are microseconds since construction."""

    def __init__(self, process_name="torsh.demo"):
        self.process_name = process_name
        self.pid = os.getpid()
        self.events = []
        self._thread_names = {}  # tid -> name, for the "M" metadata events
        self._origin = time.perf_counter()

    def now_us(self):
        return (time.perf_counter() - self._origin) * 1e6

    def _tid(self):
        tid = threading.get_native_id()
        self._thread_names.setdefault(tid, threading.current_thread().name)
        return tid

    def complete(self, name, cat, ts, dur, args=None):
        """Add an "X" (complete) event that started at ``ts`` and lasted ``dur`` microseconds."""
        # rounded to the nanosecond: finer digits are clock noise and only bloat the file
        event = {"name": name, "cat": cat, "ph": "X", "ts": round(ts, 3), "dur": round(dur, 3),
                 "pid": self.pid, "tid": self._tid()}
        if args:
            event["args"] = args
        self.events.append(event)

    def counter(self, name, **values):
        """Add a "C" (counter) event: the ``values`` as of now, drawn as a track per name."""
        self.events.append({"name": name, "ph": "C", "ts": round(self.now_us(), 3), "pid": self.pid,
                            "tid": self._tid(), "args": values})

    @contextmanager
    def span(self, name, cat="phase"):
        """Record the block as one "X" event."""
        start = self.now_us()
        try:
            yield
        finally:
            self.complete(name, cat, start, self.now_us() - start)

    def on_dispatch(self, record):
        """events callback: a DispatchRecord arrives when its call has ended, so it began ``seconds`` ago."""
        end = self.now_us()
        duration = record.seconds * 1e6
        self.complete(record.op, "dispatch", end - duration, duration,
                      {"variant": record.variant, "reason": record.reason, "numel": record.numel,
                       "dtype": record.dtype})

    @contextmanager
    def watching_dispatch(self):
        """Turn the kernel dispatcher's records into events while the block runs."""
        unsubscribe = events.subscribe(dispatch.TOPIC, self.on_dispatch)
        try:
            yield
        finally:
            unsubscribe()

    def metadata_events(self):
        """Metadata ("M") events naming the process and every thread that recorded something."""
        names = [{"name": "process_name", "ph": "M", "pid": self.pid, "tid": 0, "args": {"name": self.process_name}}]
        for tid, thread_name in self._thread_names.items():
            names.append({"name": "thread_name", "ph": "M", "pid": self.pid, "tid": tid, "args": {"name": thread_name}})
        return names

    def trace(self):
        return {"traceEvents": self.metadata_events() + self.events, "displayTimeUnit": "ms"}

    def dispatch_counts(self):
        """{op: {variant: calls}} over the recorded dispatch events."""
        counts = defaultdict(Counter)
        for event in self.events:
            if event.get("cat") == "dispatch":
                counts[event["name"]][event["args"]["variant"]] += 1
        return {op: dict(by_variant) for op, by_variant in sorted(counts.items())}


# -- data and model ---------------------------------------------------------------------------
def make_spiral(points_per_class=500, classes=3, seed=0):
    """The classic interleaved-arms spiral: float32 points (N, 2) and int64 labels (N,)."""
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, points_per_class)
    points, labels = [], []
    for c in range(classes):
        angle = np.linspace(4.0 * c, 4.0 * (c + 1), points_per_class) + rng.normal(0.0, 0.2, points_per_class)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(points_per_class, c))
    return np.concatenate(points).astype(np.float32), np.concatenate(labels).astype(np.int64)


def init_mlp(sizes, seed=0):
    """[w1, b1, w2, b2, ...] leaf tensors; weights scaled by 1/sqrt(fan_in) so tanh does not saturate."""
    torsh.manual_seed(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((torsh.randn(fan_in, fan_out) / fan_in ** 0.5).requires_grad_())
        params.append(torsh.zeros(fan_out, requires_grad=True))
    return params


def forward(params, x):
    """Logits of the MLP: tanh after every layer but the last."""
    layers = list(zip(params[0::2], params[1::2]))
    for w, b in layers[:-1]:
        x = (x @ w + b).tanh()
    w, b = layers[-1]
    return x @ w + b


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy: logsumexp of each row minus the logit of its true class."""
    true_class_logits = logits[torsh.arange(labels.shape[0]), labels]
    return (logits.logsumexp(dim=1) - true_class_logits).mean()


def sgd_momentum_step(params, velocities, lr, momentum):
    """v = momentum * v + grad; p -= lr * v (PyTorch's SGD with momentum, dampening 0)."""
    with torsh.no_grad():
        for p, v in zip(params, velocities):
            v.mul_(momentum).add_(p.grad)
            p.sub_(v, alpha=lr)
            p.grad = None  # the next backward allocates fresh gradients


def accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


# -- training ---------------------------------------------------------------------------------
def train(args, recorder):
    """Run ``args.steps`` traced steps; returns (losses, final accuracy)."""
    points, labels = make_spiral(seed=args.seed)
    x, y = torsh.from_numpy(points), torsh.from_numpy(labels)
    params = init_mlp([2, 64, 64, 3], seed=args.seed)
    velocities = [torsh.zeros_like(p) for p in params]
    losses = []
    with recorder.watching_dispatch():
        for step in range(args.steps):
            with recorder.span("step", cat="step"):
                with recorder.span("forward"):
                    loss = cross_entropy(forward(params, x), y)
                with recorder.span("backward"):
                    loss.backward()
                with recorder.span("optimizer"):
                    sgd_momentum_step(params, velocities, args.lr, args.momentum)
            losses.append(loss.item())
            recorder.counter("loss", loss=losses[-1])
            if step % LOG_EVERY == 0 or step == args.steps - 1:
                print(f"step {step:4d}  loss {losses[-1]:.4f}")
    with torsh.no_grad():
        return losses, accuracy(forward(params, x), y)


def write_json_atomic(path, obj):
    """Write to a temporary file next to ``path``, then rename: readers never see half a file."""
    fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f)
        os.chmod(tmp_path, 0o644)  # mkstemp makes it private; the result is an ordinary output file
        os.replace(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m torsh.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for trace.json and summary.json")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    recorder = TraceRecorder()
    start = time.perf_counter()
    losses, final_accuracy = train(args, recorder)
    seconds = time.perf_counter() - start
    print(f"final train accuracy {final_accuracy:.3f}  ({args.steps} steps in {seconds:.1f} s)")
    summary = {"final_loss": losses[-1], "accuracy": final_accuracy, "steps": args.steps, "seconds": seconds,
               "dispatch_counts": recorder.dispatch_counts()}
    write_json_atomic(os.path.join(args.out, "trace.json"), recorder.trace())
    write_json_atomic(os.path.join(args.out, "summary.json"), summary)
    return summary


if __name__ == "__main__":
    main()
