"""Differences from PyTorch found by probing torsh with hostile and edge-case input (torch 2.13 is the reference)."""
import warnings

import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

MASK_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "float16", "bfloat16", "float32", "float64",
               "complex64", "complex128"]


@needs_torch
@pytest.mark.parametrize("dtype", MASK_DTYPES)
def test_masked_fill_names_a_non_bool_mask_by_its_c_type(dtype):
    check_same_error(lambda lib: lib.ones(3).masked_fill(lib.tensor([1, 0, 1]).to(getattr(lib, dtype)), 0.0))


@needs_torch
def test_unique_keeps_nans_apart():
    # (PyTorch's unique(dim=0) of a 1-d tensor with NaNs comes out unsorted: not compared)
    cases = [(lambda lib: lib.tensor([float("nan"), 2.0, float("nan"), 1.0]), {}),
             (lambda lib: lib.tensor([[float("nan"), 1.0], [float("nan"), 1.0]]), {}),
             (lambda lib: lib.tensor([[float("nan"), 1.0], [float("nan"), 1.0]]), {"dim": 0})]
    for build, kwargs in cases:
        ours = torsh.unique(build(torsh), return_inverse=True, return_counts=True, **kwargs)
        theirs = torch_ref.unique(build(torch_ref), return_inverse=True, return_counts=True, **kwargs)
        for a, b in zip(ours, theirs):
            assert_close(a, b)


@needs_torch
@pytest.mark.parametrize("bins", [0, -1])
def test_histc_bad_bins(bins):
    check_same_error(lambda lib: lib.histc(lib.ones(3), bins=bins))


@needs_torch
@pytest.mark.parametrize("data", [["a"], ["a", 1], [["a"]], ("a",), [1, ["a"]], [[1], "a"], "abc"])
def test_tensor_of_strings(data):
    check_same_error(lambda lib: lib.tensor(data))


@needs_torch
@pytest.mark.parametrize("convert", [float, int, complex])
@pytest.mark.parametrize("numel", [0, 2])
def test_python_scalar_of_a_tensor_without_one_element(convert, numel):
    check_same_error(lambda lib: convert(lib.ones(numel)))
    check_same_error(lambda lib: lib.ones(numel).item())  # item() keeps its RuntimeError


@needs_torch
@pytest.mark.parametrize("call", [lambda lib: lib.tensor([1.0]).var(), lambda lib: lib.ones(2, 1).std(1),
                                  lambda lib: lib.ones(3).std(correction=3), lambda lib: lib.tensor([]).std()])
def test_var_std_without_degrees_of_freedom_warn_as_pytorch(call):
    caught = {}
    for lib in (torsh, torch_ref):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            result = call(lib)
        caught[lib.__name__] = [(w.category, str(w.message).split(" (Triggered internally")[0]) for w in record]
        assert result.isnan().all()
    assert caught["torsh"] == caught["torch"]
    assert len(caught["torsh"]) == 1
