"""PyTorch's top-level linear algebra (torch.lu, svd, qr, cholesky*, triangular_solve, geqrf/orgqr/ormqr, norms,
dist, renorm), linalg.householder_product / ldl_solve, the removed Tensor methods, and complex gradients of the
linalg ops: values, return types, gradients and errors against PyTorch 2.13."""

import numpy as np
import pytest

import torsh
from helpers import (assert_close, assert_same_structure_close, check_same_error, error_of, float_outputs,
                     make_array, needs_torch, torch_ref)


pytestmark = [needs_torch, pytest.mark.filterwarnings("ignore:torch.(lu|svd|qr|cholesky) is deprecated")]
RNG = np.random.default_rng(0)


def _spd(n, batch=(), complex_=False, seed=0):
    a = make_array(batch + (n, n), "complex128" if complex_ else "float64", seed=seed)
    return a @ np.swapaxes(a, -1, -2).conj() + n * np.eye(n)


def _loss(lib, out):
    """A real scalar of the floating outputs: sum(w * out), its real part for complex outputs (fixed weights)."""
    total = 0
    for i, o in enumerate(float_outputs(out)):
        w = lib.tensor(make_array(tuple(o.shape), "float64", seed=3 + i)).to(o.dtype)
        term = (o * w).sum()
        total = total + (term.real if o.dtype.is_complex else term)
    return total


def _run(fn, arrays, grad=True):
    """fn(lib, *tensors) in torsh and torch; (outputs, input gradients of a weighted sum of the outputs)."""
    results = []
    for lib in (torsh, torch_ref):
        xs = [lib.tensor(a.copy(), requires_grad=grad) for a in arrays]
        out = fn(lib, *xs)
        grads = None
        if grad:
            grads = lib.autograd.grad(_loss(lib, out), xs, allow_unused=True)
            grads = [g if g is None or lib is torsh else g.resolve_conj() for g in grads]
        results.append((out, grads))
    return results


def _check(fn, arrays, grad=True, **tol):
    (ours, our_grads), (ref, ref_grads) = _run(fn, arrays, grad)
    assert_same_structure_close(ours, ref, **tol)
    if grad:
        assert_same_structure_close(list(our_grads), list(ref_grads), **tol)


def _gradchecks(fn, arrays):
    xs = [torsh.tensor(a.copy(), requires_grad=True) for a in arrays]
    assert torsh.autograd.gradcheck(fn, xs)
    assert torsh.autograd.gradgradcheck(fn, xs)


# -- LU ---------------------------------------------------------------------------------------------------------
def test_lu_and_lu_unpack_and_lu_solve():
    A = make_array((2, 3, 3), "float64", seed=1)
    _check(lambda lib, a: lib.lu(a), [A])
    _check(lambda lib, a: a.lu(get_infos=True), [A], grad=False)
    _check(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)), [A])
    for shape in ((3, 5), (5, 3)):
        _check(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)), [make_array(shape, "float64")], grad=False)
    _check(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a), unpack_data=False), [A], grad=False)
    _check(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a), unpack_pivots=False), [A], grad=False)
    B = make_array((2, 3, 2), "float64", seed=2)
    _check(lambda lib, b, a: b.lu_solve(*lib.linalg.lu_factor(a)), [B, A])
    _check(lambda lib, b, a: lib.lu_solve(b, *lib.linalg.lu_factor(a)), [B[0], A])  # batch broadcast
    singular = torsh.lu(torsh.zeros(2, 2), get_infos=True)
    assert type(singular).__name__ == "_lu_with_info" and int(singular.info) == 1
    _gradchecks(lambda b, a: torsh.lu_solve(b, *torsh.linalg.lu_factor(a)), [B[0], A[0]])


def test_lu_errors():
    check_same_error(lambda lib: lib.lu(lib.ones(2)))
    check_same_error(lambda lib: lib.lu(lib.ones(2, 2, dtype=lib.int64)))
    check_same_error(lambda lib: lib.lu_unpack(lib.ones(2), lib.ones(2, dtype=lib.int32)))
    check_same_error(lambda lib: lib.lu_unpack(lib.ones(2, 2), lib.ones(2, dtype=lib.int64)))
    LU = lambda lib: lib.linalg.lu_factor(lib.eye(3))  # noqa: E731
    check_same_error(lambda lib: lib.lu_solve(lib.ones(3), *LU(lib)))
    check_same_error(lambda lib: lib.lu_solve(lib.ones(4, 2), *LU(lib)))
    check_same_error(lambda lib: lib.lu_solve(lib.ones(3, 2, dtype=lib.float64), *LU(lib)))
    check_same_error(lambda lib: lib.lu_solve(lib.ones(3, 2), LU(lib)[0], LU(lib)[1].long()))


