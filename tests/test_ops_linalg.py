"""Table tests: torsh.linalg (and the top-level det/inverse/...) against torch: values, gradients, gradcheck.

Decompositions read only part of their input (cholesky/eigh: one triangle), so their samples build a
symmetric (positive-definite) matrix from the random input first, as PyTorch's own OpInfos do.
"""
import pytest

import torsh
from helpers import check_same_error
from opinfo import MT, Op, S, T, make_tests

FLOATS = ("float32", "float64")


def spd(lib, x):
    """A symmetric positive-definite matrix (batch) from any square x."""
    return x @ x.mT + x.shape[-1] * lib.eye(x.shape[-1], dtype=x.dtype)


def sym(lib, x):
    return x + x.mT


def la(name):
    return lambda lib, a, **kw: getattr(lib.linalg, name)(a, **kw)


SQUARE = [S((3, 3)), S((2, 3, 3), name="batched"), S((3, 3), prep=T, name="transposed"), S((1, 1), name="1x1")]

OPS = [
    Op("inv", la("inv"), SQUARE),
    Op("inverse", lambda lib, a: a.inverse(), [S((3, 3))]),
    Op("det", la("det"), SQUARE + [S((0, 0), name="empty")]),
    Op("det_method", lambda lib, a: a.det(), [S((2, 2, 2))]),
    Op("slogdet", la("slogdet"), SQUARE),
    Op("logdet", lambda lib, a: lib.logdet(spd(lib, a)), [S((3, 3))]),
    Op("solve", lambda lib, a, b, **kw: lib.linalg.solve(a, b, **kw),
       [S((3, 3), (3, 2)), S((3, 3), (3,), name="vector"), S((2, 3, 3), (2, 3, 4), name="batched"),
        S((2, 3, 3), (3, 1), name="broadcast_b"), S((3, 3), (2, 3), left=False, name="right")]),
    Op("cholesky", lambda lib, a, **kw: lib.linalg.cholesky(spd(lib, a), **kw),
       [S((3, 3)), S((2, 3, 3), name="batched"), S((3, 3), upper=True, name="upper")]),
    Op("qr", lambda lib, a, **kw: lib.linalg.qr(a, **kw),
       [S((3, 3)), S((4, 3), name="tall"), S((2, 4, 3), name="batched")]),
    Op("qr_complete", lambda lib, a: lib.linalg.qr(a, mode="complete"), [S((4, 3))], differentiable=False),
    Op("qr_r", lambda lib, a: lib.linalg.qr(a, mode="r").R, [S((4, 3))], differentiable=False),
    # singular vectors are unique only up to a sign per pair: compare sign-free functions of them
    Op("svd", lambda lib, a, **kw: _sign_free(lib.linalg.svd(a, full_matrices=False)),
       [S((3, 3)), S((4, 3), name="tall"), S((3, 4), name="wide"), S((2, 4, 3), name="batched")]),
    Op("svd_full_forward", lambda lib, a: _full_svd_parts(lib, a), [S((4, 3)), S((3, 5))], differentiable=False),
    Op("svdvals", la("svdvals"), [S((3, 3)), S((4, 2)), S((2, 3, 5))]),
    Op("eigh", lambda lib, a, **kw: _eigh_sign_free(lib.linalg.eigh(sym(lib, a), **kw)),
       [S((3, 3)), S((2, 4, 4), name="batched"), S((3, 3), UPLO="U", name="upper")]),
    Op("eigvalsh", lambda lib, a: lib.linalg.eigvalsh(sym(lib, a)), [S((3, 3)), S((2, 3, 3))]),
    Op("eigvals", lambda lib, a: lib.linalg.eigvals(sym(lib, a)).real.sort().values, [S((3, 3))],
       differentiable=False),
    # general (non-symmetric) matrices: complex eigenvalues, compared and differentiated via real/imag parts
    Op("eigvals_general", lambda lib, a: _real_imag(lib.linalg.eigvals(a)), [S((3, 3)), S((2, 4, 4), name="batched")]),
    Op("eig_general", lambda lib, a: _eig_phase_free(lib.linalg.eig(a)), [S((3, 3)), S((2, 3, 3), name="batched")]),
    Op("eig_symmetric", lambda lib, a: lib.linalg.eig(sym(lib, a)).eigenvalues.real.sort().values, [S((3, 3))],
       differentiable=False),
    Op("vector_norm", la("vector_norm"),
       [S((3, 4)), S((3, 4), ord=1), S((3, 4), ord=3, dim=1), S((3, 4), ord=float("inf"), dim=0, keepdim=True),
        S((3, 4), ord=-float("inf")), S((3, 4), ord=0), S((2, 3, 4), dim=(0, 2)), S((), name="0d"),
        S((3, 4), ord=0.5, dim=-1, name="fractional")]),
    Op("vector_norm_zero_row", lambda lib, a: lib.linalg.vector_norm(a * (lib.arange(3) > 0).unsqueeze(1), dim=1),
       [S((3, 4))]),
    Op("matrix_norm", la("matrix_norm"),
       [S((3, 4)), S((3, 4), ord="nuc"), S((3, 4), ord=2), S((3, 4), ord=-2), S((3, 4), ord=1),
        S((3, 4), ord=-1), S((3, 4), ord=float("inf")), S((3, 4), ord=-float("inf")),
        S((2, 3, 4), ord=1, dim=(0, 2), keepdim=True, name="dims_keepdim")]),
    Op("norm", la("norm"),
       [S((3, 4)), S((5,), ord=3), S((3, 4), ord="fro"), S((3, 4), ord=1), S((3, 4), dim=1),
        S((2, 3, 4), dim=(1, 2), ord="nuc")]),
    Op("pinv", la("pinv"), [S((3, 3)), S((4, 3), name="tall"), S((3, 5), name="wide"), S((2, 4, 3), name="batched")]),
    Op("pinverse", lambda lib, a: lib.pinverse(a), [S((4, 3))]),
    Op("matrix_power", lambda lib, a, n: lib.linalg.matrix_power(a, n),
       [S((3, 3), n=0), S((3, 3), n=1), S((3, 3), n=3), S((3, 3), n=-2), S((2, 3, 3), n=5, name="batched")],
       domain=(-0.8, 0.8)),
    Op("matrix_power_method", lambda lib, a: a.matrix_power(2), [S((3, 3))]),
    Op("matrix_rank", lambda lib, a: lib.linalg.matrix_rank(a), [S((3, 4)), S((2, 4, 4))], differentiable=False),
    Op("matrix_rank_deficient", lambda lib, a: lib.linalg.matrix_rank(a[:, :1] @ a[:1, :]), [S((4, 4))],
       differentiable=False),
    Op("cond", la("cond"), [S((3, 3)), S((3, 3), p=-2), S((4, 3), name="tall")]),
    # torch's own backward fails here (its inv output is modified in place): gradcheck only
    Op("cond_p", la("cond"), [S((3, 3), p=1), S((3, 3), p="fro"), S((3, 3), p=float("inf"))], torch_grad=False),
    Op("lstsq", lambda lib, a, b: lib.linalg.lstsq(a, b).solution, [S((5, 3), (5, 2)), S((4, 4), (4, 1))]),
    Op("lstsq_rank", lambda lib, a, b: lib.linalg.lstsq(a, b).rank, [S((5, 3), (5, 2))], differentiable=False),
    Op("multi_dot", lambda lib, *ts: lib.linalg.multi_dot(list(ts)),
       [S((2, 3), (3, 4), (4, 5)), S((3,), (3, 4), (4,), name="vector_ends"), S((3,), (3, 2), name="two")]),
    Op("linalg_matmul", lambda lib, a, b: lib.linalg.matmul(a, b), [S((3, 4), (4, 2))]),
    Op("vecdot", lambda lib, a, b: lib.linalg.vecdot(a, b), [S((3, 4), (3, 4)), S((3, 4), (4,))]),
]


