"""scaled_dot_product_attention, MultiheadAttention and the Transformer modules against torch."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, torch_ref as torch
from test_nn_common import build_pair, compare_module, run_and_compare

R = np.random.default_rng(0)


def _pair(lib, a, grad=False):
    return lib.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "scale", "broadcast_mask"])
def test_sdpa_matches_torch(case):
    q, k, v = R.normal(size=(2, 3, 4, 5)), R.normal(size=(2, 3, 6, 5)), R.normal(size=(2, 3, 6, 7))
    mask_b = R.random((4, 6)) > 0.3
    mask_b[:, 0] = True
    mask_f = R.normal(size=(2, 3, 4, 6))
    kwargs = {
        "plain": lambda lib: {},
        "bool_mask": lambda lib: {"attn_mask": lib.tensor(mask_b)},
        "float_mask": lambda lib: {"attn_mask": lib.tensor(mask_f)},
        "causal": lambda lib: {"is_causal": True},
        "scale": lambda lib: {"scale": 0.3},
        "broadcast_mask": lambda lib: {"attn_mask": lib.tensor(mask_b[None, None])},
    }[case]
    if case == "causal":
        k, v = k[:, :, :4], v[:, :, :4]
    outs, grads = [], []
    for lib in (torsh, torch):
        ts = [_pair(lib, a, True) for a in (q, k, v)]
        out = lib.nn.functional.scaled_dot_product_attention(*ts, **kwargs(lib))
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        outs.append(out)
        grads.append([t.grad for t in ts])
    assert_close(outs[0], outs[1].detach())
    for a, b in zip(*grads):
        assert_close(a, b)


MHAS = [
    ("basic", lambda nn: nn.MultiheadAttention(8, 2), {}),
    ("batch_first", lambda nn: nn.MultiheadAttention(8, 4, batch_first=True), {}),
    ("kvdim", lambda nn: nn.MultiheadAttention(8, 2, kdim=5, vdim=3), {}),
    ("bias_kv_zero_attn", lambda nn: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True), {}),
    ("no_bias", lambda nn: nn.MultiheadAttention(8, 2, bias=False), {}),
    ("no_weights", lambda nn: nn.MultiheadAttention(8, 2), {"need_weights": False}),
    ("per_head_weights", lambda nn: nn.MultiheadAttention(8, 2), {"average_attn_weights": False}),
]


def _mha_inputs(name):
    L, S, N, E = 4, 6, 3, 8
    kd, vd = (5, 3) if name == "kvdim" else (E, E)
    if name == "batch_first":
        return [R.normal(size=(N, L, E)), R.normal(size=(N, S, kd)), R.normal(size=(N, S, vd))]
    return [R.normal(size=(L, N, E)), R.normal(size=(S, N, kd)), R.normal(size=(S, N, vd))]


@pytest.mark.parametrize("name,make,kw", MHAS, ids=[m[0] for m in MHAS])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_mha_matches_torch(name, make, kw, masks):
    inputs = _mha_inputs(name)
    kpm = np.zeros((3, 6), dtype=bool)
    kpm[0, -2:] = True
    kpm[2, 1] = True
    attn_bool = np.triu(np.ones((4, 6), dtype=bool), k=3)

    def kwargs(lib):
        out = dict(kw)
        if masks == "bool":
            out.update(key_padding_mask=lib.tensor(kpm), attn_mask=lib.tensor(attn_bool))
        elif masks == "float":
            out.update(key_padding_mask=lib.tensor(np.where(kpm, -1e4, 0.0)),
                       attn_mask=lib.tensor(np.where(attn_bool, -np.inf, 0.5)))
        return out
    compare_module(lambda lib: make(lib.nn), inputs, kwargs_fn=kwargs, modes=(True,))


def test_mha_self_attention_unbatched_and_keys():
    x = R.normal(size=(5, 8))
    compare_module(lambda lib: lib.nn.MultiheadAttention(8, 2), [x, x, x], modes=(True,))
    for kw in ({}, {"kdim": 3, "vdim": 3}, {"add_bias_kv": True}):
        assert list(nn.MultiheadAttention(8, 2, **kw).state_dict()) == \
            list(torch.nn.MultiheadAttention(8, 2, **kw).state_dict())


def test_mha_same_tensor_self_attention():
    ours, ref = build_pair(lambda lib: lib.nn.MultiheadAttention(8, 2))
    x = R.normal(size=(4, 2, 8))
    xo, xr = torsh.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ao, wo), (ar, wr) = ours(xo, xo, xo), ref(xr, xr, xr)
    assert_close(ao, ar.detach())
    assert_close(wo, wr.detach())
    ao.sum().backward()
    ar.sum().backward()
    assert_close(xo.grad, xr.grad)
    assert_close(ours.in_proj_weight.grad, ref.in_proj_weight.grad)


LAYERS = [
    ("enc", lambda nn: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)),
    ("enc_gelu_normfirst_bf", lambda nn: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                                                     norm_first=True, batch_first=True)),
    ("encoder_stack", lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,
                                                       norm=nn.LayerNorm(8), enable_nested_tensor=False)),
]


@pytest.mark.parametrize("name,make", LAYERS, ids=[l[0] for l in LAYERS])
@pytest.mark.parametrize("masks", [False, True])
def test_encoder_matches_torch(name, make, masks):
    x = R.normal(size=(5, 3, 8)) if "bf" not in name else R.normal(size=(3, 5, 8))
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, -1] = True

    def kwargs(lib):
        if not masks:
            return {}
        key = "src_mask" if name != "encoder_stack" else "mask"
        return {key: lib.nn.Transformer.generate_square_subsequent_mask(5).double(),
                "src_key_padding_mask": lib.tensor(kpm)}
    compare_module(lambda lib: make(lib.nn), [x], kwargs_fn=kwargs, modes=(True, False))


def test_decoder_layer_and_transformer_match_torch():
    src, tgt = R.normal(size=(6, 2, 8)), R.normal(size=(4, 2, 8))

    def kwargs(lib):
        return {"tgt_mask": lib.nn.Transformer.generate_square_subsequent_mask(4).double(),
                "memory_key_padding_mask": lib.tensor(np.array([[False] * 5 + [True], [False] * 6]))}
    compare_module(lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=True), [tgt, src],
                   kwargs_fn=kwargs, modes=(True,))
    compare_module(lambda lib: lib.nn.Transformer(8, 2, 2, 1, 16, dropout=0.0), [src, tgt], kwargs_fn=kwargs,
                   modes=(True,))


def test_transformer_state_dict_keys_and_mask():
    make = lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)  # noqa: E731
    assert list(make(torsh).state_dict()) == list(make(torch).state_dict())
    assert_close(nn.Transformer.generate_square_subsequent_mask(4),
                 torch.nn.Transformer.generate_square_subsequent_mask(4))
    assert repr(nn.TransformerEncoderLayer(8, 2, 16)) == repr(torch.nn.TransformerEncoderLayer(8, 2, 16))


def test_transformer_dropout_runs_in_train_mode():
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = torsh.randn(4, 2, 8)
    a, b = m(x), m(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    assert np.allclose(m(x).detach().numpy(), m(x).detach().numpy())
