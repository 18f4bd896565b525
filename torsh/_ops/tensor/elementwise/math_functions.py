"""More elementwise ops: binary math (atan2, hypot, logaddexp, fmod, fmax, xlogy, copysign, ...), the
special-function unary family (erfinv, lgamma, digamma, polygamma, Bessel i0/i1, sinc, logit, ...),
nan_to_num, closeness tests and integer-only ops (shifts, gcd/lcm).

Forward on NumPy/SciPy; each derivative is written in torsh ops so double backward works.
"""
import math

import numpy as np
import scipy.special as sps

from .... import _dtype
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import (UNSUPPORTED_KINDS, broadcast_shapes, check_dtype_support, dtype_name, is_tensor,
                         require_tensor_operands, sum_to, to_array, with_grad_fn)
from ... import registry
from ...registry import copy_out
from .arithmetic import _make_unary, _numpy_binary, where
from .arithmetic import pow as _pow


# -- binary ops with a derivative per operand --------------------------------------------------
def _promote(input, other, op, *, to_float):
    """(a, b) as tensors of the promoted dtype; scalars become 0-dim tensors (no grad edge).

    The promoted dtype must have a kernel (``_helpers.UNSUPPORTED_KINDS``); PyTorch checks the shapes
    broadcast first, except for maximum/minimum/fmax/fmin, which refuse complex operands up front.
    """
    if not is_tensor(input) and not is_tensor(other):
        from ..creation import tensor
        input = tensor(input)
    rt = _dtype.result_type_of(input, other)
    unsupported = UNSUPPORTED_KINDS.get(op, ())
    if rt.np.char in unsupported:
        shapes = () if op in _EXTREMA else (np.shape(_arr(input, rt)), np.shape(_arr(other, rt)))
        check_dtype_support(op, rt.np, *shapes)
    if to_float and not (rt.is_floating_point or rt.is_complex):
        rt = _dtype.get_default_dtype()
    return input, other, rt


_EXTREMA = ("maximum", "minimum", "fmax", "fmin")
# ops whose schema is (Tensor input, Tensor other): a Python number is a TypeError, as in PyTorch
_TENSORS_ONLY = _EXTREMA + ("atan2", "hypot", "logaddexp", "logaddexp2")


def _arr(x, rt):
    return to_array(x, rt.np) if is_tensor(x) else np.asarray(x, dtype=rt.np)


def _as_t(x, rt):
    return x if is_tensor(x) else wrap(np.asarray(x, dtype=rt.np))


