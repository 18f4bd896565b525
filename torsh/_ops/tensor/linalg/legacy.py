"""PyTorch's top-level linear algebra and their Tensor methods: torch.lu, lu_unpack, lu_solve, qr, svd, cholesky,
cholesky_inverse, cholesky_solve, triangular_solve, matrix_exp, geqrf, orgqr, ormqr, nuclear_norm, frobenius_norm,
dist, renorm (+ renorm_), and the removed Tensor.lstsq / solve / eig / symeig (PyTorch's removal errors).

Thin compositions over torch.linalg's ops (``core``, ``factorizations``) with PyTorch's older signatures and
return types (torch.svd returns V, not V^H; triangular_solve takes (b, A)); autograd, double backward included,
comes from the composed ops. Errors are PyTorch's, naming these ops.
"""
import collections

import math

import numpy as np
import scipy.linalg.lapack as lapack

from .... import return_types
from ...._autocast import float32_policy
from ...._tensor import Tensor, wrap
from ....autograd.graph import Node, needs_grad, record
from ... import registry
from ..._helpers import dtype_name, normalize_dim, require_tensor_operands
from ..creation import zeros
from .factorizations import (_matrices, _permutation_from_pivots, _unit_lower, householder_product, lu_factor_ex,
                             lu_solve as linalg_lu_solve, matrix_exp, solve_triangular)
from .core import _check_matrix, cholesky_named, inv, matrix_norm, qr as linalg_qr, solve
from .core import svd as linalg_svd, svdvals, vector_norm
from ...registry import copy_out
from ..elementwise.arithmetic import where

_LuWithInfo = collections.namedtuple("_lu_with_info", ["LU", "pivots", "info"])


def _into(result, out):
    """Honour ``out=``: a tensor, or a tuple of tensors for ops returning several."""
    if out is None:
        return result
    if isinstance(result, tuple):
        return type(result)(*(copy_out(r, o) for r, o in zip(result, out))) if hasattr(result, "_fields") else \
            tuple(copy_out(r, o) for r, o in zip(result, out))
    return copy_out(result, out)


def _require_float(kernel, *tensors):
    """PyTorch's error for the LAPACK kernels that have no integer version ("cholesky_cpu" not implemented ...)."""
    for t in tensors:
        if not (t.dtype.is_floating_point or t.dtype.is_complex):
            raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(t.dtype)}\'')


# -- LU ---------------------------------------------------------------------------------------------
def lu(A, pivot=True, get_infos=False, out=None):
    """torch.lu: (LU, pivots), with LAPACK's info tensor when ``get_infos`` (singular input is no error)."""
    if A._data.ndim < 2:
        raise RuntimeError(f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A._data.shape)} instead")
    _require_float("lu_cpu", A)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return _into(_LuWithInfo(LU, pivots, info) if get_infos else (LU, pivots), out)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """(P, L, U) with A = P L U from lu_factor's output; L and U differentiable in LU_data."""
    if LU_data._data.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data._data.shape)} instead")
    if LU_pivots.dtype.np != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
                           "Note: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    m, n = LU_data._data.shape[-2:]
    k = min(m, n)
    empty = wrap(np.zeros(0, LU_data._data.dtype))
    P = empty
    if unpack_pivots:
        perms = [_permutation_from_pivots(p, m) for p in LU_pivots._data.reshape(math.prod(LU_data._data.shape[:-2]), k)]
        P = wrap(np.reshape(perms, LU_data._data.shape[:-2] + (m, m)).astype(LU_data._data.dtype) if perms else
                 np.zeros(LU_data._data.shape[:-2] + (m, m), LU_data._data.dtype))
    L, U = empty, empty
    if unpack_data:
        L, U = _unit_lower(LU_data), LU_data[..., :k, :].triu()
    return _into(return_types.lu_unpack(P, L, U), out)


@float32_policy
def lu_solve(b, LU_data, LU_pivots, *, out=None):
    """torch.lu_solve(b, LU, pivots): linalg.lu_solve with the older argument order."""
    return _into(linalg_lu_solve(LU_data, LU_pivots, b), out)


