"""Float32 products on the panel GEMM's ``matmul`` entry (kernels_cpp/lstm_cell.cpp), shared with the helper
threads of kernels_cpp/spin_team.h at several threads under torsh.backend.threads' ``gemm_team`` switch: values
against NumPy in float64 and against PyTorch (forward and both gradients of mm / Linear), the same bits on any
thread count, every operand layout, the buffer checks, a forked child, and the switch's explanation."""
import importlib
import importlib.util
import os

import numpy as np
import pytest

import torsh
from torsh._ops.tensor.linalg import matmul as matmul_module
from torsh.backend import dispatch, kernels, threads

from helpers import assert_close, needs_torch, torch_ref

pytestmark = pytest.mark.skipif(kernels.get("lstm_cell") is None, reason="lstm_cell kernels not built")

F32 = np.float32


def _copies():
    """Both builds of the family that load here: the baseline copy and the x86-64-v3 one (AVX-512 or AVX2 loops)."""
    torsh.tensor(0.0)
    names = [n for n in ("torsh._kernels.lstm_cell", "torsh._kernels.lstm_cell_avx2") if importlib.util.find_spec(n)]
    return [importlib.import_module(n) for n in names]


def _kernel_matmul(cell, a, b, threads_, a_layout="C", b_layout="C"):
    """a @ b through cell.matmul with ``a`` read row-major ("C") or as the transpose of a row-major matrix ("F"),
    ``b`` row-major ("C") or as weight.t() ("T")."""
    (m, k), n = a.shape, b.shape[1]
    if a_layout == "C":
        a_rows, sm, sk = np.ascontiguousarray(a), k, 1
    else:
        a_rows, sm, sk = np.ascontiguousarray(a.T), 1, m
    b_rows, transposed = (np.ascontiguousarray(b), False) if b_layout == "C" else (np.ascontiguousarray(b.T), True)
    out = np.full((m, n), np.nan, F32)
    cell.matmul(a_rows, b_rows, out, m, k, n, sm, sk, transposed, threads_)
    return out


SHAPES = [(1, 1, 1), (0, 4, 3), (5, 0, 3), (7, 5, 0), (37, 13, 29), (64, 128, 96), (129, 65, 33), (513, 130, 385),
          (45, 1100, 40)]


@pytest.mark.parametrize("copy", range(2), ids=["baseline", "x86-64-v3"])
@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("layouts", [("C", "C"), ("C", "T"), ("F", "C"), ("F", "T")], ids="-".join)
def test_matmul_matches_numpy_and_gives_the_same_bits_on_any_thread_count(copy, m, k, n, layouts):
    copies = _copies()
    if copy >= len(copies):
        pytest.skip("x86-64-v3 copies are only built on x86-64 without -Dmarch")
    cell = copies[copy]
    rng = np.random.default_rng(m * 7 + k * 3 + n)
    a, b = rng.standard_normal((m, k), dtype=F32), rng.standard_normal((k, n), dtype=F32)
    alone = _kernel_matmul(cell, a, b, 1, *layouts)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(alone, expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max(initial=0)))
    for threads_ in (2, 3, 16):
        np.testing.assert_array_equal(_kernel_matmul(cell, a, b, threads_, *layouts), alone)


def test_matmul_matches_the_packed_gemm_bit_for_bit():
    """The entry packs B as pack_weight does and runs the same tiles as gemm: what the one-thread path ran before."""
    cell = kernels.get("lstm_cell")
    rng = np.random.default_rng(1)
    m, k, n = 200, 150, 70
    a, w = rng.standard_normal((m, k), dtype=F32), rng.standard_normal((n, k), dtype=F32)
    before = np.empty((m, n), F32)
    cell.gemm(a, cell.pack_weight(w, n, k, True), before, m, k, n, k, 1, False)
    now = np.empty((m, n), F32)
    cell.matmul(a, w, now, m, k, n, k, 1, True, 2)
    np.testing.assert_array_equal(now, before)


