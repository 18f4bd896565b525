"""torch.special's Bessel functions, orthogonal polynomials, Hurwitz zeta and regularised incomplete gamma.

Forward on scipy.special (float64 inside, result in the promoted dtype). As in PyTorch, the Bessel functions and
the polynomials record no graph (their results never require grad); zeta and gammainc/gammaincc are
differentiable in their second argument only and raise PyTorch's "not implemented" error for the first.
"""

import numpy as np
import scipy.special as sps

from ... import _dtype, return_types
from ..._tensor import wrap
from ...autograd.graph import Node, needs_grad, record
from .. import registry
from .._helpers import broadcast_shapes, dtype_name, is_tensor, require_tensor_operands
from ..registry import copy_out
from .elementwise.math_functions import _make_binary


def _no_kernel(name, np_dtype):
    return NotImplementedError(f'"{name}_cpu" not implemented for \'{dtype_name(np_dtype)}\'')


def _float_result_dtype(name, *operands):
    """The promoted dtype (integers and bools give the default float); only float32/float64 have kernels."""
    rt = _dtype.result_type_of(*operands) if len(operands) > 1 else operands[0].dtype
    if not (rt.is_floating_point or rt.is_complex):
        rt = _dtype.get_default_dtype()
    if rt.np not in (np.float32, np.float64):
        raise _no_kernel(name, rt.np)
    return rt


def _as_array(x, rt):
    return x._data.astype(rt.np, copy=False) if is_tensor(x) else np.asarray(x, dtype=rt.np)


# -- Bessel and Airy functions: unary, no derivative ---------------------------------------------
def _spherical_j0(x):
    with np.errstate(all="ignore"):
        return np.where(np.abs(x) < 0.5, sps.spherical_jn(0, x), np.sin(x) / np.where(x == 0, 1, x))


_BESSEL = {
    "airy_ai": lambda x: sps.airy(x)[0],
    "bessel_j0": sps.j0, "bessel_j1": sps.j1, "bessel_y0": sps.y0, "bessel_y1": sps.y1,
    "modified_bessel_i0": sps.i0, "modified_bessel_i1": sps.i1,
    "modified_bessel_k0": sps.k0, "modified_bessel_k1": sps.k1,
    "scaled_modified_bessel_k0": sps.k0e, "scaled_modified_bessel_k1": sps.k1e,
    "spherical_bessel_j0": _spherical_j0,
}


