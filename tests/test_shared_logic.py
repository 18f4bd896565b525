"""Behaviour picked up from PyTorch where shared logic got one home (the duplicates clean-up)."""
import pickle

import pytest

import torsh
from helpers import check_same_error, needs_torch, torch_ref


@needs_torch
@pytest.mark.parametrize("padding_idx", [5, 9, -6, -100])
def test_embedding_bag_checks_padding_idx_range(padding_idx):
    check_same_error(lambda lib: lib.nn.EmbeddingBag(5, 3, padding_idx=padding_idx))


@needs_torch
@pytest.mark.parametrize("padding_idx", [0, 4, -1, -5])
def test_embedding_bag_counts_negative_padding_idx_from_the_end(padding_idx):
    ours = torsh.nn.EmbeddingBag(5, 3, padding_idx=padding_idx, mode="sum")
    ref = torch_ref.nn.EmbeddingBag(5, 3, padding_idx=padding_idx, mode="sum")
    assert ours.padding_idx == ref.padding_idx
    assert repr(ours) == repr(ref)
    assert ours.weight[ours.padding_idx].abs().sum().item() == 0


@needs_torch
def test_embedding_bag_checks_given_weight_shape():
    check_same_error(lambda lib: lib.nn.EmbeddingBag(5, 3, _weight=lib.zeros(4, 3)))


@needs_torch
def test_transformer_decoder_layer_unpickles_without_activation():
    """Old pickles lack ``activation``: both layers fall back to relu, as PyTorch's __setstate__ does."""
    for lib in (torsh, torch_ref):
        layer = lib.nn.TransformerDecoderLayer(4, 2, 8)
        del layer.activation
        restored = pickle.loads(pickle.dumps(layer))
        assert restored.activation is lib.nn.functional.relu


@needs_torch
@pytest.mark.parametrize("make", [lambda nn: nn.TransformerEncoderLayer(8, 2, 16),
                                  lambda nn: nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
                                  lambda nn: nn.Transformer(8, 2, 1, 2, 16)])
def test_transformer_parameter_order_and_repr(make):
    ours, ref = make(torsh.nn), make(torch_ref.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert repr(ours) == repr(ref)


@needs_torch
@pytest.mark.parametrize("op", ["complex", "polar"])
@pytest.mark.parametrize("dtypes", [("bfloat16", "bfloat16"), ("uint8", "uint8"), ("int16", "int16"),
                                    ("float32", "float64"), ("float16", "float32")])
def test_complex_parts_checks_name_dtypes_as_pytorch(op, dtypes):
    check_same_error(lambda lib: getattr(lib, op)(lib.zeros(2, dtype=getattr(lib, dtypes[0])),
                                                  lib.zeros(2, dtype=getattr(lib, dtypes[1]))))


@needs_torch
@pytest.mark.parametrize("name", ["a.b", "", 3, "training"])
@pytest.mark.parametrize("register", ["register_buffer", "register_parameter"])
def test_register_name_checks(register, name):
    def call(lib):
        value = lib.nn.Parameter(lib.zeros(2)) if register == "register_parameter" else lib.zeros(2)
        getattr(lib.nn.Linear(2, 2), register)(name, value)
    check_same_error(call)


@needs_torch
@pytest.mark.parametrize("register", ["register_buffer", "register_parameter"])
def test_register_before_module_init(register):
    def call(lib):
        class Early(lib.nn.Module):
            def __init__(self):
                getattr(self, register)("w", None)
        Early()
    check_same_error(call)
