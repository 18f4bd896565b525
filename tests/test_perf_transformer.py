"""The transformer step's fused paths against PyTorch 2.13: scaled_dot_product_attention as one node
(ScaledDotProductFlashAttentionForCpuBackward0) with its softmax on the ``transformer`` kernels, and the exact
GELU on them; every dispatch variant (kernel, OpenMP kernel, NumPy), float32 values and float64 gradcheck;
the kernels refuse buffers their size arguments do not fit."""
import importlib

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, forced_variant, needs_torch, torch_ref

VARIANTS = ("kernel", "kernel_omp", "numpy")
ATTENTION_OPS = ("attention_softmax", "attention_softmax_backward", "attention_forward", "attention_backward")


def _arrays(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _sdpa_run(lib, arrays, grad, **kwargs):
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = lib.nn.functional.scaled_dot_product_attention(*leaves, **kwargs)
    out.backward(lib.tensor(grad))
    return out, [t.grad for t in leaves]


FUSED = "ScaledDotProductFlashAttentionForCpuBackward0"
# (shapes of q, k, v; keyword arguments; the node PyTorch 2.13 records: its flash kernel takes 4-D inputs of
# one head dim, the others run its composed math path)
SDPA_CASES = {
    "4d_causal": ([(2, 3, 7, 5)] * 3, {"is_causal": True}, FUSED),
    "4d_causal_more_keys": ([(2, 3, 5, 4), (2, 3, 9, 4), (2, 3, 9, 4)], {"is_causal": True}, FUSED),
    "4d_causal_more_queries": ([(1, 2, 9, 4), (1, 2, 5, 4), (1, 2, 5, 4)], {"is_causal": True}, FUSED),
    "4d_full": ([(2, 3, 5, 4), (2, 3, 9, 4), (2, 3, 9, 4)], {}, FUSED),
    "4d_scale": ([(2, 2, 6, 4)] * 3, {"scale": 0.7, "is_causal": True}, FUSED),
    "w13_rows": ([(1, 4, 64, 32)] * 3, {"is_causal": True}, FUSED),
    # sizes off the kernels' register tiles and vector widths (rows of 6 or 4, vectors of 16, 8 or 4 floats)
    "odd_causal": ([(2, 3, 37, 19), (2, 3, 37, 19), (2, 3, 37, 19)], {"is_causal": True}, FUSED),
    "odd_full": ([(1, 2, 13, 40), (1, 2, 71, 40), (1, 2, 71, 40)], {}, FUSED),
    "odd_causal_more_keys": ([(1, 2, 11, 17), (1, 2, 50, 17), (1, 2, 50, 17)], {"is_causal": True}, FUSED),
    "odd_causal_more_queries": ([(1, 1, 70, 3), (1, 1, 23, 3), (1, 1, 23, 3)], {"is_causal": True}, FUSED),
    "head_dim_1": ([(1, 2, 9, 1)] * 3, {"is_causal": True}, FUSED),
    "one_query": ([(3, 1, 1, 8), (3, 1, 5, 8), (3, 1, 5, 8)], {}, FUSED),
    "4d_other_value_dim": ([(2, 3, 7, 5), (2, 3, 7, 5), (2, 3, 7, 6)], {"is_causal": True}, "UnsafeViewBackward0"),
    "3d": ([(4, 6, 8), (4, 9, 8), (4, 9, 8)], {}, "UnsafeViewBackward0"),
    "5d": ([(2, 1, 3, 5, 4)] * 3, {"is_causal": True}, "UnsafeViewBackward0"),
}


@needs_torch
@pytest.mark.parametrize("fused_full", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_values_gradients_and_node_match_torch(case, variant, fused_full, monkeypatch):
    from torsh.nn._functional import attention_fused
    monkeypatch.setattr(attention_fused, "FUSED_FULL_ATTENTION", fused_full)  # non-causal on the fused kernels too
    shapes, kwargs, node = SDPA_CASES[case]
    arrays = _arrays(shapes, np.float32)
    grad = _arrays([shapes[0][:-1] + (shapes[2][-1],)], np.float32, seed=1)[0]
    expected, expected_grads = _sdpa_run(torch_ref, arrays, grad, **kwargs)
    with forced_variant(ATTENTION_OPS, variant):
        out, grads = _sdpa_run(torsh, arrays, grad, **kwargs)
    assert out.grad_fn.name() == expected.grad_fn.name() == node
    assert_close(out, expected.detach())
    for ours, theirs in zip(grads, expected_grads):
        assert_close(ours, theirs)


@needs_torch
@pytest.mark.parametrize("variant", VARIANTS)
def test_sdpa_on_strided_head_views_as_in_a_gpt_block(variant):
    """q, k, v as transposed head views of one projection's split (W13's layout), gradients through the views."""
    (qkv,) = _arrays([(2, 16, 24)], np.float32)
    (grad,) = _arrays([(2, 2, 16, 4)], np.float32, seed=2)
    results = []
    for lib in (torch_ref, torsh):
        with forced_variant(ATTENTION_OPS, variant):
            x = lib.tensor(qkv, requires_grad=True)
            q, k, v = (z.view(2, 16, 2, 4).transpose(1, 2) for z in x.split(8, dim=2))
            out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            out.backward(lib.tensor(grad))
            results.append((out, x.grad))
    assert_close(results[1][0], results[0][0].detach())
    assert_close(results[1][1], results[0][1])


@needs_torch
def test_sdpa_output_strides_follow_the_query_as_pytorchs_and_odd_layouts_work():
    (qkv,) = _arrays([(2, 16, 24)], np.float32)
    (small,) = _arrays([(1, 2, 16, 4)], np.float32, seed=5)
    results = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(qkv, requires_grad=True)
        q, k, v = (z.view(2, 16, 2, 4).transpose(1, 2) for z in x.split(8, dim=2))
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        expanded = lib.tensor(small, requires_grad=True)
        wide = expanded.expand(2, 2, 16, 4)  # stride 0 along the batch
        out2 = lib.nn.functional.scaled_dot_product_attention(wide, k, v.flip(2))
        (out.transpose(1, 2).reshape(2, 16, 8).sum() + (out2 * out2).sum()).backward()
        results.append((out, out2, x.grad, expanded.grad))
    assert results[1][0].stride() == results[0][0].stride() == (128, 4, 8, 1)  # (B, T, H, D) memory
    for ours, theirs in zip(results[1], results[0]):
        assert_close(ours, theirs.detach())


@needs_torch
@pytest.mark.parametrize("causal", [True, False])
def test_sdpa_float64_gradients_and_second_derivatives(causal):
    q, k, v = (torsh.tensor(a, requires_grad=True) for a in _arrays([(2, 2, 5, 3), (2, 2, 6, 3), (2, 2, 6, 3)],
                                                                      np.float64))

    def attention(a, b, c):
        return torsh.nn.functional.scaled_dot_product_attention(a, b, c, is_causal=causal)
    assert attention(q, k, v).grad_fn.name() == FUSED
    assert torsh.autograd.gradcheck(attention, (q, k, v))
    assert torsh.autograd.gradgradcheck(attention, (q, k, v))


@needs_torch
def test_sdpa_without_grad_and_with_masks_or_dropout_keeps_torchs_values():
    arrays = _arrays([(2, 2, 5, 4)] * 3, np.float32)
    mask = np.tril(np.ones((5, 5), dtype=bool))
    for kwargs in ({"is_causal": True}, {"attn_mask": "bool"}, {}):
        results = []
        for lib in (torch_ref, torsh):
            extra = dict(kwargs)
            if extra.get("attn_mask") == "bool":
                extra["attn_mask"] = lib.tensor(mask)
            with lib.no_grad():
                results.append(lib.nn.functional.scaled_dot_product_attention(*(lib.tensor(a) for a in arrays),
                                                                                **extra))
        assert results[1].grad_fn is None
        assert_close(results[1], results[0])


def test_sdpa_in_a_training_step_is_deterministic():
    arrays = _arrays([(2, 4, 16, 8)] * 3, np.float32)
    runs = [_sdpa_run(torsh, arrays, np.ones((2, 4, 16, 8), np.float32), is_causal=True) for _ in range(2)]
    for a, b in zip([runs[0][0], *runs[0][1]], [runs[1][0], *runs[1][1]]):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


# -- the compiled entry points refuse what their buffers cannot hold -----------------------------------------
def _copies():
    torsh.tensor(0.0)  # builds/loads the kernels
    names = ["torsh._kernels.transformer", "torsh._kernels.transformer_avx2"]
    return [importlib.import_module(n) for n in names if importlib.util.find_spec(n) is not None]


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
def test_transformer_kernels_refuse_short_buffers_and_bad_sizes(module):
    f32 = np.zeros(12, np.float32)
    with pytest.raises(ValueError, match="out holds"):
        module.gelu(f32, np.zeros(11, np.float32), False)
    with pytest.raises(ValueError, match="grad holds"):
        module.gelu_backward(np.zeros(11, np.float32), f32, f32.copy(), False)
    with pytest.raises(ValueError, match="scores holds"):
        module.attention_softmax(f32, 4, 2, 4, 1.0, True, False)  # 16 values asked of 12
    with pytest.raises(ValueError, match="multiple of L"):
        module.attention_softmax(f32, 3, 2, 4, 1.0, True, False)
    with pytest.raises(ValueError, match="multiple of L"):
        module.attention_softmax(f32, 2, 0, 6, 1.0, True, False)
    with pytest.raises(ValueError):
        module.attention_softmax(f32, 1 << 40, 1, 1 << 40, 1.0, False, False)  # the product overflows
    with pytest.raises(ValueError, match="probs holds"):
        module.attention_softmax_backward(np.zeros(8, np.float32), f32, 3, 3, 4, 1.0, True, False)
    with pytest.raises(TypeError):
        module.attention_softmax(f32.tobytes(), 3, 3, 4, 1.0, True, False)  # read-only: not writable


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
def test_attention_softmax_kernel_rows_match_a_numpy_softmax(module):
    (scores,) = _arrays([(3 * 5, 7)], np.float32)
    out = scores.copy()
    module.attention_softmax(out, 15, 5, 7, 0.5, True, True)
    z = scores * np.float32(0.5)
    z[~np.tile(np.tril(np.ones((5, 7), dtype=bool)), (3, 1))] = -np.inf
    expected = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True), rtol=1e-6, atol=1e-7)


