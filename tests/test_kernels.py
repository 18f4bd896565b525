"""Compiled Pythran kernels and the dispatcher that chooses them (issue "Foundation", part 7)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import torsh
from helpers import dtype_name

BIG = 1_000_000
SMALL = 10

NUMPY_UNARY = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x.astype(np.float64))),
    "tanh": lambda x: np.tanh(x.astype(np.float64)),
    "relu": lambda x: np.maximum(x, 0),
}


def _dispatch():
    from torsh.backend import dispatch
    return dispatch


def _records_for(records, op):
    return [r for r in records if op in str(r.op)]


def test_kernels_available_reports_families():
    avail = torsh.backends.kernels_available()
    assert isinstance(avail, dict)
    assert all(isinstance(k, str) and isinstance(v, bool) for k, v in avail.items())
    assert avail.get("elementwise") is True
    assert avail.get("reductions") is True


def test_dispatch_records_have_the_documented_fields():
    dispatch = _dispatch()
    x = torsh.rand(SMALL)
    with dispatch.record() as records:
        x.sigmoid()
    assert len(records) >= 1
    rec = _records_for(records, "sigmoid")[0]
    for field in ("op", "variant", "reason", "numel", "dtype"):
        assert hasattr(rec, field), field
    assert isinstance(rec.variant, str) and isinstance(rec.reason, str) and rec.reason
    assert rec.numel == SMALL
    assert dtype_name(rec.dtype) == "float32"


def test_records_only_collected_inside_the_context():
    dispatch = _dispatch()
    x = torsh.rand(SMALL)
    with dispatch.record() as records:
        x.tanh()
    n = len(records)
    x.tanh()
    x.relu()
    assert len(records) == n
    with dispatch.record() as fresh:
        pass
    assert len(fresh) == 0


@pytest.mark.parametrize("op", ["sigmoid", "relu"])  # tanh: NumPy's SIMD ufunc beats its kernel (below)
def test_large_float32_elementwise_uses_pythran(op):
    dispatch = _dispatch()
    arr = np.random.default_rng(0).uniform(-5, 5, BIG).astype(np.float32)
    x = torsh.from_numpy(arr.copy())
    with dispatch.record() as records:
        out = getattr(x, op)()
    recs = _records_for(records, op)
    assert recs, f"no dispatch record for {op}: {records}"
    assert recs[0].variant.startswith("pythran"), recs[0]
    assert recs[0].numel == BIG
    assert dtype_name(recs[0].dtype) == "float32"
    assert dtype_name(out.dtype) == "float32" and out.shape == (BIG,)
    np.testing.assert_allclose(out.numpy(), NUMPY_UNARY[op](arr), rtol=1e-5, atol=1e-6)


def test_large_float32_tanh_stays_on_numpy():
    """NumPy's tanh is a SIMD ufunc, 4x its kernel on one thread (dd054d9): the dispatcher keeps it at every size."""
    dispatch = _dispatch()
    arr = np.random.default_rng(0).uniform(-5, 5, BIG).astype(np.float32)
    with dispatch.record() as records:
        out = torsh.from_numpy(arr.copy()).tanh()
    recs = _records_for(records, "tanh")
    assert recs and recs[0].variant == "numpy", records
    np.testing.assert_array_equal(out.numpy(), np.tanh(arr))


@pytest.mark.parametrize("op", ["sigmoid", "tanh"])  # relu runs its kernel at every size (test_perf_cnn.py)
def test_small_elementwise_uses_numpy(op):
    dispatch = _dispatch()
    arr = np.linspace(-3, 3, SMALL, dtype=np.float32)
    x = torsh.from_numpy(arr.copy())
    with dispatch.record() as records:
        out = getattr(x, op)()
    recs = _records_for(records, op)
    assert recs and recs[0].variant.startswith("numpy"), records
    np.testing.assert_allclose(out.numpy(), NUMPY_UNARY[op](arr), rtol=1e-5, atol=1e-6)


def test_large_kernel_results_match_small_path_elementwise():
    """The compiled and the NumPy variant must agree on the same values."""
    arr = np.random.default_rng(1).uniform(-8, 8, BIG).astype(np.float32)
    big = torsh.from_numpy(arr.copy()).sigmoid().numpy()
    head = torsh.from_numpy(arr[:SMALL].copy()).sigmoid().numpy()
    np.testing.assert_allclose(big[:SMALL], head, rtol=1e-5, atol=1e-6)


def test_large_sigmoid_backward_matches_numpy():
    arr = np.random.default_rng(2).uniform(-4, 4, BIG).astype(np.float32)
    x = torsh.tensor(arr, requires_grad=True)
    x.sigmoid().sum().backward()
    s = NUMPY_UNARY["sigmoid"](arr)
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-4, atol=1e-6)


# ============================================================================ TORSH_REQUIRE_KERNELS

def _run_python(code, tmp_path, **env_vars):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORSH_")}
    env.update(env_vars)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_require_kernels_imports_when_kernels_present(tmp_path):
    proc = _run_python("""
        import torsh
        avail = torsh.backends.kernels_available()
        assert avail["elementwise"] and avail["reductions"], avail
        print("ok")
    """, tmp_path, TORSH_REQUIRE_KERNELS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_require_kernels_fails_import_when_family_missing(tmp_path):
    proc = _run_python("import torsh", tmp_path, TORSH_REQUIRE_KERNELS="1",
                       TORSH_KERNELS_DISABLE="elementwise")
    assert proc.returncode != 0
    assert "elementwise" in proc.stderr


def test_missing_family_falls_back_to_numpy_without_require(tmp_path):
    proc = _run_python(f"""
        import numpy as np, torsh
        from torsh.backend import dispatch
        avail = torsh.backends.kernels_available()
        assert avail["elementwise"] is False and avail["reductions"] is True, avail
        arr = np.random.default_rng(0).uniform(-5, 5, {BIG}).astype(np.float32)
        with dispatch.record() as records:
            out = torsh.from_numpy(arr).sigmoid()
        rec = [r for r in records if "sigmoid" in str(r.op)][0]
        assert rec.variant.startswith("numpy"), rec
        np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-arr.astype(np.float64))),
                                   rtol=1e-5, atol=1e-6)
        print("ok")
    """, tmp_path, TORSH_KERNELS_DISABLE="elementwise")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
