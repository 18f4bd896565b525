"""torch.Size: slices, concatenation and repetition stay Sizes; items must be integers; it pickles."""
import pickle

import numpy as np
import pytest

import torsh
from helpers import check_same_error, torch_ref


@pytest.mark.parametrize("make", [
    lambda s: s[1:], lambda s: s[::-1], lambda s: s + (4,), lambda s: (1,) + s, lambda s: s * 2, lambda s: 2 * s,
    lambda s: s[0], lambda s: s[-1],
])
def test_operations_keep_the_size_type(make):
    ours, ref = make(torsh.Size([2, 3, 5])), make(torch_ref.Size([2, 3, 5]))
    assert ours == ref and type(ours).__name__ == type(ref).__name__


def test_items_are_integers_from_numpy_and_tensors():
    assert torsh.Size([np.int64(2), torsh.tensor(3)]) == (2, 3)
    assert all(type(v) is int for v in torsh.Size([np.int32(4)]))
    assert torsh.zeros(2, 3).shape[1:] == torsh.Size([3])


@pytest.mark.parametrize("call", [lambda lib: lib.Size([1.5]), lambda lib: lib.Size([2, "3"]),
                                  lambda lib: lib.Size([2]) + [3], lambda lib: lib.Size(3)])
def test_bad_items_raise_as_pytorch(call):
    check_same_error(call)


def test_pickles_as_a_size():
    s = pickle.loads(pickle.dumps(torsh.Size([4, 1])))
    assert type(s) is torsh.Size and s == (4, 1)
