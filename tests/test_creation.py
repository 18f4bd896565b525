"""Tensor creation, random numbers, default dtype and type promotion (issue "Foundation", part 2)."""

import numpy as np
import pytest

import torsh
from helpers import (ALL_DTYPES, assert_close, dtype_name, from_array, needs_torch, tdt,
                     torch_ref)


def ref_or_numpy(torch_fn, numpy_value):
    """The reference result: ``torch_fn(torch)`` if torch is importable, else ``numpy_value``."""
    return torch_fn(torch_ref) if torch_ref is not None else numpy_value


# ----------------------------------------------------------------------------- tensor / as_tensor

TENSOR_DATA = [
    ([1, 2, 3], "int64"),
    ([1.0, 2.0], "float32"),
    ([1, 2.5], "float32"),
    ([True, False], "bool"),
    ([True, 1], "int64"),
    ([1 + 2j, 3], "complex64"),
    ([[1, 2], [3, 4]], "int64"),
    (3.5, "float32"),
    (7, "int64"),
    (False, "bool"),
    ([], "float32"),
    ([[], []], "float32"),
    (np.array([1, 2], dtype=np.int16), "int16"),
    (np.array([1.0], dtype=np.float64), "float64"),
    (np.float64(2.0), "float64"),
    (np.int32(3), "int32"),
    (np.array([[True]]), "bool"),
]


@pytest.mark.parametrize("data,expected", TENSOR_DATA, ids=[str(i) for i in range(len(TENSOR_DATA))])
def test_tensor_dtype_inference(data, expected):
    t = torsh.tensor(data)
    exp = ref_or_numpy(lambda lib: lib.tensor(data), None)
    exp_name = dtype_name(exp.dtype) if exp is not None else expected
    assert dtype_name(t.dtype) == exp_name
    assert tuple(t.shape) == np.shape(data)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


@pytest.mark.parametrize("name", ["float64", "int32", "bool", "float16", "complex128"])
def test_tensor_explicit_dtype(name):
    t = torsh.tensor([0, 1, 2], dtype=tdt(name))
    assert dtype_name(t.dtype) == name
    np.testing.assert_array_equal(t.numpy(), np.array([0, 1, 2]).astype(name))


def test_tensor_from_nested_tensors_list_and_requires_grad():
    t = torsh.tensor([[1.0, 2.0]], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert t.shape == (1, 2)


def test_as_tensor_shares_numpy_memory_when_dtype_matches():
    a = np.ones(3)
    t = torsh.as_tensor(a)
    assert dtype_name(t.dtype) == "float64"
    a[0] = 5.0
    assert t[0].item() == 5.0


def test_as_tensor_copies_on_dtype_change():
    a = np.ones(3)
    t = torsh.as_tensor(a, dtype=torsh.float32)
    assert dtype_name(t.dtype) == "float32"
    a[0] = 5.0
    assert t[0].item() == 1.0


def test_as_tensor_of_tensor_is_identity():
    t = torsh.ones(2)
    assert torsh.as_tensor(t) is t
    assert dtype_name(torsh.as_tensor([1, 2]).dtype) == "int64"


# ----------------------------------------------------------------------------- filled tensors

FILL_CASES = [
    ("zeros", lambda lib: lib.zeros(2, 3)),
    ("zeros_tuple", lambda lib: lib.zeros((2, 3))),
    ("zeros_list_int", lambda lib: lib.zeros([4], dtype=lib.int32)),
    ("zeros_0d", lambda lib: lib.zeros(())),
    ("zeros_empty", lambda lib: lib.zeros(0, 2)),
    ("ones", lambda lib: lib.ones(3)),
    ("ones_f64", lambda lib: lib.ones(2, 2, dtype=lib.float64)),
    ("ones_bool", lambda lib: lib.ones(2, dtype=lib.bool)),
    ("full_float", lambda lib: lib.full((2, 3), 1.5)),
    ("full_int", lambda lib: lib.full((2,), 7)),
    ("full_bool", lambda lib: lib.full((2,), True)),
    ("full_dtype", lambda lib: lib.full((3,), 2, dtype=lib.float64)),
    ("zeros_like", lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.int32))),
    ("ones_like", lambda lib: lib.ones_like(lib.zeros(4, dtype=lib.float64))),
    ("ones_like_dtype", lambda lib: lib.ones_like(lib.zeros(4), dtype=lib.int64)),
    ("full_like", lambda lib: lib.full_like(lib.ones(2), 3)),
    ("full_like_int", lambda lib: lib.full_like(lib.ones(2, dtype=lib.int64), 2.7)),
    ("eye", lambda lib: lib.eye(3)),
    ("eye_rect", lambda lib: lib.eye(2, 3)),
    ("eye_int", lambda lib: lib.eye(3, dtype=lib.int64)),
]

