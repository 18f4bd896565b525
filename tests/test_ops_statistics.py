"""cov, corrcoef, histogramdd, gradient, trapezoid/trapz/cumulative_trapezoid, combinations, vander and
unravel_index against PyTorch 2.13: values, dtypes, gradients (float64 gradcheck) and errors."""
import numpy as np
import pytest

import torsh
from helpers import (assert_close, assert_same_structure_close, check_same_error, make_array, needs_torch,
                     torch_ref)

pytestmark = needs_torch

X = make_array((3, 5), "float64", seed=1)
FW = np.array([1, 2, 0, 3, 1])
AW = np.array([0.5, 1.0, 2.0, 0.25, 1.5])


def both(fn):
    return fn(torsh), fn(torch_ref)


def _t(lib, arr, **kw):
    return lib.tensor(np.array(arr), **kw)


@pytest.mark.parametrize("case", [
    lambda lib: lib.cov(_t(lib, X)),
    lambda lib: lib.cov(_t(lib, X), correction=0),
    lambda lib: lib.cov(_t(lib, X), correction=2, fweights=_t(lib, FW)),
    lambda lib: lib.cov(_t(lib, X), aweights=_t(lib, AW)),
    lambda lib: lib.cov(_t(lib, X), fweights=_t(lib, FW), aweights=_t(lib, AW)),
    lambda lib: lib.cov(_t(lib, X[0])),
    lambda lib: lib.cov(_t(lib, [[1, 2, 4], [3, 1, 0]])),  # integers -> default float
    lambda lib: _t(lib, X, dtype=lib.float32).cov(),
    lambda lib: lib.cov(_t(lib, X + 1j * X[::-1])),
    lambda lib: lib.corrcoef(_t(lib, X)),
    lambda lib: lib.corrcoef(_t(lib, X[0])),
    lambda lib: _t(lib, [[1, 2, 4], [3, 1, 0]]).corrcoef(),
    lambda lib: lib.corrcoef(_t(lib, X + 1j * X[::-1])),
])
def test_cov_corrcoef_values(case):
    ours, ref = both(case)
    assert_close(ours, ref)


def test_cov_with_too_few_observations_warns_and_divides_by_zero():
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        ours = torsh.cov(torsh.tensor(X[:, :2]), correction=3)
    assert_close(ours, torch_ref.cov(torch_ref.tensor(X[:, :2]), correction=3))


@pytest.mark.parametrize("case", [
    lambda lib: lib.cov(lib.ones(2, 2, 2)),
    lambda lib: lib.cov(_t(lib, X), fweights=lib.ones(5)),
    lambda lib: lib.cov(_t(lib, X), fweights=lib.ones(2, 5, dtype=lib.long)),
    lambda lib: lib.cov(_t(lib, X), fweights=lib.ones(4, dtype=lib.long)),
    lambda lib: lib.cov(_t(lib, X), fweights=-lib.ones(5, dtype=lib.long)),
    lambda lib: lib.cov(_t(lib, X), aweights=lib.ones(5, dtype=lib.long)),
    lambda lib: lib.cov(_t(lib, X), aweights=-lib.ones(5, dtype=lib.float64)),
    lambda lib: lib.cov(_t(lib, X), aweights=lib.zeros(5, dtype=lib.float64)),
    lambda lib: lib.corrcoef(lib.ones(2, 2, 2)),
])
def test_cov_errors(case):
    check_same_error(case)


def test_cov_corrcoef_gradients():
    x = torsh.tensor(X, requires_grad=True)
    w = torsh.tensor(AW, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a, b: torsh.cov(a, aweights=b, fweights=torsh.tensor(FW)), (x, w))
    assert torsh.autograd.gradcheck(torsh.corrcoef, (x,))
    ours = torsh.cov(x, aweights=w)
    ours.sum().backward()
    xr, wr = torch_ref.tensor(X, requires_grad=True), torch_ref.tensor(AW, requires_grad=True)
    torch_ref.cov(xr, aweights=wr).sum().backward()
    assert_close(x.grad, xr.grad)
    assert_close(w.grad, wr.grad)


# -- histogramdd ----------------------------------------------------------------------------------
POINTS = make_array((40, 2), "float32", seed=4)


