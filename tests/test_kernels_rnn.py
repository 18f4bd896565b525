"""The rnn kernel family (fused LSTM/GRU cell steps) through nn.LSTM / nn.GRU, against PyTorch.

Every test runs on each variant the dispatcher can pick for a sequence: the NumPy twins of
the cell steps, the compiled single-thread kernels and the OpenMP ones, forced through the
thresholds, and checks from the dispatch records that the variant asked for really ran.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._ops.nn.rnn import input_gates as rnn_input_gates
from torsh._ops.nn.rnn.fused_layer import gru_sequence, lstm_sequence
from torsh.backend import dispatch, kernels

OPS = ("lstm_sequence", "lstm_sequence_backward", "gru_sequence", "gru_sequence_backward")
VARIANTS = {"numpy": (math.inf, math.inf), "pythran_simd": (0, math.inf), "pythran_omp": (0, 0)}


@pytest.fixture(params=list(VARIANTS))
def variant(request):
    saved = {op: dispatch.thresholds[op] for op in OPS}
    for op in OPS:
        dispatch.set_thresholds(op, *VARIANTS[request.param])
    yield request.param
    for op, (simd, parallel) in saved.items():
        dispatch.set_thresholds(op, simd, parallel)


def _pair(cls, dtype, **kwargs):
    """A torsh module and a PyTorch module of class ``cls`` with the same weights."""
    ref = getattr(torch_ref.nn, cls)(**kwargs).to(getattr(torch_ref, dtype))
    mine = getattr(torsh.nn, cls)(**kwargs).to(getattr(torsh, dtype))
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


def _tolerances(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)


CONFIGS = [  # (bidirectional, num_layers, batch_first, bias, given initial state)
    (False, 1, False, True, False),
    (True, 2, True, True, True),
    (False, 2, False, False, True),
]


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bidirectional,num_layers,batch_first,bias,given_state", CONFIGS)
def test_outputs_states_and_all_gradients_match_torch(variant, cls, dtype, bidirectional, num_layers, batch_first,
                                                      bias, given_state):
    hidden, feat, steps, batch = 7, 5, 6, 3  # odd sizes
    mine, ref = _pair(cls, dtype, input_size=feat, hidden_size=hidden, num_layers=num_layers, bias=bias,
                      bidirectional=bidirectional, batch_first=batch_first)
    rng = np.random.default_rng(0)
    # a non-contiguous input: every other feature of a wider array
    wide = rng.standard_normal((batch, steps, 2 * feat) if batch_first else (steps, batch, 2 * feat)).astype(dtype)
    x, rx = torsh.tensor(wide, requires_grad=True), torch_ref.tensor(wide, requires_grad=True)
    state_shape = (num_layers * (2 if bidirectional else 1), batch, hidden)
    states = [rng.standard_normal(state_shape).astype(dtype) for _ in range(2 if cls == "LSTM" else 1)]
    hx = [torsh.tensor(s, requires_grad=True) for s in states]
    rhx = [torch_ref.tensor(s, requires_grad=True) for s in states]
    args = () if not given_state else ((tuple(hx),) if cls == "LSTM" else (hx[0],))
    rargs = () if not given_state else ((tuple(rhx),) if cls == "LSTM" else (rhx[0],))
    with dispatch.record() as records:
        out, h_n = mine(x[..., ::2], *args)
    rout, rh_n = ref(rx[..., ::2], *rargs)
    h_n, rh_n = (h_n, rh_n) if cls == "LSTM" else ((h_n,), (rh_n,))
    weights = rng.standard_normal(out.shape).astype(dtype)
    loss = (out * torsh.tensor(weights)).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(h_n))
    rloss = (rout * torch_ref.tensor(weights)).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(rh_n))
    with dispatch.record() as back_records:
        loss.backward()
    rloss.backward()

    op = cls.lower() + "_sequence"
    runs = num_layers * (2 if bidirectional else 1)
    assert [r.variant for r in records if r.op == op] == [variant] * runs  # one record per sequence
    assert [r.variant for r in back_records if r.op == op + "_backward"] == [variant] * runs
    tol = _tolerances(dtype)
    pairs = [(out, rout), (x.grad, rx.grad)] + list(zip(h_n, rh_n))
    if given_state:
        pairs += [(a.grad, b.grad) for a, b in zip(hx, rhx)]
    for a, b in pairs:
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_w9_sized_lstm_and_gru_match_torch(variant, dtype):
    """The benchmark's sizes (hidden 128, batch 32), shortened in time."""
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((8, 32, 32)).astype(dtype)
    for cls in ("LSTM", "GRU"):
        mine, ref = _pair(cls, dtype, input_size=32, hidden_size=128)
        x, rx = torsh.tensor(x_np, requires_grad=True), torch_ref.tensor(x_np, requires_grad=True)
        out, _ = mine(x)
        rout, _ = ref(rx)
        out.pow(2).mean().backward()
        rout.pow(2).mean().backward()
        tol = _tolerances(dtype)
        np.testing.assert_allclose(out.detach().numpy(), rout.detach().numpy(), **tol)
        np.testing.assert_allclose(x.grad.numpy(), rx.grad.numpy(), **tol)
        for name, p in mine.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), ref.get_parameter(name).grad.numpy(), err_msg=name, **tol)


