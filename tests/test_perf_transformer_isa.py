"""The ``transformer`` kernel family on every instruction set it carries (the baseline copy's loops, the
x86-64-v3 copy's AVX2 loops and, where the CPU has it, its AVX-512 loops chosen by ``set_isa``): the exact
GELU, the attention softmax and the float32 layer norm against PyTorch 2.13, layer norm's buffer checks, and
F.layer_norm on these kernels (values, gradients, float64 gradcheck, the same bits on any thread count)."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, forced_variant, needs_torch, torch_ref
from isa_helpers import check_isa_names, isa_copies, isa_id, running
from test_perf_transformer import check_gelu_kernels_against_torch
from torsh.backend import kernels

LN_OPS = ("layer_norm", "layer_norm_backward")


COPIES = isa_copies("transformer")


def _arrays(shapes, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale + shift).astype(np.float32) for s in shapes]


def test_the_isa_attribute_names_the_loops_in_use():
    check_isa_names(COPIES)


@needs_torch
@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("parallel", [False, True])
def test_gelu_on_each_instruction_set_matches_torch(pair, parallel):
    sweep = np.linspace(-12, 12, 20011, dtype=np.float32)
    x = np.concatenate([sweep, np.array([0.0, -0.0, 1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)])
    (g,) = _arrays([x.shape], seed=6)
    with running(*pair) as module:
        check_gelu_kernels_against_torch(module, x, g, parallel)


@needs_torch
@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_softmax_and_its_gradient_on_each_instruction_set_match_torch(pair, causal):
    L, S = 37, 41  # rows longer than one vector and a tail on every instruction set
    scores, grad = _arrays([(3 * L, S), (3 * L, S)], seed=2, scale=3.0)
    probs, gscores = scores.copy(), grad.copy()
    with running(*pair) as module:
        module.attention_softmax(probs, 3 * L, L, S, 0.3, causal, False)
        module.attention_softmax_backward(probs, gscores, 3 * L, L, S, 0.3, causal, False)
    t = torch_ref.tensor(scores.reshape(3, L, S), requires_grad=True)
    z = t * 0.3
    if causal:
        z = z.masked_fill(~torch_ref.ones(L, S, dtype=torch_ref.bool).tril(), float("-inf"))
    p = torch_ref.softmax(z, -1)
    p.backward(torch_ref.tensor(grad.reshape(3, L, S)))
    np.testing.assert_allclose(probs, p.detach().numpy().reshape(3 * L, S), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gscores, t.grad.numpy().reshape(3 * L, S), rtol=1e-4, atol=1e-6)


def _ln_kernel(module, x, w, b, eps, parallel):
    rows, cols = x.shape
    out, mean, rstd = np.empty_like(x), np.empty(rows, np.float32), np.empty(rows, np.float32)
    module.layer_norm(x, w, b, out, mean, rstd, rows, cols, eps, parallel)
    return out, mean, rstd


def _ln_backward_kernel(module, g, x, w, mean, rstd, blocks, parallel):
    rows, cols = x.shape
    gx, gw, gb = np.empty_like(x), np.empty((blocks, cols), np.float32), np.empty((blocks, cols), np.float32)
    module.layer_norm_backward(g, x, w, mean, rstd, gx, gw, gb, rows, cols, blocks, parallel)
    return gx, gw.sum(0), gb.sum(0)


@needs_torch
@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("shape", [(512, 128), (7, 33), (1, 1), (3, 300)], ids=str)
@pytest.mark.parametrize("parallel", [False, True])
def test_layer_norm_kernels_on_each_instruction_set_match_torch(pair, shape, parallel):
    rows, cols = shape
    x, g = _arrays([shape, shape], seed=1, scale=3.0, shift=1.0)
    w, b = _arrays([(cols,), (cols,)], seed=2)
    blocks = min(rows, 8)
    with running(*pair) as module:
        out, mean, rstd = _ln_kernel(module, x, w, b, 1e-5, parallel)
        gx, gw, gb = _ln_backward_kernel(module, g, x, w, mean, rstd, blocks, parallel)
    xt, wt, bt = (torch_ref.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch_ref.nn.functional.layer_norm(xt, (cols,), wt, bt, eps=1e-5)
    y.backward(torch_ref.tensor(g))
    tol = dict(rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(out, y.detach().numpy(), **tol)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.astype(np.float64).var(1) + 1e-5), rtol=1e-4)
    np.testing.assert_allclose(gx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
def test_layer_norm_kernels_give_the_same_bits_on_one_or_more_threads(pair):
    x, g = _arrays([(300, 96), (300, 96)], seed=3)
    w, b = _arrays([(96,), (96,)], seed=4)
    with running(*pair) as module:
        one = _ln_kernel(module, x, w, b, 1e-5, False)
        many = _ln_kernel(module, x, w, b, 1e-5, True)
        back_one = _ln_backward_kernel(module, g, x, w, one[1], one[2], 8, False)
        back_many = _ln_backward_kernel(module, g, x, w, one[1], one[2], 8, True)
    for a, b_ in zip(one + back_one, many + back_many):
        assert np.array_equal(a, b_)


@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
def test_layer_norm_kernels_refuse_short_buffers_and_bad_sizes(pair):
    module = pair[0]
    x, w, out = np.zeros(12, np.float32), np.zeros(4, np.float32), np.zeros(12, np.float32)
    stats = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="out holds"):
        module.layer_norm(x, w, w, np.zeros(11, np.float32), stats, stats.copy(), 3, 4, 1e-5, False)
    with pytest.raises(ValueError, match="x holds"):
        module.layer_norm(x, w, w, out, np.zeros(4, np.float32), np.zeros(4, np.float32), 4, 4, 1e-5, False)
    with pytest.raises(ValueError, match="weight holds"):
        module.layer_norm(x, w[:3], w, out, stats, stats.copy(), 3, 4, 1e-5, False)
    with pytest.raises(ValueError, match="rstd holds"):
        module.layer_norm(x, w, w, out, stats, stats[:2].copy(), 3, 4, 1e-5, False)
    with pytest.raises(ValueError, match="cols"):
        module.layer_norm(x, w, w, out, stats, stats.copy(), 3, 0, 1e-5, False)
    with pytest.raises(ValueError):
        module.layer_norm(x, w, w, out, stats, stats.copy(), 1 << 40, 1 << 40, 1e-5, False)  # overflows
    parts = np.zeros(8, np.float32)  # 2 blocks of 4
    with pytest.raises(ValueError, match="gw_part holds"):
        module.layer_norm_backward(x, x, w, stats, stats, out, parts, parts.copy(), 3, 4, 3, False)
    with pytest.raises(ValueError, match="blocks"):
        module.layer_norm_backward(x, x, w, stats, stats, out, parts, parts.copy(), 3, 4, 0, False)
    with pytest.raises(ValueError, match="blocks"):
        module.layer_norm_backward(x, x, w, stats, stats, out, parts, parts.copy(), 3, 4, 4, False)
    with pytest.raises(ValueError, match="grad holds"):
        module.layer_norm_backward(x[:8], x, w, stats, stats, out, parts, parts.copy(), 3, 4, 2, False)
    with pytest.raises(TypeError):
        module.layer_norm(x, w, w, out.tobytes(), stats, stats.copy(), 3, 4, 1e-5, False)  # not writable


@needs_torch
@pytest.mark.parametrize("variant", ["kernel", "kernel_omp"])
@pytest.mark.parametrize("isa", sorted({isa for module, isa in COPIES if module is kernels.get("transformer")}))
def test_f_layer_norm_on_the_float32_kernels_matches_torch(variant, isa):
    shape = (4, 16, 48)
    x, g = _arrays([shape, shape], seed=5, scale=2.0, shift=-1.0)
    w, b = _arrays([(48,), (48,)], seed=6)
    results = []
    with running(kernels.get("transformer"), isa), forced_variant(LN_OPS, variant):
        for lib in (torch_ref, torsh):
            xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
            y = lib.nn.functional.layer_norm(xt, (48,), wt, bt)
            y.backward(lib.tensor(g))
            results.append((y, xt.grad, wt.grad, bt.grad))
    assert results[1][0].grad_fn.name() == results[0][0].grad_fn.name() == "NativeLayerNormBackward0"
    assert_close(results[1][0], results[0][0].detach(), rtol=1e-4, atol=2e-5)
    for ours, theirs in zip(results[1][1:], results[0][1:]):
        assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_layer_norm_float32_steps_are_deterministic_and_float64_gradchecks():
    x, g = _arrays([(64, 32), (64, 32)], seed=7)
    runs = []
    for _ in range(2):
        t = torsh.tensor(x, requires_grad=True)
        ln = torsh.nn.LayerNorm(32)
        ln(t).backward(torsh.tensor(g))
        runs.append((t.grad.numpy(), ln.weight.grad.numpy(), ln.bias.grad.numpy()))
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    x64 = torsh.tensor(np.random.default_rng(8).standard_normal((3, 6)), dtype=torsh.float64, requires_grad=True)
    w64 = torsh.tensor(np.linspace(0.5, 1.5, 6), dtype=torsh.float64, requires_grad=True)
    b64 = torsh.tensor(np.linspace(-1, 1, 6), dtype=torsh.float64, requires_grad=True)
    fn = lambda x, w, b: torsh.nn.functional.layer_norm(x, (6,), w, b)  # noqa: E731
    assert torsh.autograd.gradcheck(fn, (x64, w64, b64))