@pytest.mark.parametrize("case", [
    lambda lib: lib.histogramdd(_t(lib, POINTS), bins=4),
    lambda lib: lib.histogramdd(_t(lib, POINTS), bins=[3, 5], density=True),
    lambda lib: lib.histogramdd(_t(lib, POINTS), bins=[2, 3], range=[-1.0, 1.0, 0.0, 2.0],
                                weight=_t(lib, np.arange(40.0, dtype=np.float32))),
    lambda lib: lib.histogramdd(_t(lib, POINTS), bins=[_t(lib, np.array([-2.0, 0.0, 2.0], np.float32)),
                                                       _t(lib, np.array([-1.0, 1.0], np.float32))]),
    lambda lib: lib.histogramdd(_t(lib, np.ones((6, 3), np.float64)), bins=2),  # empty extent: widened by 0.5
])
def test_histogramdd(case):
    ours, ref = both(case)
    assert type(ours).__name__ == "histogramdd" and ours._fields == ("hist", "bin_edges")
    assert_close(ours.hist, ref.hist)
    assert_same_structure_close(tuple(ours.bin_edges), tuple(ref.bin_edges))


# -- gradient -------------------------------------------------------------------------------------
F = make_array((4, 5), "float64", seed=2)
COORDS = np.array([0.0, 0.5, 1.5, 1.75])


@pytest.mark.parametrize("case", [
    lambda lib: lib.gradient(_t(lib, F)),
    lambda lib: lib.gradient(_t(lib, F), edge_order=2),
    lambda lib: lib.gradient(_t(lib, F), spacing=2.0, dim=1),
    lambda lib: lib.gradient(_t(lib, F), spacing=[2.0, 0.5]),
    lambda lib: lib.gradient(_t(lib, F), spacing=(_t(lib, COORDS),), dim=0),
    lambda lib: lib.gradient(_t(lib, F), spacing=(_t(lib, COORDS),), dim=0, edge_order=2),
    lambda lib: lib.gradient(_t(lib, [1, 2, 4, 7])),
    lambda lib: lib.gradient(_t(lib, F, dtype=lib.float32), dim=(0, -1), spacing=3),
])
def test_gradient_values(case):
    ours, ref = both(case)
    assert isinstance(ours, tuple)
    assert_same_structure_close(ours, tuple(ref))


@pytest.mark.parametrize("case", [
    lambda lib: lib.gradient(_t(lib, [1.0, 2.0, 4.0]), edge_order=3),
    lambda lib: lib.gradient(_t(lib, [1.0, 2.0]), edge_order=2),
    lambda lib: lib.gradient(_t(lib, [1.0, 2.0, 4.0, 7.0]), spacing=[2, 3]),
    lambda lib: lib.gradient(_t(lib, F), spacing=[2, 3, 4], dim=0),
    lambda lib: lib.gradient(_t(lib, [1.0, 2.0, 4.0, 7.0]), dim=1),
])
def test_gradient_errors(case):
    check_same_error(case)


def test_gradient_gradcheck():
    f = torsh.tensor(F, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a: torsh.gradient(a, edge_order=2), (f,))
    coords = torsh.tensor(COORDS, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a, c: torsh.gradient(a, spacing=(c,), dim=0, edge_order=2), (f, coords))


# -- trapezoid rules ------------------------------------------------------------------------------
XS = np.array([0.0, 0.3, 1.0, 1.2, 2.0])


@pytest.mark.parametrize("case", [
    lambda lib: lib.trapezoid(_t(lib, F)),
    lambda lib: lib.trapezoid(_t(lib, F), dx=0.5, dim=0),
    lambda lib: lib.trapezoid(_t(lib, F), _t(lib, XS)),
    lambda lib: lib.trapezoid(_t(lib, F), _t(lib, np.tile(XS, (4, 1)))),
    lambda lib: lib.trapezoid(_t(lib, [1, 2, 4])),
    lambda lib: lib.trapezoid(_t(lib, [1, 2, 4]), dx=2),
    lambda lib: lib.trapezoid(lib.ones(2, 0)),
    lambda lib: lib.trapz(_t(lib, F), _t(lib, XS)),
    lambda lib: lib.trapz(_t(lib, F), dx=2.0, dim=0),
    lambda lib: lib.cumulative_trapezoid(_t(lib, F)),
    lambda lib: lib.cumulative_trapezoid(_t(lib, F), _t(lib, XS)),
    lambda lib: lib.cumulative_trapezoid(_t(lib, F), dx=0.25, dim=0),
    lambda lib: lib.cumulative_trapezoid(_t(lib, [1, 2, 4])),
])
def test_trapezoid_values(case):
    ours, ref = both(case)
    assert_close(ours, ref)


