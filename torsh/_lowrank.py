"""torch.svd_lowrank and torch.pca_lowrank: Halko, Martinsson & Tropp's randomized range finder followed by an
exact SVD of the projected matrix (PyTorch's torch/_lowrank.py algorithm: same random draws, same products), built
on differentiable torsh ops so gradients flow as in PyTorch."""
import torsh

__all__ = ["svd_lowrank", "pca_lowrank"]


def _is_sparse(A):
    return A.layout != torsh.strided


def _floating_dtype(A):
    """Integer inputs compute in float32, as PyTorch's ``_linalg_utils.get_floating_dtype``."""
    return A.dtype if A.dtype in (torsh.float16, torsh.float32, torsh.float64) else torsh.float32


def _adjoint(A):
    """``A.mH``; a sparse matrix (2-D, real or complex) through ``t()`` and ``conj()``, which its layout has."""
    if not _is_sparse(A):
        return A.mH
    return A.t().conj() if A.is_complex() else A.t()


def _matmul(A, B):
    if A is None:
        return B
    return torsh.sparse.mm(A, B) if _is_sparse(A) else torsh.matmul(A, B)


def get_approximate_basis(A, q, niter=2, M=None):
    """An orthonormal (…, m, q) basis Q whose span approximates the range of ``A - M`` (``niter`` subspace
    iterations sharpen it)."""
    niter = 2 if niter is None else niter
    dtype = A.dtype if A.is_complex() else _floating_dtype(A)
    R = torsh.randn(A.shape[-1], q, dtype=dtype)
    X = _matmul(A, R)
    if M is not None:
        X = X - _matmul(M, R)
    Q = torsh.linalg.qr(X).Q
    for _ in range(niter):
        X = _matmul(_adjoint(A), Q)
        if M is not None:
            X = X - _matmul(M.mH, Q)
        Q = torsh.linalg.qr(X).Q
        X = _matmul(A, Q)
        if M is not None:
            X = X - _matmul(M, Q)
        Q = torsh.linalg.qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    r"""An approximate rank-``q`` SVD ``(U, S, V)`` of ``A - M`` with ``A ≈ U diag(S) V^H``."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.size())
    # work on the tall orientation; swap the factors back at the end
    if m < n:
        A = _adjoint(A)
        if M is not None:
            M = M.mH
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = _matmul(Q.mH, A) if not _is_sparse(A) else _matmul(_adjoint(A), Q).mH
    if M is not None:
        B = B - _matmul(Q.mH, M)
    U, S, Vh = torsh.linalg.svd(B, full_matrices=False)
    V = Vh.mH
    U = Q.matmul(U)
    if m < n:
        U, V = V, U
    return U, S, V


def pca_lowrank(A, q=None, center=True, niter=2):
    r"""PCA of the rows of ``A`` by ``svd_lowrank`` of the centered matrix: ``(U, S, V)``, V's columns the principal
    directions."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    dtype = _floating_dtype(A)
    if not center:
        return svd_lowrank(A, q, niter=niter, M=None)
    if _is_sparse(A):
        if len(A.shape) != 2:
            raise ValueError("pca_lowrank input is expected to be 2-dimensional tensor")
        # the column means as a dense (m, n) matrix M, subtracted inside the products (A stays sparse)
        c = A.to_dense().to(dtype).mean(dim=-2, keepdim=True)
        return svd_lowrank(A, q, niter=niter, M=c.expand(m, n))
    C = A.mean(dim=(-2,), keepdim=True)
    return svd_lowrank(A - C, q, niter=niter, M=None)
