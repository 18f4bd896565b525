"""Values, dtypes and shapes that used to come out wrong at the edges (issue "Hardening"):
infinities in logsumexp, half-precision products, fills and casts, zero-size dims and batches,
PyTorch's keyword names for the shape ops. Every case is compared with PyTorch 2.13.
"""
import importlib
import math

import numpy as np
import pytest

import torsh
from helpers import (VARIANTS, assert_close, assert_same_structure_close, forced_variant, needs_torch, pair,
                     torch_ref)

pytestmark = needs_torch
inf, nan = math.inf, math.nan


def F(lib):
    return importlib.import_module(lib.__name__ + ".nn.functional")


def both(fn):
    """(fn(torsh), fn(torch))."""
    return fn(torsh), fn(torch_ref)


# -- logsumexp with infinities ----------------------------------------------------------------------
LSE_ROWS = [[inf, 1.], [-inf, -inf], [inf, -inf], [nan, 1.], [nan, inf], [inf, inf], [-inf, 1.], [2., 3.]]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim,keepdim", [(1, False), (1, True), (0, False), (0, True), ((0, 1), False), (-1, True)])
def test_logsumexp_with_infinities(variant, dtype, dim, keepdim):
    x, r = pair(np.array(LSE_ROWS), dtype)
    with forced_variant(["logsumexp_rows"], variant):
        assert_close(torsh.logsumexp(x, dim, keepdim), torch_ref.logsumexp(r, dim, keepdim))


@pytest.mark.parametrize("row", LSE_ROWS)
def test_logsumexp_single_vector(row):
    x, r = pair(np.array(row), "float32")
    assert_close(torsh.logsumexp(x, 0), torch_ref.logsumexp(r, 0))


@pytest.mark.parametrize("dim,keepdim", [(1, False), (0, True)])
def test_logsumexp_gradient_at_infinities(dim, keepdim):
    x, r = pair(np.array(LSE_ROWS[:3] + LSE_ROWS[-1:]), "float64", requires_grad=True)
    torsh.logsumexp(x, dim, keepdim).sum().backward()
    torch_ref.logsumexp(r, dim, keepdim).sum().backward()
    assert_close(x.grad, r.grad)


# -- half-precision products keep their dtype -------------------------------------------------------
def _rand(shape, seed):
    return np.random.default_rng(seed).uniform(-2, 2, shape)