def _args(rng, gates, steps=3, batch=2, feat=2, hidden=2, bias=True, cell=True):
    shapes = [(steps, batch, feat), (batch, hidden)] + ([(batch, hidden)] if cell else []) + \
        [(gates * hidden, feat), (gates * hidden, hidden)] + ([(gates * hidden,)] * 2 if bias else [])
    return tuple(torsh.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in shapes)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_sequence_gradcheck(variant, reverse, bias):
    args = _args(np.random.default_rng(1), 3, bias=bias, cell=False)
    assert torsh.autograd.gradcheck(lambda *a: gru_sequence(*a, reverse=reverse), args)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_sequence_gradcheck_without_bias(variant, reverse):
    args = _args(np.random.default_rng(2), 4, bias=False)
    assert torsh.autograd.gradcheck(lambda *a: lstm_sequence(*a, reverse=reverse), args)


# double backward re-derives the recurrence in torsh ops (no kernel variant involved): once per case
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_sequence_gradgradcheck(reverse):
    args = _args(np.random.default_rng(1), 3, steps=2, batch=1, feat=1, cell=False)  # small: every element twice
    assert torsh.autograd.gradgradcheck(lambda *a: gru_sequence(*a, reverse=reverse), args)


def test_lstm_sequence_gradgradcheck_without_bias():
    args = _args(np.random.default_rng(2), 4, steps=2, batch=1, feat=1, bias=False)
    assert torsh.autograd.gradgradcheck(lambda *a: lstm_sequence(*a, reverse=True), args)


