"""Measure this machine's dispatch thresholds: ``python -m torsh.backends.calibrate``.

For each op with a compiled kernel it times NumPy, the single-thread kernel and the OpenMP
kernel over a ladder of sizes, takes as ``simd`` threshold the smallest size from which the
single-thread kernel wins at every larger size (likewise ``parallel`` for OpenMP against the
best other variant), and writes the result where ``torsh.backend.dispatch`` loads it.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import scipy.special

from ..backend import dispatch, kernels
from ..backend.dispatch import INF

SIZES = (256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304)
QUICK_SIZES = (1024, 16_384, 262_144, 1_048_576)


def _time(fn, repeats):
    fn()  # warm-up (first-touch pages, thread pool start)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _variants(op, size, rng):
    """{variant: zero-argument callable} running ``op`` on ``size`` float32 elements."""
    family = kernels.get(dispatch._FAMILY.get(op, "elementwise"))
    if op in dispatch._FAMILY:  # row reductions: 1024-wide rows
        cols = min(size, 1024)
        x = rng.standard_normal((size // cols, cols)).astype(np.float32)
        out = np.empty(x.shape[0], np.float32)
        reference = {"sum_rows": lambda: x.sum(axis=1), "max_rows": lambda: x.max(axis=1),
                     "logsumexp_rows": lambda: np.log(np.exp(x - x.max(1, keepdims=True)).sum(1))}[op]
        kernel = getattr(family, op)
        return {"numpy": reference, "pythran_simd": lambda: kernel(x, out, False),
                "pythran_omp": lambda: kernel(x, out, True)}
    a = rng.standard_normal(size).astype(np.float32)
    b = rng.standard_normal(size).astype(np.float32) + 2
    out = np.empty_like(a)
    kernel = getattr(family, op)
    numpy_reference = {
        "add": lambda: np.add(a, b, out=out), "sub": lambda: np.subtract(a, b, out=out),
        "mul": lambda: np.multiply(a, b, out=out), "div": lambda: np.divide(a, b, out=out),
        "exp": lambda: np.exp(a, out=out), "tanh": lambda: np.tanh(a, out=out),
        "sigmoid": lambda: scipy.special.expit(a, out=out),  # what dispatch's NumPy variant runs
        "relu": lambda: np.maximum(a, 0, out=out),
        "gelu_tanh": lambda: np.multiply(0.5 * a, 1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3)), out=out),
    }[op]
    if op in ("add", "sub", "mul", "div"):
        return {"numpy": numpy_reference, "pythran_simd": lambda: kernel(a, b, out, False),
                "pythran_omp": lambda: kernel(a, b, out, True)}
    return {"numpy": numpy_reference, "pythran_simd": lambda: kernel(a, out, False),
            "pythran_omp": lambda: kernel(a, out, True)}


def _first_size_winning_from_here_on(sizes, wins):
    threshold = INF
    for size, won in reversed(list(zip(sizes, wins))):
        if not won:
            break
        threshold = size
    return threshold


def calibrate(ops=None, sizes=SIZES, repeats=5, seed=0):
    """{op: (simd, parallel)} measured here, with the raw timings as a second result."""
    rng = np.random.default_rng(seed)
    results, timings = {}, {}
    for op in ops or dispatch.thresholds:
        if kernels.get(dispatch._FAMILY.get(op, "elementwise")) is None:
            continue
        rows = []
        for size in sizes:
            rows.append({name: _time(fn, repeats) for name, fn in _variants(op, size, rng).items()})
        simd_wins = [r["pythran_simd"] < r["numpy"] for r in rows]
        omp_wins = [r["pythran_omp"] < min(r["numpy"], r["pythran_simd"]) for r in rows]
        results[op] = (_first_size_winning_from_here_on(sizes, simd_wins),
                       _first_size_winning_from_here_on(sizes, omp_wins))
        timings[op] = {str(size): row for size, row in zip(sizes, rows)}
    return results, timings


def write(results, timings, path):
    payload = {"machine": dispatch.machine_signature(),
               "thresholds": {op: [None if v == INF else v for v in pair] for op, pair in results.items()},
               "timings_seconds": timings}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1)
    os.replace(tmp, path)  # never leave a half-written cache for the next import


def _numel(value):
    return "never" if value == INF else f"{value:,}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (seconds, not a minute)")
    parser.add_argument("--out", default=None, help="where to write (default: the cache torsh loads)")
    args = parser.parse_args(argv)
    sizes, repeats = (QUICK_SIZES, 3) if args.quick else (SIZES, 7)
    results, timings = calibrate(sizes=sizes, repeats=repeats)
    path = args.out or dispatch.calibration_path()
    write(results, timings, path)
    width = max(len(op) for op in results)
    print(f"{'op':<{width}}  {'simd from':>12}  {'parallel from':>14}")
    for op, (simd, parallel) in results.items():
        print(f"{op:<{width}}  {_numel(simd):>12}  {_numel(parallel):>14}")
    print(f"written to {path}")
    return results


if __name__ == "__main__":
    main()