# -- QR, SVD ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3)])
def test_qr_some(shape):
    A = make_array(shape, "float64", seed=3)
    _check(lambda lib, a: lib.qr(a), [A])
    _check(lambda lib, a: a.qr(some=False), [A], grad=False)
    assert type(torsh.qr(torsh.tensor(A))).__name__ == "qr"


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_svd_returns_v_and_its_gradient(shape):
    A = make_array(shape, "float64", seed=4)
    (ours, _), (ref, _) = _run(lambda lib, a: lib.svd(a), [A], grad=False)
    assert_close(ours.S, ref.S)
    assert_close(ours.U @ torsh.diag_embed(ours.S) @ ours.V.mT, ref.U @ torch_ref.diag_embed(ref.S) @ ref.V.mT)
    assert ours.V.shape == ref.V.shape and type(ours).__name__ == "svd"
    # phase-free functions of the factors: |U|, S, |V|
    _check(lambda lib, a: (lambda r: (r.U.abs(), r.S, r.V.abs()))(a.svd()), [A])
    _check(lambda lib, a: (lambda r: (r.U[..., :min(shape[-2:])].abs(), r.S))(lib.svd(a, some=False)), [A])
    _check(lambda lib, a: lib.svd(a, compute_uv=False), [A])
    _gradchecks(lambda a: (lambda r: (r.U @ r.V.mT, r.S))(torsh.svd(a)), [A])


def test_qr_svd_errors():
    for op in ("qr", "svd"):
        check_same_error(lambda lib: getattr(lib, op)(lib.ones(2)))
        check_same_error(lambda lib: getattr(lib, op)(lib.ones(2, 2, dtype=lib.int64)))


# -- Cholesky family -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_and_solve(upper):
    S = _spd(3, (2,), seed=5)
    L = np.linalg.cholesky(S)
    L = np.swapaxes(L, -1, -2) if upper else L
    L_junk = L + (np.tril(np.ones((3, 3)), -1) if upper else np.triu(np.ones((3, 3)), 1))  # other triangle unread
    B = make_array((2, 3, 2), "float64", seed=6)
    _check(lambda lib, a: lib.cholesky(a, upper=upper), [S])
    _check(lambda lib, a: a.cholesky(upper), [S])
    for factor, grad in ((L, True), (L_junk, False)):  # (PyTorch's gradient reads the unused triangle too)
        _check(lambda lib, f: lib.cholesky_inverse(f, upper=upper), [factor], grad)
        _check(lambda lib, b, f: b.cholesky_solve(f, upper), [B, factor], grad)
    _check(lambda lib, b, f: lib.cholesky_solve(b, f, upper), [B, L[0]])  # batch broadcast
    tri = (lambda f: f.triu()) if upper else (lambda f: f.tril())  # the perturbations stay triangular
    _gradchecks(lambda f: torsh.cholesky_inverse(tri(f), upper), [L[0]])
    _gradchecks(lambda b, f: torsh.cholesky_solve(b, tri(f), upper), [B[0], L[0]])