FILL_NUMPY = {
    "zeros": np.zeros((2, 3), np.float32), "zeros_tuple": np.zeros((2, 3), np.float32),
    "zeros_list_int": np.zeros(4, np.int32), "zeros_0d": np.zeros((), np.float32),
    "zeros_empty": np.zeros((0, 2), np.float32), "ones": np.ones(3, np.float32),
    "ones_f64": np.ones((2, 2)), "ones_bool": np.ones(2, bool),
    "full_float": np.full((2, 3), 1.5, np.float32), "full_int": np.full(2, 7),
    "full_bool": np.full(2, True), "full_dtype": np.full(3, 2.0),
    "zeros_like": np.zeros((2, 3), np.int32), "ones_like": np.ones(4),
    "ones_like_dtype": np.ones(4, np.int64), "full_like": np.full(2, 3.0, np.float32),
    "full_like_int": np.full(2, 2), "eye": np.eye(3, dtype=np.float32),
    "eye_rect": np.eye(2, 3, dtype=np.float32), "eye_int": np.eye(3, dtype=np.int64),
}


@pytest.mark.parametrize("name,fn", FILL_CASES, ids=[c[0] for c in FILL_CASES])
def test_filled_creation(name, fn):
    assert_close(fn(torsh), ref_or_numpy(fn, FILL_NUMPY[name]), rtol=0, atol=0)


@pytest.mark.parametrize("args,kwargs", [((2, 3), {}), (((4,),), {"dtype": "int64"}),
                                         ((0,), {}), (((),), {"dtype": "float64"})])
def test_empty_shape_and_dtype(args, kwargs):
    kw = {k: tdt(v) for k, v in kwargs.items()}
    t = torsh.empty(*args, **kw)
    shape = args[0] if isinstance(args[0], tuple) else args
    assert tuple(t.shape) == tuple(shape)
    assert dtype_name(t.dtype) == kwargs.get("dtype", "float32")
    like = torsh.empty_like(torsh.ones(3, 2, dtype=torsh.int16))
    assert like.shape == (3, 2) and dtype_name(like.dtype) == "int16"


def test_creation_requires_grad_kwarg():
    for t in (torsh.zeros(2, requires_grad=True), torsh.ones(2, requires_grad=True),
              torsh.full((2,), 1.0, requires_grad=True), torsh.rand(2, requires_grad=True),
              torsh.randn(2, requires_grad=True), torsh.empty(2, requires_grad=True)):
        assert t.requires_grad and t.is_leaf


# ----------------------------------------------------------------------------- ranges