PRODUCTS = {
    "matmul": (lambda lib, a, b, c: lib.matmul(a, b), [(3, 4), (4, 5)]),
    "mm": (lambda lib, a, b, c: lib.mm(a, b), [(3, 4), (4, 5)]),
    "operator": (lambda lib, a, b, c: a @ b, [(3, 4), (4, 5)]),
    "bmm": (lambda lib, a, b, c: lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    "matmul_broadcast": (lambda lib, a, b, c: lib.matmul(a, b), [(2, 1, 3, 4), (4, 5)]),
    "matmul_batched_broadcast": (lambda lib, a, b, c: lib.matmul(a, b), [(2, 1, 3, 4), (3, 4, 5)]),
    "matmul_vector": (lambda lib, a, b, c: lib.matmul(a, b), [(4,), (4, 5)]),
    "mv": (lambda lib, a, b, c: lib.mv(a, b), [(3, 4), (4,)]),
    "dot": (lambda lib, a, b, c: lib.dot(a, b), [(4,), (4,)]),
    "linear": (lambda lib, a, b, c: F(lib).linear(a, b, c), [(3, 4), (5, 4), (5,)]),
    "linear_3d": (lambda lib, a, b, c: F(lib).linear(a, b, c), [(2, 3, 4), (5, 4), (5,)]),
    "linear_no_bias": (lambda lib, a, b, c: F(lib).linear(a, b), [(3, 4), (5, 4)]),
    "addmm": (lambda lib, a, b, c: lib.addmm(c, a, b), [(3, 4), (4, 5), (5,)]),
    "addmm_scaled": (lambda lib, a, b, c: lib.addmm(c, a, b, beta=0.5, alpha=2), [(3, 4), (4, 5), (3, 5)]),
    "baddbmm": (lambda lib, a, b, c: lib.baddbmm(c, a, b), [(2, 3, 4), (2, 4, 5), (5,)]),
    "einsum": (lambda lib, a, b, c: lib.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(PRODUCTS))
def test_half_precision_products_keep_dtype(name, dtype):
    fn, shapes = PRODUCTS[name]
    pairs = [pair(_rand(s, i), dtype, requires_grad=True) for i, s in enumerate(shapes)]
    ours = [p[0] for p in pairs] + [None] * (3 - len(pairs))
    theirs = [p[1] for p in pairs] + [None] * (3 - len(pairs))
    out, ref = fn(torsh, *ours), fn(torch_ref, *theirs)
    rtol = 2e-2 if dtype == "bfloat16" else 2e-3
    assert_close(out, ref, rtol=rtol, atol=rtol)
    out.sum().backward()
    ref.sum().backward()
    for (a, r) in pairs:
        assert_close(a.grad, r.grad, rtol=rtol, atol=rtol)


# -- fills and casts ----------------------------------------------------------------------------------
FILLS = [
    lambda lib: lib.full((2,), inf, dtype=lib.float16),
    lambda lib: lib.full((2,), nan, dtype=lib.float16),
    lambda lib: lib.full((2,), nan, dtype=lib.bool),
    lambda lib: lib.full((2,), 1.5, dtype=lib.bool),
    lambda lib: lib.full((2,), 3.7, dtype=lib.int64),
    lambda lib: lib.full((2,), 3.9, dtype=lib.uint8),
    lambda lib: lib.full((2,), -1, dtype=lib.uint8),
    lambda lib: lib.full((2,), -255, dtype=lib.uint8),
    lambda lib: lib.full((2,), 2.0 ** 63, dtype=lib.int64),
    lambda lib: lib.full((2,), -2 ** 63, dtype=lib.int64),
    lambda lib: lib.full((2,), 2 ** 64 - 1, dtype=lib.float32),
    lambda lib: lib.full((2,), 1e-50, dtype=lib.float32),
    lambda lib: lib.full((2,), True, dtype=lib.int64),
    lambda lib: lib.full((2,), 1 + 1j, dtype=lib.complex64),
    lambda lib: lib.full((2,), nan),
    lambda lib: lib.zeros(2, dtype=lib.uint8).fill_(-3),
    lambda lib: lib.zeros(2, dtype=lib.int64).fill_(lib.tensor(nan)),
    lambda lib: lib.zeros(2, dtype=lib.int32).fill_(2.9),
    lambda lib: lib.tensor([nan]).to(lib.int64),
    lambda lib: lib.tensor([inf, -inf]).to(lib.int64),
    lambda lib: lib.tensor([inf, -inf, nan]).to(lib.int32),
]


@pytest.mark.parametrize("case", range(len(FILLS)))
def test_fill_values_match_pytorch(case):
    out, ref = both(FILLS[case])
    assert_close(out, ref)


# -- zero-size dims: how many pieces ------------------------------------------------------------------
SPLITS = [
    lambda lib: lib.zeros(0, 3).chunk(2, 0),
    lambda lib: lib.zeros(0, 3).chunk(1, 0),
    lambda lib: lib.zeros(3, 0).chunk(2, 1),
    lambda lib: lib.zeros(3, 0).chunk(2, 0),
    lambda lib: lib.zeros(0, 3).split(2, 0),
    lambda lib: lib.zeros(0, 3).split(0, 0),
    lambda lib: lib.zeros(0, 3).split([0], 0),
    lambda lib: lib.zeros(0, 3).split([], 0),
    lambda lib: lib.zeros(3, 0).split(1, 1),
    lambda lib: lib.zeros(0, 3).tensor_split(3, 0),
    lambda lib: lib.zeros(0, 3).tensor_split([1, 2], 0),
    lambda lib: lib.zeros(0, 3).unbind(0),
    lambda lib: lib.zeros(5).chunk(3),
    lambda lib: lib.zeros(5).chunk(4),
    lambda lib: lib.zeros(6).chunk(4),
    lambda lib: lib.zeros(2).chunk(5),
    lambda lib: lib.zeros(7).split(3),
]


@pytest.mark.parametrize("case", range(len(SPLITS)))
def test_splits_of_zero_size_dims(case):
    out, ref = both(SPLITS[case])
    assert_same_structure_close(out, ref)


def test_chunk_of_empty_dim_backward():
    x, r = pair(np.zeros((0, 3)), "float64", requires_grad=True)
    ours, theirs = x.chunk(3, 0), r.chunk(3, 0)
    assert type(ours[0].grad_fn).__name__ == type(theirs[0].grad_fn).__name__
    sum(p.sum() for p in ours).backward()
    sum(p.sum() for p in theirs).backward()
    assert_close(x.grad, r.grad)


# -- PyTorch's keyword names for the shape ops ---------------------------------------------------------
def _x(lib):
    return lib.arange(24.).reshape(2, 3, 4)


KEYWORDS = {
    "torch.flip(dims=)": lambda lib: lib.flip(_x(lib), dims=[0, 2]),
    "Tensor.flip(dims=)": lambda lib: _x(lib).flip(dims=[0, 2]),
    "Tensor.flip(*dims)": lambda lib: _x(lib).flip(0, 2),
    "torch.flip(input=, dims=)": lambda lib: lib.flip(input=_x(lib), dims=[1]),
    "torch.roll(shifts=, dims=)": lambda lib: lib.roll(_x(lib), shifts=1, dims=0),
    "Tensor.roll(shifts=, dims=)": lambda lib: _x(lib).roll(shifts=(1, -1), dims=(0, 2)),
    "Tensor.roll(shifts=)": lambda lib: _x(lib).roll(shifts=5),
    "torch.rot90(k=, dims=)": lambda lib: lib.rot90(_x(lib), k=1, dims=[0, 1]),
    "Tensor.rot90(k=, dims=)": lambda lib: _x(lib).rot90(k=3, dims=[1, 2]),
    "Tensor.permute(dims=)": lambda lib: _x(lib).permute(dims=(2, 0, 1)),
    "torch.permute(dims=)": lambda lib: lib.permute(_x(lib), dims=(2, 0, 1)),
    "torch.transpose(dim0=, dim1=)": lambda lib: lib.transpose(_x(lib), dim0=0, dim1=1),
    "Tensor.transpose(dim0=, dim1=)": lambda lib: _x(lib).transpose(dim0=0, dim1=2),
    "torch.movedim(source=, destination=)": lambda lib: lib.movedim(_x(lib), source=0, destination=1),
    "Tensor.movedim(source=, destination=)": lambda lib: _x(lib).movedim(source=0, destination=2),
    "torch.moveaxis(source=, destination=)": lambda lib: lib.moveaxis(_x(lib), source=0, destination=1),
    "torch.swapaxes(axis0=, axis1=)": lambda lib: lib.swapaxes(_x(lib), axis0=0, axis1=1),
    "Tensor.swapaxes(axis0=, axis1=)": lambda lib: _x(lib).swapaxes(axis0=0, axis1=2),
    "torch.swapdims(dim0=, dim1=)": lambda lib: lib.swapdims(_x(lib), dim0=0, dim1=1),
    "torch.squeeze(dim=)": lambda lib: lib.squeeze(_x(lib)[:1], dim=0),
    "torch.unsqueeze(dim=)": lambda lib: lib.unsqueeze(_x(lib), dim=0),
    "torch.flatten(start_dim=, end_dim=)": lambda lib: lib.flatten(_x(lib), start_dim=1, end_dim=2),
    "torch.unflatten(dim=, sizes=)": lambda lib: lib.unflatten(_x(lib), dim=2, sizes=(2, 2)),
    "torch.reshape(shape=)": lambda lib: lib.reshape(_x(lib), shape=(6, 4)),
    "Tensor.reshape(shape=)": lambda lib: _x(lib).reshape(shape=(6, 4)),
    "Tensor.view(size=)": lambda lib: _x(lib).view(size=(6, 4)),
    "Tensor.expand(size=)": lambda lib: _x(lib).expand(size=(2, 2, 3, 4)),
    "torch.narrow(dim=, start=, length=)": lambda lib: lib.narrow(_x(lib), dim=0, start=1, length=1),
    "torch.select(dim=, index=)": lambda lib: lib.select(_x(lib), dim=0, index=1),
    "torch.chunk(chunks=, dim=)": lambda lib: lib.chunk(_x(lib), chunks=2, dim=1),
    "torch.split(split_size_or_sections=, dim=)": lambda lib: lib.split(_x(lib), split_size_or_sections=2, dim=1),
    "Tensor.split(split_size=, dim=)": lambda lib: _x(lib).split(split_size=2, dim=1),
    "torch.tensor_split(sections=)": lambda lib: lib.tensor_split(_x(lib), sections=2, dim=1),
    "torch.tensor_split(indices=)": lambda lib: lib.tensor_split(_x(lib), indices=[1], dim=1),
    "Tensor.tensor_split(sections=)": lambda lib: _x(lib).tensor_split(sections=3, dim=2),
    "torch.unbind(dim=)": lambda lib: lib.unbind(_x(lib), dim=1),
    "torch.tile(dims=)": lambda lib: lib.tile(_x(lib), dims=(2,)),
    "Tensor.tile(dims=)": lambda lib: _x(lib).tile(dims=(1, 2)),
    "Tensor.repeat(repeats=)": lambda lib: _x(lib).repeat(repeats=(1, 1, 2)),
    "torch.diagonal(offset=, dim1=, dim2=)": lambda lib: lib.diagonal(_x(lib), offset=0, dim1=1, dim2=2),
    "torch.tril(diagonal=)": lambda lib: lib.tril(_x(lib), diagonal=1),
    "torch.repeat_interleave(repeats=, dim=)": lambda lib: lib.repeat_interleave(_x(lib), repeats=2, dim=0),
    "torch.broadcast_to(size=)": lambda lib: lib.broadcast_to(_x(lib), size=(2, 2, 3, 4)),
    "torch.cat(tensors=, dim=)": lambda lib: lib.cat(tensors=[_x(lib), _x(lib)], dim=0),
    "torch.stack(tensors=, dim=)": lambda lib: lib.stack(tensors=[_x(lib), _x(lib)], dim=1),
}


@pytest.mark.parametrize("name", list(KEYWORDS))
def test_shape_op_keyword_names(name):
    out, ref = both(KEYWORDS[name])
    assert_same_structure_close(out, ref)


# -- ranges ---------------------------------------------------------------------------------------------
RANGES = [
    lambda lib: lib.arange(0, 10, inf),
    lambda lib: lib.arange(0, 5, 1.5, dtype=lib.int64),
    lambda lib: lib.arange(0.5, 5, 1.5, dtype=lib.int64),
    lambda lib: lib.arange(-2.5, 3, dtype=lib.int64),
    lambda lib: lib.arange(5, -0.5, -1.5, dtype=lib.int32),
    lambda lib: lib.arange(5, -0.5, -1.5, dtype=lib.int64),
    lambda lib: lib.arange(0, 5, 1.5, dtype=lib.int16),
    lambda lib: lib.arange(0, 1, 0.1, dtype=lib.int32),
    lambda lib: lib.arange(0, 1, 0.3),
    lambda lib: lib.arange(5, 5, -1),
    lambda lib: lib.arange(-1.5, 3, 1),
    lambda lib: lib.linspace(0, 1, 0),
    lambda lib: lib.linspace(3, 1, 3),
    lambda lib: lib.linspace(0, 10, 5, dtype=lib.int64),
    lambda lib: lib.logspace(0, 2, 3, base=2),
]


@pytest.mark.parametrize("case", range(len(RANGES)))
def test_ranges_match_pytorch(case):
    out, ref = both(RANGES[case])
    assert_close(out, ref)


# -- float ops on integer and bool tensors -------------------------------------------------------------
UNARY_FLOAT_OPS = ["sigmoid", "tanh", "exp", "exp2", "expm1", "log", "log2", "log1p", "sqrt", "rsqrt", "sin", "cos",
                   "atan", "erf", "erfinv", "reciprocal", "lgamma", "digamma", "logit", "sinc", "i0", "deg2rad",
                   "special.expit"]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", UNARY_FLOAT_OPS)
def test_unary_float_ops_on_integers_give_default_float(name, dtype):
    def run(lib):
        fn = lib
        for part in name.split("."):
            fn = getattr(fn, part)
        return fn(lib.tensor([0, 1, 1, 0], dtype=getattr(lib, dtype)))
    out, ref = both(run)
    assert_close(out, ref)


# -- normalisation with eps=0 ----------------------------------------------------------------------------
EPS_ZERO = [
    lambda lib: F(lib).layer_norm(lib.tensor([[1., 1.], [1., 3.]]), (2,), eps=0),
    lambda lib: F(lib).layer_norm(lib.ones(3, 4, dtype=lib.float64), (4,), eps=0),
    lambda lib: F(lib).group_norm(lib.tensor([[[1., 1.], [1., 3.]]]), 2, eps=0),
    lambda lib: F(lib).group_norm(lib.ones(2, 4, 3), 2, eps=0),
    lambda lib: F(lib).batch_norm(lib.ones(3, 2, 4), lib.zeros(2), lib.zeros(2), training=False, eps=0),
    lambda lib: F(lib).batch_norm(lib.tensor([[1., 2.], [3., 5.]]), lib.zeros(2), lib.ones(2), eps=0),
    lambda lib: F(lib).instance_norm(lib.tensor([[[1., 2., 3.]]]), eps=0),
    lambda lib: F(lib).rms_norm(lib.zeros(3, 4), (4,), eps=0),
]


@pytest.mark.parametrize("case", range(len(EPS_ZERO)))
def test_norms_with_zero_eps(case):
    out, ref = both(EPS_ZERO[case])
    assert_close(out, ref)


# -- zero-size batches, forward and backward -------------------------------------------------------------
def _run_with_grads(lib, fn, shapes, dtype):
    torch_dtype = getattr(lib, dtype)
    tensors = [lib.tensor(_rand(s, i)).to(torch_dtype).requires_grad_(True) for i, s in enumerate(shapes)]
    out = fn(lib, *tensors)
    out.sum().backward()
    return (out,) + tuple(t.grad for t in tensors)


EMPTY_BATCHES = {
    "linear": (lambda lib, x, w, b: F(lib).linear(x, w, b), [(0, 3), (2, 3), (2,)]),
    "linear_3d": (lambda lib, x, w, b: F(lib).linear(x, w, b), [(2, 0, 3), (2, 3), (2,)]),
    "linear_empty_features": (lambda lib, x, w, b: F(lib).linear(x, w, b), [(4, 0), (2, 0), (2,)]),
    "layer_norm": (lambda lib, x, w, b: F(lib).layer_norm(x, (4,), w, b), [(0, 4), (4,), (4,)]),
    "group_norm": (lambda lib, x, w, b: F(lib).group_norm(x, 2, w, b), [(0, 4, 3), (4,), (4,)]),
    "batch_norm_train": (lambda lib, x, w, b: F(lib).batch_norm(x, None, None, w, b, training=True),
                         [(0, 4), (4,), (4,)]),
    "batch_norm_train_3d": (lambda lib, x, w, b: F(lib).batch_norm(x, None, None, w, b, training=True),
                            [(0, 4, 5), (4,), (4,)]),
    "batch_norm_eval": (lambda lib, x, w, b: F(lib).batch_norm(x, lib.zeros(4, dtype=x.dtype),
                                                               lib.ones(4, dtype=x.dtype), w, b),
                        [(0, 4), (4,), (4,)]),
    "sdpa_batch_0": (lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v),
                     [(0, 2, 4, 8), (0, 2, 4, 8), (0, 2, 4, 8)]),
    "sdpa_query_len_0": (lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v),
                         [(1, 2, 0, 8), (1, 2, 4, 8), (1, 2, 4, 8)]),
    "sdpa_key_len_0": (lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v),
                       [(1, 2, 3, 8), (1, 2, 0, 8), (1, 2, 0, 8)]),
    "sdpa_key_len_0_causal": (lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v, is_causal=True),
                              [(1, 2, 3, 8), (1, 2, 0, 8), (1, 2, 0, 8)]),
    "sdpa_head_dim_0": (lambda lib, q, k, v: F(lib).scaled_dot_product_attention(q, k, v),
                        [(1, 2, 3, 0), (1, 2, 4, 0), (1, 2, 4, 5)]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(EMPTY_BATCHES))
