"""torsh.linalg: norms, products of many matrices, inverses, solvers and decompositions.

Forward on numpy.linalg (batched over leading dims); backward formulas are PyTorch's
(derivatives.yaml / FunctionsManual.cpp), written in torsh ops.
"""
import collections
import functools
import math

import numpy as np

from .... import _dtype
from ...._autocast import float32_policy
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import (accumulation_array, broadcast_shapes, dtype_name, normalize_dim, normalize_dims, sum_to,
                         with_grad_fn)
from ...registry import register
from .matmul import matmul

_linalg_op = functools.partial(register, namespace="torsh.linalg", method=False, out="copy")  # torch.linalg.<name>


# -- norms ------------------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    def backward(self, grad):
        """PyTorch's linalg_vector_norm_backward (FunctionsManual.cpp), case by case."""
        x, norm = self.saved_tensors
        p, dims = self.ord, self.dims
        if p == 0:  # piecewise constant: no gradient at all, as PyTorch (None, not zeros)
            return (None,)
        if not self.keepdim:
            for d in dims:
                grad, norm = grad.unsqueeze(d), norm.unsqueeze(d)
        zero = norm == 0
        if p == 1:
            return (x.sgn() * grad,)
        if p == 2:
            return (grad * (x / norm.masked_fill(zero, 1)).masked_fill(zero, 0),)  # no 0/0 warning
        if math.isinf(p):  # amax(|x|)'s gradient, shared among ties (NaNs count as maxima)
            ax = x.abs()
            mask = (ax == norm).logical_or(ax.isnan())
            return (x.sgn() * ((grad / mask.sum(dims, keepdim=True)) * mask),)
        if p < 1:
            scaled = x.sgn() * x.abs().pow(p - 1).masked_fill(x == 0, 0)
            return (scaled * grad * norm.pow(1 - p),)
        scaled = x.sgn() * x.abs().pow(p - 1) if p < 2 else x * x.abs().pow(p - 2)
        return (scaled * (grad / norm.pow(p - 1)).masked_fill(zero, 0),)