RANGE_CASES = [
    ("arange_int", lambda lib: lib.arange(5), np.arange(5)),
    ("arange_start_end", lambda lib: lib.arange(2, 7), np.arange(2, 7)),
    ("arange_neg_step", lambda lib: lib.arange(10, 0, -3), np.arange(10, 0, -3)),
    ("arange_float_step", lambda lib: lib.arange(0, 1, 0.1), np.arange(0, 1, 0.1, dtype=np.float32)),
    ("arange_half_step", lambda lib: lib.arange(1, 4, 0.5), np.arange(1, 4, 0.5, dtype=np.float32)),
    ("arange_float_start", lambda lib: lib.arange(0.0, 3), np.arange(0.0, 3, dtype=np.float32)),
    ("arange_dtype", lambda lib: lib.arange(5, dtype=lib.float64), np.arange(5.0)),
    ("arange_empty", lambda lib: lib.arange(3, 3), np.arange(3, 3)),
    ("linspace", lambda lib: lib.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype=np.float32)),
    ("linspace_one", lambda lib: lib.linspace(-1, 1, steps=1), np.array([-1.0], np.float32)),
    ("linspace_f64", lambda lib: lib.linspace(-2, 3, 7, dtype=lib.float64), np.linspace(-2, 3, 7)),
    ("logspace", lambda lib: lib.logspace(0, 2, 3), np.logspace(0, 2, 3, dtype=np.float32)),
    ("logspace_base2", lambda lib: lib.logspace(0, 3, 4, base=2), np.logspace(0, 3, 4, base=2, dtype=np.float32)),
]


@pytest.mark.parametrize("name,fn,np_value", RANGE_CASES, ids=[c[0] for c in RANGE_CASES])
def test_ranges(name, fn, np_value):
    assert_close(fn(torsh), ref_or_numpy(fn, np_value))


# ----------------------------------------------------------------------------- random

def test_rand_shape_dtype_range():
    t = torsh.rand(200, 50)
    assert t.shape == (200, 50) and dtype_name(t.dtype) == "float32"
    a = t.numpy()
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.02
    assert len(np.unique(a)) > 9000
    assert dtype_name(torsh.rand(3, dtype=torsh.float64).dtype) == "float64"
    assert torsh.rand(()).shape == ()
    assert torsh.rand((2, 3)).shape == (2, 3)


def test_randn_statistics():
    a = torsh.randn(20000).numpy()
    assert a.dtype == np.float32
    assert abs(a.mean()) < 0.03
    assert abs(a.std() - 1.0) < 0.03
    assert (a < 0).any() and (a > 2).any()


def test_randint():
    t = torsh.randint(3, 10, (1000,))
    assert dtype_name(t.dtype) == "int64" and t.shape == (1000,)
    a = t.numpy()
    assert a.min() == 3 and a.max() == 9
    t2 = torsh.randint(5, (4, 4))
    assert t2.shape == (4, 4) and 0 <= t2.numpy().min() and t2.numpy().max() < 5
    assert dtype_name(torsh.randint(0, 2, (3,), dtype=torsh.int32).dtype) == "int32"


def test_randperm():
    t = torsh.randperm(50)
    assert dtype_name(t.dtype) == "int64"
    assert sorted(t.tolist()) == list(range(50))
    assert t.tolist() != list(range(50))
    assert torsh.randperm(0).shape == (0,)


def test_normal_variants():
    t = torsh.normal(3.0, 0.5, size=(20000,))
    a = t.numpy()
    assert dtype_name(t.dtype) == "float32"
    assert abs(a.mean() - 3.0) < 0.02 and abs(a.std() - 0.5) < 0.02
    mean = torsh.tensor([0.0, 100.0, -100.0])
    out = torsh.normal(mean, torsh.tensor([1e-3, 1e-3, 1e-3]))
    assert out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), mean.numpy(), atol=0.05)
    assert torsh.normal(2.0, torsh.ones(4)).shape == (4,)
    assert torsh.normal(torsh.zeros(2, 2), 1.0).shape == (2, 2)


