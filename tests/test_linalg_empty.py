"""torch.linalg on empty matrices (0x0, 0xn, nx0, batches of them) against torch: values, shapes and dtypes of
every output, or the same exception type."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

SHAPES = [(0, 0), (0, 3), (3, 0), (2, 0, 0), (0, 2, 2), (0, 2, 3)]
OPS = {
    "det": lambda L, A: L.linalg.det(A),
    "slogdet": lambda L, A: tuple(L.linalg.slogdet(A)),
    "inv": lambda L, A: L.linalg.inv(A),
    "inv_ex": lambda L, A: tuple(L.linalg.inv_ex(A)),
    "solve": lambda L, A: L.linalg.solve(A, A),
    "cholesky": lambda L, A: L.linalg.cholesky(A),
    "cholesky_ex": lambda L, A: tuple(L.linalg.cholesky_ex(A)),
    "qr": lambda L, A: tuple(L.linalg.qr(A)),
    "qr_complete": lambda L, A: tuple(L.linalg.qr(A, mode="complete")),
    "svd": lambda L, A: tuple(L.linalg.svd(A)),
    "svd_reduced": lambda L, A: tuple(L.linalg.svd(A, full_matrices=False)),
    "svdvals": lambda L, A: L.linalg.svdvals(A),
    "eigh": lambda L, A: tuple(L.linalg.eigh(A)),
    "eigvalsh": lambda L, A: L.linalg.eigvalsh(A),
    "eig": lambda L, A: tuple(L.linalg.eig(A)),
    "eigvals": lambda L, A: L.linalg.eigvals(A),
    "pinv": lambda L, A: L.linalg.pinv(A),
    "matrix_rank": lambda L, A: L.linalg.matrix_rank(A),
    "lu_factor": lambda L, A: tuple(L.linalg.lu_factor(A)),
    "lu_factor_ex": lambda L, A: tuple(L.linalg.lu_factor_ex(A)),
    "lu": lambda L, A: tuple(L.linalg.lu(A)),
    "lu_unpack": lambda L, A: tuple(L.lu_unpack(*L.linalg.lu_factor(A))),
    "matrix_exp": lambda L, A: L.linalg.matrix_exp(A),
    "ldl_factor": lambda L, A: tuple(L.linalg.ldl_factor(A)),
    "cond": lambda L, A: L.linalg.cond(A),
    "solve_triangular": lambda L, A: L.linalg.solve_triangular(A, A, upper=True),
    "solve_triangular_wide_b": lambda L, A: L.linalg.solve_triangular(A[..., :1, :1] + 2 if A.shape[-1] else A,
                                                                     A[..., :1, :0], upper=False),
}


def _run(lib, name, shape):
    try:
        out = OPS[name](lib, lib.tensor(np.zeros(shape)))
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return type(e).__name__
    outs = out if isinstance(out, tuple) else (out,)
    return [(tuple(o.shape), str(o.dtype).split(".")[-1], o.numpy().tolist()) for o in outs]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_empty(name, shape):
    assert _run(torsh, name, shape) == _run(torch_ref, name, shape)


@pytest.mark.parametrize("N", [None, 2, 3])
def test_vander_of_a_0d_input(N):
    results = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(2.0, requires_grad=True)
        try:
            r = lib.linalg.vander(x, N=N)
        except RuntimeError as e:
            results.append(str(e))
            continue
        r.sum().backward()
        results.append((tuple(r.shape), r.tolist(), x.grad.item()))
    assert results[1] == results[0]