def test_zero_size_batches_forward_backward(name, dtype):
    fn, shapes = EMPTY_BATCHES[name]
    ours = _run_with_grads(torsh, fn, shapes, dtype)
    theirs = _run_with_grads(torch_ref, fn, shapes, dtype)
    assert_same_structure_close(ours, theirs)


def test_batch_norm_empty_batch_leaves_running_stats():
    def run(lib):
        mean, var = lib.tensor([0.5, 1.0, -1.0, 2.0]), lib.tensor([1.0, 2.0, 3.0, 4.0])
        F(lib).batch_norm(lib.zeros(0, 4), mean, var, training=True)
        return mean, var
    assert_same_structure_close(*both(run))


RNN_SHAPES = [((7, 0, 3), {}), ((0, 7, 3), {"batch_first": True}),
              ((7, 0, 3), {"bidirectional": True, "num_layers": 2}), ((0, 2, 3), {"batch_first": True})]


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("shape,kwargs", RNN_SHAPES)
def test_rnn_empty_batch_forward_backward(mode, shape, kwargs):
    def run(lib):
        lib.manual_seed(0)
        module = getattr(lib.nn, mode)(3, 5, **kwargs)
        x = lib.zeros(*shape, requires_grad=True)
        out, state = module(x)
        h = state[0] if mode == "LSTM" else state
        (out.sum() + h.sum()).backward()
        return out, h, x.grad, module.weight_ih_l0.grad, module.weight_hh_l0.grad
    assert_same_structure_close(*both(run))


def test_lstm_with_projection_empty_batch():
    def run(lib):
        out, (h, c) = lib.nn.LSTM(3, 5, proj_size=2)(lib.zeros(7, 0, 3))
        return out, h, c
    assert_same_structure_close(*both(run))


# -- embedding: indices that are in range ------------------------------------------------------------
def test_embedding_negative_padding_idx_counts_from_the_end():
    def run(lib):
        weight = lib.arange(12.).reshape(4, 3).requires_grad_(True)
        out = F(lib).embedding(lib.tensor([[0, 3], [3, 1]]), weight, padding_idx=-1)
        out.sum().backward()
        return out, weight.grad
    assert_same_structure_close(*both(run))
    assert torsh.nn.Embedding(4, 3, padding_idx=-4).padding_idx == torch_ref.nn.Embedding(4, 3, padding_idx=-4).padding_idx