def _format_scalar(value):
    """A number as PyTorch's messages print a Scalar (``3``, ``2.5``, ``inf``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_norm_dtype(op, dtype, input_dtype):
    """PyTorch's check_linalg_norm_dtype: dtype= must be float/complex, of the input's kind, and not narrowing."""
    if dtype is None:
        return
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{op}: dtype should be floating point or complex, but got {dtype_name(dtype)}")
    if input_dtype.is_complex != dtype.is_complex:
        kind = "complex" if input_dtype.is_complex else "real"
        raise RuntimeError(f"{op}: dtype should be {kind} for {kind} inputs, but got {dtype_name(dtype)}")
    if _dtype.promote_types(input_dtype, dtype) is not dtype:
        raise RuntimeError(f"{op}: the dtype of the input ({dtype_name(input_dtype)}) should be convertible without "
                           f"narrowing to the specified dtype ({dtype_name(dtype)})")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{dtype_name(x.dtype)}")
    _check_norm_dtype("linalg.vector_norm", dtype, x.dtype)
    if dtype is not None:
        x = x.to(dtype)
    data = x._data
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    if dim is not None and not len(dim):  # dim=(): every dim, as dim=None
        dim = None
    dims = normalize_dims(dim, data.ndim) if dim is not None else tuple(range(data.ndim))
    p = float(ord)
    if data.size == 0 and (p < 0 or p == math.inf):  # min/max have no identity: empty reductions refuse
        if dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {_format_scalar(ord)} norm on an empty tensor "
                               "because the operation does not have an identity")
        for d in dim:
            if data.shape[d] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {_format_scalar(ord)} norm on the "
                                   f"dimension {d}because this dimension is empty and the operation does not have an "
                                   "identity")
    a = np.abs(accumulation_array(data))  # float16/bfloat16: in float32, one rounding at the end
    with np.errstate(all="ignore"):
        if p == 0:
            value = np.sum(a != 0, axis=dims, keepdims=keepdim)
        elif p == math.inf:
            value = np.max(a, axis=dims, keepdims=keepdim) if a.size else np.zeros(
                np.sum(a, axis=dims, keepdims=keepdim).shape)
        elif p == -math.inf:
            value = np.min(a, axis=dims, keepdims=keepdim) if a.size else np.zeros(
                np.sum(a, axis=dims, keepdims=keepdim).shape)
        elif p == 1:
            value = np.sum(a, axis=dims, keepdims=keepdim)
        elif p == 2:
            value = np.sqrt(np.sum(a * a, axis=dims, keepdims=keepdim))
        else:
            value = np.sum(a ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
    result = wrap(np.asarray(value, dtype=x.dtype.to_real().np))
    return with_grad_fn(LinalgVectorNormBackward0, (x,), result, (x, result), ord=p, dims=dims, keepdim=keepdim)
_linalg_op(vector_norm)


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if (i in (0, len(tensors) - 1) and nd not in (1, 2)) or (0 < i < len(tensors) - 1 and nd != 2):
            which = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
            if which:
                raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got {nd}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {nd}D")
    first_1d, last_1d = tensors[0]._data.ndim == 1, tensors[-1]._data.ndim == 1
    mats = list(tensors)
    if first_1d:
        mats[0] = mats[0].unsqueeze(0)
    if last_1d:
        mats[-1] = mats[-1].unsqueeze(1)
    for i in range(len(mats) - 1):
        if mats[i]._data.shape[1] != mats[i + 1]._data.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i]._data.shape)} and {list(tensors[i + 1]._data.shape)} cannot be multiplied")
    result = _chain_in_best_order(mats)
    if first_1d and last_1d:
        return result.reshape(())
    if first_1d:
        return result.squeeze(0)
    if last_1d:
        return result.squeeze(1)
    return result
_linalg_op(multi_dot)


def _chain_in_best_order(mats):
    """Multiply left to right in the cheapest parenthesisation (the classic O(n^3) chain order)."""
    n = len(mats)
    dims = [m._data.shape[0] for m in mats] + [mats[-1]._data.shape[1]]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def build(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(build(i, k), build(k + 1, j))
    return build(0, n - 1)




# -- checks and errors ----------------------------------------------------------------------------
class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a numerical failure (singular matrix, not positive-definite)."""


def _check_matrix(op, A, square=True, *, kernel=None, floating=True):
    """PyTorch's checks of a (batch of) matrix input: at least 2-D, square, floating (else the RuntimeError naming
    ``op``, or the NotImplementedError of PyTorch's CPU ``kernel`` when its dispatch is what refuses the dtype)."""
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    m, n = A._data.shape[-2:]
    if square and m != n:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {m} by {n} matrices")
    if floating and not (A.dtype.is_floating_point or A.dtype.is_complex):
        if kernel is not None:
            raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype_name(A.dtype)}\'')
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {dtype_name(A.dtype)}")


def _check_has_complex_type(A):
    """eig/eigvals: PyTorch looks up the complex type of the input's (integer) dtype and finds none."""
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError(f"Unknown Complex ScalarType for {dtype_name(A.dtype)}")


def _check_float_matrix_or_double(op, A, ndim_message):
    """matrix_rank's and lstsq's checks: their own wording for a missing dim, then float/double (complex) only."""
    if A._data.ndim < 2:
        raise RuntimeError(f"torch.linalg.{op}: {ndim_message}")
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError("This function doesn't handle types other than float and double")


def _first_zero_pivot(a):
    """1-based index of the first zero pivot of LU(a) (LAPACK's info), for PyTorch's singular message."""
    import scipy.linalg
    for mat in a.reshape(-1, *a.shape[-2:]):
        try:
            lu = scipy.linalg.lu_factor(mat, check_finite=False)[0]
        except Exception:  # noqa: BLE001
            return 1
        zero = np.flatnonzero(np.diagonal(lu) == 0)
        if zero.size:
            return int(zero[0]) + 1
    return 1


def _w(array, like):
    return wrap(np.ascontiguousarray(array, dtype=like._data.dtype) if np.ndim(array) else
                np.asarray(array, dtype=like._data.dtype))