def _real_imag(z):
    return z.real, z.imag * 1  # * 1: a plain tensor (torch may hand back a lazily negated view)


def _eig_phase_free(lv):
    L, V = lv
    return L.real, L.imag * 1, V.abs() ** 2  # |V|^2 does not depend on the eigenvectors' phases


def _sign_free(usv):
    U, S_, Vh = usv
    return U * U, S_, Vh * Vh


def _full_svd_parts(lib, a):
    """Shapes, singular values and the reconstruction (the extra singular vectors are not unique)."""
    U, S_, Vh = lib.linalg.svd(a)
    k = S_.shape[-1]
    return lib.tensor(list(U.shape) + list(Vh.shape)), S_, (U[..., :k] * S_) @ Vh[..., :k, :]


def _eigh_sign_free(lv):
    L, V = lv
    return L, V * V


test_forward, test_backward, test_gradcheck = make_tests(OPS)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.linalg.inv(lib.ones(2, 3)),
    lambda lib: lib.linalg.inv(lib.ones(3)),
    lambda lib: lib.linalg.det(lib.ones(2, 3)),
    lambda lib: lib.linalg.eigh(lib.ones(2, 3)),
    lambda lib: lib.linalg.multi_dot([lib.ones(2, 2)]),
    lambda lib: lib.linalg.multi_dot([lib.ones(3, 3), lib.ones(2, 2)]),
    lambda lib: lib.linalg.vector_norm(lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.linalg.qr(lib.ones(3, 3), mode="x"),
    lambda lib: lib.linalg.cross(lib.ones(2, 4), lib.ones(2, 4)),
], ids=["inv_not_square", "inv_1d", "det_not_square", "eigh_not_square", "multi_dot_one", "multi_dot_shapes", "vector_norm_int", "qr_mode", "cross_len"])
def test_errors(fn):
    check_same_error(fn)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.linalg.inv(lib.zeros(3, 3)),
    lambda lib: lib.linalg.cholesky(-lib.eye(2)),
    lambda lib: lib.linalg.cholesky(lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.linalg.solve(lib.zeros(3, 3), lib.ones(3)),
], ids=["inv_singular", "cholesky_not_pd", "cholesky_minor_2", "solve_singular"])
def test_linalg_errors(fn):
    """Numerical failures raise linalg.LinAlgError (each library its own class) with PyTorch's message."""
    ours = check_error_type_free(fn)
    assert isinstance(ours, torsh.linalg.LinAlgError)


