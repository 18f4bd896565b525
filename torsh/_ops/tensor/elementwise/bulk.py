"""Large elementwise writes on the elementwise kernel family: an array and a Python number (``t * 0.5``,
``2 - t``), in-place ``add_``/``sub_``/``mul_``/``div_``, ``copy_``, ``fill_``/``zero_``.

NumPy runs these on one thread; from the thresholds the dispatcher holds for them (backend/families.py,
``python -m torsh.backends.calibrate``) the compiled kernels run them, on OpenMP threads where that pays.
Every function here does nothing and returns None/False for what the kernels do not take (small sizes
checked first, other dtypes, strided or broadcast operands), and the caller then runs its NumPy code.
The kernels compute exactly what NumPy computes (one IEEE operation per element in the array's dtype, the
number cast to it as NumPy casts a "weak" Python scalar), so results never depend on the path taken.
"""
import numpy as np

from ....backend import dispatch, events, kernels, memory

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_FLOAT32 = np.dtype(np.float32)
_NUMPY_BELOW = dispatch._numpy_below
_FAMILY = dispatch._FAMILY  # op -> the family whose module runs it

# float32 add/sub/mul/div, copy and sigmoid run on elementwise_f32 (C++), whose helper threads spin briefly between
# ops instead of sleeping as OpenMP's do (waking one cost 25-45 us of a ~100 us 1e6 add); float64 and the
# scalar ops stay on the Pythran family. Both compute one IEEE operation per element (sigmoid: to a few ulps)
_FLOAT32_KERNELS = kernels.get("elementwise_f32")
_FLOAT32_OPS = frozenset(("add", "sub", "mul", "div", "copy", "sigmoid"))


def _module_for(op, dtype):
    """The compiled module that runs entry ``op`` on arrays of ``dtype``."""
    if dtype == _FLOAT32 and _FLOAT32_KERNELS is not None and op in _FLOAT32_OPS:
        return _FLOAT32_KERNELS
    return kernels.get("elementwise")

# (op, reflected) -> (dispatch op, kernel entry, whether the kernel takes -s: a - s is a + (-s) exactly)
_SCALAR_KERNELS = {
    ("add", False): ("add_scalar", "add_scalar", False), ("add", True): ("add_scalar", "add_scalar", False),
    ("sub", False): ("sub_scalar", "add_scalar", True), ("sub", True): ("rsub_scalar", "rsub_scalar", False),
    ("mul", False): ("mul_scalar", "mul_scalar", False), ("mul", True): ("mul_scalar", "mul_scalar", False),
    ("div", False): ("div_scalar", "div_scalar", False), ("div", True): ("rdiv_scalar", "rdiv_scalar", False),
}
_INPLACE_KERNELS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div"}


def _large(op, numel):
    """False when ``op`` on ``numel`` elements runs NumPy anyway: the caller's NumPy call then runs unrecorded,
    as these calls always did (a profile of tiny scalar ops shows no dispatch decisions)."""
    return numel >= _NUMPY_BELOW[op]


def _python_number(value):
    return type(value) is float or type(value) is int


def _as_dtype(number, dtype):
    """``number`` in ``dtype`` as NumPy casts a weak scalar, or None where that cast would overflow (NumPy's
    own path then says what it says)."""
    try:
        with np.errstate(over="ignore"):
            value = dtype.type(number)
    except OverflowError:
        return None
    return value if np.isfinite(value) or not np.isfinite(number) else None


def _overlaps(a, b):
    """True when ``b`` shares memory with ``a`` other than as the very same elements (chunks written in
    parallel would then read what another chunk wrote; NumPy buffers such calls)."""
    return np.may_share_memory(a, b) and (a.__array_interface__["data"][0] != b.__array_interface__["data"][0]
                                          or a.strides != b.strides)


def array_scalar(op, array, number, np_fn, reflected=False):
    """``np_fn(array, number)`` (``np_fn(number, array)`` when ``reflected``) for add/sub/mul/div of a float
    array and a Python number, through the dispatcher; None when the kernels do not take it."""
    key = _SCALAR_KERNELS.get((op, reflected))
    if key is None or not _python_number(number) or array.dtype not in _FLOATS:
        return None
    name, entry, negate = key
    if not _large(name, array.size):
        return None
    s = _as_dtype(-number if negate else number, array.dtype)
    if s is None:
        return None

    def compiled(parallel):
        out = memory.empty(array.shape, array.dtype)
        getattr(kernels.get("elementwise"), entry)(array.reshape(-1), s, out.reshape(-1), parallel)
        return out

    reference = (lambda: np_fn(number, array)) if reflected else (lambda: np_fn(array, number))
    return dispatch.call(name, array.size, array.dtype, array.flags.c_contiguous, compiled, reference)


