"""Small divergences from PyTorch 2.13 that the public example programs (tests/test_public_programs.py) showed."""
import warnings

import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 5, 6)])
def test_dropout2d_warns_about_other_ranks_in_pytorchs_words(shape):
    """mnist_rnn's Dropout2d on (batch, features) outputs: the whole deprecation message, advice included."""
    ours, ref = (_warnings_of(lambda: lib.nn.functional.dropout2d(lib.zeros(shape), 0.5)) for lib in
                 (torsh, torch_ref))
    assert ours == ref and len(ref) == 1
