"""nn.MultiheadAttention's training path as PyTorch 2.13 runs it: batch_first keeps the self-attention
identity (query is key is value) through its transposes, so the packed in-projection is one GEMM; a shared
key/value (cross-attention) projects k and v together; the gradient of a basic index (proj[0]) is stored,
not accumulated through np.add.at. Values, gradients and the recorded nodes against PyTorch's."""
import collections

import numpy as np
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref

E, HEADS = 16, 4


def _graph_counts(tensor):
    """How many nodes of each name the graph behind ``tensor`` has."""
    counts, seen, stack = collections.Counter(), set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        counts[node.name()] += 1
        stack.extend(fn for fn, _ in node.next_functions)
    return counts


def _mha_pair(**kwargs):
    """The same MultiheadAttention in torsh and in PyTorch (PyTorch's initial weights copied)."""
    torch_ref.manual_seed(0)
    theirs = torch_ref.nn.MultiheadAttention(E, HEADS, **kwargs)
    ours = torsh.nn.MultiheadAttention(E, HEADS, **kwargs)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _run(lib, module, arrays, same, grad, **kwargs):
    """module(query, key, value) with ``same`` naming which arguments are one tensor ("qkv", "kv" or "");
    returns the output, the inputs' gradients, the parameters' gradients and the graph's node counts."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    q, k, v = leaves
    if same == "qkv":
        k = v = q
    elif same == "kv":
        v = k
    out, _ = module(q, k, v, **kwargs)
    counts = _graph_counts(out)
    out.backward(lib.tensor(grad))
    grads = [t.grad for t in leaves if t.grad is not None]
    return out, grads, [p.grad for p in module.parameters()], counts


CASES = {  # (batch_first, which arguments are one tensor)
    "self_batch_first": (True, "qkv"),
    "self_sequence_first": (False, "qkv"),
    "shared_kv_batch_first": (True, "kv"),
    "shared_kv_sequence_first": (False, "kv"),
    "distinct_batch_first": (True, ""),
}


@needs_torch
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_mha_projections_values_gradients_and_nodes_match_torch(case, need_weights):
    batch_first, same = CASES[case]
    ours, theirs = _mha_pair(batch_first=batch_first)
    L, S, N = 5, 7, 3
    shape_q, shape_kv = ((N, L, E), (N, S, E)) if batch_first else ((L, N, E), (S, N, E))
    rng = np.random.default_rng(0)
    if same == "qkv":
        shape_kv = shape_q
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (shape_q, shape_kv, shape_kv)]
    grad = rng.standard_normal(shape_q).astype(np.float32)
    out, grads, param_grads, counts = _run(torsh, ours, arrays, same, grad, need_weights=need_weights)
    t_out, t_grads, t_param_grads, t_counts = _run(torch_ref, theirs, arrays, same, grad,
                                                   need_weights=need_weights)
    assert_close(out, t_out.detach())
    assert len(grads) == len(t_grads) == {"qkv": 1, "kv": 2, "": 3}[same]
    for a, b in zip(grads + param_grads, t_grads + t_param_grads):
        assert_close(a, b, rtol=1e-4, atol=1e-5)
    # as many selects and splits of the packed projections as PyTorch's graph, and no more products (PyTorch
    # multiplies a strided 3-D input by matmul and adds the bias; torsh folds it into rows for one addmm)
    for name in ("SelectBackward0", "SplitWithSizesBackward0"):
        assert counts[name] == t_counts[name], name
    products = ("AddmmBackward0", "MmBackward0", "BmmBackward0")
    assert sum(counts[n] for n in products) <= sum(t_counts[n] for n in products)


@needs_torch
def test_transformer_encoder_layer_batch_first_projects_once_as_torch():
    torch_ref.manual_seed(0)
    theirs = torch_ref.nn.TransformerEncoderLayer(E, HEADS, 32, dropout=0.0, batch_first=True)
    ours = torsh.nn.TransformerEncoderLayer(E, HEADS, 32, dropout=0.0, batch_first=True)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 6, E)).astype(np.float32)
    results = []
    for lib, layer in ((torsh, ours), (torch_ref, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        out = layer(xt)
        counts = _graph_counts(out)
        out.pow(2).sum().backward()
        results.append((out, xt.grad, layer.self_attn.in_proj_weight.grad, counts))
    (out, gx, gw, counts), (t_out, t_gx, t_gw, t_counts) = results
    assert_close(out, t_out.detach())
    assert_close(gx, t_gx, rtol=1e-4, atol=1e-4)
    assert_close(gw, t_gw, rtol=1e-4, atol=1e-4)
    assert counts["SelectBackward0"] == t_counts["SelectBackward0"] == 3


@needs_torch
@pytest.mark.parametrize("key", [0, -1, (slice(None), 1), (1, slice(0, 3)), (Ellipsis, 2), (None, 1)],
                         ids=["int", "negative", "slice_int", "int_slice", "ellipsis_int", "newaxis_int"])
def test_basic_index_gradient_matches_torch(key):
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(np.float32)
    grads = []
    for lib in (torsh, torch_ref):
        xt = lib.tensor(x, requires_grad=True)
        out = xt[key]
        (out * lib.arange(out.numel(), dtype=lib.float32).reshape(out.shape)).sum().backward()
        grads.append(xt.grad)
    assert_close(grads[0], grads[1])


@needs_torch
def test_repeated_index_gradients_still_accumulate_as_torch():
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    grads = []
    for lib in (torsh, torch_ref):
        xt = lib.tensor(x, requires_grad=True)
        xt[lib.tensor([0, 2, 0, 0]), 1:].sum().backward()
        grads.append(xt.grad)
    assert_close(grads[0], grads[1])
    assert grads[0][0, 1].item() == 3.0


def _layer_pair(**kwargs):
    """The same TransformerEncoderLayer in torsh and in PyTorch (PyTorch's initial weights copied)."""
    torch_ref.manual_seed(0)
    theirs = torch_ref.nn.TransformerEncoderLayer(E, HEADS, 32, dropout=0.0, **kwargs)
    ours = torsh.nn.TransformerEncoderLayer(E, HEADS, 32, dropout=0.0, **kwargs)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


LAYOUTS = {  # self-attention's query: batch_first (N, L, E) seen as its (L, N, E) transpose, or (L, N, E)
    "batch_first": (True, (3, 6, E)),
    "sequence_first": (False, (6, 3, E)),
}


@needs_torch
@pytest.mark.parametrize("mask", ["none", "causal", "causal_and_padding", "float"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_encoder_layer_self_attention_masks_values_and_gradients_match_torch(layout, mask):
    batch_first, shape = LAYOUTS[layout]
    ours, theirs = _layer_pair(batch_first=batch_first)
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(np.float32)
    float_mask = rng.standard_normal((6, 6)).astype(np.float32)
    padding = np.zeros((3, 6), dtype=bool)
    padding[1, -2:] = True
    results = []
    for lib, layer in ((torsh, ours), (torch_ref, theirs)):
        kwargs = {}
        if mask.startswith("causal"):  # the layer's is_causal hint: no mask tensor reaches attention
            kwargs = {"src_mask": lib.nn.Transformer.generate_square_subsequent_mask(6), "is_causal": True}
        if mask == "causal_and_padding":
            kwargs["src_key_padding_mask"] = lib.tensor(padding)
        if mask == "float":
            kwargs = {"src_mask": lib.tensor(float_mask)}
        xt = lib.tensor(x, requires_grad=True)
        out = layer(xt, **kwargs)
        (out * lib.tensor(np.linspace(-1, 1, out.numel(), dtype=np.float32).reshape(shape))).sum().backward()
        results.append((out, xt.grad, [p.grad for p in layer.parameters()]))
    (out, gx, grads), (t_out, t_gx, t_grads) = results
    assert_close(out, t_out.detach())
    assert_close(gx, t_gx, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads, t_grads):
        assert_close(a, b, rtol=1e-4, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("layout", LAYOUTS)
def test_self_attention_output_is_laid_out_and_recorded_as_torch(layout):
    """The output's shape, strides and grad_fn as PyTorch's; eval mode gives the training values."""
    batch_first, shape = LAYOUTS[layout]
    ours, theirs = _mha_pair(batch_first=batch_first)
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    outs, eval_outs = [], []
    for lib, module in ((torsh, ours), (torch_ref, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        out, weights = module(xt, xt, xt, need_weights=False)
        assert weights is None
        outs.append(out)
        module.eval()
        with lib.no_grad():
            eval_outs.append(module(xt, xt, xt, need_weights=False)[0])
    assert outs[0].shape == outs[1].shape
    assert outs[0].stride() == outs[1].stride()
    assert outs[0].grad_fn.name() == outs[1].grad_fn.name()
    assert_close(outs[0], outs[1].detach())
    assert_close(eval_outs[0], outs[1].detach())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_self_attention_gradchecks_in_float64(layout):
    batch_first, shape = LAYOUTS[layout]
    torsh.manual_seed(0)
    mha = torsh.nn.MultiheadAttention(E, HEADS, batch_first=batch_first, dtype=torsh.float64)
    x = torsh.tensor(np.random.default_rng(6).standard_normal(shape), requires_grad=True)

    def attend(x, in_proj_weight, out_proj_weight):
        return torsh.nn.functional.multi_head_attention_forward(
            *((x, x, x) if not batch_first else (x.transpose(0, 1),) * 3), E, HEADS, in_proj_weight,
            mha.in_proj_bias, None, None, False, 0.0, out_proj_weight, mha.out_proj.bias, need_weights=False)[0]
    weights = (mha.in_proj_weight.detach().requires_grad_(), mha.out_proj.weight.detach().requires_grad_())
    assert torsh.autograd.gradcheck(attend, (x, *weights))