# -- inverse, determinants, solve ------------------------------------------------------------------
class LinalgInvExBackward0(Node):
    def backward(self, grad, *_):
        (inv_a,) = self.saved_tensors
        inv_h = inv_a.mH  # the adjoint, not the transpose: complex inputs
        return (-(inv_h @ grad @ inv_h),)


@float32_policy
def inv(A, *, out=None):
    _check_matrix("linalg.inv", A)
    try:
        with np.errstate(all="ignore"):
            value = np.linalg.inv(A._data)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"linalg.inv: The diagonal element {_first_zero_pivot(A._data)} is zero, the inversion "
                          "could not be completed because the input matrix is singular.") from None
    result = _w(value, A)
    return with_grad_fn(LinalgInvExBackward0, (A,), result, (result,))
_linalg_op(inv)


class LinalgDetBackward0(Node):
    def backward(self, grad):
        A, det = self.saved_tensors
        return ((grad * det.conj()).unsqueeze(-1).unsqueeze(-1) * inv(A).mH,)


def det(A, *, out=None):
    _check_matrix("linalg.det", A)
    result = _w(np.linalg.det(A._data), A)
    return with_grad_fn(LinalgDetBackward0, (A,), result, (A, result))
_linalg_op(det)


class LinalgSlogdetBackward0(Node):
    def backward(self, grad_sign, grad_logabs):
        A, sign = self.saved_tensors
        g = grad_logabs
        if A.dtype.is_complex and grad_sign is not None:  # the phase's part: -i Im(conj(sign) grad_sign)
            phase = (grad_sign * sign.conj()).imag * -1j
            g = phase if g is None else g + phase
        if g is None:
            return (None,)
        return (g.conj().unsqueeze(-1).unsqueeze(-1) * inv(A).mH,)


def slogdet(A, *, out=None):
    _check_matrix("linalg.slogdet", A)
    sign, logabs = np.linalg.slogdet(A._data)
    sign_t, logabs_t = _w(sign, A), wrap(np.asarray(logabs, dtype=A.dtype.to_real().np))  # log|det| is real
    if needs_grad(A):
        node = LinalgSlogdetBackward0()
        record(node, (A,), (sign_t, logabs_t))
        node.save_for_backward(A, sign_t)
    import collections
    return collections.namedtuple("slogdet", ["sign", "logabsdet"])(sign_t, logabs_t)
_linalg_op(slogdet)


class LinalgSolveExBackward0(Node):
    def backward(self, grad, *_):
        A, X = self.saved_tensors
        gB = solve(A.mH, grad)
        gA = sum_to(-(gB @ X.mH), A._data.shape) if self.next_functions[0][0] is not None else None  # batch bcast
        return gA, sum_to(gB, self.b_shape) if self.next_functions[1][0] is not None else None


def check_same_dtype_solve(A, B):
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{dtype_name(A.dtype)} and B of type {dtype_name(B.dtype)} instead")


