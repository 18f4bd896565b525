"""Side-by-side timings of the nn / norm / optim kernel families: PyTorch, torsh on its NumPy
(or numexpr) variant ("before"), torsh as dispatched ("after"), and NumPy by hand.

    python benchmarks/kernels_bench.py [--threads 2] [--repeats 15] [--only W10,layer_norm,sgd,adam,conv,avg_pool]

Each cell is the best of ``--repeats`` calls after a warm-up (best, not median: the machine is
shared and the minimum is the least noisy estimate of the undisturbed time). Freed memory stays in
the process unless ``--return-memory``, as in run.py.
"""
import argparse
import time

import numpy as np
import torch

import torsh
import torsh.nn.functional as F
from machine import keep_freed_memory
from torsh.backend import dispatch


def best_of(fn, repeats):
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


class forced_numpy:
    """Run torsh with ``ops`` on their reference variant (the "before" column)."""

    def __init__(self, ops):
        self.ops = ops

    def __enter__(self):
        self.saved = {op: dispatch.thresholds[op] for op in self.ops}
        for op in self.ops:
            dispatch.set_thresholds(op, dispatch.INF, dispatch.INF)

    def __exit__(self, *exc):
        for op, (simd, parallel) in self.saved.items():
            dispatch.set_thresholds(op, simd, parallel)


def row(name, cells):
    ms = {k: v * 1e3 for k, v in cells.items()}
    ratio = ms["torsh after"] / ms["torch"]
    print(f"{name:<44} " + "  ".join(f"{k} {v:8.3f} ms" for k, v in ms.items()) + f"  after/torch {ratio:.2f}x")


def softmax_ce(repeats):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1000)).astype(np.float32)
    g = rng.standard_normal((4096, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 4096)
    xs, gs, ts = torsh.tensor(x, requires_grad=True), torsh.tensor(g), torsh.tensor(t)
    xt, gt, tt = torch.tensor(x, requires_grad=True), torch.tensor(g), torch.tensor(t)

    def torsh_sm():
        torsh.softmax(xs, 1).backward(gs)

    def torch_sm():
        torch.softmax(xt, 1).backward(gt)

    def torsh_ce():
        F.cross_entropy(xs, ts).backward()

    def torch_ce():
        torch.nn.functional.cross_entropy(xt, tt).backward()

    def numpy_sm():
        e = np.exp(x - x.max(1, keepdims=True))
        y = e / e.sum(1, keepdims=True)
        gy = g * y
        return gy - y * gy.sum(1, keepdims=True)

    def numpy_ce():
        z = x - x.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        loss = (lse - z[np.arange(4096), t]).mean()
        p = np.exp(z - lse[:, None])
        p[np.arange(4096), t] -= 1
        return loss, p / 4096

    ops = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "cross_entropy",
           "cross_entropy_backward"]
    results = {}
    for name, ours, ref, by_hand in (("softmax fwd+bwd (4096, 1000) f32", torsh_sm, torch_sm, numpy_sm),
                                     ("cross_entropy fwd+bwd (4096, 1000) f32", torsh_ce, torch_ce, numpy_ce)):
        with forced_numpy(ops):
            before = best_of(ours, repeats)
        cells = {"torch": best_of(ref, repeats), "torsh before": before, "torsh after": best_of(ours, repeats),
                 "numpy": best_of(by_hand, repeats)}
        row(name, cells)
        results[name] = cells
    total = {k: sum(c[k] for c in results.values()) for k in cells}
    row("W10: softmax + cross_entropy fwd+bwd", total)


def layer_norm(repeats):
    rng = np.random.default_rng(1)
    for shape in ((4096, 1024), (64, 128, 768)):
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        n = shape[-1]
        xs, gs = torsh.tensor(x, requires_grad=True), torsh.tensor(g)
        ws, bs = torsh.ones(n, requires_grad=True), torsh.zeros(n, requires_grad=True)
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g)
        wt, bt = torch.ones(n, requires_grad=True), torch.zeros(n, requires_grad=True)

        def ours():
            F.layer_norm(xs, (n,), ws, bs).backward(gs)

        def ref():
            torch.nn.functional.layer_norm(xt, (n,), wt, bt).backward(gt)

        with forced_numpy(["layer_norm", "layer_norm_backward"]):
            before = best_of(ours, repeats)
        row(f"layer_norm fwd+bwd {shape} f32",
            {"torch": best_of(ref, repeats), "torsh before": before, "torsh after": best_of(ours, repeats)})