def _make_binary(name, np_fn, grads, node_name, *, to_float=True, scalar_nodes=(None, None)):
    """A binary op whose gradients are ``grads(grad, a, b, out) -> (grad_a, grad_b)`` in torsh ops.

    ``scalar_nodes``: PyTorch's node names for the overloads with a Python number as input / as other
    (``FmodBackward0`` for ``fmod(t, 2)``), where they differ from the tensor-tensor one's.
    """

    def backward(self, grad):
        a, b, out = self.saved_tensors
        ga, gb = grads(grad, a, b, out, self.next_functions[0][0] is not None, self.next_functions[1][0] is not None)
        return (None if ga is None else sum_to(ga, self.shapes[0]),
                None if gb is None else sum_to(gb, self.shapes[1]))

    def node_class(cls_name):
        return type(cls_name, (Node,), {"backward": backward, "__module__": __name__})

    node_cls = node_class(node_name)
    # node class by (input is a tensor, other is a tensor)
    node_classes = {(True, True): node_cls,
                    (False, True): node_class(scalar_nodes[0]) if scalar_nodes[0] else node_cls,
                    (True, False): node_class(scalar_nodes[1]) if scalar_nodes[1] else node_cls}

    tensors_only = name in _TENSORS_ONLY

    def op(input, other, *, out=None):
        if tensors_only:
            require_tensor_operands(name, input, other)
        input, other, rt = _promote(input, other, name, to_float=to_float)
        with np.errstate(all="ignore"):
            value = _numpy_binary(np_fn, _arr(input, rt), _arr(other, rt))
        result = wrap(np.asarray(value, dtype=rt.np))
        if needs_grad(input, other):
            node = node_classes[is_tensor(input), is_tensor(other)]()
            node.shapes = (np.shape(_arr(input, rt)), np.shape(_arr(other, rt)))
            record(node, (input, other), (result,))
            node.save_for_backward(_as_t(input, rt), _as_t(other, rt), result)
        return copy_out(result, out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.{name}: elementwise, broadcasting."
    return op


def _only(wa, wb, fa, fb):
    return (fa() if wa else None), (fb() if wb else None)


_LN2 = math.log(2.0)

atan2 = _make_binary(
    "atan2", np.arctan2,
    lambda g, a, b, y, wa, wb: _only(wa, wb, lambda: g * b / (a * a + b * b), lambda: g * -a / (a * a + b * b)),
    "Atan2Backward0")
registry.register(atan2, "atan2", aliases=("arctan2",), inplace=True, out="copy")
arctan2 = atan2
hypot = _make_binary(
    "hypot", np.hypot, lambda g, a, b, y, wa, wb: _only(wa, wb, lambda: g * a / y, lambda: g * b / y),
    "HypotBackward0")
registry.register(hypot, "hypot", inplace=True, out="copy")
def _logaddexp_np(a, b):
    return _complex_logaddexp(a, b) if np.result_type(a, b).kind == "c" else np.logaddexp(a, b)


def _complex_logaddexp(x, y):
    """PyTorch's complex log(exp(x) + exp(y)): log1p(exp(min - max)) + max, ordered by real part (a NaN
    operand makes the result NaN; equal infinite real parts give min for -inf, log(exp + exp) for +inf)."""
    x, y = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    x_nan, y_nan = np.isnan(x.real) | np.isnan(x.imag), np.isnan(y.real) | np.isnan(y.imag)
    y_is_min = y_nan | (~x_nan & ~(x.real < y.real))
    lo, hi = np.where(y_is_min, y, x), np.where(y_is_min, x, y)
    with np.errstate(all="ignore"):
        value = np.log1p(np.exp(lo - hi)) + hi
        both_inf = ~np.isfinite(lo.real) & (lo.real == hi.real)
        value = np.where(both_inf, np.where(lo.real < 0, lo, np.log(np.exp(lo) + np.exp(hi))), value)
    nan = np.array(complex(np.nan, np.nan), dtype=value.dtype)
    return np.where(x_nan | y_nan, nan, value)


def _conj_if_complex(derivative):
    """PyTorch's gradients of complex inputs are grad * conj(df/dz)."""
    return derivative.conj() if derivative.is_complex() else derivative


logaddexp = _make_binary(
    "logaddexp", _logaddexp_np,
    lambda g, a, b, y, wa, wb: _only(wa, wb, lambda: g * _conj_if_complex((a - y).exp()),
                                     lambda: g * _conj_if_complex((b - y).exp())),
    "LogaddexpBackward0")
registry.register(logaddexp, "logaddexp", out="copy")
logaddexp2 = _make_binary(
    "logaddexp2", np.logaddexp2,
    lambda g, a, b, y, wa, wb: _only(wa, wb, lambda: g * ((a - y) * _LN2).exp(), lambda: g * ((b - y) * _LN2).exp()),
    "Logaddexp2Backward0")
registry.register(logaddexp2, "logaddexp2", out="copy")


def _np_fmod(a, b):
    if np.asarray(a).dtype.kind in "iub" and np.any(np.asarray(b) == 0):
        raise RuntimeError("ZeroDivisionError")
    return np.fmod(a, b)


fmod = _make_binary(
    "fmod", _np_fmod,
    lambda g, a, b, y, wa, wb: _only(wa, wb, lambda: g, lambda: -g * (a / b).trunc()),
    "FmodBackward1", to_float=False, scalar_nodes=(None, "FmodBackward0"))
registry.register(fmod, "fmod", inplace=True, out="copy")


def _fmax_grads(g, a, b, y, wa, wb):
    take_a = (a >= b) | b.isnan()
    return _only(wa, wb, lambda: g.masked_fill(take_a.logical_not(), 0), lambda: g.masked_fill(take_a, 0))


def _fmin_grads(g, a, b, y, wa, wb):
    take_a = (a <= b) | b.isnan()
    return _only(wa, wb, lambda: g.masked_fill(take_a.logical_not(), 0), lambda: g.masked_fill(take_a, 0))


fmax = _make_binary("fmax", np.fmax, _fmax_grads, "FmaxBackward0", to_float=False)
registry.register(fmax, "fmax", out="copy")
fmin = _make_binary("fmin", np.fmin, _fmin_grads, "FminBackward0", to_float=False)
registry.register(fmin, "fmin", out="copy")


def _extremum_grads(self_loses, other_loses):
    # PyTorch's formulas: equal operands split the gradient; against a NaN both get all of it
    def grads(g, a, b, y, wa, wb):
        shared = where(a == b, g / 2, g)
        return _only(wa, wb, lambda: shared.masked_fill(self_loses(a, b), 0),
                     lambda: shared.masked_fill(other_loses(a, b), 0))
    return grads


maximum = _make_binary("maximum", np.maximum, _extremum_grads(lambda a, b: a < b, lambda a, b: a > b),
                       "MaximumBackward0", to_float=False)
registry.register(maximum, "maximum", out="copy")
minimum = _make_binary("minimum", np.minimum, _extremum_grads(lambda a, b: a > b, lambda a, b: a < b),
                       "MinimumBackward0", to_float=False)
registry.register(minimum, "minimum", out="copy")


def _xlogy_grads(g, a, b, y, wa, wb):
    return _only(wa, wb, lambda: g * where((a == 0) & b.isnan().logical_not(), 0.0, b.log()).to(g.dtype),
                 lambda: g * a / b)


xlogy = _make_binary("xlogy", sps.xlogy, _xlogy_grads, "XlogyBackward0",
                     scalar_nodes=("XlogyBackward1", "XlogyBackward2"))
registry.register(xlogy, "xlogy", inplace=True, out="copy")


def _xlog1py_grads(g, a, b, y, wa, wb):
    return _only(wa, wb, lambda: g * where((a == 0) & b.isnan().logical_not(), 0.0, b.log1p()).to(g.dtype),
                 lambda: g * a / (b + 1))


xlog1py = _make_binary("xlog1py", sps.xlog1py, _xlog1py_grads, "SpecialXlog1PyBackward0",
                       scalar_nodes=("SpecialXlog1PyBackward1", "SpecialXlog1PyBackward2"))


def _copysign_grads(g, a, b, y, wa, wb):
    from ..creation import zeros_like
    return _only(wa, wb, lambda: g * where(a == 0, 0.0, y / where(a == 0, 1.0, a)).to(g.dtype),
                 lambda: zeros_like(g))


copysign = _make_binary("copysign", np.copysign, _copysign_grads, "CopysignBackward0",
                        scalar_nodes=(None, "CopysignBackward1"))
registry.register(copysign, "copysign", inplace=True, out="copy")


def ldexp(input, other, *, out=None):
    return copy_out(input * _pow(2.0, other) if is_tensor(other) else input * 2.0 ** other, out)
registry.register(ldexp, inplace=True, out="copy")


def _non_diff_binary(name, np_fn, *, int_only=False, float_only=False, same_dtype=None):
    def op(input, other, *, out=None):
        if not is_tensor(input) and not is_tensor(other):
            from ..creation import tensor
            input = tensor(input)
        if same_dtype and is_tensor(input) and is_tensor(other) and input.dtype is not other.dtype:
            raise RuntimeError(same_dtype)
        rt = _dtype.result_type_of(input, other)
        if int_only and (rt.is_floating_point or rt.is_complex or rt is _dtype.bool):
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{dtype_name(rt)}\'')
        if float_only and not rt.is_floating_point:
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'{dtype_name(rt)}\'')
        with np.errstate(all="ignore"):
            value = _numpy_binary(np_fn, _arr(input, rt), _arr(other, rt))
        return copy_out(wrap(np.asarray(value, dtype=rt.np)), out)
    op.__name__ = name
    return op