def test_trapezoid_errors_and_gradients():
    check_same_error(lambda lib: lib.trapezoid(_t(lib, [1.0, 2.0, 4.0]), _t(lib, [1.0, 2.0])))
    y, x = torsh.tensor(F, requires_grad=True), torsh.tensor(XS, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.trapezoid, (y, x))
    assert torsh.autograd.gradcheck(lambda a, b: torsh.cumulative_trapezoid(a, b), (y, x))
    assert torsh.autograd.gradcheck(lambda a: torsh.trapezoid(a, dx=0.5, dim=0), (y,))


# -- combinations / vander / unravel_index --------------------------------------------------------
@pytest.mark.parametrize("case", [
    lambda lib: lib.combinations(_t(lib, [1, 2, 3, 4])),
    lambda lib: lib.combinations(_t(lib, [1.0, 2.0, 3.0]), r=3),
    lambda lib: lib.combinations(_t(lib, [1, 2, 3]), r=1),
    lambda lib: lib.combinations(_t(lib, [1, 2, 3]), r=0),
    lambda lib: lib.combinations(_t(lib, [1, 2, 3]), r=4),
    lambda lib: lib.combinations(_t(lib, [1, 2, 3]), with_replacement=True),
    lambda lib: lib.vander(_t(lib, [1, 2, 3])),
    lambda lib: lib.vander(_t(lib, [1.5, 2.0, -3.0]), N=4, increasing=True),
    lambda lib: lib.vander(_t(lib, [1, 2, 3], dtype=lib.int8)),
    lambda lib: lib.vander(_t(lib, [True, False])),
    lambda lib: lib.vander(_t(lib, [1, 2, 3]), N=0),
    lambda lib: lib.vander(_t(lib, [1, 2, 3]), N=1),
])
def test_combinations_vander(case):
    ours, ref = both(case)
    assert_close(ours, ref)


@pytest.mark.parametrize("case", [
    lambda lib: lib.unravel_index(_t(lib, [4, 1, -7, 6]), (2, 3)),
    lambda lib: lib.unravel_index(_t(lib, 4), (2, 3)),
    lambda lib: lib.unravel_index(_t(lib, [[5, 3], [0, 2]], dtype=lib.int32), (1, 2, 3)),
    lambda lib: lib.unravel_index(_t(lib, [1]), 5),
    lambda lib: lib.unravel_index(_t(lib, [0]), ()),
])
def test_unravel_index(case):
    ours, ref = both(case)
    assert_same_structure_close(ours, tuple(ref))


@pytest.mark.parametrize("case", [
    lambda lib: lib.combinations(lib.ones(2, 2)),
    lambda lib: lib.combinations(_t(lib, [1, 2]), r=-1),
    lambda lib: lib.vander(_t(lib, [1.0]), N=-1),
    lambda lib: lib.vander(lib.ones(2, 2)),
    lambda lib: lib.unravel_index(_t(lib, [1]), (2, -3)),
])
def test_combinations_vander_unravel_errors(case):
    check_same_error(case)


def test_unravel_index_dtype_error():
    # the message names the dtype, printed with the package's name
    check_same_error(lambda lib: lib.unravel_index(_t(lib, [4.0]), (2, 3)), exact=False,
                     fallback_msg="expected 'indices' to be integer dtype, but got")


def test_combinations_vander_gradients():
    x = torsh.tensor([0.5, -1.0, 2.0, 1.5], dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a: torsh.combinations(a, r=3, with_replacement=True), (x,))
    assert torsh.autograd.gradcheck(lambda a: torsh.vander(a, N=5), (x,))
