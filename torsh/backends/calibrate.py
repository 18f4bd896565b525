"""Measure this machine's dispatch thresholds: ``python -m torsh.backends.calibrate``.

For each op whose kernel family (``torsh.backend.families``) declares a calibration recipe, it times
the NumPy variant (the declared reference, or the op's own fallback: numexpr for the optimizer steps),
the single-thread kernel and the OpenMP kernel over a ladder of sizes, takes as ``simd`` threshold the
smallest size from which the single-thread kernel wins at every larger size (likewise ``parallel`` for
OpenMP against the best other variant), and writes the result where ``torsh.backend.dispatch`` loads it.
"""
import argparse
import json
import math
import os
import time

import numpy as np

from ..backend import dispatch, families, kernels
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


def _pass_variants(spec, family, size, rng):
    """A PASS op: its entry point ``(*operands, out, parallel)`` against its declared NumPy reference."""
    operands = spec.sample_operands(size, rng)
    kernel = getattr(family, spec.entries[0])
    out = np.empty_like(spec.reference(*operands))
    return {"numpy": lambda: spec.reference(*operands), "pythran_simd": lambda: kernel(*operands, out, False),
            "pythran_omp": lambda: kernel(*operands, out, True)}


def _rows(size, rng):
    """(size / 1024, 1024) float32 rows (1000-class logits and 1024-wide layers are the common case)."""
    cols = min(size, 1024)
    rows = max(1, size // cols)
    return rng.standard_normal((rows, cols)).astype(np.float32), rng.standard_normal((rows, cols)).astype(np.float32)


def _cross_entropy_variants(family, size, rng, backward):
    x, _ = _rows(size, rng)
    rows, cols = x.shape
    f32 = np.float32
    t = rng.integers(0, cols, rows)
    w = np.ones(cols, f32)
    losses, lse = np.empty(rows, f32), np.empty(rows, f32)
    family.cross_entropy_rows(x, t, w, -100, f32(0), f32(0), losses, lse, False)
    if not backward:  # the NumPy variant: log_softmax then nll_loss's pick
        from .._ops.nn.activation import softmax as activation
        return {"numpy": lambda: -activation._log_softmax_np(x, 1)[np.arange(rows), t].mean(),
                "pythran_simd": lambda: family.cross_entropy_rows(x, t, w, -100, f32(0), f32(0), losses, lse, False),
                "pythran_omp": lambda: family.cross_entropy_rows(x, t, w, -100, f32(0), f32(0), losses, lse, True)}
    scale = np.full(rows, 1 / rows, f32)
    out = np.empty_like(x)

    def reference():
        p = np.exp(x - lse[:, None])
        p[np.arange(rows), t] -= 1
        return p * scale[:, None]

    return {"numpy": reference,
            "pythran_simd": lambda: family.cross_entropy_backward_rows(x, t, w, f32(0), f32(0), scale, lse, out, False),
            "pythran_omp": lambda: family.cross_entropy_backward_rows(x, t, w, f32(0), f32(0), scale, lse, out, True)}


def _layer_norm_variants(family, size, rng, backward):
    from .._ops.nn import norm as nn_norm
    x, g = _rows(size, rng)
    cols = x.shape[1]
    f32 = np.float32
    out = np.empty_like(x)
    w, b = rng.uniform(0.5, 1.5, cols).astype(f32), rng.standard_normal(cols).astype(f32)
    _, mean, rstd = nn_norm.layer_norm_np(x, w, b, 1e-5)
    if not backward:
        return {"numpy": lambda: nn_norm.layer_norm_np(x, w, b, 1e-5),
                "pythran_simd": lambda: family.layer_norm_rows(x, w, b, f32(1e-5), f32(1 / cols), out, mean, rstd,
                                                               True, False),
                "pythran_omp": lambda: family.layer_norm_rows(x, w, b, f32(1e-5), f32(1 / cols), out, mean, rstd,
                                                              True, True)}
    part = np.empty((8, cols), f32)
    return {"numpy": lambda: nn_norm.layer_norm_backward_np(g, x, w, mean, rstd),
            "pythran_simd": lambda: family.layer_norm_backward_rows(g, x, w, mean, rstd, f32(1 / cols), out,
                                                                    part[:1], part[1:2], True, False),
            "pythran_omp": lambda: family.layer_norm_backward_rows(g, x, w, mean, rstd, f32(1 / cols), out,
                                                                   part[:4], part[4:], True, True)}


def _optimizer_step_variants(op, size, rng):
    """The optimizer steps on flat float32 arrays: numexpr passes (the reference variant) against the kernel."""
    from ..optim import _fused, adam, sgd
    f32 = np.float32
    p, grad, m, v = (rng.standard_normal(size).astype(f32) for _ in range(4))
    v = np.abs(v)
    if op == "sgd_step":
        args = (f32(0.01), f32(1), f32(0), f32(0.9), f32(0.9), f32(1), True, False)
        return {"numpy": lambda: sgd._numexpr_update(p, grad, m, False, "g", 0.01, 0.9, 0, 0, False),
                "pythran_simd": lambda: _fused.run_kernel("sgd_step", (p, grad, m), args, False),
                "pythran_omp": lambda: _fused.run_kernel("sgd_step", (p, grad, m), args, True)}
    args = (f32(1), f32(1), f32(0), f32(0.1), f32(0.9), True, f32(0.999), f32(0.001), f32(0.3), f32(1e-8),
            f32(-0.001), False)
    return {"numpy": lambda: adam._numexpr_update(p, grad, m, v, v, "g", 1, 0, 0.9, 0.999, 0.09, 0.001, 1e-8, False),
            "pythran_simd": lambda: _fused.run_kernel("adam_step", (p, grad, m, v, v), args, False),
            "pythran_omp": lambda: _fused.run_kernel("adam_step", (p, grad, m, v, v), args, True)}


# an array and a Python number: NumPy's ufunc with the weak scalar against the kernel given the number in the
# array's dtype (sub_scalar's kernel is add_scalar of -s)
_SCALAR_NUMPY = {"add_scalar": lambda a, s: a + s, "sub_scalar": lambda a, s: a - s, "mul_scalar": lambda a, s: a * s,
                 "div_scalar": lambda a, s: a / s, "rsub_scalar": lambda a, s: s - a, "rdiv_scalar": lambda a, s: s / a}


def _scalar_variants(op, family, size, rng):
    a = rng.standard_normal(size).astype(np.float32) + 2
    number = 0.75
    s = np.float32(-number if op == "sub_scalar" else number)
    kernel = getattr(family, families.ops()[op].entries[0])
    out = np.empty_like(a)
    return {"numpy": lambda: _SCALAR_NUMPY[op](a, number), "pythran_simd": lambda: kernel(a, s, out, False),
            "pythran_omp": lambda: kernel(a, s, out, True)}


def _fill_variants(family, size, rng):
    out = np.empty(size, np.float32)
    value = np.float32(1.5)

    def numpy_fill():
        out[...] = value

    return {"numpy": numpy_fill, "pythran_simd": lambda: family.fill(out, value, False),
            "pythran_omp": lambda: family.fill(out, value, True)}


_ACTIVATION_CALLS = {"silu_backward": ("silu", {}), "gelu_backward": ("gelu", {}),
                     "gelu_tanh_backward": ("gelu", {"approximate": "tanh"}), "softplus_backward": ("softplus", {}),
                     "elu_backward": ("elu", {}), "mish_backward": ("mish", {}), "relu_backward": ("relu", {})}


def _activation_backward_variants(op, size, rng):
    """The activation's backward node run with ``op`` forced onto each variant in turn (the
    reference variant is the derivative in torsh ops)."""
    from .. import nn, tensor
    from ..autograd import grad_mode
    name, kwargs = _ACTIVATION_CALLS[op]
    x = tensor(rng.standard_normal(size).astype(np.float32), requires_grad=True)
    grad = tensor(rng.standard_normal(size).astype(np.float32))
    node = getattr(nn.functional, name)(x, **kwargs).grad_fn

    def forced(simd, parallel):
        def run():
            saved = dispatch.thresholds[op]
            dispatch.set_thresholds(op, simd, parallel)
            try:
                with grad_mode.no_grad():
                    node.backward(grad)
            finally:
                dispatch.set_thresholds(op, *saved)
        return run

    return {"numpy": forced(INF, INF), "pythran_simd": forced(0, INF), "pythran_omp": forced(0, 0)}


# The recipes a family entry names in its ``calibration`` (besides PASS): (op, compiled module, size, rng) ->
# {variant: zero-argument callable}. Their NumPy variant is the op's own fallback (numexpr for the optimizer
# steps, the derivative's torsh ops for activation backward), which is what the thresholds must beat.
RECIPES = {
    "cross_entropy": lambda op, family, size, rng: _cross_entropy_variants(family, size, rng, backward=False),
    "cross_entropy_backward": lambda op, family, size, rng: _cross_entropy_variants(family, size, rng, backward=True),
    "layer_norm": lambda op, family, size, rng: _layer_norm_variants(family, size, rng, backward=False),
    "layer_norm_backward": lambda op, family, size, rng: _layer_norm_variants(family, size, rng, backward=True),
    "sgd_step": lambda op, family, size, rng: _optimizer_step_variants(op, size, rng),
    "adam_step": lambda op, family, size, rng: _optimizer_step_variants(op, size, rng),
    "activation_backward": lambda op, family, size, rng: _activation_backward_variants(op, size, rng),
    "scalar": _scalar_variants,
    "fill": lambda op, family, size, rng: _fill_variants(family, size, rng),
}

# Whole-layer kernels whose cost depends on more than a numel (kernel size, channels, sequence
# length), and nll_loss: declared without a calibration recipe (backend/families.py says why); their
# built-in thresholds are kept.
NOT_CALIBRATED = tuple(op for op, spec in families.ops().items() if spec.calibration is None)


def _variants(op, size, rng):
    """{variant: zero-argument callable} running ``op`` on ``size`` float32 elements."""
    spec = families.ops()[op]
    family = kernels.get(dispatch._FAMILY[op])
    if spec.calibration == families.PASS:
        return _pass_variants(spec, family, size, rng)
    return RECIPES[spec.calibration](op, family, size, rng)


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
        if kernels.get(dispatch._FAMILY[op]) is None or op in NOT_CALIBRATED:
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
    print(f"kept built-in thresholds (layer kernels, measured by benchmarks/kernels_bench.py): "
          f"{', '.join(op for op in NOT_CALIBRATED if op in dispatch.thresholds)}")
    print(f"written to {path}")
    return results


if __name__ == "__main__":
    main()