nextafter = _non_diff_binary("nextafter", np.nextafter, float_only=True)
registry.register(nextafter, "nextafter", inplace=True, out="copy")
heaviside = _non_diff_binary("heaviside", np.heaviside,
                             same_dtype="heaviside is not yet implemented for tensors with different dtypes.")
registry.register(heaviside, "heaviside", inplace=True, out="copy")
gcd = _non_diff_binary("gcd", np.gcd, int_only=True)
registry.register(gcd, "gcd", inplace=True, out="copy")
lcm = _non_diff_binary("lcm", np.lcm, int_only=True)
registry.register(lcm, "lcm", inplace=True, out="copy")


def _shift(name, np_fn, label):
    def op(input, other, *, out=None):
        rt = _dtype.result_type_of(input, other) if is_tensor(input) else _dtype.result_type_of(other, input)
        if rt.is_floating_point or rt.is_complex or rt.np.char in "HILQ?":  # no float, uint16/32/64, bool kernel
            raise NotImplementedError(f'"{label}_cpu" not implemented for \'{dtype_name(rt)}\'')
        a, b = _arr(input, rt), _arr(other, rt)
        bits = rt.np.itemsize * 8
        with np.errstate(all="ignore"):
            value = _numpy_binary(np_fn, a, np.clip(b, 0, bits - 1) if name.endswith("right_shift") else b)
            if name.endswith("left_shift"):
                value = np.where((b >= bits) | (b < 0), 0, value)
        return copy_out(wrap(np.asarray(value, dtype=rt.np)), out)
    op.__name__ = name
    return op