def test_matmul_checks_its_buffers():
    cell = kernels.get("lstm_cell")
    a, b, c = np.zeros((4, 3), F32), np.zeros((3, 5), F32), np.zeros((4, 5), F32)
    cell.matmul(a, b, c, 4, 3, 5, 3, 1, False, 2)
    cell.matmul(a, b, c, 4, 3, 5, 1, 4, False, 2)  # a read as a transposed (3, 4): its last element is a[11]
    with pytest.raises(ValueError, match="matmul: c holds 80 bytes, expected 24 float32 values"):
        cell.matmul(a, b, c, 4, 3, 6, 3, 1, False, 2)
    with pytest.raises(ValueError, match="matmul: b holds 60 bytes, expected 20 float32 values"):
        cell.matmul(np.zeros((5, 4), F32), b, np.zeros((5, 5), F32), 5, 4, 5, 4, 1, False, 2)
    with pytest.raises(ValueError, match="matmul: a holds 48 bytes, the strides read element 13"):
        cell.matmul(a, b, c, 4, 3, 5, 3, 2, False, 2)
    with pytest.raises(ValueError, match="matmul: negative or too large shape"):
        cell.matmul(a, b, c, -4, 3, 5, 3, 1, False, 2)
    with pytest.raises(ValueError, match="matmul: negative or too large shape"):
        cell.matmul(a, b, c, 1 << 62, 3, 5, 3, 1, False, 2)
    with pytest.raises(ValueError, match="matmul: negative or too large strides"):
        cell.matmul(a, b, c, 4, 3, 5, -3, 1, False, 2)
    with pytest.raises(TypeError, match="argument 3 must be read-write bytes-like object"):
        cell.matmul(a, b, np.zeros((5, 8), F32)[:, :5], 4, 3, 5, 3, 1, False, 2)  # a strided c is refused


def test_set_spin_us_checks_its_range():
    cell = kernels.get("lstm_cell")
    previous = cell.set_spin_us(0)
    try:
        rng = np.random.default_rng(2)
        a, b = rng.standard_normal((128, 64), dtype=F32), rng.standard_normal((64, 96), dtype=F32)
        np.testing.assert_array_equal(_kernel_matmul(cell, a, b, 2), _kernel_matmul(cell, a, b, 1))
    finally:
        assert cell.set_spin_us(previous) == 0
    with pytest.raises(ValueError, match=r"set_spin_us: -1 is not in \[0, 1000000\]"):
        cell.set_spin_us(-1)
    stats = cell.team_stats()
    assert set(stats) == {"jobs", "seats", "wakes", "helpers"} and stats["jobs"] >= 1 and stats["helpers"] >= 1


# -- through torsh ----------------------------------------------------------------------------------------------

@pytest.fixture(params=[True, False], ids=["team-on", "team-off"])
def gemm_team(request):
    previous = threads.set_gemm_team(request.param)
    yield request.param
    threads.set_gemm_team(previous)


def _linear_step(lib, x_np, w_np, b_np, g_np, transpose_x):
    x = lib.from_numpy(x_np.copy())
    if transpose_x:  # a non-contiguous input: the transpose of a row-major matrix
        x = lib.from_numpy(np.ascontiguousarray(x_np.T)).t()
    x.requires_grad_()
    w = lib.from_numpy(w_np.copy()).requires_grad_()
    b = lib.from_numpy(b_np.copy()).requires_grad_()
    out = lib.nn.functional.linear(x, w, b)
    out.backward(lib.from_numpy(g_np))
    return out, x.grad, w.grad, b.grad


@needs_torch
@pytest.mark.parametrize("rows,fan_in,fan_out", [(512, 128, 384), (97, 131, 333), (64, 256, 257)])
@pytest.mark.parametrize("transpose_x", [False, True])
def test_linear_forward_and_gradients_match_pytorch(num_threads, gemm_team, rows, fan_in, fan_out, transpose_x):
    rng = np.random.default_rng(rows + fan_in)
    x_np = rng.standard_normal((rows, fan_in), dtype=F32)
    w_np = rng.standard_normal((fan_out, fan_in), dtype=F32) / 10
    b_np = rng.standard_normal(fan_out, dtype=F32)
    g_np = rng.standard_normal((rows, fan_out), dtype=F32)
    ours = _linear_step(torsh, x_np, w_np, b_np, g_np, transpose_x)
    ref = _linear_step(torch_ref, x_np, w_np, b_np, g_np, transpose_x)
    for a, b in zip(ours, ref):
        assert a.dtype == torsh.float32
        assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert ours[2]._data.flags.c_contiguous  # weight.grad row-major, as PyTorch's


