"""The elementwise kernel family: each entry point refuses operands whose size differs from ``out``
(ValueError, both ISA copies), and the sigmoid kernel (PyTorch's 1 / (1 + exp(-x)) formula) matches
torch.sigmoid over the whole float range, tails included, through torsh.sigmoid's kernel variants."""
import importlib

import numpy as np
import pytest

from helpers import assert_close, forced_variant, needs_torch, torch_ref

import torsh

ISAS = ["", "_avx2"]
UNARY = ["exp", "tanh", "sigmoid", "relu", "gelu_tanh"]
BINARY = ["add", "sub", "mul", "div"]


def elementwise(isa):
    name = f"torsh._kernels.elementwise{isa}"
    if importlib.util.find_spec(name) is None:
        pytest.skip("x86-64-v3 copies are only built on x86-64 without -Dmarch")
    return importlib.import_module(name)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("parallel", [False, True])
def test_unary_kernels_refuse_an_out_of_another_size(isa, name, parallel):
    kernel = getattr(elementwise(isa), name)
    x = np.ones(100, np.float32)
    with pytest.raises(ValueError, match=f"{name}: x and out differ in size"):
        kernel(x, np.empty(99, np.float32), parallel)
    with pytest.raises(ValueError, match=f"{name}: x and out differ in size"):
        kernel(x, np.empty(101, np.float32), parallel)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", BINARY)
def test_binary_kernels_refuse_operands_of_another_size(isa, name):
    kernel = getattr(elementwise(isa), name)
    a, out = np.ones(100, np.float64), np.empty(100, np.float64)
    with pytest.raises(ValueError, match=f"{name}: operands and out differ in size"):
        kernel(a, np.ones(10, np.float64), out, False)
    with pytest.raises(ValueError, match=f"{name}: operands and out differ in size"):
        kernel(np.ones(1000, np.float64), a, out, True)


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", ["kernel", "kernel_omp"])
def test_sigmoid_kernel_matches_torch_tails_included(dtype, variant):
    # -20 and beyond: the old 0.5 + 0.5 * tanh(x / 2) form cancelled to 0 there (PyTorch: 2.06e-9 at -20)
    x = np.concatenate([np.linspace(-120, 120, 60_001), [-20.0, -50.0, -1e4, 1e4, 0.0]]).astype(dtype)
    from torsh.backend import dispatch
    with forced_variant(["sigmoid"], variant) as recorded, dispatch.record() as records:
        ours = torsh.sigmoid(torsh.from_numpy(x.copy()))
    assert [r.variant for r in records] == [recorded]
    expected = torch_ref.sigmoid(torch_ref.from_numpy(x.copy()))
    assert_close(ours, expected)
    tail = x == -20.0
    np.testing.assert_allclose(ours.numpy()[tail], expected.numpy()[tail], rtol=1e-5)
    assert ours.numpy()[tail][0] > 0