def binary(op, a, b, np_fn):
    """``dispatch.binary(op, a, b, np_fn)``: float32 operands of one shape on elementwise_f32's kernels."""
    if (a.size < _NUMPY_BELOW[op] or a.dtype != _FLOAT32 or b.dtype != _FLOAT32 or a.shape != b.shape
            or _FLOAT32_KERNELS is None or op not in _FLOAT32_OPS):
        return dispatch.binary(op, a, b, np_fn)

    def compiled(parallel):
        out = memory.empty(a.shape, a.dtype)
        getattr(_FLOAT32_KERNELS, op)(a.reshape(-1), b.reshape(-1), out.reshape(-1), parallel)
        return out

    return dispatch.call(op, a.size, a.dtype, a.flags.c_contiguous and b.flags.c_contiguous, compiled,
                         lambda: np_fn(a, b))


def unary(op, x, np_fn):
    """``dispatch.unary(op, x, np_fn)``: a float32 sigmoid on elementwise_f32's kernel."""
    if x.size < _NUMPY_BELOW[op] or x.dtype != _FLOAT32 or _FLOAT32_KERNELS is None or op not in _FLOAT32_OPS:
        if x.size >= _NUMPY_BELOW[op] and dispatch.TOPIC not in events._subscribers and x.flags.c_contiguous:
            # nobody records the decision: dispatch.unary's choice made and its kernel called here, without its
            # closures and frames (relu in an MLP step)
            variant = dispatch._variant(op, x.size, x.dtype, True)
            if variant != "numpy":
                out = memory.empty(x.shape, x.dtype)
                getattr(kernels.get(_FAMILY[op]), op)(x.reshape(-1), out.reshape(-1), variant == "pythran_omp")
                return out
        return dispatch.unary(op, x, np_fn)

    def compiled(parallel):
        out = memory.empty(x.shape, x.dtype)
        getattr(_FLOAT32_KERNELS, op)(x.reshape(-1), out.reshape(-1), parallel)
        return out

    return dispatch.call(op, x.size, x.dtype, x.flags.c_contiguous, compiled, lambda: np_fn(x))


def inplace_binary(op, target, other, np_fn):
    """``target op= other`` for a contiguous float ``target`` and an array of its shape and dtype or a Python
    number; True when done here, False for the caller's NumPy call."""
    if op not in _INPLACE_KERNELS or target.dtype not in _FLOATS:
        return False
    if isinstance(other, np.ndarray):
        if (other.shape != target.shape or other.dtype != target.dtype or not _large(op, target.size)
                or _overlaps(target, other)):
            return False
        contiguous = target.flags.c_contiguous and other.flags.c_contiguous

        def compiled(parallel):
            getattr(_module_for(op, target.dtype), op)(target.reshape(-1), other.reshape(-1), target.reshape(-1),
                                                       parallel)
    elif _python_number(other):
        name, entry, negate = _SCALAR_KERNELS[(op, False)]
        if not _large(name, target.size):
            return False
        s = _as_dtype(-other if negate else other, target.dtype)
        if s is None:
            return False
        contiguous = target.flags.c_contiguous
        op = name

        def compiled(parallel):
            getattr(kernels.get("elementwise"), entry)(target.reshape(-1), s, target.reshape(-1), parallel)
    else:
        return False
    dispatch.call(op, target.size, target.dtype, contiguous and target.flags.writeable, compiled,
                  lambda: np_fn(target, other, out=target))
    return True


def copy_into(target, source):
    """``np.copyto(target, source)`` for contiguous float arrays of one shape and dtype; True when done here."""
    if (type(source) is not np.ndarray or source.dtype != target.dtype or target.dtype not in _FLOATS
            or source.shape != target.shape or not _large("copy", target.size) or _overlaps(target, source)):
        return False
    contiguous = target.flags.c_contiguous and source.flags.c_contiguous and target.flags.writeable
    dispatch.call("copy", target.size, target.dtype, contiguous,
                  lambda parallel: _module_for("copy", target.dtype).copy(source.reshape(-1), target.reshape(-1),
                                                                         parallel),
                  lambda: np.copyto(target, source))
    return True


def fill(target, value):
    """``target[...] = value`` for a contiguous float array and a Python number or a 0-d array / NumPy scalar
    of its dtype (fill_'s checked value); True when done here."""
    if target.dtype not in _FLOATS or not _large("fill", target.size):
        return False
    if isinstance(value, (np.ndarray, np.generic)):
        if value.shape != () or value.dtype != target.dtype:
            return False
        v = value[()]
    elif _python_number(value):
        v = _as_dtype(value, target.dtype)
        if v is None:
            return False
    else:
        return False

    def assign():
        target[...] = v

    dispatch.call("fill", target.size, target.dtype, target.flags.c_contiguous and target.flags.writeable,
                  lambda parallel: kernels.get("elementwise").fill(target.reshape(-1), v, parallel), assign)
    return True
