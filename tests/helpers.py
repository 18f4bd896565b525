"""Shared helpers for the torsh test suite.

The reference implementation is PyTorch (``torch_ref``) when it is importable, otherwise
NumPy.  Most tests are written once against a *library* argument ``lib`` (either the
``torsh`` or the ``torch`` module): because ``import torsh as torch`` must run ordinary
PyTorch code, the same lambda computes the torsh result and the reference result.
"""

import contextlib
import math

import numpy as np
import pytest

import torsh

try:  # reference implementation (optional)
    import torch as torch_ref
except ImportError:  # pragma: no cover - exercised only without torch
    torch_ref = None

# the package name printed in dtype names and reprs ('torsh'); read from the module so the
# suite can be sanity-checked against PyTorch itself by aliasing torch as torsh
PKG = torsh.__name__

needs_torch = pytest.mark.skipif(torch_ref is None, reason="reference torch is not importable")

ALL_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
              "float32", "float64", "complex64", "complex128")
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")

# (rtol, atol) per dtype name, for comparing two independent implementations
TOLERANCES = {
    "float16": (1e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
    "float32": (1e-5, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1e-5, 1e-5),
    "complex128": (1e-7, 1e-7),
}


# ----------------------------------------------------------------------------- dtypes

def dtype_name(d):
    """'float32' for torsh.float32, torch.float32, np.float32, np.dtype('float32') or 'float32'."""
    if isinstance(d, np.dtype):
        return d.name
    if isinstance(d, type) and issubclass(d, np.generic):
        return np.dtype(d).name
    return str(d).split(".")[-1]


def tdt(name):
    """The torsh dtype called ``name``."""
    return getattr(torsh, name)


def rdt(name):
    """The reference (torch) dtype called ``name``."""
    return getattr(torch_ref, name)


def lib_dtype(lib, name):
    return getattr(lib, name)


# ----------------------------------------------------------------------------- conversion

def is_torsh(x):
    return isinstance(x, torsh.Tensor)


def is_torch(x):
    return torch_ref is not None and isinstance(x, torch_ref.Tensor)


def to_numpy(x):
    """NumPy copy-free view (or array) of a torsh tensor, torch tensor, ndarray or scalar.

    bfloat16 tensors are widened to float32 first, since NumPy has no bfloat16.
    """
    if is_torsh(x) or is_torch(x):
        x = x.detach()
        if dtype_name(x.dtype) == "bfloat16":
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def rng(seed=0):
    return np.random.default_rng(seed)


def make_array(shape, dtype="float64", low=-2.0, high=2.0, seed=0):
    """Random ndarray of ``dtype`` (a name); ints are drawn from [low, high]."""
    g = rng(seed)
    if dtype == "bool":
        return g.random(shape) > 0.5
    if dtype in INT_DTYPES:
        return g.integers(int(low), int(high) + 1, size=shape).astype(dtype)
    if dtype.startswith("complex"):
        return (g.uniform(low, high, shape) + 1j * g.uniform(low, high, shape)).astype(dtype)
    arr = g.uniform(low, high, shape)
    if dtype == "bfloat16":
        return arr.astype("float32")
    return arr.astype(dtype)


def from_array(lib, arr, dtype=None, requires_grad=False):
    """lib.tensor(arr) (copied), optionally cast to the dtype named ``dtype``."""
    t = lib.tensor(np.array(arr, copy=True))
    if dtype is not None and dtype_name(t.dtype) != dtype:
        t = t.to(getattr(lib, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def pair(arr, dtype=None, requires_grad=False):
    """(torsh tensor, reference tensor or ndarray) built from the same data."""
    ours = from_array(torsh, arr, dtype, requires_grad)
    if torch_ref is None:
        return ours, np.array(arr, copy=True)
    return ours, from_array(torch_ref, arr, dtype, requires_grad)


# ----------------------------------------------------------------------------- comparison

def _shape(x):
    if is_torsh(x) or is_torch(x):
        return tuple(x.shape)
    return np.shape(x)


def _dtype_of(x):
    if is_torsh(x) or is_torch(x) or isinstance(x, np.ndarray):
        return dtype_name(x.dtype)
    return None


def assert_close(actual, expected, rtol=None, atol=None, check_dtype=True, msg=""):
    """Check that the torsh tensor ``actual`` matches ``expected`` (torch tensor / ndarray).

    Checks type (a torsh.Tensor), shape, dtype name and values (NaNs compare equal).
    """
    assert is_torsh(actual), f"{msg}expected a torsh.Tensor, got {type(actual).__name__}"
    assert _shape(actual) == _shape(expected), \
        f"{msg}shape mismatch: torsh {_shape(actual)} vs reference {_shape(expected)}"
    exp_dtype = _dtype_of(expected)
    if check_dtype and exp_dtype is not None:
        assert dtype_name(actual.dtype) == exp_dtype, \
            f"{msg}dtype mismatch: torsh {actual.dtype} vs reference {exp_dtype}"
    a = to_numpy(actual)
    e = to_numpy(expected)
    name = dtype_name(actual.dtype)
    d_rtol, d_atol = TOLERANCES.get(name, (0.0, 0.0))
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    if a.dtype == np.bool_ or e.dtype == np.bool_ or (rtol == 0 and atol == 0):
        np.testing.assert_array_equal(a, e, err_msg=msg)
    else:
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


def assert_same_structure_close(actual, expected, **kw):
    """assert_close over (possibly nested) tuples/lists of tensors, or plain Python values."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)), f"expected a sequence, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_structure_close(a, e, msg=f"[{i}] ", **{k: v for k, v in kw.items() if k != "msg"})
    elif is_torch(expected) or isinstance(expected, np.ndarray):
        assert_close(actual, expected, **kw)
    else:
        assert actual == expected


def flat_outputs(out):
    """A tuple of the tensors in ``out`` (a tensor or a (named)tuple/list of tensors)."""
    if isinstance(out, (tuple, list)):
        return tuple(out)
    return (out,)


def float_outputs(out):
    return tuple(o for o in flat_outputs(out) if o.is_floating_point() or o.is_complex())


# ----------------------------------------------------------------------------- errors

def error_of(fn):
    """The exception raised by ``fn()`` (fails the test if nothing is raised)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we want whatever the library raises
        return e
    pytest.fail("expected an exception, none was raised")


def check_same_error(fn, fallback_type=None, fallback_msg=None, exact=True):
    """``fn(lib)`` must raise in torsh the same exception type and message as in torch.

    The torsh message must contain the first line of torch's message.  With ``exact=False``
    only ``fallback_msg`` (a stable part of PyTorch's wording) must appear, for messages whose
    tail names PyTorch internals; torch's own message is then checked to contain it too.
    Without torch the fallback type / message are used.
    """
    if torch_ref is not None:
        ref = error_of(lambda: fn(torch_ref))
        exp_type, exp_msg = type(ref), str(ref).split("\n")[0]
        if not exact:
            assert fallback_msg in str(ref), f"fallback message is not torch's wording: {ref}"
            exp_msg = fallback_msg
    else:
        exp_type, exp_msg = fallback_type, fallback_msg
    ours = error_of(lambda: fn(torsh))
    assert isinstance(ours, exp_type), \
        f"torsh raised {type(ours).__name__}({ours}), PyTorch raises {exp_type.__name__}"
    assert exp_msg in str(ours), f"message mismatch:\n torsh: {ours}\n torch: {exp_msg}"
    return ours


# ----------------------------------------------------------------------------- autograd

def numeric_jacobian_check(fn, inputs, eps=1e-6, rtol=1e-4, atol=1e-5):
    """Independent central-difference check of torsh's backward (float64 inputs).

    Used in addition to torsh.autograd.gradcheck, so a broken gradcheck cannot hide a
    broken backward.  Checks d(sum(w * fn(x)))/dx for a random weight w.
    """
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = float_outputs(fn(*inputs))
    weights = [make_array(tuple(o.shape), "float64", seed=7 + i) for i, o in enumerate(out)]

    def scalar(xs):
        outs = float_outputs(fn(*xs))
        return sum(float((to_numpy(o).astype(np.float64) * w).sum()) for o, w in zip(outs, weights))

    total = None
    for o, w in zip(out, weights):
        term = (o * torsh.tensor(w)).sum()
        total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return
    grads = torsh.autograd.grad(total, inputs, allow_unused=True)
    for k, (x, g) in enumerate(zip(inputs, grads)):
        base = to_numpy(x).copy()
        num = np.zeros(base.shape)
        for idx in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            xs_p = [torsh.tensor(plus) if j == k else inputs[j].detach() for j in range(len(inputs))]
            xs_m = [torsh.tensor(minus) if j == k else inputs[j].detach() for j in range(len(inputs))]
            num[idx] = (scalar(xs_p) - scalar(xs_m)) / (2 * eps)
        got = np.zeros(base.shape) if g is None else to_numpy(g)
        np.testing.assert_allclose(got, num, rtol=rtol, atol=atol,
                                   err_msg=f"analytic vs numeric gradient of input {k}")


def weighted_sum(lib, out, seed=3):
    """sum(w_i * out_i) over the float outputs of ``out`` with fixed random weights."""
    total = None
    for i, o in enumerate(float_outputs(out)):
        w = from_array(lib, make_array(tuple(o.shape), "float64", seed=seed + i), dtype_name(o.dtype))
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


# -- kernel variants ------------------------------------------------------------------------------
VARIANTS = ("kernel", "kernel_omp", "numpy")
_VARIANT_LIMITS = {"kernel": (0, math.inf), "kernel_omp": (0, 0), "numpy": (math.inf, math.inf)}
_VARIANT_RECORDED = {"kernel": "pythran_simd", "kernel_omp": "pythran_omp", "numpy": "numpy"}


@contextlib.contextmanager
def forced_variant(ops, variant, reference_name="numpy"):
    """Run the dispatched ``ops`` on one variant ("kernel", "kernel_omp" or "numpy") inside the block;
    yields the variant name their dispatch records must show (``reference_name`` for "numpy")."""
    from torsh.backend import dispatch
    before = {op: dispatch.thresholds[op] for op in ops}
    for op in ops:
        dispatch.set_thresholds(op, *_VARIANT_LIMITS[variant])
    try:
        yield reference_name if variant == "numpy" else _VARIANT_RECORDED[variant]
    finally:
        for op, (simd, parallel) in before.items():
            dispatch.set_thresholds(op, simd, parallel)
