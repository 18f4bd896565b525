"""torch.lobpcg: Knyazev's locally optimal block preconditioned conjugate gradient for the k largest (or smallest)
eigenpairs of a symmetric (generalized: A x = λ B x) problem; PyTorch's torch/_lobpcg.py algorithm (the 'basic'
and 'ortho' methods, its Rayleigh-Ritz transform, SVQB orthogonalization and convergence test), on torsh ops.

Gradients (A only, as PyTorch's: B != I raises at backward): eigenvalues and eigenvectors, by the symmetric
eigenproblem's first-order perturbation (PyTorch reaches the same value through a characteristic polynomial).
"""
import torsh

__all__ = ["lobpcg"]


def _mm(A, X):
    return X if A is None else torsh.matmul(A, X)


def _qform(A, S):
    """S^T A S (A None: the identity)."""
    return S.mT @ _mm(A, S)


def _symeig(M, largest=False):
    E, Z = torsh.linalg.eigh(M)
    return (E.flip(-1), Z.flip(-1)) if largest else (E, Z)


class _Worker:
    """One problem's iteration state (PyTorch's LOBPCG class, its variable names)."""

    def __init__(self, A, B, X, iK, iparams, fparams, bparams, method):
        self.A, self.B, self.iK, self.method = A, B, iK, method
        self.iparams, self.fparams, self.bparams = iparams, fparams, bparams
        m, n = iparams["m"], iparams["n"]
        self.X = X.clone()
        self.E = torsh.zeros(n, dtype=X.dtype)
        self.R = torsh.zeros(m, n, dtype=X.dtype)
        self.S = torsh.zeros(m, 3 * n, dtype=X.dtype)
        self.ivars = {"istep": 0}
        self.fvars = {}

    def run(self):
        self.update()
        while not (self.ivars["iterations_left"] == 0 or self.ivars["converged_count"] >= self.iparams["k"]):
            self.update()

    def update(self):
        if self.ivars["istep"] == 0:
            x_norm = float(torsh.linalg.norm(self.X))
            self.fvars["A_norm"] = float(torsh.linalg.norm(_mm(self.A, self.X))) / x_norm
            self.fvars["B_norm"] = float(torsh.linalg.norm(_mm(self.B, self.X))) / x_norm
            self.ivars.update(iterations_left=self.iparams["niter"], converged_count=0, converged_end=0)
        (self._update_ortho if self.method == "ortho" else self._update_basic)()
        self.ivars["iterations_left"] -= 1
        self.ivars["istep"] += 1

    def _residual(self):
        self.R = _mm(self.A, self.X) - _mm(self.B, self.X) * self.E

    def _converged_count(self):
        """How many leading Ritz pairs meet the relative residual tolerance (that count never decreases)."""
        prev = self.ivars["converged_count"]
        E, X, R = self.E, self.X, self.R
        rerr = (torsh.linalg.vector_norm(R, 2, (0,)) / (torsh.linalg.vector_norm(X, 2, (0,))
                * (self.fvars["A_norm"] + E[:X.shape[-1]].abs() * self.fvars["B_norm"])))
        count = 0
        for ok in (rerr < self.fparams["tol"]).tolist():
            if not ok:
                break
            count += 1
        if count < prev:
            raise AssertionError(f"the number of converged eigenpairs (was {prev}, got {count}) cannot decrease")
        self.ivars["converged_count"] = count
        return count

    def _rayleigh_ritz(self, S):
        """The transform Ri with Ri^T (S^T B S) Ri = I (a scaled Cholesky factor's inverse)."""
        SBS = _qform(self.B, S)
        d_row = SBS.diagonal(0, -2, -1) ** -0.5
        d_col = d_row.reshape(-1, 1)
        R = torsh.linalg.cholesky(SBS * d_row * d_col, upper=True)
        return torsh.linalg.solve_triangular(R, torsh.diag_embed(d_row), upper=True, left=False)

    def _first_step(self, keep_e):
        n, largest = self.iparams["n"], self.bparams["largest"]
        Ri = self._rayleigh_ritz(self.X)
        E, Z = _symeig(_qform(_qform(self.A, self.X), Ri), largest)
        self.X = self.X @ (Ri @ Z)
        if keep_e:
            self.E = E.clone()
        self._residual()
        self._converged_count()
        self.S[:, :n] = self.X

    def _update_basic(self):
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            self._first_step(True)
            W = _mm(self.iK, self.R)
            ns = self.ivars["converged_end"] = n + W.shape[-1]
            self.S[:, n:ns] = W
            return
        nc, ns = self.ivars["converged_count"], self.ivars["converged_end"]
        S_ = self.S[:, nc:ns]
        Ri = self._rayleigh_ritz(S_)
        E_, Z = _symeig(_qform(_qform(self.A, S_), Ri), largest)
        self.X[:, nc:] = S_ @ (Ri @ Z[:, :n - nc])
        self.E[nc:] = E_[:n - nc]
        P = S_ @ (Ri @ Z[:, n:2 * n - nc])
        np_ = P.shape[-1]
        self._residual()
        nc = self._converged_count()
        self.S[:, :n] = self.X
        self.S[:, n:n + np_] = P
        W = _mm(self.iK, self.R[:, nc:])
        ns = self.ivars["converged_end"] = n + np_ + W.shape[-1]
        self.S[:, n + np_:ns] = W

    def _update_ortho(self):
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            self._first_step(False)  # PyTorch's ortho step keeps E (zeros) from the first Ritz values
            W = self._ortho(self.R, self.X)
            ns = self.ivars["converged_end"] = n + W.shape[-1]
            self.S[:, n:ns] = W
            return
        nc, ns = self.ivars["converged_count"], self.ivars["converged_end"]
        S_ = self.S[:, nc:ns]
        E_, Z = _symeig(_qform(self.A, S_), largest)
        self.X[:, nc:] = S_ @ Z[:, :n - nc]
        self.E[nc:] = E_[:n - nc]
        P = S_ @ (Z[:, n - nc:] @ torsh.linalg.qr(Z[:n - nc, n - nc:].mT).Q)
        np_ = P.shape[-1]
        self._residual()
        nc = self._converged_count()
        self.S[:, :n] = self.X
        self.S[:, n:n + np_] = P
        W = self._ortho(self.R[:, nc:], self.S[:, :n + np_])
        ns = self.ivars["converged_end"] = n + np_ + W.shape[-1]
        self.S[:, n + np_:ns] = W

    def _svqb(self, U, drop, tau):
        """B-orthonormalize U's columns (Stathopoulos & Wu's SVQB), dropping or lifting the near-null ones."""
        if U.numel() == 0:
            return U
        UBU = _qform(self.B, U)
        d = UBU.diagonal(0, -2, -1)
        nz = torsh.where(d.abs() != 0.0)[0]
        if len(nz) < len(d):
            U = U[:, nz]
            if U.numel() == 0:
                return U
            UBU = _qform(self.B, U)
            d = UBU.diagonal(0, -2, -1)
        d_col = (d ** -0.5).reshape(-1, 1)
        E, Z = _symeig(UBU * d_col * d_col.mT)
        t = tau * float(E.abs().max())
        if drop:
            keep = torsh.where(E > t)[0]
            E, Z, d_col = E[keep], Z[:, keep], d_col[keep]
        else:
            E = torsh.where(E < t, torsh.full_like(E, t), E)
        return (U * d_col.mT) @ (Z * E ** -0.5)

    def _ortho(self, U, V):
        """U B-orthonormalized and B-orthogonal to V (PyTorch's _get_ortho)."""
        f, i_max, j_max = self.fparams, self.iparams["ortho_i_max"], self.iparams["ortho_j_max"]
        BV_norm = torsh.linalg.norm(_mm(self.B, V))
        BU = _mm(self.B, U)
        VBU = V.mT @ BU
        for _ in range(i_max):
            U = U - V @ VBU
            drop, tau_svqb = False, f["ortho_tol_drop"]
            for _ in range(j_max):
                if self.bparams["ortho_use_drop"]:
                    U = self._svqb(U, drop, tau_svqb)
                    drop, tau_svqb = True, f["ortho_tol_replace"]
                else:
                    U = self._svqb(U, False, f["ortho_tol_replace"])
                if U.numel() == 0:
                    return U
                BU = _mm(self.B, U)
                UBU = U.mT @ BU
                R = UBU - torsh.eye(UBU.shape[-1], dtype=UBU.dtype)
                rerr = float(torsh.linalg.norm(R)) / float(torsh.linalg.norm(BU) * torsh.linalg.norm(U))
                if rerr < f["ortho_tol"]:
                    break
            VBU = V.mT @ BU
            rerr = float(torsh.linalg.norm(VBU)) / float(BV_norm * torsh.linalg.norm(U))
            if rerr < f["ortho_tol"]:
                break
            if self.iparams["m"] < U.shape[-1] + V.shape[-1]:
                B = self.B
                raise ValueError(f"Overdetermined shape of U: #B-cols(={B.shape[-1]}) >= #U-cols(={U.shape[-1]}) "
                                 f"+ #V-cols(={V.shape[-1]}) must hold")
        return U