# -- the fused float32 attention kernels: every copy and instruction set, threads, refusals ------------------------
def _isas(module):
    """The instruction sets ``module`` can run: its own and, where the CPU has it, AVX-512."""
    own = module.set_isa(module.ISA)
    names = [own]
    try:
        module.set_isa("avx512")
        names.append("avx512")
    except ValueError:
        pass
    module.set_isa(own)
    return sorted(set(names))


def _reference_attention(q, k, v, g, scale, causal):
    """Output, probabilities and input gradients in float64 NumPy."""
    q, k, v, g = (a.astype(np.float64) for a in (q, k, v, g))
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    dp = g @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) * scale
    return p @ v, p, ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(p, -1, -2) @ g


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
@pytest.mark.parametrize("shape", [(2, 3, 29, 23, 21), (1, 2, 64, 64, 32), (2, 1, 7, 40, 48), (1, 1, 45, 9, 5)])
@pytest.mark.parametrize("causal", [True, False])
def test_each_copy_and_isa_of_the_fused_attention_matches_float64(module, shape, causal):
    B, H, L, S, D = shape
    q, k, v, g = _arrays([(B, H, L, D), (B, H, S, D), (B, H, S, D), (B, H, L, D)], np.float32, seed=8)
    expected = _reference_attention(q, k, v, g, 0.3, causal)
    before = module.ISA
    try:
        for isa in _isas(module):
            module.set_isa(isa)
            for threads in (1, 2):
                out, probs = np.empty_like(q), np.empty((B, H, L, S), np.float32)
                module.attention_forward(q, k, v, out, probs, 0.3, causal, threads)
                dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
                module.attention_backward(q, k, v, probs, g, dq, dk, dv, 0.3, causal, threads)
                for ours, theirs in zip((out, probs, dq, dk, dv), expected):
                    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-5, err_msg=f"{isa} {threads}")
                no_probs = np.empty_like(q)
                module.attention_forward(q, k, v, no_probs, None, 0.3, causal, threads)
                assert np.array_equal(no_probs, out)  # the same bits with or without saving, on any thread count
    finally:
        module.set_isa(before)


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
def test_fused_attention_reads_and_writes_through_strides(module):
    """Heads as strided views of (B, T, 3, H, D) memory, outputs into (B, T, H, D) memory: the same values as on
    contiguous copies."""
    (qkv,) = _arrays([(2, 10, 3, 2, 8)], np.float32, seed=9)
    q, k, v = (np.moveaxis(qkv[:, :, i], 1, 2) for i in range(3))  # (B, H, T, D) views
    out = np.moveaxis(np.empty((2, 10, 2, 8), np.float32), 1, 2)
    probs = np.empty((2, 2, 10, 10), np.float32)
    module.attention_forward(q, k, v, out, probs, 0.5, True, 1)
    expected, expected_probs = np.empty((2, 2, 10, 8), np.float32), np.empty_like(probs)
    contiguous = [np.ascontiguousarray(a) for a in (q, k, v)]
    module.attention_forward(*contiguous, expected, expected_probs, 0.5, True, 1)
    assert np.array_equal(out, expected) and np.array_equal(probs, expected_probs)
    g = np.moveaxis(_arrays([(2, 10, 2, 8)], np.float32, seed=10)[0], 1, 2)
    grads = [np.moveaxis(np.empty((2, 10, 2, 8), np.float32), 1, 2) for _ in range(3)]
    module.attention_backward(q, k, v, probs, g, *grads, 0.5, True, 1)
    expected_grads = [np.empty((2, 2, 10, 8), np.float32) for _ in range(3)]
    module.attention_backward(*contiguous, probs, np.ascontiguousarray(g), *expected_grads, 0.5, True, 1)
    for ours, theirs in zip(grads, expected_grads):
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
def test_fused_attention_kernels_refuse_what_they_cannot_read(module):
    q = np.zeros((1, 2, 4, 3), np.float32)
    out = np.empty_like(q)
    with pytest.raises(ValueError, match="k has shape"):
        module.attention_forward(q, q[:, :1], q, out, None, 1.0, False, 1)
    with pytest.raises(ValueError, match="4-D float32"):
        module.attention_forward(q.astype(np.float64), q, q, out, None, 1.0, False, 1)
    with pytest.raises(ValueError, match="4-D float32"):
        module.attention_forward(q[0], q, q, out, None, 1.0, False, 1)
    with pytest.raises(ValueError, match="unit stride"):
        module.attention_forward(q[..., ::2], q[..., ::2], q[..., ::2], out[..., ::2], None, 1.0, False, 1)
    with pytest.raises(ValueError, match="non-negative"):
        module.attention_forward(q[:, :, ::-1], q, q, out, None, 1.0, False, 1)
    with pytest.raises(ValueError, match="must be >= 1"):
        module.attention_forward(q[:, :, :0], q, q, out[:, :, :0], None, 1.0, False, 1)
    with pytest.raises(ValueError, match="probs has shape"):
        module.attention_forward(q, q, q, out, np.empty((1, 2, 4, 3), np.float32), 1.0, False, 1)
    with pytest.raises(ValueError, match="rows must be contiguous"):
        module.attention_forward(q, q, q, out, np.empty((1, 2, 4, 8), np.float32)[..., :4], 1.0, False, 1)
    readonly = np.zeros_like(q)
    readonly.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        module.attention_forward(q, q, q, readonly, None, 1.0, False, 1)
    probs = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="dv has shape"):
        module.attention_backward(q, q, q, probs, q, out, out.copy(), out[:, :1].copy(), 1.0, False, 1)


