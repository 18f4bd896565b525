"""TransformerEncoder's enable_nested_tensor warning: PyTorch 2.13's category, wording and cases."""
import warnings

import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

# (layer kwargs, encoder kwargs): one case per reason of PyTorch's TransformerEncoder.__init__, and silent ones
CASES = [
    ({}, {}),  # batch_first False (the default)
    (dict(batch_first=True), {}),  # every fast-path condition holds: silent
    (dict(batch_first=True), dict(enable_nested_tensor=False)),
    (dict(batch_first=True, norm_first=True), {}),
    (dict(batch_first=True, bias=False), {}),
    (dict(batch_first=True, activation="gelu"), {}),
    (dict(batch_first=True, activation="relu"), {}),
    (dict(batch_first=True, activation="relu_module"), {}),
    (dict(batch_first=True, activation="sigmoid"), {}),
    (dict(batch_first=True, nhead=1), {}),
    (dict(norm_first=True, batch_first=False), dict(enable_nested_tensor=False)),
]


def _activation(lib, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("activation") == "relu_module":
        kwargs["activation"] = lib.nn.ReLU()
    elif kwargs.get("activation") == "sigmoid":
        kwargs["activation"] = lib.sigmoid
    return kwargs


def _warnings_of(lib, layer_kwargs, encoder_kwargs):
    layer_kwargs = {"d_model": 8, "nhead": 2, "dim_feedforward": 16, **_activation(lib, layer_kwargs)}
    layer = lib.nn.TransformerEncoderLayer(**layer_kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = lib.nn.TransformerEncoder(layer, 2, **encoder_kwargs)
    return [(w.category, str(w.message), w.filename) for w in caught], encoder.use_nested_tensor


@pytest.mark.parametrize("layer_kwargs,encoder_kwargs", CASES)
def test_encoder_warns_as_pytorch(layer_kwargs, encoder_kwargs):
    ours, ours_nested = _warnings_of(torsh, layer_kwargs, encoder_kwargs)
    theirs, theirs_nested = _warnings_of(torch_ref, layer_kwargs, encoder_kwargs)
    assert [(c, m) for c, m, _ in ours] == [(c, m) for c, m, _ in theirs]
    assert all(f == __file__ for _, _, f in ours)  # stacklevel=2: the caller's line
    assert ours_nested == theirs_nested


def test_layer_that_is_not_an_encoder_layer_warns_as_pytorch():
    def messages(lib):
        layer = lib.nn.TransformerDecoderLayer(8, 2, 16)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.TransformerEncoder(layer, 1)
        return [(w.category, str(w.message)) for w in caught]
    assert messages(torsh) == messages(torch_ref)
    assert messages(torsh)  # "encoder_layer was not TransformerEncoderLayer"


def test_transformer_model_warns_as_pytorch():
    def messages(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
        return [(w.category, str(w.message)) for w in caught]
    assert messages(torsh) == messages(torch_ref)


@pytest.mark.parametrize("activation", ["relu", "gelu", "relu_module", "sigmoid"])
def test_activation_relu_or_gelu_flag(activation):
    flags = [lib.nn.TransformerEncoderLayer(8, 2, 16, **_activation(lib, {"activation": activation}))
             .activation_relu_or_gelu for lib in (torsh, torch_ref)]
    assert flags[0] == flags[1]