bitwise_left_shift = _shift("bitwise_left_shift", np.left_shift, "lshift")
registry.register(bitwise_left_shift, "bitwise_left_shift", inplace=True, out="copy")
bitwise_right_shift = _shift("bitwise_right_shift", np.right_shift, "rshift")
registry.register(bitwise_right_shift, "bitwise_right_shift", inplace=True, out="copy")


# -- unary special functions -----------------------------------------------------------------
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _sinc_np(x):
    return np.sinc(x)


def _sinc_grad(g, x, y):
    px = x * math.pi
    safe = where(x == 0, 1.0, px).to(x.dtype)
    return g * where(x == 0, 0.0, ((px.cos() * safe - px.sin()) / (safe * safe)) * math.pi).to(g.dtype)


def _i1_grad(g, x, y):
    safe = where(x == 0, 1.0, x).to(x.dtype)
    return g * where(x == 0, 0.5, i0(x) - y / safe).to(g.dtype)


def _i1e_grad(g, x, y):
    safe = where(x == 0, 1.0, x).to(x.dtype)
    return g * where(x == 0, 0.5, special_i0e(x) - y * (x.sgn() + 1 / safe)).to(g.dtype)


def _entr_np(x):
    with np.errstate(all="ignore"):
        return np.where(x > 0, -x * np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0.0, -np.inf)).astype(x.dtype)


def _entr_grad(g, x, y):
    return g * where(x == 0, float("-inf"), -(x.log() + 1)).to(g.dtype)


