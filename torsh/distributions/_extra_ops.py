"""Ops the distributions need that torsh's op registry does not have yet (candidates to move there):

- ``solve_triangular(A, B, upper)``: triangular solve with autograd (torch.linalg.solve_triangular)
- ``standard_gamma(alpha)``: Gamma(alpha, 1) samples with the implicit reparameterisation gradient
  (torch._standard_gamma / _standard_gamma_grad)
- ``standard_gamma_grad(alpha, x)``: that gradient dx/dalpha on arrays
- ``gammainc(a, x)``: regularised lower incomplete gamma (torch.special.gammainc), gradient w.r.t. x
- ``poisson(rates)``, ``binomial(count, probs)``: torch.poisson / torch.binomial, from ``torsh/_ops/tensor/random.py``

Samplers draw from torsh's default generator, so ``torsh.manual_seed`` makes them repeat.
"""
import numpy as np
from scipy import special as sp_special

import torsh
from torsh import _random
from torsh._ops.tensor import random as _samplers
from torsh._ops.tensor.random import poisson  # noqa: F401  (torch.poisson; Poisson and NegativeBinomial sample with it)
from torsh.autograd import Function


def _wrap_like(array, like):
    return torsh.from_numpy(np.ascontiguousarray(array, dtype=like._data.dtype))


def _sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to ``shape`` (leading and size-1 dimensions)."""
    shape = tuple(shape)
    lead = grad.dim() - len(shape)
    if lead:
        grad = grad.sum(tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(dims, keepdim=True) if dims else grad


class _SolveTriangular(Function):
    """X = A^-1 B for a triangular A (batched, broadcasting); only A's triangle receives gradient."""

    @staticmethod
    def forward(ctx, A, B, upper):
        batch = np.broadcast_shapes(A._data.shape[:-2], B._data.shape[:-2])
        a = np.broadcast_to(A._data, batch + A._data.shape[-2:])
        b = np.broadcast_to(B._data, batch + B._data.shape[-2:])
        mask = np.triu(np.ones(a.shape[-2:], dtype=bool)) if upper else np.tril(np.ones(a.shape[-2:], dtype=bool))
        X = _wrap_like(np.linalg.solve(np.where(mask, a, 0), b), A)  # only the triangle is read, as LAPACK's trtrs
        ctx.upper = upper
        ctx.save_for_backward(A, X)
        ctx.shapes = (A.shape, B.shape)
        return X

    @staticmethod
    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        grad_B = _SolveTriangular.apply(A.mT, grad, not ctx.upper)
        grad_A = -(grad_B @ X.mT)
        grad_A = grad_A.triu() if ctx.upper else grad_A.tril()
        return _sum_to_shape(grad_A, a_shape), _sum_to_shape(grad_B, b_shape), None


def solve_triangular(A, B, *, upper, left=True):
    """torch.linalg.solve_triangular for ``left=True`` (the only form the distributions use)."""
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper).mT
    return _SolveTriangular.apply(A, B, upper)


def cholesky_inverse(L):
    """(L L^T)^-1 from a lower Cholesky factor, differentiable."""
    eye = torsh.eye(L.shape[-1], dtype=L.dtype)
    L_inv = solve_triangular(L, eye, upper=False)
    return L_inv.mT @ L_inv


# -- Gamma sampling with the implicit reparameterisation gradient ---------------------------------
def standard_gamma_grad(alpha, x):
    """dx/dalpha for x ~ Gamma(alpha, 1), from the CDF held fixed: -(dF/dalpha) / (dF/dx).

    dF/dalpha is a central difference of scipy's regularised incomplete gamma (accurate to ~1e-9
    relative); dF/dx is the Gamma density.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    h = 1e-5 * np.maximum(alpha, 1e-3)
    dF_dalpha = (sp_special.gammainc(alpha + h, x) - sp_special.gammainc(alpha - h, x)) / (2 * h)
    log_density = (alpha - 1) * np.log(x) - x - sp_special.gammaln(alpha)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grad = -dF_dalpha * np.exp(-log_density)
    return np.where(np.isfinite(grad), grad, 0.0)


class _StandardGamma(Function):
    @staticmethod
    def forward(ctx, alpha):
        draws = _random.rng().standard_gamma(alpha._data.astype(np.float64))
        tiny = np.finfo(alpha._data.dtype).tiny  # PyTorch clamps samples away from 0
        x = _wrap_like(np.maximum(draws, tiny), alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        alpha, x = ctx.saved_tensors
        return grad * _wrap_like(standard_gamma_grad(alpha._data, x._data), alpha)


def standard_gamma(alpha):
    """Gamma(alpha, 1) samples of ``alpha``'s shape, reparameterised (torch._standard_gamma)."""
    return _StandardGamma.apply(alpha)


class _GammaInc(Function):
    @staticmethod
    def forward(ctx, a, x):
        ctx.save_for_backward(a, x)
        return _wrap_like(sp_special.gammainc(a._data, x._data), x)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'igamma: input' is not implemented.")
        # dP(a, x)/dx is the Gamma(a, 1) density
        density = torsh.exp((a - 1) * torsh.log(x) - x - torsh.lgamma(a))
        return None, _sum_to_shape(grad * density, x.shape)


def gammainc(a, x):
    a, x = torsh.broadcast_tensors(a, x)
    return _GammaInc.apply(a, x)


# -- discrete samplers: torch.poisson / torch.binomial (torsh/_ops/tensor/random.py) -------------------------------------
def binomial(count, probs):
    """Binomial(count, probs) counts in the probabilities' dtype (a distribution's total_count may be any dtype)."""
    return _samplers.binomial(count.detach().to(probs.dtype), probs.detach())
