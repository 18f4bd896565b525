"""Regression tests for the shape/creation/product/nn.functional divergences the fuzz suite found
(tests/fuzz/known.py), each compared with PyTorch 2.13."""
from contextlib import nullcontext

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def same_result(fn, **kw):
    """``fn(lib)`` gives the same value and dtype in torsh and PyTorch."""
    assert_close(fn(torsh), fn(torch_ref), **kw)


# -- shape ops --------------------------------------------------------------------------------------------
def test_view_without_a_shape_is_a_type_error():
    check_same_error(lambda lib: lib.zeros(2, dtype=lib.uint8).view())


def test_cat_of_an_empty_list_is_a_value_error():
    check_same_error(lambda lib: lib.cat([], dim=0))
    check_same_error(lambda lib: lib.cat(()))
    check_same_error(lambda lib: lib.stack([]))


@pytest.mark.parametrize("start,length", [(-6, 5), (-5, 1), (5, 0), (-4, 5), (3, 2), (4, 1), (0, -1)])
def test_narrow_rejects_like_pytorch(start, length):
    check_same_error(lambda lib: lib.zeros(4, 3).narrow(0, start, length))


def test_narrow_checks_the_length_before_the_dim():
    check_same_error(lambda lib: lib.zeros(1).narrow(1, 0, -1))


@pytest.mark.parametrize("start,length", [(4, 0), (-4, 0), (-4, 4), (-1, 1), (2, 2)])
def test_narrow_at_the_edges(start, length):
    same_result(lambda lib: lib.arange(12.).reshape(4, 3).narrow(0, start, length))


@pytest.mark.parametrize("source,destination", [(0, 0), (-1, 0), ((0,), (-1,)), ((), ())])
def test_movedim_of_a_0d_tensor(source, destination):
    same_result(lambda lib: lib.movedim(lib.tensor(False), source, destination))


@pytest.mark.parametrize("source,destination", [((0, 0), (0, 1)), ((0, 1), (0,)), (2, 0), ((0, 1), (1, 1)),
                                                 (1, 0)])
def test_movedim_rejects_like_pytorch(source, destination):
    shape = (2, 3) if source != 1 else ()
    check_same_error(lambda lib: lib.movedim(lib.zeros(shape), source, destination))


def test_movedim_still_moves():
    same_result(lambda lib: lib.movedim(lib.arange(24).reshape(2, 3, 4), (0, 1), (2, 0)))


# -- masked_fill and in-place integer arithmetic ------------------------------------------------------------
@pytest.mark.parametrize("dtype,value", [("int16", -np.inf), ("int8", np.nan), ("int8", 300), ("int8", -129),
                                         ("int64", 1e20), ("int8", 1 + 1j), ("float16", 1e10), ("float32", 1e300)])
def test_masked_fill_with_a_value_the_dtype_cannot_hold(dtype, value):
    check_same_error(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).masked_fill(lib.tensor(True), value))


def test_masked_fill_with_a_mask_that_does_not_broadcast():
    check_same_error(lambda lib: lib.zeros(0, dtype=lib.bool).masked_fill(lib.tensor([False, False]), False))


def test_masked_fill_with_a_0d_tensor_value_it_cannot_hold():
    check_same_error(lambda lib: lib.zeros(2, dtype=lib.int8).masked_fill(lib.tensor(True), lib.tensor(np.inf)))


@pytest.mark.parametrize("dtype,value", [("int8", 2.7), ("int8", -2.7), ("uint8", -1), ("int8", True),
                                         ("int8", 1 + 0j), ("bool", 2.5), ("float32", 0.1)])
def test_masked_fill_casts_as_pytorch(dtype, value):
    same_result(lambda lib: lib.zeros(3, dtype=getattr(lib, dtype)).masked_fill(lib.tensor([True, False, True]),
                                                                                 value))


@pytest.mark.parametrize("op,dtype,value", [("add_", "int8", 1000), ("sub_", "uint8", 1000), ("mul_", "int8", 1000),
                                            ("add_", "uint8", -3)])
def test_in_place_arithmetic_wraps_an_integer_past_the_dtype(op, dtype, value):
    same_result(lambda lib: getattr(lib.ones(3, dtype=getattr(lib, dtype)), op)(value))