def check_error_type_free(fn):
    from helpers import error_of, torch_ref
    ref, ours = error_of(lambda: fn(torch_ref)), error_of(lambda: fn(torsh))
    assert isinstance(ref, torch_ref.linalg.LinAlgError)
    assert str(ref).split("\n")[0] in str(ours), f"torsh: {ours}\ntorch: {ref}"
    return ours


def test_linalg_error_is_runtime_error_subclass():
    assert issubclass(torsh.linalg.LinAlgError, RuntimeError)
    with pytest.raises(torsh.linalg.LinAlgError):
        torsh.linalg.inv(torsh.zeros(2, 2))


# -- lstsq's driver-dependent outputs and pinv(hermitian=True), against torch ----------------------------------
import numpy as np  # noqa: E402
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("a_shape,b_shape", [((5, 3), (5, 2)), ((5, 3), (5,)), ((3, 5), (3, 2)),
                                             ((2, 6, 3), (2, 6, 4))])
def test_lstsq_outputs_per_driver_match_torch(driver, a_shape, b_shape):
    import torch as torch_ref
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    ours = torsh.linalg.lstsq(torsh.tensor(a), torsh.tensor(b), driver=driver)
    ref = torch_ref.linalg.lstsq(torch_ref.tensor(a), torch_ref.tensor(b), driver=driver)
    for name in ("solution", "residuals", "rank", "singular_values"):
        o, r = getattr(ours, name), getattr(ref, name)
        assert tuple(o.shape) == tuple(r.shape), name
        assert str(o.dtype).split(".")[1] == str(r.dtype).split(".")[1], name
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