@needs_torch
def test_fused_sdpa_dispatch_records_and_grad_layout_as_pytorchs():
    """The float32 call runs the fused kernels (dispatch records), and q's gradient through W13's head views
    comes back laid out as (B, T, H, D), so that the views' backward reshapes without a copy."""
    from torsh.backend import dispatch
    (qkv,) = _arrays([(2, 16, 24)], np.float32)
    x = torsh.tensor(qkv, requires_grad=True)
    q, k, v = (z.view(2, 16, 2, 4).transpose(1, 2) for z in x.split(8, dim=2))
    with forced_variant(ATTENTION_OPS, "kernel"), dispatch.record() as records:
        out = torsh.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        grads = torsh.autograd.grad(out.sum(), (q, k, v))
    ops = [r.op for r in records]
    assert "attention_forward" in ops and "attention_backward" in ops
    assert "attention_softmax" not in ops
    assert all(tuple(g.stride()) == (128, 4, 8, 1) for g in grads)


# -- the exact GELU (approximate='none') -----------------------------------------------------------------------
GELU_OPS = ("gelu_erf", "gelu_erf_backward")
GELU_EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 5.5, -5.5, 8.0, -8.0, 13.5,
              -13.5, 20.0, -20.0, 1e30, -1e30, float("inf"), float("-inf"), float("nan")]