def _special(name, np_fn, derivative, node_name, saves):
    """Declare a unary special function in the registry; ``special_<f>`` ops live in torsh.special only."""
    fn = _make_unary(name, np_fn, derivative, node_name=node_name, to_float=True, saves=saves)[0]
    public = name.replace("special_", "")
    fn.__name__ = public
    in_torsh = public == name
    globals()[name] = registry.register(fn, name, node_name=node_name, method=in_torsh, inplace=in_torsh,
                                        namespace="torsh" if in_torsh else "torsh.special", public_name=public)


# one entry per op: numpy forward, derivative(grad, x, y) in torsh ops, PyTorch's node name, what it saves
_special("erfinv", sps.erfinv, lambda g, x, y: g * (_SQRT_PI / 2) * (y * y).exp(), "ErfinvBackward0", "output")
_special("lgamma", sps.gammaln, lambda g, x, y: g * digamma(x), "LgammaBackward0", "input")
_special("digamma", sps.digamma, lambda g, x, y: g * polygamma(1, x), "DigammaBackward0", "input")
_special("i0", sps.i0, lambda g, x, y: g * special_i1(x), "I0Backward0", "input")
_special("special_i0e", sps.i0e, lambda g, x, y: g * (special_i1e(x) - x.sgn() * y), "SpecialI0EBackward0", "both")
_special("special_i1", sps.i1, _i1_grad, "SpecialI1Backward0", "both")
_special("special_i1e", sps.i1e, _i1e_grad, "SpecialI1EBackward0", "both")
_special("sinc", _sinc_np, _sinc_grad, "SincBackward0", "input")
_special("special_erfcx", sps.erfcx, lambda g, x, y: g * (2 * x * y - 2 / _SQRT_PI), "SpecialErfcxBackward0", "both")
_special("special_ndtr", sps.ndtr, lambda g, x, y: g * (-x * x / 2).exp() / _SQRT_2PI, "SpecialNdtrBackward0",
         "input")
_special("special_ndtri", sps.ndtri, lambda g, x, y: g * _SQRT_2PI * (y * y / 2).exp(), "SpecialNdtriBackward0",
         "output")
_special("special_log_ndtr", sps.log_ndtr, lambda g, x, y: g * (-x * x / 2 - y).exp() / _SQRT_2PI,
         "SpecialLogNdtrBackward0", "both")
_special("special_entr", _entr_np, _entr_grad, "SpecialEntrBackward0", "input")
_special("deg2rad", np.deg2rad, lambda g, x, y: g * (math.pi / 180), "Deg2RadBackward0", None)
_special("rad2deg", np.rad2deg, lambda g, x, y: g * (180 / math.pi), "Rad2DegBackward0", None)


def _float_data(input):
    """input's array, integers and bools as the default float dtype (these functions compute in floats)."""
    data = input._data
    return data.astype(_dtype.get_default_dtype().np) if data.dtype.kind in "biu" else data


class PolygammaBackward0(Node):
    def backward(self, grad):
        (x,) = self.saved_tensors
        return (grad * polygamma(self.n + 1, x),)


def polygamma(n, input, *, out=None):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    data = _float_data(input)
    with np.errstate(all="ignore"):
        value = sps.digamma(data) if n == 0 else sps.polygamma(n, data)
    result = wrap(np.asarray(value, dtype=data.dtype))
    return copy_out(with_grad_fn(PolygammaBackward0, (input,), result, (input,), n=n), out)


def _polygamma_method(self, n):
    """Tensor.polygamma(n): self is polygamma's input."""
    return polygamma(n, self)
registry.register(polygamma, node_name="PolygammaBackward0", method=_polygamma_method, inplace=True, out="copy")


