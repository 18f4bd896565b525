"""torch.linalg's LU / LDL factorizations, triangular solves, matrix exponential, the ``*_ex`` variants (an info
tensor instead of an error), tensorinv/tensorsolve, vander and diagonal.

Forward on LAPACK through scipy (one matrix at a time over the batch); backward formulas are PyTorch's
(FunctionsManual.cpp), written in torsh ops.
"""
import collections
import math

import numpy as np
import scipy.linalg
import scipy.linalg.lapack as lapack

from ...._autocast import float32_policy
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import dtype_name, with_grad_fn
from .... import _dtype
from .core import LinAlgError, _check_matrix, _linalg_op, _w, check_same_dtype_solve, cholesky, inv, solve

_InvEx = collections.namedtuple("linalg_inv_ex", ["inverse", "info"])
_CholeskyEx = collections.namedtuple("linalg_cholesky_ex", ["L", "info"])
_SolveEx = collections.namedtuple("linalg_solve_ex", ["result", "info"])
_LuFactor = collections.namedtuple("linalg_lu_factor", ["LU", "pivots"])
_LuFactorEx = collections.namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_Lu = collections.namedtuple("linalg_lu", ["P", "L", "U"])
_LdlFactor = collections.namedtuple("linalg_ldl_factor", ["LD", "pivots"])
_LdlFactorEx = collections.namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def _matrices(a):
    return a.reshape(math.prod(a.shape[:-2]), *a.shape[-2:])  # not -1: ambiguous for empty matrices


def _info_tensor(infos, batch):
    if not infos:  # empty matrices: nothing factored, every info 0
        return wrap(np.zeros(batch, dtype=np.int32))
    return wrap(np.asarray(infos, dtype=np.int32).reshape(batch))


def _mH(t):
    return t.mT.conj() if t.dtype.is_complex else t.mT


# -- the *_ex variants: an info tensor (LAPACK's) instead of an error --------------------------------
def _getrf(mat):
    getrf, = lapack.get_lapack_funcs(("getrf",), (mat,))
    return getrf(mat)


@float32_policy
def inv_ex(A, *, check_errors=False, out=None):
    _check_matrix("linalg.inv", A)  # PyTorch's inv_ex words its checks as inv
    infos = [_getrf(m)[2] for m in _matrices(A._data)] if A._data.size else []
    if check_errors or not any(infos):
        return _InvEx(inv(A), _info_tensor(infos, A._data.shape[:-2]))
    with np.errstate(all="ignore"):  # singular: LAPACK's inf/nan values, no error
        values = [scipy.linalg.lu_solve((lu, piv), np.eye(len(lu), dtype=lu.dtype), check_finite=False)
                  for lu, piv, _ in (_getrf(m) for m in _matrices(A._data))]
    return _InvEx(_w(np.reshape(values, A._data.shape), A), _info_tensor(infos, A._data.shape[:-2]))
_linalg_op(inv_ex)


def _potrf_info(mat):
    potrf, = lapack.get_lapack_funcs(("potrf",), (mat,))
    return potrf(mat, lower=True)[1]


@float32_policy
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    _check_matrix("linalg.cholesky_ex", A)
    infos = [_potrf_info(m) for m in _matrices(A._data)] if A._data.size else []
    batch = A._data.shape[:-2]
    if check_errors or not any(infos):
        return _CholeskyEx(cholesky(A, upper=upper), _info_tensor(infos, batch))
    factors = []
    for m in _matrices(A._data):  # LAPACK's partial factor, as PyTorch returns it
        potrf, = lapack.get_lapack_funcs(("potrf",), (m,))
        c = np.tril(potrf(m, lower=True)[0])
        factors.append(c.conj().T if upper else c)
    return _CholeskyEx(_w(np.reshape(factors, A._data.shape), A), _info_tensor(infos, batch))
_linalg_op(cholesky_ex)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    _check_matrix("linalg.solve_ex", A)
    check_same_dtype_solve(A, B)
    infos = [_getrf(m)[2] for m in _matrices(A._data)] if A._data.size else []
    batch = A._data.shape[:-2]
    if check_errors or not any(infos):
        return _SolveEx(solve(A, B, left=left), _info_tensor(infos, batch))
    with np.errstate(all="ignore"):
        result = inv_ex(A).inverse @ B if left else B @ inv_ex(A).inverse
    return _SolveEx(result.detach(), _info_tensor(infos, batch))