def _floating_dtype(A):
    return A.dtype if A.dtype in (torsh.float16, torsh.float32, torsh.float64) else torsh.float32


def _solve(A, k, B, X, n, iK, niter, tol, largest, method, ortho_iparams, ortho_fparams, ortho_bparams):
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = _floating_dtype(A)
    if tol is None:
        tol = {torsh.float32: 1.2e-07, torsh.float64: 2.23e-16}[dtype] ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x "
                         f"the number of requested eigenpairs (={n})")
    method = "ortho" if method is None else method
    iparams = {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter}
    fparams = {"tol": tol}
    bparams = {"largest": True if largest is None else largest}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
        iparams.setdefault("ortho_i_max", 3)
        iparams.setdefault("ortho_j_max", 3)
        for key in ("ortho_tol", "ortho_tol_drop", "ortho_tol_replace"):
            fparams.setdefault(key, tol)
        bparams.setdefault("ortho_use_drop", False)
    batch = tuple(A.shape[:-2])
    bA = A.reshape((-1,) + tuple(A.shape[-2:]))
    bB = None if B is None else B.reshape((-1,) + tuple(A.shape[-2:]))
    bX = None if X is None else X.reshape((-1,) + tuple(X.shape[-2:]))
    Es, Xs = [], []
    for i in range(bA.shape[0]):
        X_ = torsh.randn((m, n), dtype=dtype) if bX is None else bX[i]
        if not (X_.dim() == 2 and tuple(X_.shape) == (m, n)):
            raise AssertionError(f"X shape mismatch: got {X_.shape}, expected {(m, n)}")
        if batch:
            iparams["batch_index"] = i
        worker = _Worker(bA[i], None if bB is None else bB[i], X_, iK, iparams, fparams, bparams, method)
        worker.run()
        Es.append(worker.E[:k])
        Xs.append(worker.X[:, :k])
    if not batch:
        return Es[0], Xs[0]
    return torsh.stack(Es).reshape(batch + (k,)), torsh.stack(Xs).reshape(batch + (m, k))


