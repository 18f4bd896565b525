"""Tensor attributes, conversions to/from NumPy and repr (issue "Foundation", part 1)."""

import numpy as np
import pytest

import torsh
from helpers import (ALL_DTYPES, PKG, assert_close, check_same_error, dtype_name, from_array,
                     make_array, needs_torch, pair, rdt, tdt, to_numpy, torch_ref)

SHAPES = [(), (0,), (3,), (2, 3), (0, 3), (2, 1, 4), (1, 1, 1, 1)]


# ----------------------------------------------------------------------------- shape

@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shape_size_ndim_numel(shape):
    t = torsh.zeros(shape)
    assert isinstance(t.shape, tuple)
    assert tuple(t.shape) == shape
    assert t.shape == shape
    assert t.size() == shape
    assert t.ndim == len(shape)
    assert t.dim() == len(shape)
    assert t.numel() == int(np.prod(shape))
    assert len(t.shape) == len(shape)
    for d in range(-len(shape), len(shape)):
        assert t.size(d) == shape[d]
        assert t.shape[d] == shape[d]


def test_size_is_unpackable_and_compares_with_list_shape():
    t = torsh.ones(2, 5)
    rows, cols = t.shape
    assert (rows, cols) == (2, 5)
    assert list(t.size()) == [2, 5]
    assert torsh.zeros(t.shape).shape == (2, 5)


def test_len_is_first_dimension():
    assert len(torsh.zeros(4, 2)) == 4
    with pytest.raises(TypeError):
        len(torsh.tensor(1.0))


# ----------------------------------------------------------------------------- dtype

@pytest.mark.parametrize("name", ALL_DTYPES)
def test_dtype_objects(name):
    d = tdt(name)
    assert str(d) == f"{PKG}.{name}"
    t = torsh.zeros(2, 3, dtype=d)
    assert t.dtype == d
    assert str(t.dtype) == f"{PKG}.{name}"
    for other in ALL_DTYPES:
        assert (t.dtype == tdt(other)) == (other == name)


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_dtype_properties_match_torch(name):
    t = torsh.zeros(2, dtype=tdt(name))
    if torch_ref is not None:
        r = torch_ref.zeros(2, dtype=rdt(name))
        exp = (r.is_floating_point(), r.is_complex(), r.element_size(),
               r.dtype.is_floating_point, r.dtype.is_complex, r.dtype.itemsize)
    else:
        size = {"bool": 1, "bfloat16": 2}.get(name) or np.dtype(name).itemsize
        fl, cx = name.startswith(("float", "bfloat")), name.startswith("complex")
        exp = (fl, cx, size, fl, cx, size)
    got = (t.is_floating_point(), t.is_complex(), t.element_size(),
           t.dtype.is_floating_point, t.dtype.is_complex, t.dtype.itemsize)
    assert got == exp


def test_dtype_aliases():
    assert torsh.float == torsh.float32
    assert torsh.double == torsh.float64
    assert torsh.half == torsh.float16
    assert torsh.long == torsh.int64
    assert torsh.int == torsh.int32
    assert torsh.short == torsh.int16
    assert torsh.cfloat == torsh.complex64
    assert torsh.cdouble == torsh.complex128


@pytest.mark.parametrize("method,name", [("float", "float32"), ("double", "float64"),
                                         ("half", "float16"), ("long", "int64"),
                                         ("int", "int32"), ("bool", "bool"),
                                         ("bfloat16", "bfloat16"), ("short", "int16")])
def test_dtype_conversion_methods(method, name):
    t = torsh.tensor([0.0, 1.5, -2.0])
    out = getattr(t, method)()
    assert str(out.dtype) == f"{PKG}.{name}"
    assert out.shape == (3,)


# ----------------------------------------------------------------------------- device

def test_device():
    t = torsh.ones(2)
    assert t.device.type == "cpu"
    assert str(t.device) == "cpu"
    assert t.device == torsh.device("cpu")
    assert t.is_cpu
    t2 = torsh.zeros(2, device="cpu")
    assert t2.device.type == "cpu"
    assert t.to("cpu").device.type == "cpu"
    assert torsh.zeros(1, device=torsh.device("cpu")).device == torsh.device("cpu")


# ----------------------------------------------------------------------------- item / tolist

@pytest.mark.parametrize("value,pytype", [(2.5, float), (7, int), (True, bool), (-3, int)])
def test_item_types(value, pytype):
    t = torsh.tensor(value)
    v = t.item()
    assert type(v) is pytype
    assert v == value
    assert type(torsh.tensor([value]).item()) is pytype  # one-element 1-D works too


def test_item_of_float32_rounds_like_float32():
    v = torsh.tensor(0.1).item()
    assert v == float(np.float32(0.1))