@float32_policy
def solve(A, B, *, left=True, out=None):
    _check_matrix("linalg.solve", A)
    check_same_dtype_solve(A, B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve(A.mT, B.mT).mT
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    b = B.unsqueeze(-1) if vector else B
    batch = broadcast_shapes(A._data.shape[:-2], b._data.shape[:-2])
    a_full = np.broadcast_to(A._data, batch + A._data.shape[-2:])
    b_full = np.broadcast_to(b._data, batch + b._data.shape[-2:])
    try:
        value = np.linalg.solve(a_full, b_full)
    except np.linalg.LinAlgError:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
    X = _w(value, A)
    if needs_grad(A, b):
        node = LinalgSolveExBackward0()
        node.b_shape = b._data.shape
        record(node, (A, b), (X,))
        node.save_for_backward(A, X)
    return X.squeeze(-1) if vector else X
_linalg_op(solve)


# -- factorizations ---------------------------------------------------------------------------------
class LinalgCholeskyExBackward0(Node):
    def backward(self, grad, *_):
        """PyTorch's cholesky_backward: L^-H [(M + tril(M, -1)^H) / 2] L^-1, M = tril(L^H gL) (for complex inputs
        the diagonal keeps its imaginary part, as PyTorch's)."""
        (L,) = self.saved_tensors
        if self.upper:
            L, grad = L.mH, grad.mH
        M = (L.mH @ grad).tril()
        Linv = inv(L)
        return (Linv.mH @ (0.5 * (M + M.tril(-1).mH)) @ Linv,)


@float32_policy
def cholesky(A, *, upper=False, out=None):
    return cholesky_named("linalg.cholesky", A, upper)
_linalg_op(cholesky)


def cholesky_named(op, A, upper):
    """The Cholesky factor, errors naming ``op`` (torch.cholesky says "cholesky:", torch.linalg "linalg.cholesky:")."""
    _check_matrix(op, A)
    try:
        value = np.linalg.cholesky(A._data)
    except np.linalg.LinAlgError:
        order = 1
        for k in range(1, A._data.shape[-1] + 1):
            if np.any(np.linalg.eigvalsh(A._data[..., :k, :k]) <= 0):
                order = k
                break
        raise LinAlgError(f"{op}: The factorization could not be completed because the input is not "
                          f"positive-definite (the leading minor of order {order} is not positive-definite).") from None
    L = _w(value, A)
    if upper:
        L = _w(np.swapaxes(value, -1, -2).conj(), A)
    return with_grad_fn(LinalgCholeskyExBackward0, (A,), L, (L,), upper=upper)


def _copyltu(M):
    """The Hermitian matrix with M's strict lower triangle; its diagonal is M's real part (R's is real)."""
    low = M.tril(-1)
    diag = M.diagonal(0, -2, -1)
    return low + low.mH + (diag.real.to(M.dtype) if M.dtype.is_complex else diag).diag_embed()


class LinalgQrBackward0(Node):
    refusal = None

    def backward(self, gQ, gR):
        if self.refusal is not None:
            raise RuntimeError(self.refusal)
        Q, R = self.saved_tensors
        from ..creation import zeros_like
        gQ = zeros_like(Q) if gQ is None else gQ
        gR = zeros_like(R) if gR is None else gR
        m, n = Q._data.shape[-2], R._data.shape[-1]
        if m < n:  # A = Q [U Y], Y = Q^H A2: U's square-case gradient with gQ + Q Y gY^H, then Q gY for A2
            from ..shape.views import cat
            U, Y, gU, gY = R[..., :, :m], R[..., :, m:], gR[..., :, :m], gR[..., :, m:]
            return (cat([_qr_backward_square(Q, U, gQ + Q @ (Y @ gY.mH), gU), Q @ gY], -1),)
        return (_qr_backward_square(Q, R, gQ, gR),)


def _qr_backward_square(Q, R, gQ, gR):
    """PyTorch's linalg_qr_backward for m >= n: (gQ + Q copyltu(M)) R^-H, M = R gR^H - gQ^H Q."""
    M = R @ gR.mH - gQ.mH @ Q
    return (gQ + Q @ _copyltu(M)) @ inv(R).mH


@float32_policy
def qr(A, mode="reduced", *, out=None):
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    Q, R = np.linalg.qr(A._data, mode="complete" if mode == "complete" else "reduced")
    Qt, Rt = _w(Q, A), _w(R, A)
    if mode == "r":
        Qt = wrap(np.zeros(0, A._data.dtype))
    m, n = A._data.shape[-2:]
    if needs_grad(A):
        node = LinalgQrBackward0()
        if mode == "r":  # PyTorch records the node and refuses in backward
            node.refusal = ("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                            "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
        elif mode == "complete" and m > n:
            node.refusal = "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
        record(node, (A,), (Qt, Rt))
        node.save_for_backward(Qt, Rt)
    import collections
    return collections.namedtuple("qr", ["Q", "R"])(Qt, Rt)
_linalg_op(qr)


class LinalgSvdBackward0(Node):
    """PyTorch's svd_backward (real and complex). With full_matrices the extra columns of U / rows of Vh are not
    unique: as PyTorch, their gradients are dropped (U, Vh and the grads narrowed to the k = min(m, n) first)."""

    def backward(self, gU, gS, gVh):
        U, S, Vh = self.saved_tensors
        k = S._data.shape[-1]
        if self.full_matrices:
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        if gU is None and gVh is None:
            return (None,) if gS is None else ((U * gS.unsqueeze(-2)) @ Vh,)
        m, n = U._data.shape[-2], Vh._data.shape[-1]
        UhgU = _skew(U.mH @ gU) if gU is not None else None
        VhgV = _skew(Vh @ gVh.mH) if gVh is not None else None
        E = _squared_gaps(S)
        if UhgU is not None and VhgV is not None:
            gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
        elif UhgU is not None:
            gA = (UhgU / E) * S.unsqueeze(-2)
        else:
            gA = S.unsqueeze(-1) * (VhgV / E)
        if gS is not None:
            gA = gA + gS.diag_embed()
        if U.dtype.is_complex and UhgU is not None:  # the imaginary diagonal of U^H gU / (2 S)
            gA = gA + (UhgU.diagonal(0, -2, -1).imag / (2 * S) * 1j).diag_embed()
        if m > k and gU is not None:  # gA = [U gA + (I - U U^H) gU S^-1] V^H
            gUSinv = gU / S.unsqueeze(-2)
            return ((U @ gA + gUSinv - U @ (U.mH @ gUSinv)) @ Vh,)
        if n > k and gVh is not None:  # gA = U [gA V^H + S^-1 gV^H (I - V V^H)]
            SinvgVh = gVh / S.unsqueeze(-1)
            return (U @ (gA @ Vh + SinvgVh - (SinvgVh @ Vh.mH) @ Vh),)
        return (U @ gA @ Vh,)


def _skew(X):
    return X - X.mH


def _squared_gaps(S):
    """E[i, j] = S[j]^2 - S[i]^2, with ones on the diagonal (where the numerators are zero)."""
    from ..creation import eye
    S2 = S * S
    return S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye(S._data.shape[-1], dtype=S.dtype)


@float32_policy
def svd(A, full_matrices=True, *, driver=None, out=None):
    _check_matrix("linalg.svd", A, square=False)
    U, S, Vh = np.linalg.svd(A._data, full_matrices=full_matrices)
    Ut, St, Vht = _w(U, A), wrap(np.ascontiguousarray(S, dtype=A.dtype.to_real().np)), _w(Vh, A)
    if needs_grad(A):
        node = LinalgSvdBackward0()
        node.full_matrices = full_matrices and A._data.shape[-1] != A._data.shape[-2]
        record(node, (A,), (Ut, St, Vht))
        node.save_for_backward(Ut, St, Vht)
    import collections
    return collections.namedtuple("svd", ["U", "S", "Vh"])(Ut, St, Vht)
_linalg_op(svd)


@float32_policy
def svdvals(A, *, driver=None, out=None):
    _check_matrix("linalg.svd", A, square=False)  # PyTorch's svdvals is svd's kernel and words it so
    if not needs_grad(A):
        return wrap(np.ascontiguousarray(np.linalg.svd(A._data, compute_uv=False), dtype=A.dtype.to_real().np))
    U, S, Vh = np.linalg.svd(A._data, full_matrices=False)
    St = wrap(np.ascontiguousarray(S, dtype=A.dtype.to_real().np))
    # a node of S alone: svd's would be handed zero gradients for U and Vh, whose formula is 0/0 on repeated
    # singular values (a zero matrix); PyTorch's undefined gradients skip it
    return with_grad_fn(LinalgSvdvalsBackward0, (A,), St, (_w(U, A), _w(Vh, A)))
_linalg_op(svdvals)


class LinalgSvdvalsBackward0(Node):
    def name(self):
        return "LinalgSvdBackward0"

    def backward(self, gS):
        U, Vh = self.saved_tensors
        return ((U * gS.unsqueeze(-2).to(U.dtype)) @ Vh,)


class LinalgEighBackward0(Node):
    def backward(self, gL, gV):
        L, V = self.saved_tensors
        from ..creation import eye
        n = L._data.shape[-1]
        E = L.unsqueeze(-2) - L.unsqueeze(-1) + eye(n, dtype=L.dtype)
        inner = 0
        if gV is not None:
            VhgV = V.mH @ gV
            inner = (0.5 * (VhgV - VhgV.mH)) / E
            inner = inner - inner.diagonal(0, -2, -1).diag_embed()
        if gL is not None:
            inner = inner + gL.diag_embed()
        return (V @ inner @ V.mH,)


@float32_policy
def eigh(A, UPLO="L", *, out=None):
    _check_matrix("linalg.eigh", A, kernel="linalg_eigh_cpu")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    L, V = np.linalg.eigh(A._data, UPLO=UPLO)
    Lt, Vt = wrap(np.ascontiguousarray(L, dtype=A.dtype.to_real().np)), _w(V, A)  # real eigenvalues
    if needs_grad(A):
        node = LinalgEighBackward0()
        record(node, (A,), (Lt, Vt))
        node.save_for_backward(Lt, Vt)
    import collections
    return collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])(Lt, Vt)
