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


@pytest.mark.parametrize("shape, dim", [((), 0), ((), -1), ((), -3), ((), 1), ((2,), 3), ((2, 3), -3)])
def test_size_of_a_missing_dimension_raises_as_pytorch(shape, dim):
    """A 0-d tensor has no dimension for size() at all (ops' dim arguments accept 0 and -1 there)."""
    check_same_error(lambda lib: lib.zeros(shape).size(dim))


def test_size_of_a_dimension_counts_from_either_end():
    x = torsh.zeros(2, 3, 5)
    assert (x.size(0), x.size(-1), x.size(1)) == (2, 5, 3)
    assert type(x.size(-1)) is int