# -- QR, SVD ----------------------------------------------------------------------------------------
@float32_policy
def qr(input, some=True, *, out=None):
    Q, R = linalg_qr(input, "reduced" if some else "complete")
    return _into(return_types.qr(Q, R), out)


@float32_policy
def svd(input, some=True, compute_uv=True, *, out=None):
    """U, S, V with input = U diag(S) V^H (V itself, not linalg.svd's V^H); without ``compute_uv``, U and V are
    zero-filled (m, m) and (n, n) matrices, as PyTorch's."""
    if input._data.ndim < 2:
        raise RuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has {input._data.ndim} "
                           "dimensions instead")
    if not compute_uv:
        S = svdvals(input)
        batch, (m, n) = input._data.shape[:-2], input._data.shape[-2:]
        return _into(return_types.svd(zeros(*batch, m, m, dtype=input.dtype), S, zeros(*batch, n, n, dtype=input.dtype)), out)
    U, S, Vh = linalg_svd(input, full_matrices=not some)
    return _into(return_types.svd(U, S, Vh.mH), out)


# -- Cholesky ---------------------------------------------------------------------------------------
@float32_policy
def cholesky(input, upper=False, *, out=None):
    _require_float("cholesky_cpu", input)
    return _into(cholesky_named("cholesky", input, upper), out)


@float32_policy
def cholesky_inverse(L, upper=False, *, out=None):
    """(L L^H)^-1, or (U^H U)^-1 when ``upper``, from a Cholesky factor."""
    _require_float("cholesky_inverse_out_cpu", L)
    _check_matrix("cholesky_inverse", L)
    F = _triangle_valued(L, upper)
    Finv = inv(F)  # a general inverse: its gradient covers all of L, as PyTorch's formula
    return _into(Finv @ Finv.mH if upper else Finv.mH @ Finv, out)


def _triangle_valued(L, upper):
    """L's triangle as the value, all of L as what the gradient reaches: PyTorch's cholesky_inverse and
    cholesky_solve read one triangle forward (LAPACK) but differentiate with the factor taken whole."""
    triangle = L.detach().triu() if upper else L.detach().tril()
    return triangle + (L - L.detach())


def _check_solve_operands(op, b, A, b_name="b"):
    """PyTorch's checks of (b, A) for cholesky_solve / triangular_solve (linearSolveCheckInputs)."""
    if b.dtype != A.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {dtype_name(b.dtype)} "
                           f"and A of type {dtype_name(A.dtype)} instead.")
    m, n = A._data.shape[-2:]
    if m != n:
        raise RuntimeError(f"A must be batches of square matrices, but they are {m} by {n} matrices")
    if b._data.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {m} by {n} but each b matrix is "
                           f"{b._data.shape[-2]} by {b._data.shape[-1]}")


@float32_policy
def cholesky_solve(input, input2, upper=False, *, out=None):
    """X with A X = B, A = L L^H (or U^H U when ``upper``) given its Cholesky factor ``input2``."""
    B, L = input, input2
    for t, name in ((B, "b"), (L, "u")):
        if t._data.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has {t._data.ndim} dimensions instead")
    _check_solve_operands("cholesky_solve", B, L)  # PyTorch checks the dtypes match before its kernel's dtype
    _require_float("cholesky_solve_cpu", B, L)
    F = _triangle_valued(L, upper)
    X = solve(F, solve(F.mH, B)) if upper else solve(F.mH, solve(F, B))  # A = F^H F or F F^H
    return _into(X, out)


