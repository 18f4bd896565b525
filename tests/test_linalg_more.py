"""torsh.linalg's LU/LDL factorizations, triangular solves, matrix_exp, *_ex variants, tensorinv/tensorsolve,
vander and diagonal against torch.linalg: values/dtypes on batches, gradients vs torch, float64 gradcheck, errors."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, pair, torch_ref
from opinfo import Op, S, make_tests

FLOATS_COMPLEX = ("float32", "float64", "complex128")


def well_conditioned(t):
    return t + 4 * t.new_ones(()) * _eye_like(t)


def _eye_like(t):
    n = t.shape[-1]
    lib = torsh if isinstance(t, torsh.Tensor) else torch_ref
    return lib.eye(n, dtype=t.dtype)


def op(name, fn, samples, prep=None, **kw):
    """An Op whose samples all build their inputs through ``prep`` (well-conditioned, triangular, ...)."""
    for sample in samples:
        sample.prep = prep
    return Op(name, fn, samples, **kw)


def spd(t):
    return t @ t.mT + t.shape[-1] * _eye_like(t)


def tri(upper, unit=False):
    def make(t):
        m = well_conditioned(t)
        return m.triu() if upper else m.tril()
    return make


OPS = [
    op("inv_ex", lambda lib, a: lib.linalg.inv_ex(a).inverse, [S((3, 3)), S((2, 4, 4))], prep=well_conditioned),
    op("cholesky_ex", lambda lib, a, **kw: lib.linalg.cholesky_ex(a, **kw).L,
       [S((3, 3)), S((2, 3, 3), upper=True)], prep=spd),
    op("solve_ex", lambda lib, a, b, **kw: lib.linalg.solve_ex(a, b, **kw).result,
       [S((3, 3), (3, 2)), S((2, 3, 3), (2, 3, 4)), S((3, 3), (2, 3), left=False)], prep=(well_conditioned, None)),
    op("solve_triangular_upper", lambda lib, a, b, **kw: lib.linalg.solve_triangular(a, b, upper=True, **kw),
       [S((3, 3), (3, 2)), S((2, 4, 4), (2, 4, 3)), S((3, 3), (1, 3), left=False),
        S((3, 3), (3, 2), unitriangular=True), S((1, 3, 3), (2, 3, 2), name="broadcast")],
       prep=(tri(True), None), dtypes=FLOATS_COMPLEX),
    op("solve_triangular_lower", lambda lib, a, b, **kw: lib.linalg.solve_triangular(a, b, upper=False, **kw),
       [S((3, 3), (3, 2)), S((3, 3), (2, 3), left=False), S((3, 3), (3, 1), unitriangular=True)],
       prep=(tri(False), None)),
    op("matrix_exp", lambda lib, a: lib.linalg.matrix_exp(a), [S((3, 3)), S((2, 2, 2)), S((1, 1))],
       dtypes=FLOATS_COMPLEX),
    op("lu_factor", lambda lib, a: lib.linalg.lu_factor(a), [S((3, 3)), S((2, 4, 4))]),
    op("lu_factor_ex", lambda lib, a: lib.linalg.lu_factor_ex(a), [S((3, 3)), S((2, 3, 3))]),
    op("lu_factor_rect", lambda lib, a: lib.linalg.lu_factor(a), [S((3, 5)), S((5, 3))], differentiable=False),
    op("lu", lambda lib, a: lib.linalg.lu(a), [S((3, 3)), S((2, 4, 4))]),
    op("lu_rect", lambda lib, a: lib.linalg.lu(a), [S((2, 3, 5)), S((5, 3))], differentiable=False),
    op("lu_solve", lambda lib, a, b, **kw: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b, **kw),
       [S((3, 3), (3, 2)), S((2, 3, 3), (2, 3, 4)), S((3, 3), (3, 2), adjoint=True),
        S((3, 3), (2, 3), left=False), S((3, 3), (2, 3), left=False, adjoint=True)], prep=(well_conditioned, None)),
    op("ldl_factor", lambda lib, a: lib.linalg.ldl_factor(a), [S((3, 3)), S((2, 4, 4))],
       prep=lambda t: t + t.mT, differentiable=False),
    op("tensorinv", lambda lib, a, **kw: lib.linalg.tensorinv(a, **kw), [S((4, 2, 2), ind=1), S((2, 3, 2, 3))],
       prep=lambda t: t + 3 * _flat_eye(t)),
    op("tensorsolve", lambda lib, a, b, **kw: lib.linalg.tensorsolve(a, b, **kw),
       [S((6, 2, 3), (6,)), S((2, 3, 6), (6,), dims=(0, 1))], prep=(lambda t: t + 3 * _tensorsolve_eye(t), None)),
    op("vander", lambda lib, x, **kw: lib.linalg.vander(x, **kw), [S((4,)), S((2, 3), N=5)],
       dtypes=("float32", "float64", "int64", "complex128")),
    op("diagonal", lambda lib, a, **kw: lib.linalg.diagonal(a, **kw),
       [S((3, 4)), S((2, 3, 4), offset=1), S((3, 4, 5), dim1=0, dim2=2, offset=-1)]),
]


def _flat_eye(t):
    shape = tuple(t.shape)
    lib = torsh if isinstance(t, torsh.Tensor) else torch_ref
    rows = int(round(np.prod(shape) ** 0.5))
    return lib.eye(rows, dtype=t.dtype).reshape(shape)


def _tensorsolve_eye(t):
    lib = torsh if isinstance(t, torsh.Tensor) else torch_ref
    if t.shape[0] == 6:
        return lib.eye(6, dtype=t.dtype).reshape(tuple(t.shape))
    return lib.eye(6, dtype=t.dtype).reshape(6, 2, 3).permute(1, 2, 0)


test_forward, test_backward, test_gradcheck = make_tests(OPS)


def test_ex_variants_report_info_instead_of_raising():
    singular, ref = pair(np.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 3.0]]]), "float64")
    for name in ("inv_ex", "cholesky_ex"):
        assert_close(getattr(torsh.linalg, name)(singular).info, getattr(torch_ref.linalg, name)(ref).info, msg=name)
    rhs, ref_rhs = pair(np.ones((2, 2, 1)), "float64")
    assert_close(torsh.linalg.solve_ex(singular, rhs).info, torch_ref.linalg.solve_ex(ref, ref_rhs).info)
    assert_close(torsh.linalg.lu_factor_ex(singular).info, torch_ref.linalg.lu_factor_ex(ref).info)
    ours = torsh.linalg.inv_ex(singular[1:])
    assert_close(ours.inverse, torch_ref.linalg.inv_ex(ref[1:]).inverse)


def test_lu_reconstructs_and_p_has_no_grad():
    a, ref = pair(np.random.default_rng(1).normal(size=(2, 4, 4)), "float64", requires_grad=True)
    P, L, U = torsh.linalg.lu(a)
    assert_close(P @ L @ U, a.detach())
    assert P.requires_grad is torch_ref.linalg.lu(ref).P.requires_grad is False


@pytest.mark.parametrize("fn", [
    lambda lib: lib.linalg.vander(lib.ones(3), N=1),
    lambda lib: lib.linalg.vander(lib.tensor(1.0)),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3), ind=1),
    lambda lib: lib.linalg.tensorinv(lib.ones(4, 2, 2), ind=0),
    lambda lib: lib.linalg.lu_factor(lib.zeros(2, 2)),
    lambda lib: lib.linalg.solve_triangular(lib.ones(3, 3), lib.ones(3), upper=True),
    lambda lib: lib.linalg.matrix_exp(lib.ones(2, 3)),
    lambda lib: lib.linalg.ldl_factor(lib.eye(2, requires_grad=True) * 2).LD.sum().backward(),
], ids=["vander_N1", "vander_0d", "tensorinv_shape", "tensorinv_ind", "lu_factor_singular", "solve_triangular_B",
        "matrix_exp_square", "ldl_no_derivative"])
def test_errors(fn):
    check_same_error(fn)