def _gelu_inputs():
    sweep = np.linspace(-12, 12, 20001, dtype=np.float32)
    return np.concatenate([sweep, np.array(GELU_EDGES, dtype=np.float32)])


@needs_torch
@pytest.mark.parametrize("variant", VARIANTS)
def test_gelu_float32_values_and_gradient_match_torch(variant):
    x = _gelu_inputs()
    (g,) = _arrays([x.shape], np.float32, seed=3)
    results = []
    for lib in (torch_ref, torsh):
        with forced_variant(GELU_OPS, variant):
            t = lib.tensor(x, requires_grad=True)
            y = lib.nn.functional.gelu(t)
            y.backward(lib.tensor(g))
        results.append((y, t.grad))
    assert results[1][0].grad_fn.name() == results[0][0].grad_fn.name() == "GeluBackward0"
    assert_close(results[1][0], results[0][0].detach())  # +inf gives NaN in both (PyTorch's float32 kernel)
    assert_close(results[1][1], results[0][1])


@needs_torch
def test_gelu_on_a_transposed_view_and_in_a_module():
    (x,) = _arrays([(6, 40, 3)], np.float32, seed=4)
    results = []
    for lib in (torch_ref, torsh):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.GELU()(t.transpose(0, 2))
        (y * y).sum().backward()
        results.append((y, t.grad))
    assert_close(results[1][0], results[0][0].detach())
    assert_close(results[1][1], results[0][1])


