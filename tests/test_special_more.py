"""torsh.special's Bessel/Airy functions, orthogonal polynomials, zeta and gammainc/gammaincc against
torch.special: values and result dtypes over shapes and dtypes, which results require grad, gradients (and
float64 gradcheck) where PyTorch has a derivative, PyTorch's errors where it has none or no kernel."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, pair, torch_ref
from opinfo import BINARY, UNARY, L, Op, S, make_tests

FLOAT_INT = ("float32", "float64", "int64", "bool")
BESSEL = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
          "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
          "scaled_modified_bessel_k1", "spherical_bessel_j0"]
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
               "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]
WIDE = (-6.0, 6.0)  # both signs: Bessel y/k give NaN below 0 and inf at 0, as in PyTorch


def special(name):
    return lambda lib, *args, **kw: getattr(lib.special, name)(*args, **kw)


def degrees(values):
    return L(lambda lib: lib.tensor(values))


DEGREES = [[0], [1], [2], [3], [5], [7], [9], [12], [-1]]
POLY_SAMPLES = [S((3, 4), n=3), S((4,), n=0, name="n0"), S((5,), n=2.7, name="n_float_truncated"),
                S((4,), n=degrees(DEGREES), name="n_tensor"), S((2, 3), n=degrees([1.0, 4.9, 8.0]), name="n_float_tensor"),
                S((), n=6, name="0d"), S((0, 3), n=2, name="empty")]

OPS = ([Op(name, special(name), UNARY, dtypes=FLOAT_INT, domain=WIDE, differentiable=False, rtol=1e-5, atol=1e-6)
        for name in BESSEL]
       + [Op(name, special(name), POLY_SAMPLES, dtypes=("float32", "float64", "int64"), domain=(-1.0, 1.0),
             differentiable=False, rtol=1e-5, atol=1e-5) for name in POLYNOMIALS]
       + [Op(name + "_wide", special(name), [S((3, 4), n=4), S((4,), n=degrees(DEGREES))], domain=(-3.0, 3.0),
             differentiable=False, rtol=1e-5, atol=1e-4) for name in POLYNOMIALS]
       + [Op("zeta", special("zeta"), BINARY, domain=[(1.5, 4.0), (0.5, 3.0)], grad_args=(1,), rtol=1e-5),
          Op("zeta_scalar_x", lambda lib, q: lib.special.zeta(2.5, q), [S((3, 4))], domain=(0.5, 3.0)),
          Op("zeta_scalar_q", lambda lib, x: lib.special.zeta(x, 1.5), [S((3, 4))], domain=(1.5, 4.0),
             differentiable=False),
          Op("zeta_ints", special("zeta"), [S((3, 4), (4,))], dtypes=("int64",), domain=(1.0, 4.0),
             differentiable=False),
          Op("gammainc", special("gammainc"), BINARY, domain=[(0.5, 4.0), (0.1, 5.0)], grad_args=(1,)),
          Op("gammaincc", special("gammaincc"), BINARY, domain=[(0.5, 4.0), (0.1, 5.0)], grad_args=(1,))])

test_forward, test_backward, test_gradcheck = make_tests(OPS)


@pytest.mark.parametrize("name", BESSEL + POLYNOMIALS)
def test_no_graph_as_pytorch(name):
    """PyTorch defines no derivative for these: the result does not require grad, backward through it raises."""
    ours, ref = pair(np.linspace(0.1, 0.9, 5), "float64", requires_grad=True)
    args = (3,) if name in POLYNOMIALS else ()
    out, ref_out = getattr(torsh.special, name)(ours, *args), getattr(torch_ref.special, name)(ref, *args)
    assert out.requires_grad == ref_out.requires_grad is False
    check_same_error(lambda lib: getattr(lib.special, name)(
        lib.ones(2, requires_grad=True), *args).sum().backward())


@pytest.mark.parametrize("name,what", [("zeta", "zeta"), ("gammainc", "igamma"), ("gammaincc", "igammac")])
def test_first_argument_has_no_derivative(name, what):
    err = check_same_error(lambda lib: getattr(lib.special, name)(
        lib.tensor([1.5, 2.5], requires_grad=True), lib.tensor([0.5, 1.5])).sum().backward())
    assert what in str(err)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.special.bessel_j0(lib.ones(2, dtype=lib.float16)),
    lambda lib: lib.special.modified_bessel_k1(lib.ones(2, dtype=lib.complex64)),
    lambda lib: lib.special.airy_ai(lib.ones(2, dtype=lib.bfloat16)),
    lambda lib: lib.special.chebyshev_polynomial_t(lib.ones(2, dtype=lib.float16), 2),
    lambda lib: lib.special.hermite_polynomial_h(lib.ones(2, dtype=lib.complex64), 2),
    lambda lib: lib.special.legendre_polynomial_p(1.0, 2.0),
    lambda lib: lib.special.chebyshev_polynomial_u(lib.ones(2), lib.ones(3)),
    lambda lib: lib.special.zeta(lib.ones(2, dtype=lib.float16), lib.ones(2, dtype=lib.float16)),
    lambda lib: lib.special.zeta(lib.ones(2, dtype=lib.complex64), lib.ones(2)),
    lambda lib: lib.special.zeta(lib.ones(2), lib.ones(3)),
    lambda lib: lib.special.gammainc(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
    lambda lib: lib.special.gammaincc(lib.ones(2, dtype=lib.int32), lib.ones(2, dtype=lib.int32)),
    lambda lib: lib.special.gammainc(lib.ones(2, dtype=lib.complex64), lib.ones(2)),
    lambda lib: lib.special.gammainc(1.0, lib.ones(2)),
    lambda lib: lib.special.gammaincc(lib.ones(2), 2.0),
    lambda lib: lib.special.gammainc(lib.ones(2), lib.ones(3)),
], ids=["bessel_half", "bessel_complex", "airy_bfloat16", "poly_half", "poly_complex", "poly_two_numbers",
        "poly_broadcast", "zeta_half", "zeta_complex", "zeta_broadcast", "gammainc_long", "gammaincc_int",
        "gammainc_complex", "gammainc_number_input", "gammaincc_number_other", "gammainc_broadcast"])
def test_errors(fn):
    check_same_error(fn)


@pytest.mark.parametrize("x,n", [("float32", "float64"), ("int64", "float32"), ("int32", "int64"), ("float64", "int64")])
def test_polynomial_result_dtype(x, n):
    a, ra = pair(np.array([0.5, 1.0]), x)
    b, rb = pair(np.array([2.0, 3.0]), n)
    assert_close(torsh.special.legendre_polynomial_p(a, b), torch_ref.special.legendre_polynomial_p(ra, rb))
    assert_close(torsh.special.hermite_polynomial_he(2.0, b), torch_ref.special.hermite_polynomial_he(2.0, rb))


def test_edges_match_pytorch():
    """x = +-1 and 0 (the closed forms PyTorch special-cases), x = 0 for y/k Bessel functions, large |x| for Airy."""
    ours, ref = pair(np.array([-1.0, 0.0, 1.0, -100.0, 100.0, 1e-9]), "float64")
    for name in BESSEL:
        assert_close(getattr(torsh.special, name)(ours), getattr(torch_ref.special, name)(ref), msg=name)
    for name in POLYNOMIALS:
        for n in (0, 1, 2, 7, 10):
            assert_close(getattr(torsh.special, name)(ours[:3], n), getattr(torch_ref.special, name)(ref[:3], n),
                         msg=f"{name} n={n}")


def test_out_argument():
    out = torsh.empty(0)
    r = torsh.special.bessel_j0(torsh.tensor([1.0, 2.0]), out=out)
    assert r is out and tuple(out.shape) == (2,)
    out = torsh.empty(0)
    assert torsh.special.chebyshev_polynomial_t(torsh.tensor([0.5]), 3, out=out) is out