def test_item_multi_element_raises():
    check_same_error(lambda lib: lib.ones(3).item(), RuntimeError,
                     "a Tensor with 3 elements cannot be converted to Scalar")


@pytest.mark.parametrize("data", [[[1, 2], [3, 4]], [1.5, -2.0], 3.25, 4, [True, False], [], [[]]],
                         ids=str)
def test_tolist_roundtrip(data):
    t = torsh.tensor(data)
    out = t.tolist()
    assert out == data
    if torch_ref is not None:
        ref = torch_ref.tensor(data).tolist()
        assert out == ref
        assert type(out) is type(ref)
        if isinstance(ref, list) and ref and not isinstance(ref[0], list):
            assert [type(x) for x in out] == [type(x) for x in ref]


def test_tolist_python_types():
    assert type(torsh.tensor([1, 2]).tolist()[0]) is int
    assert type(torsh.tensor([1.0, 2.0]).tolist()[0]) is float
    assert type(torsh.tensor([True]).tolist()[0]) is bool


# ----------------------------------------------------------------------------- numpy interop

@pytest.mark.parametrize("name", ["float32", "float64", "float16", "int8", "int16", "int32",
                                  "int64", "uint8", "bool", "complex64", "complex128"])
def test_numpy_dtype_and_values(name):
    arr = make_array((2, 3), name)
    t = torsh.tensor(arr)
    assert dtype_name(t.dtype) == name
    out = t.numpy()
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.dtype(name)
    np.testing.assert_array_equal(out, arr)


def test_numpy_is_zero_copy_both_ways():
    t = torsh.zeros(4)
    a = t.numpy()
    a[1] = 5.0
    assert t[1].item() == 5.0
    t[2] = 7.0
    assert a[2] == 7.0
    t.add_(1)
    np.testing.assert_array_equal(a, [1.0, 6.0, 8.0, 1.0])


def test_numpy_of_view_shares_memory_with_base():
    base = torsh.zeros(3, 4)
    a = base.t().numpy()
    assert a.shape == (4, 3)
    a[0, 2] = 9.0
    assert base[2, 0].item() == 9.0


def test_numpy_requires_grad_raises():
    check_same_error(lambda lib: lib.ones(2, requires_grad=True).numpy(), RuntimeError,
                     "Can't call numpy() on Tensor that requires grad. "
                     "Use tensor.detach().numpy() instead.")


def test_detach_numpy_shares_memory_with_grad_tensor():
    t = torsh.zeros(3, requires_grad=True)
    a = t.detach().numpy()
    a[0] = 4.0
    assert t[0].item() == 4.0


@pytest.mark.parametrize("name", ["float32", "float64", "int32", "int64", "uint8", "bool",
                                  "complex128", "int16"])
def test_from_numpy_shares_memory(name):
    arr = make_array((3, 2), name)
    t = torsh.from_numpy(arr)
    assert dtype_name(t.dtype) == name
    assert t.shape == (3, 2)
    np.testing.assert_array_equal(t.numpy(), arr)
    new_value = np.array(1, dtype=name)
    arr[0, 0] = new_value  # write through the array ...
    assert t[0, 0].item() == new_value.item()
    t[2, 1] = 0  # ... and through the tensor
    assert arr[2, 1] == 0


def test_from_numpy_non_contiguous_array():
    arr = np.arange(12.0).reshape(3, 4)[:, ::2]
    t = torsh.from_numpy(arr)
    np.testing.assert_array_equal(t.numpy(), arr)
    arr[1, 1] = -1.0
    assert t[1, 1].item() == -1.0


def test_tensor_constructor_copies_numpy():
    arr = np.ones(3)
    t = torsh.tensor(arr)
    arr[0] = 5.0
    assert t[0].item() == 1.0


@pytest.mark.parametrize("name", ["float32", "int64", "bool"])
def test_np_asarray_uses_array_protocol(name):
    arr = make_array((2, 2), name)
    t = torsh.tensor(arr)
    out = np.asarray(t)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.dtype(name)
    np.testing.assert_array_equal(out, arr)
    out64 = np.asarray(t, dtype=np.float64)
    assert out64.dtype == np.float64
    np.testing.assert_array_equal(out64, arr.astype(np.float64))