def test_cholesky_errors():
    not_positive = torsh.tensor([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(torsh.linalg.LinAlgError, match=r"^cholesky: The factorization could not be completed "
                       r"because the input is not positive-definite \(the leading minor of order 2 is not "
                       r"positive-definite\).$"):
        torsh.cholesky(not_positive)
    with pytest.raises(torch_ref.linalg.LinAlgError, match="^cholesky: The factorization"):
        torch_ref.cholesky(torch_ref.tensor([[1.0, 2.0], [2.0, 1.0]]))
    check_same_error(lambda lib: lib.cholesky(lib.ones(2, 3)))
    check_same_error(lambda lib: lib.cholesky(lib.ones(2)))
    check_same_error(lambda lib: lib.cholesky(lib.ones(2, 2, dtype=lib.int64)))
    check_same_error(lambda lib: lib.cholesky_inverse(lib.ones(2, 3)))
    check_same_error(lambda lib: lib.cholesky_inverse(lib.ones(3)))
    check_same_error(lambda lib: lib.cholesky_inverse(lib.ones(2, 2, dtype=lib.int64)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(2, 1), lib.ones(2, 3)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(3, 1), lib.eye(2)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(2, 1, dtype=lib.float64), lib.eye(2)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(2), lib.eye(2)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(2, 1), lib.ones(2)))
    check_same_error(lambda lib: lib.cholesky_solve(lib.ones(2, 1).long(), lib.eye(2).long()))


@pytest.mark.parametrize("upper,transpose,unitriangular", [(True, False, False), (False, True, False),
                                                           (True, True, True), (False, False, True)])
def test_triangular_solve(upper, transpose, unitriangular):
    A = make_array((2, 3, 3), "float64", seed=7) + 3 * np.eye(3)
    b = make_array((3, 2), "float64", seed=8)
    _check(lambda lib, x, a: lib.triangular_solve(x, a, upper, transpose, unitriangular), [b, A])
    out = torsh.triangular_solve(torsh.tensor(b), torsh.tensor(A), upper)
    assert type(out).__name__ == "triangular_solve" and out.cloned_coefficient.shape == (2, 3, 3)
    _gradchecks(lambda x, a: torsh.triangular_solve(x, a, upper, transpose, unitriangular).solution, [b, A[0]])


def test_triangular_solve_errors():
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(2, 1), lib.ones(2, 3)))
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(3, 1), lib.eye(2)))
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(2, 1, dtype=lib.float64), lib.eye(2)))
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(2), lib.eye(2)))
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(2, 1), lib.ones(2)))
    check_same_error(lambda lib: lib.triangular_solve(lib.ones(2, 1).long(), lib.eye(2).long()))


def test_matrix_exp_top_level():
    A = make_array((2, 3, 3), "float64", seed=9) / 2
    _check(lambda lib, a: lib.matrix_exp(a), [A])
    _check(lambda lib, a: a.matrix_exp(), [A])
    check_same_error(lambda lib: lib.matrix_exp(lib.ones(2, 3)))
    check_same_error(lambda lib: lib.matrix_exp(lib.ones(2, 2, dtype=lib.int64)))


# -- Householder ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_geqrf_orgqr_ormqr(dtype):
    A = make_array((2, 5, 3), dtype, seed=10)
    (ours, _), (ref, _) = _run(lambda lib, a: lib.geqrf(a), [A], grad=False)
    assert_same_structure_close(ours, ref)
    assert type(ours).__name__ == "geqrf"
    a, tau = ref.a.numpy(), ref.tau.numpy()
    _check(lambda lib, x, t: lib.orgqr(x, t), [a, tau])
    _check(lambda lib, x, t: lib.linalg.householder_product(x, t[..., :2]), [a, tau])
    for left in (True, False):
        for transpose in (True, False):
            C = make_array((2, 5, 4) if left else (2, 4, 5), dtype, seed=11)
            _check(lambda lib, x, t, c: x.ormqr(t, c, left, transpose), [a, tau, C])
    _gradchecks(lambda x, t: torsh.linalg.householder_product(x, t), [a[0].real.copy(), tau[0].real.copy()])
    _gradchecks(lambda x, t, c: torsh.ormqr(x, t, c), [a[0].real.copy(), tau[0].real.copy(),
                                                        make_array((5, 2), "float64", seed=12)])


def test_householder_errors():
    check_same_error(lambda lib: lib.geqrf(lib.ones(3)))
    check_same_error(lambda lib: lib.geqrf(lib.ones(3, 3, dtype=lib.int64)))
    check_same_error(lambda lib: lib.geqrf(lib.ones(3, 3, requires_grad=True))[0].sum().backward())
    hp = lambda lib, a, t: lib.linalg.householder_product(a, t)  # noqa: E731
    check_same_error(lambda lib: hp(lib, lib.ones(3, 4), lib.ones(3)))
    check_same_error(lambda lib: hp(lib, lib.ones(4, 3), lib.ones(4)))
    check_same_error(lambda lib: hp(lib, lib.ones(4, 3), lib.ones(2, 2)))
    check_same_error(lambda lib: hp(lib, lib.ones(4), lib.ones(2)))
    check_same_error(lambda lib: hp(lib, lib.ones(4, 3), lib.ones(2, dtype=lib.float64)))
    check_same_error(lambda lib: lib.orgqr(lib.ones(4, 3, dtype=lib.int64), lib.ones(2, dtype=lib.int64)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4), lib.ones(3), lib.ones(4, 2)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(4)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(3, 2)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(4), lib.ones(4, 2)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(2, 5), left=False))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3, dtype=lib.float64), lib.ones(4, 2)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(4, 2, dtype=lib.float64)))
    check_same_error(lambda lib: lib.ormqr(lib.ones(2, 4, 3), lib.ones(3, 3), lib.ones(2, 4, 2)))
    check_same_error(lambda lib: lib.ormqr(*(lib.ones(s, dtype=lib.int64) for s in ((4, 3), (3,), (4, 2)))))