def mvlgamma(input, p):
    if input.dtype is _dtype.bool:
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    if not bool((input._data > (p - 1) / 2).all()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2")
    from ..creation import arange
    j = arange(p, dtype=input.dtype) / -2.0
    return lgamma(input.unsqueeze(-1) + j).sum(-1) + (p * (p - 1) / 4) * math.log(math.pi)
registry.register(mvlgamma, inplace=True)


class LogitBackward0(Node):
    def backward(self, grad):
        (x,) = self.saved_tensors
        g = grad / (x * (1 - x))
        if self.eps is not None:
            g = where((x < self.eps) | (x > 1 - self.eps), 0.0, g).to(grad.dtype)
        return (g,)


def logit(input, eps=None, *, out=None):
    data = _float_data(input)
    z = np.clip(data, eps, 1 - eps) if eps is not None else data
    with np.errstate(all="ignore"):
        value = np.log(z / (1 - z))
    result = wrap(np.asarray(value, dtype=data.dtype))
    return copy_out(with_grad_fn(LogitBackward0, (input,), result, (input,), eps=eps), out)
registry.register(logit, node_name="LogitBackward0", inplace=True, out="copy")


class NanToNumBackward0(Node):
    def backward(self, grad):
        (x,) = self.saved_tensors
        return (grad * x.isfinite(),)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    data = input._data
    if data.dtype.kind not in "fc":
        result = wrap(data.copy())
        return copy_out(result, out)
    info = np.finfo(data.dtype)
    value = np.nan_to_num(data, copy=True, nan=nan, posinf=info.max if posinf is None else posinf,
                          neginf=info.min if neginf is None else neginf)
    result = wrap(np.asarray(value, dtype=data.dtype))
    return copy_out(with_grad_fn(NanToNumBackward0, (input,), result, (input,)), out)
registry.register(nan_to_num, node_name="NanToNumBackward0", inplace=True, out="copy")


def positive(input):
    if input.dtype is _dtype.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input
registry.register(positive)


# -- predicates ---------------------------------------------------------------------------------
def _is_float(t):
    return t._data.dtype.kind in "fcV"  # V: bfloat16


def signbit(input, *, out=None):
    check_dtype_support("signbit", input._data.dtype)
    value = np.signbit(input._data) if input._data.dtype.kind != "b" else np.zeros(input._data.shape, bool)
    return copy_out(wrap(value), out)
registry.register(signbit, out="copy")


def isposinf(input, *, out=None):
    check_dtype_support("isposinf", input._data.dtype)
    return copy_out(wrap(np.isposinf(input._data) if _is_float(input) else np.zeros(input._data.shape, bool)), out)
registry.register(isposinf, out="copy")


def isneginf(input, *, out=None):
    check_dtype_support("isneginf", input._data.dtype)
    return copy_out(wrap(np.isneginf(input._data) if _is_float(input) else np.zeros(input._data.shape, bool)), out)
registry.register(isneginf, out="copy")


def isreal(input):
    return wrap(np.isreal(input._data) if input._data.dtype.kind == "c" else np.ones(input._data.shape, bool))
registry.register(isreal)


def _check_same_dtype_close(input, other):
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{dtype_name(input.dtype)} did not match {dtype_name(other.dtype)}")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _check_same_dtype_close(input, other)
    a, b = input._data, other._data
    if a.dtype.kind in "biu":
        a, b = a.astype(np.float64), b.astype(np.float64)
    try:
        value = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError:
        broadcast_shapes(a.shape, b.shape)
        raise
    return wrap(np.asarray(value))
registry.register(isclose)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())
registry.register(allclose)


def equal(input, other):
    if input._data.shape != other._data.shape:
        return False
    return bool(np.array_equal(input._data, other._data))
registry.register(equal)


__all__ = ["atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "fmod", "fmax", "fmin", "maximum", "minimum",
           "xlogy", "copysign", "ldexp", "nextafter", "heaviside", "gcd", "lcm", "bitwise_left_shift",
           "bitwise_right_shift", "erfinv", "lgamma", "digamma", "polygamma", "mvlgamma", "i0", "sinc", "logit",
           "nan_to_num", "deg2rad", "rad2deg", "positive", "signbit", "isposinf", "isneginf", "isreal", "isclose",
           "allclose", "equal"]