def _bessel_op(name, fn):
    def op(input, *, out=None):
        rt = _float_result_dtype(name, input)
        with np.errstate(all="ignore"):
            value = fn(input._data.astype(np.float64))
        return copy_out(wrap(np.asarray(value, dtype=rt.np)), out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.special.{name}: elementwise; not differentiable (as in PyTorch)."
    return op


# -- orthogonal polynomials p_n(x): three-term recurrences, vectorised over elements -----------------
def _degrees(n, shape):
    """n as int64 degrees (truncated as PyTorch's cast; NaN/inf give a negative degree, i.e. a zero result)."""
    n = np.broadcast_to(np.asarray(n, dtype=np.float64), shape)
    finite = np.isfinite(n)
    return np.where(finite, np.trunc(np.where(finite, n, -1)), -1).astype(np.int64)


def _recurrence(x, n, p0, p1, step):
    """p_n(x) from p_0, p_1 and ``step(k, x, p_{k-1}, p_k) -> p_{k+1}``; 0 where n < 0."""
    result = np.where(n == 0, p0, p1).astype(np.float64)
    prev, cur = p0 * np.ones_like(x), p1 * np.ones_like(x)
    for k in range(1, int(n.max(initial=0))):
        prev, cur = cur, step(k, x, prev, cur)
        result = np.where(n == k + 1, cur, result)
    return np.where(n < 0, 0.0, result)


def _chebyshev_t(x, n):
    return _recurrence(x, n, 1.0, x, lambda k, x, p, q: 2 * x * q - p)


def _chebyshev_u(x, n):
    return _recurrence(x, n, 1.0, 2 * x, lambda k, x, p, q: 2 * x * q - p)


def _chebyshev_v(x, n):
    return _recurrence(x, n, 1.0, 2 * x - 1, lambda k, x, p, q: 2 * x * q - p)


def _chebyshev_w(x, n):
    return _recurrence(x, n, 1.0, 2 * x + 1, lambda k, x, p, q: 2 * x * q - p)


_POLYNOMIALS = {
    "chebyshev_polynomial_t": _chebyshev_t,
    "chebyshev_polynomial_u": _chebyshev_u,
    "chebyshev_polynomial_v": _chebyshev_v,
    "chebyshev_polynomial_w": _chebyshev_w,
    "shifted_chebyshev_polynomial_t": lambda x, n: _chebyshev_t(2 * x - 1, n),
    "shifted_chebyshev_polynomial_u": lambda x, n: _chebyshev_u(2 * x - 1, n),
    "shifted_chebyshev_polynomial_v": lambda x, n: _chebyshev_v(2 * x - 1, n),
    "shifted_chebyshev_polynomial_w": lambda x, n: _chebyshev_w(2 * x - 1, n),
    "hermite_polynomial_h": lambda x, n: _recurrence(x, n, 1.0, 2 * x, lambda k, x, p, q: 2 * x * q - 2 * k * p),
    "hermite_polynomial_he": lambda x, n: _recurrence(x, n, 1.0, x, lambda k, x, p, q: x * q - k * p),
    "laguerre_polynomial_l": lambda x, n: _recurrence(
        x, n, 1.0, 1 - x, lambda k, x, p, q: ((2 * k + 1 - x) * q - k * p) / (k + 1)),
    "legendre_polynomial_p": lambda x, n: _recurrence(
        x, n, 1.0, x, lambda k, x, p, q: ((2 * k + 1) * x * q - k * p) / (k + 1)),
}


def _polynomial_op(name, fn):
    def op(input, n, *, out=None):
        if not is_tensor(input) and not is_tensor(n):
            raise TypeError(f"special_{name}() received an invalid combination of arguments - got "
                            f"({type(input).__name__}, {type(n).__name__}), but expected one of:\n"
                            " * (Tensor x, Tensor n, *, Tensor out = None)\n"
                            " * (Number x, Tensor n, *, Tensor out = None)\n"
                            " * (Tensor x, Number n, *, Tensor out = None)\n")
        rt = _float_result_dtype(name, input, n)
        x, degrees = _as_array(input, _dtype.float64), _as_array(n, _dtype.float64)
        shape = broadcast_shapes(np.shape(x), np.shape(degrees))
        x = np.broadcast_to(x, shape)
        with np.errstate(all="ignore"):
            value = fn(x, _degrees(degrees, shape))
        return copy_out(wrap(np.asarray(value, dtype=rt.np).reshape(shape)), out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.special.{name}(input, n): elementwise, broadcasting; not differentiable (as in PyTorch)."
    return op


# -- zeta and the regularised incomplete gamma functions: differentiable in the second argument -----
def _not_implemented(what):
    raise NotImplementedError(f"the derivative for '{what}' is not implemented.")


def _zeta_grads(g, x, q, y, wx, wq):
    if wx:
        _not_implemented("zeta")
    return None, (g * -x * zeta(x + 1.0, q) if wq else None)


def _gamma_density(a, x):
    """d/dx P(a, x): the Gamma(a, 1) density."""
    return ((a - 1) * x.log() - x - a.lgamma()).exp()


def _gammainc_grads(g, a, x, y, wa, wx):
    if wa:
        _not_implemented("igamma: input")
    return None, (g * _gamma_density(a, x) if wx else None)


def _gammaincc_grads(g, a, x, y, wa, wx):
    if wa:
        _not_implemented("igammac: input")
    return None, (-g * _gamma_density(a, x) if wx else None)


_zeta = _make_binary("zeta", sps.zeta, _zeta_grads, "SpecialZetaBackward0",
                     scalar_nodes=("SpecialZetaBackward1", "SpecialZetaBackward2"))
_igamma = _make_binary("igamma", sps.gammainc, _gammainc_grads, "IgammaBackward0", to_float=False)
_igammac = _make_binary("igammac", sps.gammaincc, _gammaincc_grads, "IgammacBackward0", to_float=False)


def zeta(input, other, *, out=None):
    """Hurwitz zeta(x, q) = sum_k (k + q) ** -x."""
    if is_tensor(input) or is_tensor(other):
        _float_result_dtype("zeta", input, other)  # float32/float64 kernels only
        _check_broadcast(input, other)
    return _zeta(input, other, out=out)
registry.register(zeta, namespace="torsh.special", method=False)


def _check_broadcast(a, b):
    broadcast_shapes(np.shape(a._data) if is_tensor(a) else (), np.shape(b._data) if is_tensor(b) else ())


def _incomplete_gamma(op, kernel, input, other, out):
    require_tensor_operands(op, input, other)
    _check_broadcast(input, other)
    rt = _dtype.result_type_of(input, other)
    if not rt.is_floating_point:
        raise _no_kernel(kernel, rt.np)
    return (_igamma if kernel == "igamma" else _igammac)(input, other, out=out)


def gammainc(input, other, *, out=None):
    """The regularised lower incomplete gamma function P(a, x)."""
    return _incomplete_gamma("special_gammainc", "igamma", input, other, out)
registry.register(gammainc, namespace="torsh.special", method=False)


def gammaincc(input, other, *, out=None):
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return _incomplete_gamma("special_gammaincc", "igammac", input, other, out)
registry.register(gammaincc, namespace="torsh.special", method=False)


def igamma(input, other, *, out=None):
    """torch.igamma: special.gammainc under its ATen name (also Tensor.igamma, igamma_)."""
    return _incomplete_gamma("igamma", "igamma", input, other, out)


def igammac(input, other, *, out=None):
    """torch.igammac: special.gammaincc under its ATen name (also Tensor.igammac, igammac_)."""
    return _incomplete_gamma("igammac", "igammac", input, other, out)


# -- frexp ------------------------------------------------------------------------------------------------


class FrexpBackward0(Node):
    def backward(self, grad_mantissa):  # the exponent (integers) has no gradient
        (exponent,) = self.saved_tensors
        return (grad_mantissa / exponent.to(grad_mantissa.dtype).exp2(),)


def frexp(input, *, out=None):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1); exponent int32."""
    if not input.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    wide = np.float64 if input._data.dtype == np.float64 else np.float32  # half types: exact in float32
    mantissa, exponent = np.frexp(input._data.astype(wide))
    m = wrap(np.asarray(mantissa, dtype=input._data.dtype))
    e = wrap(np.asarray(exponent, dtype=np.int32))
    if needs_grad(input):
        node = FrexpBackward0()
        record(node, (input,), (m,))
        node.save_for_backward(e)
    if out is not None:
        return return_types.frexp(copy_out(m, out[0]), copy_out(e, out[1]))
    return return_types.frexp(m, e)


registry.register(igamma, inplace=True)
registry.register(igammac, inplace=True)
registry.register(frexp)

for _name, _fn in _BESSEL.items():
    globals()[_name] = registry.register(_bessel_op(_name, _fn), namespace="torsh.special", method=False)
for _name, _fn in _POLYNOMIALS.items():
    globals()[_name] = registry.register(_polynomial_op(_name, _fn), namespace="torsh.special", method=False)

__all__ = list(_BESSEL) + list(_POLYNOMIALS) + ["zeta", "gammainc", "gammaincc"]