def test_ldl_solve():
    A = make_array((2, 4, 4), "float64", seed=13)
    A = A + np.swapaxes(A, -1, -2)
    B = make_array((2, 4, 3), "float64", seed=14)
    _check(lambda lib, a, b: lib.linalg.ldl_solve(*lib.linalg.ldl_factor(a), b), [A, B], grad=False)
    H = _spd(3, complex_=True) - 4 * np.eye(3)
    _check(lambda lib, a, b: lib.linalg.ldl_solve(*lib.linalg.ldl_factor(a, hermitian=True), b, hermitian=True),
           [H, make_array((3, 2), "complex128")], grad=False)
    ld = lambda lib: lib.linalg.ldl_factor(lib.eye(3))  # noqa: E731
    check_same_error(lambda lib: lib.linalg.ldl_solve(*ld(lib), lib.ones(2, 1)))
    check_same_error(lambda lib: lib.linalg.ldl_solve(*ld(lib), lib.ones(3, 1, dtype=lib.float64)))
    check_same_error(lambda lib: lib.linalg.ldl_solve(ld(lib)[0].requires_grad_(), ld(lib)[1],
                                                      lib.ones(3, 1)).sum().backward())


# -- norms, dist, renorm ------------------------------------------------------------------------------------------
def test_nuclear_and_frobenius_norm():
    x = make_array((2, 3, 4), "float64", seed=15)
    _check(lambda lib, a: lib.nuclear_norm(a), [x])
    _check(lambda lib, a: lib.nuclear_norm(a[0], True), [x])
    _check(lambda lib, a: lib.nuclear_norm(a, (0, 2), keepdim=True), [x])
    for dim, keepdim in (((0, 2), False), (1, True), ((), False)):
        _check(lambda lib, a: lib.frobenius_norm(a, dim, keepdim), [x])
    _check(lambda lib, a: lib.frobenius_norm(a, (0, 2)), [make_array((2, 3, 4), "complex128")])
    check_same_error(lambda lib: lib.nuclear_norm(lib.ones(2, 3, 4), (0,)))
    check_same_error(lambda lib: lib.nuclear_norm(lib.ones(2, 3, dtype=lib.int64)))
    check_same_error(lambda lib: lib.frobenius_norm(lib.ones(2, 3, 4), (0, 1, 2)))
    check_same_error(lambda lib: lib.frobenius_norm(lib.ones(2, 3, dtype=lib.int64), (0, 1)))


@pytest.mark.parametrize("p", [2, 1, 0, 3.5, float("inf")])
def test_dist(p):
    x, y = make_array((3, 4), "float64", seed=16), make_array((4,), "float64", seed=17)
    _check(lambda lib, a, b: lib.dist(a, b, p), [x, y], grad=p != 0)
    _check(lambda lib, a, b: a.float().dist(b, p), [x, y], grad=p != 0)
    if p not in (0, float("inf")):
        _gradchecks(lambda a, b: torsh.dist(a, b, p), [x, y])


def test_dist_dtypes_and_errors():
    (ours, _), (ref, _) = _run(lambda lib, a, b: lib.dist(a.to(lib.complex64), b.float()),
                               [make_array((3,), "float64"), make_array((3,), "float64", seed=1)], grad=False)
    assert_close(ours, ref)
    check_same_error(lambda lib: lib.dist(lib.ones(3, 4), lib.ones(5)))
    check_same_error(lambda lib: lib.dist(lib.ones(3, dtype=lib.int64), lib.ones(3, dtype=lib.int64)))
    check_same_error(lambda lib: lib.dist(lib.ones(3), 2.0))