# -- creation ---------------------------------------------------------------------------------------------
INF, NAN = float("inf"), float("nan")
SPACE_DTYPES = ("float32", "float64", "float16", "bfloat16", "int8", "uint8", "int64", "complex64", None)
SPACE_ENDS = [(NAN, -0.0), (-2.42, INF), (INF, 1), (1, INF), (-INF, INF), (2.9260141849517822, -0.99999),
              (-3, 7.5), (-3, 1), (-1, 5), (0, 3), (-3, 300), (1e5, 0), (1 + 1j, 2)]


def _space(lib, op, start, end, steps, dtype):
    kwargs = {} if dtype is None else {"dtype": getattr(lib, dtype)}
    return getattr(lib, op)(start, end, steps, **kwargs)


@pytest.mark.parametrize("op", ["linspace", "logspace"])
@pytest.mark.parametrize("dtype", SPACE_DTYPES)
@pytest.mark.parametrize("ends", SPACE_ENDS)
@pytest.mark.parametrize("steps", [1, 2, 3, 7])
def test_linspace_logspace_as_pytorch(op, dtype, ends, steps):
    """PyTorch's formula (ends converted to the dtype first, halfway split, integer types in double),
    its errors for ends the dtype cannot hold and non-finite ends' NaN/inf placement."""
    fn = lambda lib: _space(lib, op, *ends, steps, dtype)
    try:
        expected = fn(torch_ref)
    except Exception:  # noqa: BLE001 - torsh must raise the same
        check_same_error(fn)
        return
    assert_close(fn(torsh), expected)


@pytest.mark.parametrize("op", ["linspace", "logspace"])
def test_linspace_logspace_of_bool_have_no_kernel(op):
    check_same_error(lambda lib: getattr(lib, op)(0, 1, 3, dtype=lib.bool))
    same_result(lambda lib: getattr(lib, op)(0, 1, 1, dtype=lib.bool))


@pytest.mark.parametrize("dtype", ["complex64", "complex128", "bool"])
def test_arange_with_a_dtype_it_has_no_kernel_for(dtype):
    check_same_error(lambda lib: lib.arange(0, 3, 1, dtype=getattr(lib, dtype)))
    check_same_error(lambda lib: lib.arange(0, INF, 1, dtype=getattr(lib, dtype)))


@pytest.mark.parametrize("sizes", [(0, -1), (-1,), (-1, -2), (2, -3)])
def test_eye_with_a_negative_size(sizes):
    check_same_error(lambda lib: lib.eye(*sizes))


@pytest.mark.parametrize("data,dtype", [([[-3, False, [-3, False]]], "float32"), ([[-3, False, [-3, False]]], None),
                                        ([1.5, [2]], None), ([1, [2]], "bool"), ([1, [2]], "complex64"),
                                        ([[1], 2], None), ([[1], [2, 3]], None), ([[1], [[2]]], None),
                                        ([[[1, 2]], [[3]]], None)])
def test_tensor_of_data_that_is_not_a_block(data, dtype):
    kwargs = lambda lib: {} if dtype is None else {"dtype": getattr(lib, dtype)}
    check_same_error(lambda lib: lib.tensor(data, **kwargs(lib)))


def test_tensor_of_an_empty_ragged_block():
    same_result(lambda lib: lib.tensor([[], [1]], dtype=lib.int8))


# -- losses -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("input_dtype,target_dtype,target_shape", [("float32", "float64", ()),
                                                                   ("float32", "float64", (2,)),
                                                                   ("float64", "float32", ()),
                                                                   ("float16", "float32", ())])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_loss_result_dtype_promotes_a_0d_target(loss, input_dtype, target_dtype, target_shape, reduction):
    def fn(lib):
        x = lib.tensor([0.5, -1.0], dtype=getattr(lib, input_dtype))
        y = lib.full(target_shape, 1.5, dtype=getattr(lib, target_dtype))
        return getattr(lib.nn.functional, loss)(x, y, reduction=reduction)
    with pytest.warns(UserWarning) if target_shape == () else nullcontext():
        same_result(fn, rtol=1e-3, atol=1e-3)