@float32_policy
def triangular_solve(input, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """(X, A's copy) with A X = b, or A^T X = b when ``transpose``; batch dims broadcast."""
    b = input
    for t, name in ((b, "b"), (A, "A")):
        if t._data.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 dimensions, but it has "
                               f"{t._data.ndim} dimensions instead")
    _check_solve_operands("triangular_solve", b, A)
    _require_float("triangular_solve_cpu", b, A)
    batch = np.broadcast_shapes(b._data.shape[:-2], A._data.shape[:-2])
    coefficient = A.expand(*batch, *A._data.shape[-2:])
    matrix, lower_stored = (coefficient.mT, upper) if transpose else (coefficient, not upper)
    X = solve_triangular(matrix, b, upper=not lower_stored, unitriangular=unitriangular)
    return _into(return_types.triangular_solve(X, coefficient.clone()), out)


# -- Householder: geqrf, orgqr, ormqr ----------------------------------------------------------------
class GeqrfBackward0(Node):
    def backward(self, *grads):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


@float32_policy
def geqrf(input, *, out=None):
    """LAPACK's QR in Householder form: R above the diagonal, the reflectors below, and their scales tau."""
    if input._data.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _require_float("geqrf_cpu", input)
    m, n = input._data.shape[-2:]
    batch = input._data.shape[:-2]
    factors, taus = [], []
    for mat in _matrices(input._data) if input._data.size else ():  # LAPACK refuses empty matrices
        geqrf_fn, = lapack.get_lapack_funcs(("geqrf",), (mat,))
        qr_arr, tau, _, _ = geqrf_fn(mat)
        factors.append(qr_arr)
        taus.append(tau)
    a = wrap(np.reshape(factors, input._data.shape).astype(input._data.dtype) if factors else
             np.zeros(input._data.shape, input._data.dtype))
    tau = wrap(np.reshape(taus, batch + (min(m, n),)).astype(input._data.dtype) if taus else
               np.zeros(batch + (min(m, n),), input._data.dtype))
    if needs_grad(input):
        record(GeqrfBackward0(), (input,), (a, tau))
    return _into(return_types.geqrf(a, tau), out)


@float32_policy
def orgqr(input, input2):
    """torch.orgqr: linalg.householder_product (which raises PyTorch's dtype errors, orgqr_cpu's included)."""
    return householder_product(input, input2)


def _check_ormqr(input, tau, other, left):
    for t, name in ((input, "input"), (other, "other")):
        if t._data.ndim < 2:
            raise RuntimeError(f"torch.ormqr: {name} must have at least 2 dimensions.")
    if tau._data.ndim != input._data.ndim - 1:
        raise RuntimeError(f"torch.ormqr: Expected tau to have one dimension less than input, but got tau.ndim "
                           f"equal to {tau._data.ndim} and input.ndim is equal to {input._data.ndim}")
    m = input._data.shape[-2]
    side = other._data.shape[-2] if left else other._data.shape[-1]
    if side != m:
        which = "other.shape[-2]" if left else "other.shape[-1]"
        raise RuntimeError(f"torch.ormqr: {which} must be equal to input.shape[-2]")
    if tau._data.shape[-1] > min(side, input._data.shape[-1]):
        raise RuntimeError("torch.ormqr: tau.shape[-1] must be equal to min(other.shape[-2], input.shape[-1])")
    for t, name in ((tau, "tau"), (other, "other")):
        if t._data.shape[:-1 if t is tau else -2] != input._data.shape[:-2]:
            shape = list(t._data.shape[:-1 if t is tau else -2])
            raise RuntimeError(f"torch.ormqr: Expected batch dimensions of {name} to be equal to input.shape[:-2], "
                               f"but got {shape}")
    for t, name in ((tau, "tau"), (other, "other")):
        if t.dtype != input.dtype:
            raise RuntimeError(f"torch.ormqr: Expected input and {name} to have the same dtype, but input has dtype"
                               f"{dtype_name(input.dtype)} and {name} has dtype {dtype_name(t.dtype)}")


