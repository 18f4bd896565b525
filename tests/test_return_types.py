"""torch.return_types: the named tuples ops return have PyTorch's type names, fields and repr."""
import pickle

import numpy as np
import pytest

import torsh
from helpers import PKG, needs_torch, torch_ref

pytestmark = needs_torch

CALLS = {
    "max": lambda lib, x: x.max(1),
    "min": lambda lib, x: lib.min(x, 0),
    "sort": lambda lib, x: x.sort(1, descending=True),
    "topk": lambda lib, x: x.topk(2),
    "kthvalue": lambda lib, x: x.kthvalue(1, 0),
    "median": lambda lib, x: x.median(1),
    "nanmedian": lambda lib, x: x.nanmedian(0, keepdim=True),
    "mode": lambda lib, x: x.mode(1),
    "cummax": lambda lib, x: x.cummax(1),
    "cummin": lambda lib, x: lib.cummin(x, 0),
    "aminmax": lambda lib, x: lib.aminmax(x, dim=1),
    "frexp": lambda lib, x: lib.frexp(x),
    "histogram": lambda lib, x: lib.histogram(x.flatten(), 3),
    "histogramdd": lambda lib, x: lib.histogramdd(x.reshape(-1, 2), bins=2),
    "lu_unpack": lambda lib, x: lib.lu_unpack(*lib.linalg.lu_factor(x[:, :2] + lib.eye(2, dtype=lib.float64))),
    "qr": lambda lib, x: lib.qr(x),
    "svd": lambda lib, x: lib.svd(x),
    "triangular_solve": lambda lib, x: lib.triangular_solve(x[:, :2], lib.eye(2, dtype=lib.float64) * 2),
    "geqrf": lambda lib, x: lib.geqrf(x),
}


def _x(lib):
    return lib.tensor(np.array([[1.5, -2.0, 3.25], [0.5, 5.0, -1.0]]), dtype=lib.float64)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_type_fields_and_repr_match_pytorch(name):
    ours, ref = CALLS[name](torsh, _x(torsh)), CALLS[name](torch_ref, _x(torch_ref))
    assert type(ours).__name__ == type(ref).__name__ == name
    assert type(ours).__module__ == f"{PKG}.return_types"
    assert isinstance(ours, tuple) and len(ours) == len(ref) == type(ours).n_fields
    if name in SIGN_FREE:  # LAPACK's sign choices differ between builds: compare the layout only
        assert _field_lines(repr(ours).replace(PKG, "torch")) == _field_lines(repr(ref))
    else:
        assert repr(ours).replace(PKG, "torch") == repr(ref)


SIGN_FREE = {"svd", "qr", "geqrf"}


def _field_lines(text):
    return [line.split("=")[0] for line in text.splitlines() if "=tensor" in line] + text.splitlines()[:1]


def test_a_result_unpacks_indexes_compares_and_pickles_as_a_tuple():
    result = torsh.tensor([3.0, 1.0, 2.0]).max(0)
    values, indices = result
    assert result.values is values is result[0] and result.indices is indices is result[1]
    assert result == (values, indices)
    restored = pickle.loads(pickle.dumps(result))
    assert type(restored) is type(result) and restored.indices.item() == 0
    assert type(result) is torsh.return_types.max and torsh.return_types.max in torsh.return_types.all_return_types