def test_lstsq_rank_deficient_and_rcond():
    import torch as torch_ref
    a = np.random.default_rng(1).standard_normal((6, 3))
    a[:, 2] = a[:, 1]
    b = np.random.default_rng(2).standard_normal((6, 2))
    for driver in ("gelsy", "gelsd", "gelss"):
        ours = torsh.linalg.lstsq(torsh.tensor(a), torsh.tensor(b), driver=driver)
        ref = torch_ref.linalg.lstsq(torch_ref.tensor(a), torch_ref.tensor(b), driver=driver)
        assert ours.rank.item() == ref.rank.item() == 2
        assert ours.residuals.shape == ref.residuals.shape == (0,)  # not full rank: none
        np.testing.assert_allclose(ours.solution.numpy(), ref.solution.numpy(), rtol=1e-8, atol=1e-10)
    full = np.random.default_rng(3).standard_normal((6, 3)) @ np.diag([1.0, 1e-3, 1e-9])
    ours = torsh.linalg.lstsq(torsh.tensor(full), torsh.tensor(b), rcond=1e-6, driver="gelsd")
    ref = torch_ref.linalg.lstsq(torch_ref.tensor(full), torch_ref.tensor(b), rcond=1e-6, driver="gelsd")
    assert ours.rank.item() == ref.rank.item()
    np.testing.assert_allclose(ours.solution.numpy(), ref.solution.numpy(), rtol=1e-6, atol=1e-8)


def test_lstsq_errors_and_gradients():
    import torch as torch_ref
    a, b = np.random.default_rng(4).standard_normal((5, 3)), np.random.default_rng(5).standard_normal((5, 2))
    for call in (lambda lib: lib.linalg.lstsq(lib.tensor(a), lib.tensor(b), driver="foo"),
                 lambda lib: lib.linalg.lstsq(lib.tensor(a).float(), lib.tensor(b))):
        msgs = []
        for lib in (torsh, torch_ref):
            with pytest.raises(RuntimeError) as err:
                call(lib)
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]
    x, y = torsh.tensor(a, requires_grad=True), torsh.tensor(b, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda p, q: torsh.linalg.lstsq(p, q, driver="gels")[:2], (x, y))
    xr, yr = torch_ref.tensor(a, requires_grad=True), torch_ref.tensor(b, requires_grad=True)
    out, ref = torsh.linalg.lstsq(x, y, driver="gelsd"), torch_ref.linalg.lstsq(xr, yr, driver="gelsd")
    (out.solution.sum() + out.residuals.sum()).backward()
    (ref.solution.sum() + ref.residuals.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(y.grad.numpy(), yr.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("rank", [4, 3])
def test_pinv_hermitian_values_and_gradient_match_torch(rank):
    import torch as torch_ref
    rng = np.random.default_rng(6)
    f = rng.standard_normal((4, rank))
    h = f @ np.diag(rng.standard_normal(rank)) @ f.T  # symmetric, indefinite, of that rank
    w = rng.standard_normal((4, 4))
    x, xr = torsh.tensor(h, requires_grad=True), torch_ref.tensor(h, requires_grad=True)
    out, ref = torsh.linalg.pinv(x, hermitian=True), torch_ref.linalg.pinv(xr, hermitian=True)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-8, atol=1e-10)
    (out * torsh.tensor(w)).sum().backward()
    (ref * torch_ref.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-7, atol=1e-9)
    for kw in ({"atol": 0.5}, {"rtol": 0.3}, {"atol": 0.1, "rtol": 0.2}):
        np.testing.assert_allclose(torsh.linalg.pinv(torsh.tensor(h), hermitian=True, **kw).numpy(),
                                   torch_ref.linalg.pinv(torch_ref.tensor(h), hermitian=True, **kw).numpy(),
                                   rtol=1e-8, atol=1e-10)
