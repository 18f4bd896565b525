"""The portable and the x86-64-v3 copies of each kernel family compute the same results,
and the loader picks the copy the CPU can run."""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from torsh.backend import kernels

FAMILIES = ("elementwise", "reductions")
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