def optimizers(repeats, names):
    rng = np.random.default_rng(2)
    for numel in (1_000, 100_000, 1_000_000, 10_000_000):
        init = rng.standard_normal(numel).astype(np.float32)
        grad = rng.standard_normal(numel).astype(np.float32)
        for opt_name, kwargs, op in (("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4), "sgd_step"),
                                     ("Adam", dict(lr=1e-3), "adam_step"), ("AdamW", dict(lr=1e-3), "adam_step")):
            if opt_name.lower().rstrip("w") not in names and opt_name.lower() not in names:
                continue
            cells = {}
            for label, lib in (("torch", torch), ("torsh", torsh)):
                p = lib.tensor(init.copy(), requires_grad=True)
                p.grad = lib.tensor(grad)
                opt = getattr(lib.optim, opt_name)([p], **kwargs)
                if lib is torsh:
                    with forced_numpy([op]):
                        cells["torsh before"] = best_of(opt.step, repeats)
                    cells["torsh after"] = best_of(opt.step, repeats)
                else:
                    cells["torch"] = best_of(opt.step, repeats)
            row(f"{opt_name} step {numel:,} f32", {k: cells[k] for k in ("torch", "torsh before", "torsh after")})


CONV_OPS = ["im2col2d", "col2im2d", "max_pool2d", "take_spatial", "scatter_spatial"]


def conv_pool(repeats):
    """conv family: conv2d and max_pool2d forward+backward at the W5/W7 layer sizes."""
    rng = np.random.default_rng(3)
    convs = (((64, 1, 28, 28), (6, 1, 5, 5), 2), ((64, 6, 14, 14), (16, 6, 5, 5), 0), ((32, 3, 32, 32), (64, 3, 3, 3), 1))
    for xs, ws, pad in convs:
        x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
        xa, wa = torsh.tensor(x, requires_grad=True), torsh.tensor(w, requires_grad=True)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

        def ours():
            F.conv2d(xa, wa, padding=pad).sum().backward()

        def ref():
            torch.nn.functional.conv2d(xt, wt, padding=pad).sum().backward()

        with forced_numpy(CONV_OPS):
            before = best_of(ours, repeats)
        row(f"conv2d fwd+bwd {xs} k{ws[2]} -> {ws[0]} f32",
            {"torch": best_of(ref, repeats), "torsh before": before, "torsh after": best_of(ours, repeats)})
    for xs in ((64, 6, 28, 28), (64, 16, 10, 10)):
        x = rng.standard_normal(xs).astype(np.float32)
        xa, xt = torsh.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

        def ours():
            F.max_pool2d(xa, 2).sum().backward()

        def ref():
            torch.nn.functional.max_pool2d(xt, 2).sum().backward()

        with forced_numpy(CONV_OPS):
            before = best_of(ours, repeats)
        row(f"max_pool2d(2) fwd+bwd {xs} f32",
            {"torch": best_of(ref, repeats), "torsh before": before, "torsh after": best_of(ours, repeats)})


AVG_OPS = ["avg_pool2d", "avg_pool2d_backward"]


class forced_avg:
    """Run torsh's average-pooling ops on one variant: thresholds (simd, parallel) for both."""

    def __init__(self, simd, parallel):
        self.limits = (simd, parallel)

    def __enter__(self):
        self.saved = {op: dispatch.thresholds[op] for op in AVG_OPS}
        for op in AVG_OPS:
            dispatch.set_thresholds(op, *self.limits)

    def __exit__(self, *exc):
        for op, (simd, parallel) in self.saved.items():
            dispatch.set_thresholds(op, simd, parallel)


def avg_pool(repeats):
    """avg_pool2d forward+backward and forward alone: torsh's old path (a depthwise convolution with a
    ones kernel: im2col + a one-channel GEMM), the window-mean kernels on each variant, and PyTorch."""
    from torsh._ops.nn import pool as nn_pool
    from torsh.nn._functional import pooling
    rng = np.random.default_rng(4)
    for xs, k, s, p in (((32, 64, 32, 32), 2, 2, 0), ((64, 16, 14, 14), 3, 1, 1)):
        x = rng.standard_normal(xs).astype(np.float32)
        outs = [nn_pool.pool_out_size(L, k, s, p, 1, False) for L in xs[2:]]
        g = rng.standard_normal(xs[:2] + tuple(outs)).astype(np.float32)
        xa, ga = torsh.tensor(x, requires_grad=True), torsh.tensor(g)
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g)
        div = np.multiply.outer(*[pooling._avg_divisor_1d(L, k, s, p, o, True) for L, o in zip(xs[2:], outs)])

        def old(backward=True):  # the conv path avg_pool2d took before its kernels
            y = pooling._avg_pool_conv(xa, False, (k, k), (s, s), (p, p), outs, div)
            if backward:
                y.backward(ga)

        def ours(backward=True):
            y = F.avg_pool2d(xa, k, s, p)
            if backward:
                y.backward(ga)

        def ref(backward=True):
            y = torch.nn.functional.avg_pool2d(xt, k, s, p)
            if backward:
                y.backward(gt)

        for backward in (True, False):
            def forced(limits, backward=backward):
                def run():
                    with forced_avg(*limits):
                        ours(backward)
                return run
            cells = best_interleaved({"torch": lambda: ref(backward), "torsh old": lambda: old(backward),
                                      "numpy": forced((dispatch.INF, dispatch.INF)), "kernel": forced((0, dispatch.INF)),
                                      "kernel omp": forced((0, 0)), "torsh after": lambda: ours(backward)}, repeats)
            row(f"avg_pool2d k{k} s{s} p{p} {'fwd+bwd' if backward else 'fwd'} {xs} f32", cells)


