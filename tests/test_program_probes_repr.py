"""Tensor reprs printed by programs: PyTorch moves a suffix (dtype=, grad_fn=, requires_grad=, size=) that would pass
the line width onto a line of its own, and names the dtype of an empty int64 / bool tensor."""
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

ROW = [-0.0883, -0.1431, -0.2046, 1.3682, 0.9760, -0.2141, 1.0917]
CASES = {
    "dtype wraps": lambda lib: lib.tensor([ROW], dtype=lib.float64),
    "dtype wraps after rows": lambda lib: lib.tensor([ROW, ROW], dtype=lib.float64),
    "dtype wraps on one line": lambda lib: lib.tensor(ROW + [2.0], dtype=lib.float64),
    "two suffixes wrap": lambda lib: lib.tensor([ROW], dtype=lib.float64, requires_grad=True),
    "int dtype wraps": lambda lib: lib.arange(1, 17, dtype=lib.int16).view(1, 16),
    "grad_fn fits": lambda lib: lib.tensor([ROW]).requires_grad_().exp(),
    "grad_fn wraps": lambda lib: (lib.arange(18.0, dtype=lib.float64).view(3, 6) * 1000).requires_grad_() * 2,
    "short stays on its line": lambda lib: lib.arange(7.0, dtype=lib.float64).view(1, 7).requires_grad_(),
    "empty int64": lambda lib: lib.tensor([], dtype=lib.long),
    "empty bool": lambda lib: lib.tensor([], dtype=lib.bool),
    "empty 2-d": lambda lib: lib.zeros(2, 0),
    "empty 2-d int32": lambda lib: lib.zeros(2, 0, dtype=lib.int32),
    "empty float64 requires grad": lambda lib: lib.zeros(0, dtype=lib.float64, requires_grad=True),
    "empty default": lambda lib: lib.zeros(0),
}


def _repr(make, lib, **printoptions):
    lib.set_printoptions(**printoptions)
    try:
        return repr(make(lib)).replace("torsh.", "torch.")
    finally:
        lib.set_printoptions(profile="default")


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_suffixes_match_pytorch(name):
    assert _repr(CASES[name], torsh) == _repr(CASES[name], torch_ref)


@pytest.mark.parametrize("options", [{"linewidth": 40}, {"edgeitems": 0}, {"linewidth": 200}])
def test_repr_suffixes_follow_print_options(options):
    for make in CASES.values():
        assert _repr(make, torsh, **options) == _repr(make, torch_ref, **options)