_linalg_op(solve_ex)


# -- triangular solve ---------------------------------------------------------------------------------
class LinalgSolveTriangularBackward0(Node):
    def backward(self, grad):
        A, X = self.saved_tensors
        wants_a, wants_b = (self.next_functions[k][0] is not None for k in (0, 1))
        gB = solve_triangular(_mH(A), grad, upper=not self.upper, unitriangular=self.unitriangular)
        gA = None
        if wants_a:
            gA = -(gB @ _mH(X))
            gA = gA.triu(1 if self.unitriangular else 0) if self.upper else gA.tril(-1 if self.unitriangular else 0)
        return gA, (gB if wants_b else None)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (left) or X A = B, A upper or lower triangular (the other triangle is ignored)."""
    if A._data.ndim >= 2 and not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise NotImplementedError(f'"triangular_solve_cpu" not implemented for \'{dtype_name(A.dtype)}\'')
    _check_matrix("linalg.solve_triangular", A)
    if B._data.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    common = _dtype.result_type_of(A, B)  # PyTorch solves in the operands' promoted dtype
    A, B = A.to(common), B.to(common)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    batch = np.broadcast_shapes(A._data.shape[:-2], B._data.shape[:-2])
    if batch != A._data.shape[:-2] or batch != B._data.shape[:-2]:
        A, B = A.expand(*batch, *A._data.shape[-2:]), B.expand(*batch, *B._data.shape[-2:])
    a, b = _matrices(A._data), _matrices(B._data)
    with np.errstate(all="ignore"):
        values = [scipy.linalg.solve_triangular(am, bm, lower=not upper, unit_diagonal=unitriangular,
                                                check_finite=False) for am, bm in zip(a, b)]
    X = _w(np.reshape(values, B._data.shape) if values else np.zeros(B._data.shape), B)
    return with_grad_fn(LinalgSolveTriangularBackward0, (A, B), X, (A, X), upper=upper, unitriangular=unitriangular)
_linalg_op(solve_triangular)


# -- matrix exponential -----------------------------------------------------------------------------
class LinalgMatrixExpBackward0(Node):
    def backward(self, grad):
        """exp([[A^H, G], [0, A^H]]) has the gradient in its upper-right block (PyTorch's formula)."""
        from ..creation import zeros_like
        from ..shape.views import cat
        (A,) = self.saved_tensors
        Ah = _mH(A)
        block = cat([cat([Ah, grad], -1), cat([zeros_like(Ah), Ah], -1)], -2)
        n = A._data.shape[-1]
        return (matrix_exp(block)[..., :n, n:],)


def matrix_exp(A):
    _check_matrix("linalg.matrix_exp", A)
    values = [scipy.linalg.expm(m) for m in _matrices(A._data)]
    result = _w(np.reshape(values, A._data.shape) if values else np.zeros(A._data.shape), A)
    return with_grad_fn(LinalgMatrixExpBackward0, (A,), result, (A,))
_linalg_op(matrix_exp)


# -- LU ---------------------------------------------------------------------------------------------
def _lu_backward_square(P, L, U, gL, gU):
    """PyTorch's linalg_lu_backward for square A = P L U: P L^{-H} (tril(L^H gL, -1) + triu(gU U^H)) U^{-H}."""
    phi = None
    if gL is not None:
        phi = (_mH(L) @ gL).tril(-1)
    if gU is not None:
        term = (gU @ _mH(U)).triu()
        phi = term if phi is None else phi + term
    X = solve_triangular(_mH(U), phi, upper=False, left=False)
    return P @ solve_triangular(_mH(L), X, upper=True, unitriangular=True)


def _lu_backward(P, L, U, gL, gU):
    """PyTorch's linalg_lu_backward (FunctionsManual.cpp) for A = P L U, square, wide (m < n) or tall (m > n)."""
    m, n = L._data.shape[-2], U._data.shape[-1]
    if m == n:
        return _lu_backward_square(P, L, U, gL, gU)
    from ..shape.views import cat
    k = min(m, n)
    if m < n:  # A = P L [U1 U2]
        U1 = U[..., :, :k]
        gA = _mH(L) @ gL - gU.triu() @ _mH(U)
        gA = solve_triangular(_mH(U1), gA.tril(-1), upper=False, left=False)
        gA = cat([gA + gU[..., :, :k].triu(), gU[..., :, k:]], -1)
        gA = solve_triangular(_mH(L), gA, upper=True, unitriangular=True)
        return P @ gA
    L1 = L[..., :k, :]  # A = P [L1; L2] U
    gA = gU @ _mH(U) - _mH(L) @ gL.tril(-1)
    gA = solve_triangular(_mH(L1), gA.triu(), upper=True, unitriangular=True)
    gA = cat([gA + gL[..., :k, :].tril(-1), gL[..., k:, :]], -2)
    gA = solve_triangular(_mH(U), gA, upper=False, left=False)
    return P @ gA


class LinalgLuFactorExBackward0(Node):
    def backward(self, grad, *_):
        """lu_factor_ex_backward: L's gradient is grad's first k columns, U's its first k rows."""
        LU, P = self.saved_tensors
        k = min(LU._data.shape[-2:])
        L, U = _unit_lower(LU), LU[..., :k, :].triu()
        return (_lu_backward(P, L, U, grad[..., :, :k].tril(-1), grad[..., :k, :].triu()),)


class LinalgLuBackward0(Node):
    def backward(self, gL, gU):
        P, L, U = self.saved_tensors
        return (_lu_backward(P, L, U, gL, gU),)


def _unit_lower(LU):
    from ..creation import eye
    k = min(LU._data.shape[-2:])
    return LU[..., :, :k].tril(-1) + eye(LU._data.shape[-2], k, dtype=LU.dtype)


def _permutation_from_pivots(piv, m):
    """P with A = P L U from LAPACK's 1-based row interchanges."""
    perm = np.arange(m)
    for i, p in enumerate(piv - 1):
        perm[i], perm[p] = perm[p], perm[i]
    P = np.zeros((m, m))
    P[perm, np.arange(m)] = 1
    return P


def _lu_factor_arrays(op, A):
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: Expected tensor with 2 or more dimensions. Got size: {list(A._data.shape)} instead")
    _check_matrix(op, A, square=False, kernel="lu_cpu")
    m, n = A._data.shape[-2:]
    batch = A._data.shape[:-2]
    results = [_getrf(mat) for mat in _matrices(A._data)] if A._data.size else []
    lu = np.reshape([r[0] for r in results], A._data.shape) if results else np.zeros(A._data.shape)
    piv = np.reshape([r[1][:min(m, n)] + 1 for r in results], batch + (min(m, n),)) if results else \
        np.zeros(batch + (min(m, n),))
    return lu, piv.astype(np.int32), [int(r[2]) for r in results]


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu, piv, infos = _lu_factor_arrays("torch.lu_factor", A)
    if check_errors and any(infos):
        raise LinAlgError(f"torch.linalg.lu_factor_ex: U[{infos[0]},{infos[0]}] is zero and using it on "
                          "lu_solve would result in a division by zero. If you still want to perform the "
                          "factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    LU = _w(lu, A)
    if needs_grad(A):
        m = A._data.shape[-2]
        perms = [_permutation_from_pivots(p, m) for p in piv.reshape(math.prod(piv.shape[:-1]), piv.shape[-1])]
        P = _w(np.reshape(perms, A._data.shape[:-2] + (m, m)) if perms else np.zeros(A._data.shape[:-2] + (m, m)), A)
        with_grad_fn(LinalgLuFactorExBackward0, (A,), LU, (LU, P))
    return _LuFactorEx(LU, wrap(piv), _info_tensor(infos, A._data.shape[:-2]))
_linalg_op(lu_factor_ex)


def lu_factor(A, *, pivot=True, out=None):
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    if A._data.size and int(info._data.max()) > 0:
        k = int(info._data[info._data > 0].flat[0])
        raise LinAlgError(f"torch.linalg.lu_factor: U[{k},{k}] is zero and using it on lu_solve would result in a "
                          "division by zero. If you still want to perform the factorization, consider calling "
                          "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    return _LuFactor(LU, piv)
_linalg_op(lu_factor)


def lu(A, *, pivot=True, out=None):
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    lu_arr, piv, _ = _lu_factor_arrays("linalg.lu", A)
    m, n = A._data.shape[-2:]
    k = min(m, n)
    perms = [_permutation_from_pivots(p, m) for p in piv.reshape(math.prod(A._data.shape[:-2]), k)]
    P = _w(np.reshape(perms, A._data.shape[:-2] + (m, m)) if perms else np.zeros(A._data.shape[:-2] + (m, m)), A)
    L = _w(np.tril(lu_arr[..., :, :k], -1) + np.eye(m, k), A)
    U = _w(np.triu(lu_arr[..., :k, :]), A)
    if needs_grad(A):
        node = LinalgLuBackward0()
        record(node, (A,), (L, U))  # P is piecewise constant: no edge, no grad
        node.save_for_backward(P, L, U)
    return _Lu(P, L, U)
_linalg_op(lu)


def _check_lu_solve(LU, pivots, B, left):
    if B._data.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    if LU.dtype != B.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type "
                           f"{dtype_name(LU.dtype)} and B of type {dtype_name(B.dtype)} instead")
    if pivots.dtype.np != np.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    n = LU._data.shape[-1]
    if (B._data.shape[-2] if left else B._data.shape[-1]) != n:
        equation = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation {equation} "
                           f"({n}x{n} and {B._data.shape[-2]}x{B._data.shape[-1]})")


@float32_policy
def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """Solve with a factorization of lu_factor: A = P L U (differentiable in LU and B through the solves)."""
    _check_lu_solve(LU, pivots, B, left)
    m = LU._data.shape[-1]
    perms = [_permutation_from_pivots(p, m) for p in pivots._data.reshape(math.prod(pivots._data.shape[:-1]),
                                                                            pivots._data.shape[-1])]
    P = _w(np.reshape(perms, LU._data.shape) if perms else np.zeros(LU._data.shape), LU)
    L, U = _unit_lower(LU), LU.triu()
    if left and not adjoint:  # X = U^-1 L^-1 P^T B
        y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
        return solve_triangular(U, y, upper=True)
    if left:  # A^H X = B: X = P L^-H U^-H B
        y = solve_triangular(_mH(U), B, upper=False)
        return P @ solve_triangular(_mH(L), y, upper=True, unitriangular=True)
    if not adjoint:  # X A = B: X = B U^-1 L^-1 P^T
        y = solve_triangular(U, B, upper=True, left=False)
        return solve_triangular(L, y, upper=False, left=False, unitriangular=True) @ P.mT
    y = solve_triangular(_mH(L), B @ P, upper=True, left=False, unitriangular=True)  # X A^H = B
    return solve_triangular(_mH(U), y, upper=False, left=False)
_linalg_op(lu_solve)


# -- LDL (Bunch-Kaufman, LAPACK sytrf): no derivative, as in PyTorch -----------------------------------
class LinalgLdlFactorExBackward0(Node):
    def backward(self, *grads):
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    _check_matrix("torch.linalg.ldl_factor_ex", A)
    name = "hetrf" if hermitian and A.dtype.is_complex else "sytrf"
    factors, pivots, infos = [], [], []
    for mat in _matrices(A._data):
        sytrf, = lapack.get_lapack_funcs((name,), (mat,))
        ld, piv, info = sytrf(mat, lower=True)
        factors.append(np.tril(ld))
        pivots.append(piv)
        infos.append(info)
    if check_errors and any(infos):
        raise LinAlgError(f"torch.linalg.ldl_factor_ex: The factorization could not be completed because the "
                          f"input is singular (D[{infos[0]},{infos[0]}] is zero).")
    LD = _w(np.reshape(factors, A._data.shape) if factors else np.zeros(A._data.shape), A)
    piv = wrap(np.reshape(pivots, A._data.shape[:-1]).astype(np.int32) if pivots else
               np.zeros(A._data.shape[:-1], dtype=np.int32))
    if needs_grad(A):
        record(LinalgLdlFactorExBackward0(), (A,), (LD,))
    return _LdlFactorEx(LD, piv, _info_tensor(infos, A._data.shape[:-2]))
_linalg_op(ldl_factor_ex)


def ldl_factor(A, *, hermitian=False, out=None):
    LD, piv, _ = ldl_factor_ex(A, hermitian=hermitian)
    return _LdlFactor(LD, piv)
_linalg_op(ldl_factor)


class LinalgLdlSolveBackward0(Node):
    def backward(self, *grads):
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B from ldl_factor's (LD, pivots) (LAPACK sytrs / hetrs); no derivative, as in PyTorch."""
    if B._data.ndim < 2:  # PyTorch's check reads B.size(-2) first
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {dtype_name(B.dtype)} and "
                           f"A of type {dtype_name(LD.dtype)} instead.")
    n = LD._data.shape[-1]
    if B._data.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix is {n} by {n} but "
                           f"each b matrix is {B._data.shape[-2]} by {B._data.shape[-1]}")
    batch = np.broadcast_shapes(LD._data.shape[:-2], B._data.shape[:-2])
    lds = _matrices(np.broadcast_to(LD._data, batch + LD._data.shape[-2:]))
    pivs = np.broadcast_to(pivots._data, batch + pivots._data.shape[-1:]).reshape(math.prod(batch), n)
    bs = _matrices(np.broadcast_to(B._data, batch + B._data.shape[-2:]))
    name = "hetrs" if hermitian and LD.dtype.is_complex else "sytrs"
    values = []
    for ld, piv, b in zip(lds, pivs, bs):
        if b.size == 0:  # LAPACK's wrapper refuses empty arrays; there is nothing to solve
            values.append(np.zeros(b.shape, b.dtype))
            continue
        sytrs, = lapack.get_lapack_funcs((name,), (ld,))
        values.append(sytrs(ld, piv.astype(np.int32), b, lower=1)[0])
    X = _w(np.reshape(values, batch + B._data.shape[-2:]) if values else np.zeros(batch + B._data.shape[-2:]), B)
    if needs_grad(LD, B):
        record(LinalgLdlSolveBackward0(), (LD, B), (X,))
    return X