_linalg_op(eigh)


@float32_policy
def eigvalsh(A, UPLO="L", *, out=None):
    return eigh(A, UPLO).eigenvalues
_linalg_op(eigvalsh)


def _complex_of(A):
    return np.complex64 if A._data.dtype in (np.float32, np.complex64) else np.complex128


@float32_policy
def eig(A, *, out=None):
    """Eigen-decomposition of a general matrix (complex results). Like PyTorch's, the eigenvector gradient
    is only meaningful for losses that do not depend on each eigenvector's (arbitrary) phase."""
    _check_matrix("linalg.eig", A, floating=False)
    _check_has_complex_type(A)
    L, V = np.linalg.eig(A._data)
    Lt = wrap(np.ascontiguousarray(L, dtype=_complex_of(A)))
    Vt = wrap(np.ascontiguousarray(V, dtype=_complex_of(A)))
    if needs_grad(A):
        node = LinalgEigVectorsBackward0()
        node.real_input = not A.dtype.is_complex
        record(node, (A,), (Lt, Vt))
        node.save_for_backward(Lt.detach(), Vt.detach())
    import collections
    return collections.namedtuple("eig", ["eigenvalues", "eigenvectors"])(Lt, Vt)
_linalg_op(eig)


class LinalgEigVectorsBackward0(Node):
    """PyTorch's linalg_eig_backward; valid for losses invariant to each eigenvector's phase."""

    def name(self):
        return "LinalgEigBackward0"

    def backward(self, gL, gV):
        L, V = self.saved_tensors
        from ..creation import eye, zeros_like
        Vh = V.mH
        n = L._data.shape[-1]
        if gV is None:
            ret = gL.diag_embed()
        else:
            VhgV = Vh @ gV
            diag_re = VhgV.diagonal(0, -2, -1).real.to(V.dtype)
            VhgV = VhgV - (Vh @ V) * diag_re.unsqueeze(-2)
            Lc = L.conj()
            Econj = Lc.unsqueeze(-2) - Lc.unsqueeze(-1) + eye(n, dtype=L.dtype)
            ret = VhgV / Econj
            ret = ret - ret.diagonal(0, -2, -1).diag_embed()
            if gL is not None:
                ret = ret + gL.diag_embed()
        gA = solve(Vh, ret @ Vh)
        return (gA.real if self.real_input else gA,)


