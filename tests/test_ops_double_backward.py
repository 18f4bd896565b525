"""Second derivatives of the new ops: their backwards are written in torsh ops, so gradgradcheck passes
(float64 finite differences of the first derivative)."""
import pytest

import torsh

IDX = torsh.tensor([[0, 2], [1, 1], [3, 0]])

CASES = {
    "gather": ((3, 4), lambda a: a.gather(1, IDX) ** 2),
    "scatter_add": ((3, 4), lambda a: torsh.zeros(3, 4, dtype=a.dtype).scatter_add(1, IDX, a[:, :2] ** 2)),
    "index_select": ((3, 4), lambda a: a.index_select(0, torsh.tensor([2, 0, 2])) ** 2),
    "index_add": ((3, 4), lambda a: a.index_add(0, torsh.tensor([1, 1]), a[:2] ** 2)),
    "masked_select": ((3, 4), lambda a: a.masked_select(a > 0) ** 3),
    "take_along_dim": ((3, 4), lambda a: a.take_along_dim(IDX, 1).sin()),
    "flip_roll_repeat": ((3, 4), lambda a: (a.flip(0).roll(1, 1).repeat(2, 1)) ** 2),
    "tril_diagonal": ((3, 3), lambda a: a.tril().diagonal() ** 2),
    "cumsum": ((3, 4), lambda a: a.cumsum(1) ** 2),
    "cumprod": ((2, 4), lambda a: a.cumprod(1)),
    "logcumsumexp": ((2, 4), lambda a: a.logcumsumexp(1)),
    "logaddexp": ((3, 4), lambda a: torsh.logaddexp(a, a.flip(0) * 2)),
    "atan2": ((3, 4), lambda a: torsh.atan2(a, a.flip(1) + 3)),
    "softmax": ((3, 4), lambda a: torsh.softmax(a, 1)),
    "log_softmax": ((3, 4), lambda a: torsh.log_softmax(a, 0)),
    "einsum": ((3, 3), lambda a: torsh.einsum("ij,jk->ik", a, a)),
    "addmm": ((3, 3), lambda a: torsh.addmm(a, a, a.t())),
    "linalg_inv": ((3, 3), lambda a: torsh.linalg.inv(a + 3 * torsh.eye(3, dtype=a.dtype))),
    "linalg_det": ((3, 3), lambda a: torsh.linalg.det(a)),
    "vector_norm": ((3, 4), lambda a: torsh.linalg.vector_norm(a, 3, 1)),
    "sort_values": ((3, 4), lambda a: a.sort(1).values ** 2),
    "fft": ((6,), lambda a: torsh.fft.rfft(a ** 2).real),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    shape, fn = CASES[name]
    torsh.manual_seed(0)
    x = (torsh.rand(shape, dtype=torsh.float64) + 0.5).requires_grad_()
    assert torsh.autograd.gradgradcheck(fn, (x,))