_linalg_op(ldl_solve)


# -- Householder product ---------------------------------------------------------------------------------
def _check_householder(A, tau):
    op = "torch.linalg.householder_product"
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    m, n = A._data.shape[-2:]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if tau._data.ndim != A._data.ndim - 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but got tau.ndim equal to "
                           f"{tau._data.ndim} and input.ndim is equal to {A._data.ndim}")
    if tau._data.shape[-1] > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau._data.shape[:-1] != A._data.shape[:-2]:
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(tau._data.shape[:-1])}")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"{op}: tau dtype {dtype_name(tau.dtype)} does not match input dtype "
                           f"{dtype_name(A.dtype)}")
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise NotImplementedError(f'"orgqr_cpu" not implemented for \'{dtype_name(A.dtype)}\'')


@float32_policy
def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^H with v_i below A's diagonal (unit head): built
    from the identity one reflector at a time in torsh ops, so the gradient (and its own) follows."""
    from ..creation import eye
    _check_householder(A, tau)
    m, n = A._data.shape[-2:]
    k = tau._data.shape[-1]
    Q = eye(m, n, dtype=A.dtype).expand(*A._data.shape[:-2], m, n)
    V = _unit_lower(A[..., :, :k]) if k else None
    for i in reversed(range(k)):  # Q = H_i Q, the last reflector first
        v = V[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mH @ Q))
    return Q if k else Q.clone()
_linalg_op(householder_product)


# -- tensor inverse / solve, Vandermonde, diagonal -----------------------------------------------------
@float32_policy
def tensorinv(A, ind=2, *, out=None):
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = tuple(A._data.shape)
    rows, cols = int(np.prod(shape[:ind])), int(np.prod(shape[ind:]))
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(*shape[ind:], *shape[:ind])
_linalg_op(tensorinv)


@float32_policy
def tensorsolve(A, B, dims=None, *, out=None):
    if dims is not None:
        nd = A._data.ndim
        moved = [d % nd for d in dims]
        A = A.permute(*[d for d in range(nd) if d not in moved], *moved)
    out_shape = tuple(A._data.shape[B._data.ndim:])
    rows, cols = int(np.prod(B._data.shape)), int(np.prod(out_shape))
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(*out_shape)
_linalg_op(tensorsolve)


def vander(x, *, N=None):
    """Columns x^0, x^1, ..., x^(N-1) (increasing powers), batched over x's leading dims."""
    if x._data.dtype.kind == "b":
        raise RuntimeError("linalg.vander supports floating point, complex, and integer tensors, but got Bool")
    from ..creation import arange
    if x._data.ndim == 0:  # a 0-d x is one point, as PyTorch's (1, N) result
        x = x.reshape(1)
        if N is None:
            N = 1
    n = x._data.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = arange(n)  # int64 exponents keep x's dtype
    return x.unsqueeze(-1) ** powers
_linalg_op(vander)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)
_linalg_op(diagonal)


__all__ = ["inv_ex", "cholesky_ex", "solve_ex", "solve_triangular", "matrix_exp", "lu_factor", "lu_factor_ex", "lu",
           "lu_solve", "ldl_factor", "ldl_factor_ex", "ldl_solve", "householder_product", "tensorinv", "tensorsolve", "vander", "diagonal"]