@pytest.mark.parametrize("draw", [
    lambda **kw: torsh.rand(5, **kw),
    lambda **kw: torsh.randn(2, 3, **kw),
    lambda **kw: torsh.randint(0, 1000, (6,), **kw),
    lambda **kw: torsh.randperm(20, **kw),
    lambda **kw: torsh.normal(0.0, 1.0, size=(4,), **kw),
], ids=["rand", "randn", "randint", "randperm", "normal"])
def test_manual_seed_and_generator_reproducibility(draw):
    torsh.manual_seed(1234)
    a = draw()
    b = draw()
    torsh.manual_seed(1234)
    a2 = draw()
    b2 = draw()
    assert a.tolist() == a2.tolist() and b.tolist() == b2.tolist()
    assert a.tolist() != b.tolist()
    torsh.manual_seed(99)
    assert draw().tolist() != a.tolist()

    g = torsh.Generator().manual_seed(7)
    assert isinstance(g, torsh.Generator)
    c = draw(generator=g)
    g.manual_seed(7)
    assert draw(generator=g).tolist() == c.tolist()
    g2 = torsh.Generator()
    g2.manual_seed(8)
    assert draw(generator=g2).tolist() != c.tolist()


def test_generator_does_not_touch_global_state():
    torsh.manual_seed(0)
    expected = torsh.rand(4).tolist()
    torsh.manual_seed(0)
    g = torsh.Generator().manual_seed(5)
    torsh.rand(10, generator=g)
    assert torsh.rand(4).tolist() == expected


def test_generator_state_roundtrip():
    g = torsh.Generator().manual_seed(3)
    state = g.get_state()
    x = torsh.rand(3, generator=g)
    g.set_state(state)
    assert torsh.rand(3, generator=g).tolist() == x.tolist()
    assert g.initial_seed() == 3


# ----------------------------------------------------------------------------- default dtype

def test_default_dtype_is_float32():
    assert torsh.get_default_dtype() == torsh.float32
    assert dtype_name(torsh.tensor([1.0]).dtype) == "float32"
    assert dtype_name(torsh.zeros(1).dtype) == "float32"


def test_set_default_dtype_float64():
    torsh.set_default_dtype(torsh.float64)
    try:
        assert torsh.get_default_dtype() == torsh.float64
        for t in (torsh.tensor([1.0]), torsh.zeros(2), torsh.ones(1), torsh.rand(2),
                  torsh.randn(2), torsh.arange(0.0, 1.0), torsh.linspace(0, 1, 3),
                  torsh.full((1,), 2.5), torsh.tensor(1.5)):
            assert dtype_name(t.dtype) == "float64", repr(t)
        assert dtype_name(torsh.tensor([1, 2]).dtype) == "int64"
        assert dtype_name(torsh.tensor([1j]).dtype) == "complex128"
        assert dtype_name((torsh.tensor([1, 2]) / 2).dtype) == "float64"
    finally:
        torsh.set_default_dtype(torsh.float32)
    assert dtype_name(torsh.tensor([1.0]).dtype) == "float32"


def test_set_default_dtype_rejects_int():
    with pytest.raises(TypeError):
        torsh.set_default_dtype(torsh.int64)


# ----------------------------------------------------------------------------- type promotion

@needs_torch
@pytest.mark.parametrize("a", ALL_DTYPES)
def test_promote_types_table(a):
    mismatches = []
    for b in ALL_DTYPES:
        got = dtype_name(torsh.promote_types(tdt(a), tdt(b)))
        exp = dtype_name(torch_ref.promote_types(getattr(torch_ref, a), getattr(torch_ref, b)))
        if got != exp:
            mismatches.append(f"promote_types({a}, {b}) = {got}, torch: {exp}")
    assert not mismatches, "\n".join(mismatches)


def _operand(lib, kind, name):
    """A second operand: 'tensor' (1-D), 'zerodim' (0-dim tensor) or a Python scalar kind."""
    if kind == "tensor":
        return lib.ones(3, dtype=getattr(lib, name))
    if kind == "zerodim":
        return lib.ones((), dtype=getattr(lib, name))
    return {"int": 2, "float": 2.5, "bool": True, "complex": 1 + 1j}[kind]


SECOND_OPERANDS = ([("tensor", n) for n in ALL_DTYPES] + [("zerodim", n) for n in ALL_DTYPES]
                   + [(k, None) for k in ("int", "float", "bool", "complex")])


