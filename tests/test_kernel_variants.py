"""The portable and the x86-64-v3 copies of each kernel family compute the same results,
and the loader picks the copy the CPU can run."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from torsh.backend import kernels

FAMILIES = kernels.FAMILIES
AVX2_BUILT = all(importlib.util.find_spec(f"torsh._kernels.{f}_avx2") for f in FAMILIES)


def _unary_inputs(rng, dtype):
    x = rng.standard_normal(70_000).astype(dtype)
    return (x, np.empty_like(x))


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "gelu_tanh"])
@pytest.mark.parametrize("parallel", [False, True])
def test_unary_kernels_agree_across_instruction_sets(name, dtype, parallel):
    base = importlib.import_module("torsh._kernels.elementwise")
    fast = importlib.import_module("torsh._kernels.elementwise_avx2")
    x, out_base = _unary_inputs(np.random.default_rng(0), dtype)
    out_fast = np.empty_like(out_base)
    getattr(base, name)(x, out_base, parallel)
    getattr(fast, name)(x, out_fast, parallel)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out_fast, out_base, rtol=rtol, atol=rtol)


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
@pytest.mark.parametrize("name", ["sum_rows", "max_rows", "logsumexp_rows"])
def test_row_reductions_agree_across_instruction_sets(name):
    base = importlib.import_module("torsh._kernels.reductions")
    fast = importlib.import_module("torsh._kernels.reductions_avx2")
    x = np.random.default_rng(1).standard_normal((300, 257)).astype(np.float32)
    a, b = np.empty(300, np.float32), np.empty(300, np.float32)
    getattr(base, name)(x, a, True)
    getattr(fast, name)(x, b, True)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def _both(family):
    return importlib.import_module(f"torsh._kernels.{family}"), importlib.import_module(f"torsh._kernels.{family}_avx2")


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_and_step_kernels_agree_across_instruction_sets(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 257)).astype(dtype)
    g = rng.standard_normal((300, 257)).astype(dtype)
    t = rng.integers(0, 257, 300)
    w = rng.uniform(0.5, 1.5, 257).astype(dtype)
    s = dtype(0.1)
    rtol = 1e-4 if dtype == np.float32 else 1e-12  # FMA contraction in the x86-64-v3 copy: float32 row sums drift
    calls = {
        "nn": [("softmax_rows", lambda: (x,), (x.shape,)),
               ("log_softmax_rows", lambda: (x,), (x.shape,)),
               ("softmax_backward_rows", lambda: (x, g), (x.shape,)),
               ("log_softmax_backward_rows", lambda: (x, g), (x.shape,)),
               ("cross_entropy_rows", lambda: (x, t, w, -100, s, dtype(s / 257)), ((300,), (300,)))],
        "norm": [("layer_norm_rows", lambda: (x, w, w, dtype(1e-5), dtype(1 / 257)), (x.shape, (300,), (300,))),
                 ("layer_norm_backward_rows", lambda: (g, x, w, x[:, 0].copy(), np.abs(x[:, 1]), dtype(1 / 257)),
                  (x.shape, (4, 257), (4, 257)))],
    }
    for family, cases in calls.items():
        base, fast = _both(family)
        for name, inputs, out_shapes in cases:
            outs = []
            for module in (base, fast):
                out = [np.zeros(shape, dtype) for shape in out_shapes]
                extra = (True,) if name.startswith("layer_norm") else ()
                getattr(module, name)(*inputs(), *out, *extra, True)
                outs.append(out)
            for a, b in zip(*outs):
                np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"{family}.{name}")
    base, fast = _both("optim")
    results = []
    for module in (base, fast):
        p, m, v = x.reshape(-1).copy(), g.reshape(-1).copy(), np.abs(g.reshape(-1))
        module.sgd_step(p, g.reshape(-1), m, dtype(0.1), dtype(1), dtype(0.01), dtype(0.9), dtype(0.9), dtype(1), True,
                        True)
        module.adam_step(p, g.reshape(-1), m, v, v.copy(), dtype(0.99), dtype(-1), dtype(0), dtype(0.1), dtype(0.9),
                         True, dtype(0.999), dtype(0.001), dtype(0.3), dtype(1e-8), dtype(-0.01), True)
        results.append((p, m, v))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,scalars", [("silu_backward", (0.5, 1)), ("gelu_backward", (-0.5, 0.3989422804014327)),
                                          ("gelu_tanh_backward", (0.5, 1, 0.7978845608028654, 0.044715, 0.134145)),
                                          ("softplus_backward", (0.5, 1, 2.0, 5.0)), ("elu_backward", (0, 1, 1, 1)),
                                          ("mish_backward", (0.5, 1)), ("relu_backward", (0,))])
def test_activation_backward_kernels_agree_across_instruction_sets(name, scalars, dtype):
    base, fast = _both("activation")
    x, out_base = _unary_inputs(np.random.default_rng(3), dtype)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    out_fast = np.empty_like(out_base)
    getattr(base, name)(g, x, out_base, *[dtype(v) for v in scalars], True)
    getattr(fast, name)(g, x, out_fast, *[dtype(v) for v in scalars], True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out_fast, out_base, rtol=rtol, atol=rtol)


def test_loader_reports_the_copy_in_use():
    isa = kernels.instruction_sets()
    expected = "x86-64-v3" if AVX2_BUILT and kernels.cpu_supports_x86_64_v3() else "baseline"
    assert isa == {family: expected for family in FAMILIES}


def test_baseline_can_be_forced():
    env = dict(os.environ, TORSH_KERNEL_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", "import torsh; print(torsh.backends.kernel_instruction_sets())"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "'elementwise': 'baseline'" in out.stdout


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nll_rows_agrees_across_instruction_sets(dtype):
    rng = np.random.default_rng(5)
    logp = rng.standard_normal((300, 17)).astype(dtype)
    target = rng.integers(0, 17, 300)
    target[::7] = -100
    weight = rng.uniform(0.5, 1.5, 17).astype(dtype)
    results = []
    for module in _both("nn"):
        losses, coeff = np.empty(300, dtype), np.zeros((300, 17), dtype)
        total, bad_row = module.nll_rows(logp, target, weight, -100, losses, coeff, True)
        results.append((losses, coeff, total, bad_row))
    (losses_a, coeff_a, total_a, bad_a), (losses_b, coeff_b, total_b, bad_b) = results
    np.testing.assert_array_equal(losses_a, losses_b)
    np.testing.assert_array_equal(coeff_a, coeff_b)
    assert (total_a, bad_a) == (total_b, bad_b) and bad_a == -1
    np.testing.assert_allclose(total_a, weight[target[target != -100]].astype(np.float64).sum(), rtol=1e-12)