@float32_policy
def ormqr(input, input2, input3, left=True, transpose=False, *, out=None):
    """Q @ C (or Q^H, or from the right) with Q = H_1 ... H_k the Householder product geqrf describes, applied one
    reflector H_i = I - tau_i v_i v_i^H at a time (Q is never formed)."""
    tau, C = input2, input3
    _check_ormqr(input, tau, C, left)
    _require_float("ormqr_cpu", input, tau, C)
    k = tau._data.shape[-1]
    V = _unit_lower(input[..., :, :k]) if k else None
    # Q C = H_1 (... (H_k C)); Q^H C = H_k^H (... (H_1^H C)); C Q = ((C H_1) ...) H_k; C Q^H = ((C H_k^H) ...) H_1^H
    order = range(k) if left == transpose else reversed(range(k))
    for i in order:
        v = V[..., :, i:i + 1]
        t = tau[..., i:i + 1].unsqueeze(-1)
        if transpose:
            t = t.conj()
        C = C - t * (v @ (v.mH @ C)) if left else C - ((C @ v) @ v.mH) * t
    return _into(C, out)


# -- norms, distance, renorm ----------------------------------------------------------------------
def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """Sum of singular values over ``dim`` (two dims; the last two by default). ``nuclear_norm(A, True)`` is keepdim."""
    if isinstance(dim, bool):  # the (input, keepdim) overload
        dim, keepdim = None, dim
    return _into(matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim), out)


def _norm_dtype_check(input):
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{dtype_name(input.dtype)} instead.")


def frobenius_norm(input, dim, keepdim=False, *, out=None):
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    _norm_dtype_check(input)
    return _into(vector_norm(input, 2, dims if dims else None, keepdim), out)


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    require_tensor_operands("dist", input, other)
    difference = input - other
    _norm_dtype_check(difference)
    return vector_norm(difference, p)


def renorm(input, p, dim, maxnorm, *, out=None):
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm`` (as PyTorch: by
    maxnorm / (norm + 1e-7))."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    ndim = input._data.ndim
    if ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {ndim} dimensions")
    dim = normalize_dim(dim, ndim)
    norm = vector_norm(input, p, tuple(d for d in range(ndim) if d != dim), keepdim=True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return _into(input * factor.to(norm.dtype), out)


# -- removed in PyTorch 1.9: the Tensor methods raise PyTorch's removal messages --------------------------------
_REMOVED = {
    "lstsq": "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
             "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in the returned "
             "tuple (although it returns other information about the problem).\n\n"
             "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
             "The returned solution in `torch.lstsq` stored the residuals of the solution in the last m - n columns "
             "of the returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
             "'residuals' of the returned named tuple.\n\n"
             "The unpacking of the solution, as in\n"
             "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
             "should be replaced with:\n"
             "X = torch.linalg.lstsq(A, B).solution",
    "solve": "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its arguments "
             "reversed and does not return the LU factorization.\n\n"
             "To get the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
             "`torch.lu_unpack`.\n"
             "X = torch.solve(B, A).solution should be replaced with:\n"
             "X = torch.linalg.solve(A, B)",
    "eig": "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
           "mimicking complex tensors.\n\n"
           "L, _ = torch.eig(A) should be replaced with:\n"
           "L_complex = torch.linalg.eigvals(A)\n\n"
           "and\n\n"
           "L, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
           "L_complex, V_complex = torch.linalg.eig(A)",
    "symeig": "The default behavior has changed from using the upper triangular portion of the matrix by default to "
              "using the lower triangular portion.\n\n"
              "L, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
              "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\n"
              "and\n\n"
              "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
              "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')",
}


def _removed(name):
    def method(self, *args, **kwargs):
        raise RuntimeError("This function was deprecated since version 1.9 and is now removed. " + _REMOVED[name])
    method.__name__ = method.__qualname__ = name
    return method


for _name in _REMOVED:
    setattr(Tensor, _name, _removed(_name))

for _fn in (lu, lu_unpack, lu_solve, qr, svd, cholesky, cholesky_inverse, cholesky_solve, triangular_solve, geqrf,
            orgqr, ormqr, nuclear_norm, frobenius_norm, dist):
    registry.register(_fn, method=_fn not in (lu_unpack, nuclear_norm, frobenius_norm))
registry.register(matrix_exp)
registry.register(renorm, inplace=True)