def best_interleaved(fns, repeats):
    """{label: best time} with the callables run in turn each round: on a shared machine a load spike
    then hits every column alike instead of whichever one was being timed."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for label, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def rnn_sequences(repeats):
    """W9 (LSTM(32, 128), seq 50, batch 32, fwd+bwd) and its GRU twin; also a larger batch."""
    rng = np.random.default_rng(3)
    for cls, batch, hidden in (("LSTM", 32, 128), ("GRU", 32, 128), ("LSTM", 128, 256), ("GRU", 128, 256)):
        x = rng.standard_normal((50, batch, 32)).astype(np.float32)
        cells = {}
        for label, lib in (("torch", torch), ("torsh", torsh)):
            lib.manual_seed(0)
            module = getattr(lib.nn, cls)(32, hidden)
            xs = lib.tensor(x)

            def step(module=module, xs=xs):
                module.zero_grad()
                out, _ = module(xs)
                out.pow(2).mean().backward()

            if lib is torsh:
                op = cls.lower() + "_sequence"
                with forced_numpy([op, op + "_backward"]):
                    cells["torsh before"] = best_of(step, repeats)
                cells["torsh after"] = best_of(step, repeats)
            else:
                cells["torch"] = best_of(step, repeats)
        row(f"{cls}(32, {hidden}) seq 50 batch {batch} fwd+bwd f32",
            {k: cells[k] for k in ("torch", "torsh before", "torsh after")})


def norm_embedding(repeats):
    """batch_norm (train fwd+bwd, eval fwd), group_norm fwd+bwd and embedding fwd+bwd, float32."""
    rng = np.random.default_rng(3)
    bn_ops = ["batch_norm", "batch_norm_backward", "batch_norm_eval"]
    for shape in ((32, 64, 16, 16), (64, 16, 8, 8), (256, 512)):
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        c = shape[1]
        for training in (True, False):
            cells = {}
            for label, lib, f in (("torch", torch, torch.nn.functional), ("torsh", torsh, F)):
                xs, gs = lib.tensor(x, requires_grad=training), lib.tensor(g)
                w, b = lib.ones(c, requires_grad=training), lib.zeros(c, requires_grad=training)
                rm, rv = lib.zeros(c), lib.ones(c)
                if training:
                    def step(f=f, xs=xs, gs=gs, w=w, b=b, rm=rm, rv=rv):
                        f.batch_norm(xs, rm, rv, w, b, training=True).backward(gs)
                else:
                    def step(f=f, xs=xs, w=w, b=b, rm=rm, rv=rv):
                        f.batch_norm(xs, rm, rv, w, b, training=False)
                if lib is torsh:
                    with forced_numpy(bn_ops):
                        cells["torsh before"] = best_of(step, repeats)
                    cells["torsh after"] = best_of(step, repeats)
                else:
                    cells["torch"] = best_of(step, repeats)
            row(f"batch_norm {'train fwd+bwd' if training else 'eval fwd'} {shape} f32",
                {k: cells[k] for k in ("torch", "torsh before", "torsh after")})
    for shape, groups in (((16, 64, 16, 16), 8), ((32, 64, 8, 8), 8)):
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        c = shape[1]
        cells = {}
        for lib, f in ((torch, torch.nn.functional), (torsh, F)):
            xs, gs = lib.tensor(x, requires_grad=True), lib.tensor(g)
            w, b = lib.ones(c, requires_grad=True), lib.zeros(c, requires_grad=True)

            def step(f=f, xs=xs, gs=gs, w=w, b=b):
                f.group_norm(xs, groups, w, b).backward(gs)
            if lib is torsh:
                with forced_numpy(["group_norm", "group_norm_backward"]):
                    cells["torsh before"] = best_of(step, repeats)
                cells["torsh after"] = best_of(step, repeats)
            else:
                cells["torch"] = best_of(step, repeats)
        row(f"group_norm({groups}) fwd+bwd {shape} f32", {k: cells[k] for k in ("torch", "torsh before", "torsh after")})
    for (num, dim), idx_shape in (((10000, 128), (32, 64)), ((50000, 256), (64, 128))):
        weight = rng.standard_normal((num, dim)).astype(np.float32)
        idx = rng.integers(0, num, idx_shape)
        g = rng.standard_normal(idx_shape + (dim,)).astype(np.float32)
        cells = {}
        for lib, f in ((torch, torch.nn.functional), (torsh, F)):
            ws, it, gs = lib.tensor(weight, requires_grad=True), lib.tensor(idx), lib.tensor(g)

            def step(f=f, ws=ws, it=it, gs=gs):
                ws.grad = None
                f.embedding(it, ws).backward(gs)
            if lib is torsh:
                with forced_numpy(["embedding_backward"]):
                    cells["torsh before"] = best_of(step, repeats)
                cells["torsh after"] = best_of(step, repeats)
            else:
                cells["torch"] = best_of(step, repeats)
        row(f"embedding({num}, {dim}) fwd+bwd idx {idx_shape} f32",
            {k: cells[k] for k in ("torch", "torsh before", "torsh after")})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", default="W10,layer_norm,sgd,adam,conv,avg_pool,rnn,norm_embedding")
    parser.add_argument("--return-memory", action="store_true",
                        help="keep glibc's default of handing large freed blocks back to the kernel (as run.py)")
    args = parser.parse_args()
    if not args.return_memory:  # as run.py: a fresh page-faulting buffer per call would dwarf the kernels
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    torsh.set_num_threads(args.threads)
    only = set(args.only.split(","))
    print(f"threads {args.threads}, best of {args.repeats}; kernels {torsh.backends.kernels_available()}")
    if "W10" in only:
        softmax_ce(args.repeats)
    if "layer_norm" in only:
        layer_norm(args.repeats)
    if only & {"sgd", "adam"}:
        optimizers(args.repeats, only)
    if "conv" in only:
        conv_pool(args.repeats)
    if "avg_pool" in only:
        avg_pool(args.repeats)
    if "rnn" in only:
        rnn_sequences(args.repeats)
    if "norm_embedding" in only:
        norm_embedding(args.repeats)


if __name__ == "__main__":
    main()