@needs_torch
@pytest.mark.parametrize("lhs", ["contiguous", "transposed", "sliced"])
def test_mm_of_any_layout_matches_pytorch(num_threads, gemm_team, lhs):
    rng = np.random.default_rng(9)
    a_np = rng.standard_normal((150, 300), dtype=F32)
    b_np = rng.standard_normal((300, 140), dtype=F32)
    results = []
    for lib in (torsh, torch_ref):
        a = lib.from_numpy(a_np.copy())
        a = {"contiguous": a, "transposed": lib.from_numpy(np.ascontiguousarray(a_np.T)).t(),
             "sliced": lib.from_numpy(np.repeat(a_np, 2, axis=1))[:, ::2]}[lhs].requires_grad_()
        b = lib.from_numpy(b_np.copy()).requires_grad_()
        out = lib.mm(a, b)
        out.backward(lib.ones_like(out))
        results.append((out, a.grad, b.grad))
    for ours, ref in zip(*results):
        assert_close(ours, ref, rtol=1e-4, atol=1e-3)


def test_the_switch_says_where_products_run(num_threads, gemm_team):
    """At one thread the panel GEMM runs alone whatever the switch; at two, on its team with the switch on and on
    OpenBLAS with it off; small or short products stay on OpenBLAS."""
    cell = kernels.get("lstm_cell")
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((128, 256), dtype=F32), rng.standard_normal((256, 256), dtype=F32)
    expected = {1: "panel_gemm (", 2: "panel_gemm_team (" if gemm_team else "blas ("}[num_threads]
    assert dispatch.explain("matmul", (128, 256, 256)).startswith("matmul 128x256 @ 256x256: " + expected)
    assert "blas (32 rows < 64" in dispatch.explain("matmul", (32, 256, 2048))
    assert "blas (dtype float64" in dispatch.explain("matmul", (128, 256, 256), "float64")
    assert threads.panel_gemm_threads(128, 256, 256) == {1: 1, 2: 2 if gemm_team else 0}[num_threads]
    jobs = cell.team_stats()["jobs"]
    got = matmul_module._panel_gemm(a, b)
    if expected == "blas (":
        assert got is None
    else:
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    assert cell.team_stats()["jobs"] - jobs == (1 if expected.startswith("panel_gemm_team") else 0)


def _in_forked_child(body):
    """body() in a fork() child; its return value (a short string) or the child's error."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            message = body()
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            message = f"error: {type(error).__name__}: {error}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    return message


def test_products_after_fork():
    """In a forked child (a DataLoader worker) torsh keeps products off the team (no helper starts or spins
    there), and the kernel's own team, asked for directly, starts fresh helpers and gives the same bits."""
    previous = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        cell = kernels.get("lstm_cell")
        rng = np.random.default_rng(6)
        a, w = rng.standard_normal((256, 128), dtype=F32), rng.standard_normal((384, 128), dtype=F32)
        _kernel_matmul(cell, a, w.T, 2)  # the parent's team has helpers now
        parent = _kernel_matmul(cell, a, w.T, 1)

        def child():
            assert threads.panel_gemm_threads(256, 128, 384) == 0
            assert "forked process" in dispatch.explain("matmul", (256, 128, 384))
            x = torsh.from_numpy(a).requires_grad_()
            weight = torsh.from_numpy(w).requires_grad_()
            out = torsh.nn.functional.linear(x, weight)
            out.sum().backward()
            np.testing.assert_allclose(out.detach().numpy(), a.astype(np.float64) @ w.T, rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(weight.grad.numpy(), np.broadcast_to(a.sum(0), w.shape), rtol=1e-4, atol=1e-3)
            before = cell.team_stats()
            assert before["helpers"] == 0  # the parent's helpers are not in the child: nothing started yet
            np.testing.assert_array_equal(_kernel_matmul(cell, a, w.T, 2), parent)
            return "ok"

        assert _in_forked_child(child) == "ok"
    finally:
        torsh.set_num_threads(previous)