@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 0.5), (float("inf"), -1, 0.7), (3, 0, 100.0)])
def test_renorm(p, dim, maxnorm):
    x = make_array((3, 4, 2), "float64", seed=18)
    _check(lambda lib, a: lib.renorm(a, p, dim, maxnorm), [x])
    _check(lambda lib, a: a.renorm(p, dim, maxnorm), [x])
    ours, ref = torsh.tensor(x), torch_ref.tensor(x)
    assert ours.renorm_(p, dim, maxnorm) is ours
    ref.renorm_(p, dim, maxnorm)
    assert_close(ours, ref)
    if p != float("inf"):
        _gradchecks(lambda a: torsh.renorm(a, p, dim, maxnorm), [x])


def test_renorm_errors():
    x = lambda lib: lib.ones(3, 4)  # noqa: E731
    check_same_error(lambda lib: lib.renorm(x(lib), -1, 0, 1.0))
    check_same_error(lambda lib: lib.renorm(x(lib), 0, 0, 1.0))
    check_same_error(lambda lib: lib.renorm(x(lib), 2, 0, -1.0))
    check_same_error(lambda lib: lib.renorm(x(lib), 2, 2, 1.0))
    check_same_error(lambda lib: lib.renorm(lib.ones(3), 2, 0, 1.0))
    check_same_error(lambda lib: lib.renorm(x(lib).long(), 2, 0, 1.0))


# -- removed Tensor methods -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [lambda A: A.lstsq(A), lambda A: A.solve(A), lambda A: A.eig(),
                                  lambda A: A.eig(eigenvectors=True), lambda A: A.symeig(),
                                  lambda A: A.symeig(True)])
def test_removed_methods_raise_pytorchs_message(call):
    ours = check_same_error(lambda lib: call(lib.eye(3)))
    ref = error_of(lambda: call(torch_ref.eye(3)))
    assert str(ours) == str(ref)


# -- complex gradients of torch.linalg (the adjoint, not the transpose) -------------------------------------------
CX = make_array((4, 3), "complex128", seed=19)
SQ = make_array((3, 3), "complex128", seed=20)
COMPLEX_CASES = {
    "inv": (lambda lib, a: lib.linalg.inv(a), [SQ]),
    "det": (lambda lib, a: lib.linalg.det(a), [SQ]),
    "slogdet": (lambda lib, a: lib.linalg.slogdet(a), [SQ]),
    "solve": (lambda lib, a, b: lib.linalg.solve(a, b), [SQ, CX[:3, :2].copy()]),
    "cholesky": (lambda lib, a: lib.linalg.cholesky(a), [_spd(3, complex_=True)]),
    "cholesky_upper": (lambda lib, a: lib.linalg.cholesky(a, upper=True), [_spd(3, complex_=True)]),
    "qr": (lambda lib, a: lib.linalg.qr(a), [CX]),
    "svd": (lambda lib, a: (lambda r: (r.U.abs(), r.S, r.Vh.abs(), r.U[:, :2] @ r.Vh[:2]))(
        lib.linalg.svd(a, full_matrices=False)), [CX]),
    "svd_full": (lambda lib, a: (lambda r: (r.U[:, :3].abs(), r.S))(lib.linalg.svd(a)), [CX]),
    "eigh": (lambda lib, a: (lambda r: (r.eigenvalues, r.eigenvectors.abs()))(lib.linalg.eigh(a)),
             [_spd(3, complex_=True)]),
    "pinv": (lambda lib, a: lib.linalg.pinv(a), [CX]),
    "matmul": (lambda lib, a, b: a @ b.mH, [CX, CX[:2].copy()]),
    "cholesky_solve": (lambda lib, b, f: lib.cholesky_solve(b, f), [CX[:3].copy(),
                                                                   np.linalg.cholesky(_spd(3, complex_=True))]),
    "triangular_solve": (lambda lib, b, a: lib.triangular_solve(b, a, False, True).solution, [CX[:3].copy(), SQ]),
    "householder_product": (lambda lib, a, t: lib.linalg.householder_product(a, t), [CX, CX[:3, 0].copy()]),
}


@pytest.mark.parametrize("name", list(COMPLEX_CASES))
def test_complex_gradients_match_pytorch(name):
    fn, arrays = COMPLEX_CASES[name]
    _check(fn, arrays)


def test_real_svd_full_matrices_backward_as_pytorch():
    """PyTorch 2.13 differentiates full_matrices=True (the extra singular vectors' gradients are dropped)."""
    for shape in ((4, 3), (3, 5)):
        k = min(shape)
        _check(lambda lib, a: (lambda r: (r.U[:, :k].abs(), r.S, r.Vh[:k].abs()))(lib.linalg.svd(a)),
               [make_array(shape, "float64", seed=21)])