@needs_torch
def test_gelu_float32_double_backward_matches_torch():
    values = _gelu_inputs()[::500]
    results = []
    for lib in (torch_ref, torsh):
        t = lib.tensor(values, requires_grad=True)
        (g,) = lib.autograd.grad(lib.nn.functional.gelu(t).sum(), t, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), t)
        results.append((g, gg))
    assert_close(results[1][0], results[0][0].detach())
    assert_close(results[1][1], results[0][1], atol=1e-5, rtol=1e-4)


def test_gelu_is_deterministic_and_float64_stays_exact():
    x = torsh.tensor(_gelu_inputs()[:20001])
    assert np.array_equal(torsh.nn.functional.gelu(x).numpy(), torsh.nn.functional.gelu(x).numpy())
    x64 = torsh.tensor(np.linspace(-5, 5, 11), dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.nn.functional.gelu, (x64,))
    assert torsh.autograd.gradgradcheck(torsh.nn.functional.gelu, (x64,))


@needs_torch
@pytest.mark.parametrize("module", _copies(), ids=lambda m: m.__name__)
@pytest.mark.parametrize("parallel", [False, True])
def test_each_copy_of_the_gelu_kernels_matches_torch(module, parallel):
    x = _gelu_inputs()
    (g,) = _arrays([x.shape], np.float32, seed=6)
    check_gelu_kernels_against_torch(module, x, g, parallel)


def check_gelu_kernels_against_torch(module, x, g, parallel):
    """``module``'s gelu / gelu_backward on ``x`` (upstream gradient ``g``) against PyTorch's exact GELU."""
    out, grad = np.empty_like(x), np.empty_like(x)
    module.gelu(x, out, parallel)
    module.gelu_backward(g, x, grad, parallel)
    t = torch_ref.tensor(x, requires_grad=True)
    y = torch_ref.nn.functional.gelu(t)
    y.backward(torch_ref.tensor(g))
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1.3e-6, atol=1e-5)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1.3e-6, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_of_a_0d_tensor_and_integer_inputs_as_torch(approximate):
    results = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(0.5, requires_grad=True)
        y = lib.nn.functional.gelu(x, approximate=approximate)
        y.backward()
        results.append((y, x.grad))
    assert tuple(results[1][0].shape) == () and tuple(results[1][1].shape) == ()
    assert_close(results[1][0], results[0][0].detach())
    assert_close(results[1][1], results[0][1])
    for values in ([True, False], [1, 2]):
        check_same_error(lambda lib: lib.nn.functional.gelu(lib.tensor(values), approximate=approximate))


@needs_torch
@pytest.mark.parametrize("shapes", [[(), (3, 4), (3, 4)], [(3, 4), (4,), (3, 4)], [(3, 4), (3, 4), (4,)]])
def test_sdpa_refuses_inputs_under_two_dims_with_torchs_error(shapes):
    arrays = _arrays(shapes, np.float32)
    check_same_error(lambda lib: lib.nn.functional.scaled_dot_product_attention(*(lib.tensor(a) for a in arrays)))