class LinalgEigBackward0(Node):
    """Eigenvalues only: gA = V^-H diag(gL) V^H (its real part for a real A), as PyTorch's formula."""

    def backward(self, grad):
        (V,) = self.saved_tensors
        Vh = V.mH
        gA = solve(Vh, grad.diag_embed() @ Vh)
        return (gA.real if self.real_input else gA,)


@float32_policy
def eigvals(A, *, out=None):
    _check_matrix("linalg.eigvals", A, floating=False)
    _check_has_complex_type(A)
    if not needs_grad(A):
        return wrap(np.ascontiguousarray(np.linalg.eigvals(A._data), dtype=_complex_of(A)))
    L, V = np.linalg.eig(A._data)
    Lt = wrap(np.ascontiguousarray(L, dtype=_complex_of(A)))
    Vt = wrap(np.ascontiguousarray(V, dtype=_complex_of(A)))
    return with_grad_fn(LinalgEigBackward0, (A,), Lt, (Vt,), real_input=not A.dtype.is_complex)
_linalg_op(eigvals)


# -- norms, pseudo-inverse, powers, rank, condition number -----------------------------------------
def _backshift(d0, d1, ndim):
    """PyTorch's create_dim_backshift_permutation: the other dims in order, then d0, d1."""
    return [d for d in range(ndim) if d not in (d0, d1)] + [d0, d1]