def test_create_graph_gradient_penalty_matches_torch():
    """A gradient penalty through a GRU: backward of a gradient taken with create_graph=True."""
    mine, ref = _pair("GRU", "float64", input_size=3, hidden_size=4)
    x_np = np.random.default_rng(6).standard_normal((4, 2, 3))
    results = []
    for lib, module in ((torsh, mine), (torch_ref, ref)):
        x = lib.tensor(x_np, requires_grad=True)
        out, _ = module(x)
        (gx,) = lib.autograd.grad(out.pow(2).sum(), x, create_graph=True)
        gx.pow(2).sum().backward()
        results.append([module.weight_hh_l0.grad.numpy(), x.grad.detach().numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_gru_layer_is_one_node_per_direction():
    gru = torsh.nn.GRU(4, 6, bidirectional=True)
    out, _ = gru(torsh.randn(5, 2, 4))
    names, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node.name() not in names:
            names.add(node.name())
            stack.extend(n for n, _ in node.next_functions)
    assert "GruSequenceBackward0" in names
    assert not names & {"SigmoidBackward0", "TanhBackward0", "MmBackward0"}  # no per-step or projection nodes


def test_packed_gru_keeps_the_unfused_path_and_matches_torch():
    mine, ref = _pair("GRU", "float64", input_size=3, hidden_size=4)
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((5, 2, 3))
    lengths = [5, 3]
    packed = torsh.nn.utils.rnn.pack_padded_sequence(torsh.tensor(x_np), lengths)
    rpacked = torch_ref.nn.utils.rnn.pack_padded_sequence(torch_ref.tensor(x_np), lengths)
    out, h_n = mine(packed)
    rout, rh_n = ref(rpacked)
    np.testing.assert_allclose(out.data.detach().numpy(), rout.data.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), rh_n.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_disabled_kernel_family_runs_the_numpy_steps_and_says_why():
    code = (
        "import numpy as np, torsh\n"
        "from torsh.backend import dispatch\n"
        "torsh.manual_seed(0)\n"
        "lstm = torsh.nn.LSTM(3, 5).double()\n"
        "x = torsh.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)\n"
        "with dispatch.record() as recs:\n"
        "    out, _ = lstm(x)\n"
        "out.sum().backward()\n"
        "print([(r.variant, r.reason) for r in recs if r.op == 'lstm_sequence'])\n"
        "print(repr(out.detach().numpy().sum()), repr(x.grad.numpy().sum()))\n")
    env = dict(os.environ, TORSH_KERNELS_DISABLE="rnn")
    env.pop("TORSH_REQUIRE_KERNELS", None)
    lines = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[0] == "[('numpy', 'kernel family rnn not compiled')]"
    torsh.manual_seed(0)
    lstm = torsh.nn.LSTM(3, 5).double()
    x = torsh.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)
    out, _ = lstm(x)
    out.sum().backward()
    out_sum, grad_sum = (float(v) for v in lines[1].replace("np.float64(", "").replace(")", "").split())
    assert out_sum == pytest.approx(float(out.detach().numpy().sum()), rel=1e-12)
    assert grad_sum == pytest.approx(float(x.grad.numpy().sum()), rel=1e-12)


# -- the C++ float32 recurrence (family lstm_cell) ---------------------------------------------------
def _cell_family(isa):
    import importlib
    if isa and importlib.util.find_spec("torsh._kernels.lstm_cell_avx2") is None:
        pytest.skip("x86-64-v3 copies are only built on x86-64 without -Dmarch")
    return importlib.import_module(f"torsh._kernels.lstm_cell{isa}")


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_reference(gx, h0, c0, w_hh, reverse):
    """The forward recurrence in float64 NumPy: outputs and cells (T, B, H)."""
    steps, hidden = gx.shape[0], w_hh.shape[1]
    h, c = h0.astype(np.float64), c0.astype(np.float64)
    outputs, cells = np.zeros(gx.shape[:2] + (hidden,)), np.zeros(gx.shape[:2] + (hidden,))
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        g = gx[t] + h @ w_hh.T.astype(np.float64)
        i, f, o = (_sigmoid(g[:, k * hidden:(k + 1) * hidden]) for k in (0, 1, 3))
        c = f * c + i * np.tanh(g[:, 2 * hidden:3 * hidden])
        h = outputs[t] = o * np.tanh(c)
        cells[t] = c
    return outputs, cells


def _lstm_layer_both_ways(cell, steps, batch, features, hidden, reverse, threads, bias=True, need_x=True):
    """One direction's lstm_layer_forward then lstm_layer_backward on random float32 operands, ``threads``
    sharing the batch rows: (inputs, forward results, backward results), each a dict of arrays."""
    rng = np.random.default_rng(steps * batch + hidden)
    f32 = lambda *shape, scale=1.0: (rng.standard_normal(shape) * scale).astype(np.float32)  # noqa: E731
    ins = dict(w_ih=f32(4 * hidden, features, scale=0.5), w_hh=f32(4 * hidden, hidden, scale=0.3),
               bias=f32(4 * hidden) if bias else np.empty(0, np.float32), x=f32(steps, batch, features),
               h0=f32(batch, hidden), c0=f32(batch, hidden), gout=f32(steps, batch, hidden),
               dh=f32(batch, hidden), dc=f32(batch, hidden))
    fwd = dict(acts=np.empty((steps, batch, 4 * hidden), np.float32),
               **{name: np.empty((steps, batch, hidden), np.float32) for name in ("cells", "tanh_cells", "outputs")})
    cell.lstm_layer_forward(ins["w_ih"], ins["w_hh"], ins["bias"], ins["x"], ins["h0"], ins["c0"], fwd["acts"],
                            fwd["cells"], fwd["tanh_cells"], fwd["outputs"], steps, batch, features, hidden, reverse,
                            threads)
    bwd = dict(dh=ins["dh"].copy(), dc=ins["dc"].copy(), d_gates=np.empty_like(fwd["acts"]),
               d_x=np.empty_like(ins["x"]) if need_x else np.empty(0, np.float32),
               d_w_ih=np.empty_like(ins["w_ih"]), d_w_hh=np.empty_like(ins["w_hh"]),
               d_b=np.empty(4 * hidden, np.float32) if bias else np.empty(0, np.float32))
    cell.lstm_layer_backward(ins["w_ih"], ins["w_hh"], ins["x"], ins["h0"], fwd["outputs"], ins["gout"], bwd["dh"],
                             bwd["dc"], fwd["acts"], fwd["cells"], fwd["tanh_cells"], ins["c0"], bwd["d_gates"],
                             bwd["d_x"], bwd["d_w_ih"], bwd["d_w_hh"], bwd["d_b"], steps, batch, features, hidden,
                             reverse, threads)
    return ins, fwd, bwd


@pytest.mark.parametrize("isa", ["", "_avx2"])
@pytest.mark.parametrize("steps,batch,features,hidden,reverse", [(5, 1, 1, 1, False), (6, 3, 5, 7, True),
                                                                 (4, 32, 33, 128, False), (3, 9, 16, 37, True),
                                                                 (2, 13, 3, 20, False)])
def test_lstm_layer_kernels_match_float64_numpy_and_the_pythran_steps(isa, steps, batch, features, hidden, reverse):
    """lstm_layer_forward against float64 NumPy; lstm_layer_backward's gate, state and input gradients against
    the rnn family's Pythran steps chained with NumPy GEMMs, its weight and bias gradients against NumPy sums
    over the steps (odd sizes: partial tiles and panels)."""
    cell = _cell_family(isa)
    ins, fwd, bwd = _lstm_layer_both_ways(cell, steps, batch, features, hidden, reverse, 1)
    gx = ins["x"].astype(np.float64) @ ins["w_ih"].T.astype(np.float64) + ins["bias"]
    expected_out, expected_cells = _lstm_reference(gx, ins["h0"], ins["c0"], ins["w_hh"], reverse)
    np.testing.assert_allclose(fwd["outputs"], expected_out, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(fwd["cells"], expected_cells, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(fwd["tanh_cells"], np.tanh(expected_cells), rtol=1e-5, atol=2e-6)

    order = list(range(steps - 1, -1, -1) if reverse else range(steps))
    dh, dc, d_gates = ins["dh"].copy(), ins["dc"].copy(), np.empty_like(fwd["acts"])
    h_prev = np.empty_like(fwd["outputs"])
    for n in range(steps - 1, -1, -1):
        t = order[n]
        c_prev = ins["c0"] if n == 0 else fwd["cells"][order[n - 1]]
        h_prev[t] = ins["h0"] if n == 0 else fwd["outputs"][order[n - 1]]
        kernels.get("rnn").lstm_step_backward(dh, ins["gout"][t], dc, fwd["acts"][t], c_prev, fwd["tanh_cells"][t],
                                              d_gates[t], False)
        np.matmul(d_gates[t], ins["w_hh"], out=dh)
    tolerance = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bwd["d_gates"], d_gates, **tolerance)
    np.testing.assert_allclose(bwd["dh"], dh, **tolerance)
    np.testing.assert_allclose(bwd["dc"], dc, **tolerance)
    np.testing.assert_allclose(bwd["d_x"], d_gates @ ins["w_ih"], **tolerance)
    rows = d_gates.reshape(steps * batch, -1).astype(np.float64)
    np.testing.assert_allclose(bwd["d_w_ih"], rows.T @ ins["x"].reshape(steps * batch, -1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bwd["d_w_hh"], rows.T @ h_prev.reshape(steps * batch, -1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bwd["d_b"], rows.sum(0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("isa", ["", "_avx2"])
@pytest.mark.parametrize("steps,batch,features,hidden,reverse,bias,need_x", [
    (6, 32, 33, 128, False, True, True), (5, 13, 4, 20, True, False, True), (3, 9, 37, 37, False, True, False),
    (4, 1, 2, 8, True, True, True), (2, 50, 16, 16, False, False, False)])
def test_lstm_layer_kernels_give_the_same_bits_on_any_thread_count(isa, steps, batch, features, hidden, reverse,
                                                                   bias, need_x):
    """The batch rows shared among threads (cut on GEMM tile boundaries), then the weight gradients' rows:
    exactly the one-thread results, which the test above checks against float64 NumPy and the Pythran steps
    (with and without the bias and the input gradient)."""
    cell = _cell_family(isa)
    _, *alone = _lstm_layer_both_ways(cell, steps, batch, features, hidden, reverse, 1, bias, need_x)
    for threads in (2, 3, 8):
        _, *shared = _lstm_layer_both_ways(cell, steps, batch, features, hidden, reverse, threads, bias, need_x)
        for one, many in zip(alone, shared):
            for name in one:
                np.testing.assert_array_equal(one[name], many[name], err_msg=name)


@pytest.mark.parametrize("isa", ["", "_avx2"])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 7, 3), (37, 129, 70), (512, 96, 128), (45, 1100, 40),
                                   (512, 1600, 32)])
def test_lstm_cell_gemm_matches_numpy_with_a_transposed(isa, m, k, n):
    """K above 512 runs in blocks (the last two cases: three and four); the rows of C shared among
    threads give the one-thread bits."""
    cell = _cell_family(isa)
    rng = np.random.default_rng(m + k + n)
    a, b = rng.standard_normal((k, m)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    packed = cell.pack_weight(b, k, n, False)
    out = np.empty((m, n), np.float32)
    cell.gemm(a, packed, out, m, k, n, 1, m, False)  # A = a.T
    expected = a.T.astype(np.float64) @ b
    tolerance = dict(rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(out, expected, **tolerance)
    for threads in (2, 3):
        shared = np.empty_like(out)
        cell.gemm(a, packed, shared, m, k, n, 1, m, False, threads)
        np.testing.assert_array_equal(shared, out)
    row_major = np.ascontiguousarray(a.T)
    out[:] = 1
    cell.gemm(row_major, packed, out, m, k, n, k, 1, True)  # accumulates
    np.testing.assert_allclose(out, expected + 1, **tolerance)
    shared = np.ones_like(out)
    cell.gemm(row_major, packed, shared, m, k, n, k, 1, True, 2)
    np.testing.assert_array_equal(shared, out)


def _spy_on(real, calls):
    class Spy:
        def __getattr__(self, name):
            method = getattr(real, name)

            def spied(*args):
                calls.append((name,) + args[-7:])
                return method(*args)
            return spied
    return Spy()


@pytest.mark.parametrize("num_threads_set", [1, 2])
def test_float32_lstm_runs_each_direction_in_one_layer_call_and_matches_the_pythran_steps(num_threads_set,
                                                                                         monkeypatch):
    """float32: the lstm_cell family runs each direction's whole forward (input projection included)
    in one lstm_layer_forward call and its whole backward (weight gradients included) in one
    lstm_layer_backward call, told torsh's thread count; without the family the rnn family's Pythran
    steps give the same gradients. float64 never calls it."""
    real = kernels.get("lstm_cell")
    previous = torsh.get_num_threads()
    torsh.set_num_threads(num_threads_set)
    monkeypatch.setattr(rnn_input_gates, "_MIN_OVERLAP_MACS", 0)  # even these small sizes could overlap

    def grads(cell_family, dtype):
        monkeypatch.setitem(kernels._modules, "lstm_cell", cell_family)
        torsh.manual_seed(3)
        lstm = torsh.nn.LSTM(6, 9, bidirectional=True).to(getattr(torsh, dtype))
        x = torsh.tensor(np.random.default_rng(4).standard_normal((12, 4, 6)).astype(dtype), requires_grad=True)
        out, (h, c) = lstm(x)
        (out.pow(2).sum() + c.sum()).backward()
        return [out.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in lstm.parameters()]

    try:
        calls = []
        with_kernel = grads(_spy_on(real, calls), "float32")
        without = grads(None, "float32")  # the family missing: the rnn family's steps and NumPy GEMMs
        float64_calls = []
        grads(_spy_on(real, float64_calls), "float64")
    finally:
        torsh.set_num_threads(previous)
    for a, b in zip(with_kernel, without):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float64_calls == []
    # the layer calls end with (steps, rows, features, hidden, reverse, threads)
    layer_calls = sorted((c[0], c[6]) for c in calls if c[0] in ("lstm_layer_forward", "lstm_layer_backward"))
    assert layer_calls == [("lstm_layer_backward", False), ("lstm_layer_backward", True),
                           ("lstm_layer_forward", False), ("lstm_layer_forward", True)]
    assert {c[2:6] for c in calls if c[0].startswith("lstm_layer")} == {(12, 4, 6, 9)}
    assert {c[7] for c in calls if c[0].startswith("lstm_layer")} == {num_threads_set}