@needs_torch
@pytest.mark.parametrize("a", ALL_DTYPES)
def test_result_type_and_add_dtype(a):
    """result_type(t, other) and (t + other).dtype for every kind of second operand."""
    mismatches = []
    for kind, b in SECOND_OPERANDS:
        exp = dtype_name(torch_ref.result_type(_operand(torch_ref, "tensor", a),
                                               _operand(torch_ref, kind, b)))
        if exp == "complex32":
            continue  # float16 with a complex scalar: ComplexHalf is experimental in PyTorch
        got = dtype_name(torsh.result_type(_operand(torsh, "tensor", a), _operand(torsh, kind, b)))
        if got != exp:
            mismatches.append(f"result_type({a} tensor, {kind} {b}) = {got}, torch: {exp}")
        try:
            added = _operand(torsh, "tensor", a) + _operand(torsh, kind, b)
            got_add = dtype_name(added.dtype)
        except Exception as e:  # noqa: BLE001
            got_add = f"error {type(e).__name__}: {e}"
        if got_add != exp:
            mismatches.append(f"({a} tensor + {kind} {b}).dtype = {got_add}, torch: {exp}")
    assert not mismatches, "\n".join(mismatches)


@needs_torch
@pytest.mark.parametrize("a,kind", [(a, k) for a in ["bool", "uint8", "int32", "float16", "float64"]
                                    for k in ["int", "float", "bool", "complex"]
                                    if (a, k) != ("float16", "complex")])  # complex32: experimental
def test_scalar_on_left_promotion(a, kind):
    exp = (_operand(torch_ref, kind, None) * _operand(torch_ref, "tensor", a)).dtype
    got = (_operand(torsh, kind, None) * _operand(torsh, "tensor", a)).dtype
    assert dtype_name(got) == dtype_name(exp)


def test_promotion_documentation_examples():
    """The examples of the PyTorch "Type promotion" documentation, spelled out."""
    f = torsh.ones(1, dtype=torsh.float)
    d = torsh.ones(1, dtype=torsh.double)
    cf = torsh.ones(1, dtype=torsh.complex64)
    cd = torsh.ones(1, dtype=torsh.complex128)
    i = torsh.ones(1, dtype=torsh.int)
    long_ = torsh.ones(1, dtype=torsh.long)
    u = torsh.ones(1, dtype=torsh.uint8)
    b = torsh.ones(1, dtype=torsh.bool)
    long_zerodim = torsh.tensor(1, dtype=torsh.long)
    cases = [
        (torsh.add(5, 5), "int64"),
        (i + 5, "int32"),
        (i + long_zerodim, "int32"),
        (long_ + i, "int64"),
        (b + long_, "int64"),
        (b + u, "uint8"),
        (f + d, "float64"),
        (cf + cd, "complex128"),
        (b + i, "int32"),
        (torsh.add(long_, f), "float32"),
        (i + 5.5, "float32"),
        (u + 1.0, "float32"),
        (torsh.tensor([1, 2]) / 2, "float32"),
    ]
    for k, (t, exp) in enumerate(cases):
        assert dtype_name(t.dtype) == exp, f"case {k}: got {t.dtype}, expected {exp}"


@pytest.mark.parametrize("a,b", [("int64", "float32"), ("uint8", "int8"), ("float16", "bfloat16"),
                                 ("bool", "int16"), ("int32", "complex64"), ("float64", "complex64")])
def test_promoted_add_values(a, b):
    """Values of a mixed-dtype add are computed in the promoted dtype."""
    x = np.array([1, 2, 3])
    ours = from_array(torsh, x, a) + from_array(torsh, np.array([3, 2, 1]), b)
    if torch_ref is not None:
        ref = from_array(torch_ref, x, a) + from_array(torch_ref, np.array([3, 2, 1]), b)
        assert_close(ours, ref)
    else:
        expected = x.astype(a) + np.array([3, 2, 1]).astype(b if b != "bfloat16" else "float32")
        np.testing.assert_allclose(ours.to(torsh.complex128).numpy(), expected)