def _inverse_permutation(perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return inverse


def _max_min(t, d, positive, keepdim):
    """amax/amin over d; a max over an empty dim is 0 (norms are non-negative), as PyTorch's matrix norms give it
    (a fresh zero tensor, no gradient); an empty min still raises amin's error."""
    if positive and t._data.shape[d] == 0:
        from ..creation import zeros
        shape = list(t._data.shape)
        if keepdim:
            shape[d] = 1
        else:
            del shape[d]
        return zeros(shape, dtype=t.dtype)
    return t.amax(d, keepdim) if positive else t.amin(d, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """PyTorch's linalg_matrix_norm: 'fro' is a vector norm, 'nuc' / +-2 reduce the singular values, +-1 / +-inf
    a vector 1-norm over one dim then amax/amin over the other."""
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
        abs_ord = None
    else:
        abs_ord = abs(float(ord))
        if abs_ord not in (1.0, 2.0, math.inf):
            raise RuntimeError(f"linalg.matrix_norm: Order {_format_scalar(ord)} not supported.")
    _check_matrix("linalg.matrix_norm", A, square=False)
    dim = [dim] if isinstance(dim, (int, np.integer)) else list(dim)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    ndim = A._data.ndim
    d0, d1 = normalize_dim(int(dim[0]), ndim), normalize_dim(int(dim[1]), ndim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    _check_norm_dtype("linalg.matrix_norm", dtype, A.dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype)
    if ord == "nuc" or abs_ord == 2.0:
        perm = _backshift(d0, d1, ndim)
        sv = svdvals((A.to(dtype) if dtype is not None else A).permute(perm))
        r = sv.sum(-1, keepdim) if ord == "nuc" else _max_min(sv, -1, float(ord) > 0, keepdim)
        if keepdim:
            r = r.unsqueeze(-1).permute(_inverse_permutation(perm))
        return r
    if abs_ord == math.inf:  # the row sums' max: the first reduction over the second dim
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    return _max_min(vector_norm(A, 1.0, (d0,), keepdim, dtype=dtype), d1, float(ord) > 0, keepdim)
_linalg_op(matrix_norm)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """PyTorch's linalg_norm: a matrix norm for an ord with 2 dims (given, or a 2-D input's), else a vector norm."""
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    ndim = A._data.ndim
    if dim is not None:
        if len(dim) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    elif ord is not None and ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {ndim}D.")
    if isinstance(ord, str) or (ord is not None and ((dim is not None and len(dim) == 2) or (dim is None and ndim == 2))):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype)
    return vector_norm(A, 2.0 if ord is None else ord, dim, keepdim, dtype=dtype)
_linalg_op(norm)


@float32_policy
def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    if A._data.ndim < 2 or not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError(f"linalg.pinv({dtype_name(A.dtype)}{{{list(A._data.shape)}}}): expected a tensor with 2 or "
                           "more dimensions of float, double, cfloat or cdouble types")
    U, S, Vh = svd(A, full_matrices=False)
    m, n = A._data.shape[-2:]
    smax = S.detach().amax(-1, keepdim=True) if S._data.size else S.detach()
    if rtol is None:
        rtol = max(m, n) * np.finfo(A._data.dtype).eps if atol is None or atol == 0 else 0.0
    tol = smax * rtol
    if atol is not None:
        from ..elementwise.math_functions import maximum
        tol = maximum(tol, _w(np.asarray(atol), A))
    keep = S > tol
    from ..elementwise.arithmetic import where
    s_inv = where(keep, 1.0 / where(keep, S, 1.0), 0.0).to(A.dtype)
    return (Vh.mH * s_inv.unsqueeze(-2)) @ U.mH
_linalg_op(pinv)


def matrix_power(A, n):
    _check_matrix("linalg.matrix_power", A, floating=False)  # integers multiply; bool fails in matmul
    if n == 0:
        from ..creation import eye, ones
        identity = eye(A._data.shape[-1], dtype=A.dtype)
        return A.masked_fill(ones((), dtype=_dtype.bool), 0) + identity  # zero gradient, as PyTorch
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:  # binary powering: O(log n) products
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result
_linalg_op(matrix_power)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    _check_float_matrix_or_double("matrix_rank", A, "The input tensor input must have at least 2 dimensions.")
    S = np.linalg.svd(A._data, compute_uv=False)
    m, n = A._data.shape[-2:]
    smax = S.max(axis=-1, keepdims=True) if S.size else np.zeros(S.shape[:-1] + (1,))
    if tol is not None:
        atol = tol
    if rtol is None:
        rtol = max(m, n) * np.finfo(A._data.dtype).eps if atol is None or atol == 0 else 0.0
    threshold = np.maximum(smax * rtol, atol or 0.0)
    return wrap(np.asarray((S > threshold).sum(axis=-1), dtype=np.int64))
_linalg_op(matrix_rank)


@float32_policy
def cond(A, p=None, *, out=None):
    if A._data.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    _check_matrix("linalg.svd" if p in (None, 2, -2) else "linalg.cond", A, square=p not in (None, 2, -2))
    if 0 in A._data.shape[-2:]:  # empty matrices: PyTorch's condition number 0 for each
        return wrap(np.zeros(A._data.shape[:-2], dtype=A.dtype.to_real().np))
    if p in (None, 2, -2):
        S = svdvals(A)
        return S.amax(-1) / S.amin(-1) if p in (None, 2) else S.amin(-1) / S.amax(-1)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)
_linalg_op(cond)


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")
_LSTSQ_RESULT = collections.namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


@float32_policy
def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares through the (rcond-truncated) pseudo-inverse, differentiable; the other outputs as PyTorch's
    LAPACK driver gives them: ``rank`` for gelsy/gelsd/gelss (empty for gels), ``singular_values`` for
    gelsd/gelss, ``residuals`` (squared column norms of A X - B) for a tall A with any driver but gelsy, and
    with gelsd/gelss only when every matrix has full column rank."""
    _check_float_matrix_or_double("lstsq", A, "input must have at least 2 dimensions.")
    if driver is not None and driver not in _LSTSQ_DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    driver = driver or "gelsy"
    vector = B._data.ndim == A._data.ndim - 1
    if A._data.shape[-2] != B._data.shape[-1 if vector else -2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size({-1 if vector else -2})")
    if A.dtype is not B.dtype:
        names = _dtype.SCALAR_TYPE_NAMES
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got input's "
                           f"dtype {names[A.dtype.name]} and other's dtype {names[B.dtype.name]}")
    m, n = A._data.shape[-2:]
    b = B.unsqueeze(-1) if vector else B
    rtol = None if rcond is None or rcond < 0 else rcond  # LAPACK: a negative rcond means machine precision
    X = pinv(A, rtol=rtol) @ b
    real = A.dtype.to_real().np
    rank = wrap(np.zeros(0, np.int64)) if driver == "gels" else matrix_rank(A.detach(), rtol=rtol)
    singular_values = (svdvals(A.detach()) if driver in ("gelsd", "gelss") else wrap(np.zeros(0, real)))
    residuals = wrap(np.zeros(0, real))
    if m > n and driver != "gelsy" and (driver == "gels" or bool((rank._data == n).all())):
        diff = A @ X - b
        residuals = (diff * diff.conj()).real.sum(-2) if diff.is_complex() else (diff * diff).sum(-2)
    return _LSTSQ_RESULT(X.squeeze(-1) if vector else X, residuals, rank, singular_values)
_linalg_op(lstsq)


__all__ = ["vector_norm", "matrix_norm", "norm", "multi_dot", "inv", "det", "slogdet", "solve", "cholesky", "qr",
           "svd", "svdvals", "eig", "eigvals", "eigh", "eigvalsh", "pinv", "matrix_power", "matrix_rank", "cond",
           "lstsq", "LinAlgError"]