def test_numpy_ufunc_on_tensor_via_array():
    t = torsh.tensor([1.0, 4.0, 9.0])
    np.testing.assert_allclose(np.sqrt(np.asarray(t)), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", ["float32", "float64", "int64", "uint8"])
def test_dlpack_shares_memory(name):
    t = torsh.tensor(make_array((2, 3), name))
    assert hasattr(t, "__dlpack__") and hasattr(t, "__dlpack_device__")
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(name)
    np.testing.assert_array_equal(a, t.numpy())
    t[0, 0] = 3
    assert a[0, 0] == 3


def test_from_dlpack_roundtrip():
    arr = np.arange(6.0).reshape(2, 3)
    t = torsh.from_dlpack(arr)
    np.testing.assert_array_equal(t.numpy(), arr)
    arr[0, 1] = 42.0
    assert t[0, 1].item() == 42.0


# ----------------------------------------------------------------------------- repr

def _repr_cases(lib):
    return [
        lambda: lib.tensor([1.0, 2.0, 3.0]),
        lambda: lib.tensor([[1.5, 2.25], [3.125, 4.0]]),
        lambda: lib.tensor([0.1234, 5.6789]),
        lambda: lib.tensor([-1.5, 0.0, 2.0]),
        lambda: lib.tensor([1, 2, 3]),
        lambda: lib.tensor([[1, 2], [3, 4]]),
        lambda: lib.tensor([True, False]),
        lambda: lib.tensor(True),
        lambda: lib.tensor(3.5),
        lambda: lib.tensor(7),
        lambda: lib.tensor([1.0, 2.0], requires_grad=True),
        lambda: lib.tensor([1.0, 2.0], requires_grad=True) + 1,
        lambda: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
        lambda: lib.tensor([1.0, 2.0], requires_grad=True).sum(),
        lambda: lib.tensor([1.0, 2.0], dtype=lib.float64),
        lambda: lib.tensor(2.5, dtype=lib.float64),
        lambda: lib.tensor([1, 2], dtype=lib.int32),
        lambda: lib.tensor([1, 2], dtype=lib.uint8),
        lambda: lib.tensor([]),
        lambda: lib.empty(0, 3),
        lambda: lib.zeros(2, 3),
    ]


REPR_IDS = ["float", "float2d", "4dec", "neg", "int", "int2d", "bool", "bool0d", "scalar",
            "intscalar", "requires_grad", "add_grad_fn", "mul_grad_fn", "sum_grad_fn", "f64",
            "f64scalar", "int32", "uint8", "empty", "empty_0x3", "zeros2d"]


@needs_torch
@pytest.mark.parametrize("i", range(len(REPR_IDS)), ids=REPR_IDS)
def test_repr_matches_torch(i):
    ours = repr(_repr_cases(torsh)[i]())
    ref = repr(_repr_cases(torch_ref)[i]()).replace("torch.", f"{PKG}.")
    assert ours == ref


def test_repr_literal_examples():
    # independent of the reference: spelled out in the PyTorch documentation style
    assert repr(torsh.tensor([])) == "tensor([])"
    assert repr(torsh.empty(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(torsh.tensor([1.0, 2.0], dtype=torsh.float64)) == \
        f"tensor([1., 2.], dtype={PKG}.float64)"
    assert str(torsh.tensor([1, 2])) == "tensor([1, 2])"


# ----------------------------------------------------------------------------- misc

def test_requires_grad_flags():
    t = torsh.ones(2)
    assert t.requires_grad is False
    assert t.is_leaf
    assert t.grad is None and t.grad_fn is None
    assert t.requires_grad_() is t
    assert t.requires_grad is True
    u = torsh.ones(2, requires_grad=True)
    assert u.requires_grad and u.is_leaf
    v = u * 2
    assert v.requires_grad and not v.is_leaf


def test_requires_grad_only_for_float():
    check_same_error(lambda lib: lib.ones(2, dtype=lib.int64).requires_grad_(), RuntimeError,
                     "only Tensors of floating point dtype can require gradients")


def test_is_contiguous_and_stride():
    t = torsh.zeros(2, 3, 4)
    assert t.is_contiguous()
    assert t.stride() == (12, 4, 1)
    assert t.stride(1) == 4
    tt = t.transpose(0, 2)
    assert not tt.is_contiguous()
    assert tt.stride() == (1, 4, 12)
    assert tt.contiguous().is_contiguous()


def test_values_survive_roundtrip_float16_bfloat16():
    arr = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    for name in ("float16", "bfloat16"):
        t = from_array(torsh, arr, name)
        assert dtype_name(t.dtype) == name
        np.testing.assert_array_equal(to_numpy(t.float()), arr)


def test_pair_helper_builds_equal_tensors():
    # the helpers themselves must agree, otherwise every comparison below is meaningless
    ours, ref = pair(np.array([[1.0, 2.0]], dtype=np.float32))
    assert_close(ours, ref, rtol=0, atol=0)


def test_storage_offset_survives_detach_and_data():
    base = torsh.arange(12.0).reshape(3, 4)
    view = base.t()[1:]
    ref = torch_ref.arange(12.0).reshape(3, 4).t()[1:] if torch_ref is not None else None
    expected = ref.storage_offset() if ref is not None else 1
    assert view.storage_offset() == view.detach().storage_offset() == view.data.storage_offset() == expected
    assert view.detach().untyped_storage() is view.untyped_storage()