class _LobpcgFunction(torsh.autograd.Function):
    """The eigenpairs of the symmetric A as an autograd node (B != I has no backward, as in PyTorch)."""

    @staticmethod
    def forward(ctx, A, B, solve):
        E, V = solve(A, B)
        ctx.has_B = B is not None
        ctx.save_for_backward(A, E, V)
        return E, V

    @staticmethod
    def backward(ctx, E_grad, V_grad):
        if ctx.has_B:
            raise ValueError("lobpcg.backward does not support backward with B != I yet.")
        A, E, V = ctx.saved_tensors
        grad = V @ torsh.diag_embed(E_grad) @ V.mT if E_grad is not None else torsh.zeros_like(A)
        if V_grad is not None:
            # d v_i = -(A - e_i I)^+ dA v_i: through A's full eigendecomposition, the pseudo-inverse leaving out
            # the directions of eigenvalue e_i
            L, W = torsh.linalg.eigh(A)
            gap = L.unsqueeze(-1) - E.unsqueeze(-2)  # (m, k): lambda_j - e_i
            tiny = L.abs().max() * A.shape[-1] * torsh.finfo(A.dtype).eps * 10
            inv_gap = torsh.where(gap.abs() > tiny, 1 / gap, torsh.zeros_like(gap))
            grad = grad - W @ ((W.mT @ V_grad) * inv_gap) @ V.mT
        return grad, None, None


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    r"""The ``k`` largest (``largest=False``: smallest) eigenvalues ``E`` and eigenvectors ``X`` of the symmetric
    positive-definite generalized problem ``A X = B X diag(E)`` (PyTorch's signature and defaults)."""
    def solve(A_, B_):
        with torsh.no_grad():
            return _solve(A_.detach(), k, None if B_ is None else B_.detach(), None if X is None else X.detach(), n,
                          iK, niter, tol, largest, method, ortho_iparams, ortho_fparams, ortho_bparams)
    if torsh.is_grad_enabled() and (A.requires_grad or (B is not None and B.requires_grad)):
        A_sym = (A + A.mT) / 2  # as PyTorch: the symmetric parts are what the gradient flows through
        B_sym = (B + B.mT) / 2 if B is not None else None
        return _LobpcgFunction.apply(A_sym, B_sym, solve)
    return solve(A, B)
