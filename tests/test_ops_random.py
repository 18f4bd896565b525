"""Random ops: shapes and dtypes as torch, reproducibility under manual_seed and per Generator, sample
statistics (large samples, loose bounds) and torch's errors. Bit streams differ from PyTorch by design."""
import math

import numpy as np
import pytest

import torsh
from helpers import check_same_error, torch_ref

DRAWS = {
    "bernoulli": lambda lib, g: lib.bernoulli(lib.full((2000,), 0.3), generator=g),
    "bernoulli_p": lambda lib, g: lib.bernoulli(lib.zeros(2000), 0.7, generator=g),
    "bernoulli_": lambda lib, g: lib.zeros(2000).bernoulli_(0.25, generator=g),
    "bernoulli_tensor_p": lambda lib, g: lib.zeros(2000).bernoulli_(lib.full((2000,), 0.6), generator=g),
    "multinomial_replacement": lambda lib, g: lib.multinomial(lib.tensor([1.0, 2.0, 0.0, 5.0]), 4000, True,
                                                              generator=g),
    "multinomial_no_replacement": lambda lib, g: lib.multinomial(lib.tensor([[1.0, 2.0, 0.5, 5.0]] * 500), 4,
                                                                 generator=g),
    "normal_tensor": lambda lib, g: lib.normal(lib.full((2000,), 3.0), lib.full((2000,), 0.5), generator=g),
    "normal_size": lambda lib, g: lib.normal(2.0, 3.0, (2000,), generator=g),
    "uniform_": lambda lib, g: lib.empty(2000).uniform_(-1.0, 3.0, generator=g),
    "normal_": lambda lib, g: lib.empty(2000).normal_(1.0, 2.0, generator=g),
    "exponential_": lambda lib, g: lib.empty(2000).exponential_(2.0, generator=g),
    "random_to": lambda lib, g: lib.empty(2000, dtype=lib.int64).random_(5, generator=g),
    "random_from_to": lambda lib, g: lib.empty(2000, dtype=lib.int64).random_(-3, 4, generator=g),
    "random_float": lambda lib, g: lib.empty(2000).random_(0, 10, generator=g),
    "geometric_": lambda lib, g: lib.empty(2000).geometric_(0.4, generator=g),
    "log_normal_": lambda lib, g: lib.empty(2000, dtype=lib.float64).log_normal_(0.0, 0.5, generator=g),
    "cauchy_": lambda lib, g: lib.empty(2000).cauchy_(generator=g),
    "rand_like": lambda lib, g: lib.rand_like(lib.zeros(2000, dtype=lib.float64), generator=g),
    "randn_like": lambda lib, g: lib.randn_like(lib.zeros(2000), generator=g),
    "randint_like": lambda lib, g: lib.randint_like(lib.zeros(2000, dtype=lib.int32), 2, 9, generator=g),
}

# statistic of the sample and its expected value (tolerance: a few standard errors for n = 2000)
STATS = {
    "bernoulli": (lambda x: x.mean(), 0.3, 0.05),
    "bernoulli_p": (lambda x: x.mean(), 0.7, 0.05),
    "bernoulli_": (lambda x: x.mean(), 0.25, 0.05),
    "bernoulli_tensor_p": (lambda x: x.mean(), 0.6, 0.05),
    "multinomial_replacement": (lambda x: np.bincount(x, minlength=4) / x.size, np.array([1, 2, 0, 5]) / 8, 0.04),
    "normal_tensor": (lambda x: (x.mean(), x.std()), (3.0, 0.5), 0.1),
    "normal_size": (lambda x: (x.mean(), x.std()), (2.0, 3.0), 0.3),
    "uniform_": (lambda x: (x.min() >= -1, x.max() < 3, x.mean()), (True, True, 1.0), 0.1),
    "normal_": (lambda x: (x.mean(), x.std()), (1.0, 2.0), 0.2),
    "exponential_": (lambda x: (x.min() >= 0, x.mean()), (True, 0.5), 0.05),
    "random_to": (lambda x: (x.min(), x.max()), (0, 4), 0),
    "random_from_to": (lambda x: (x.min(), x.max()), (-3, 3), 0),
    "random_float": (lambda x: (x.min(), x.max(), np.all(x == np.round(x))), (0, 9, True), 0),
    "geometric_": (lambda x: (x.min() >= 1, x.mean()), (True, 2.5), 0.2),
    "log_normal_": (lambda x: np.log(x).mean(), 0.0, 0.05),
    "cauchy_": (lambda x: np.median(x), 0.0, 0.15),
    "rand_like": (lambda x: (x.min() >= 0, x.max() < 1, x.mean()), (True, True, 0.5), 0.05),
    "randn_like": (lambda x: (x.mean(), x.std()), (0.0, 1.0), 0.1),
    "randint_like": (lambda x: (x.min(), x.max()), (2, 8), 0),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_shape_and_dtype_match_torch(name):
    ours = DRAWS[name](torsh, None)
    ref = DRAWS[name](torch_ref, None)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_reproducible_under_manual_seed(name):
    torsh.manual_seed(1234)
    a = DRAWS[name](torsh, None)
    torsh.manual_seed(1234)
    b = DRAWS[name](torsh, None)
    c = DRAWS[name](torsh, None)
    assert np.array_equal(a.numpy(), b.numpy())
    if name not in ("random_to",):  # a fresh draw differs (all of these have many outcomes over 2000 draws)
        assert not np.array_equal(b.numpy(), c.numpy())


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_streams_are_independent(name):
    g1 = torsh.Generator().manual_seed(7)
    a = DRAWS[name](torsh, g1)
    torsh.manual_seed(99)  # the default stream does not disturb a Generator's
    DRAWS[name](torsh, None)
    g2 = torsh.Generator().manual_seed(7)
    assert np.array_equal(a.numpy(), DRAWS[name](torsh, g2).numpy())


@pytest.mark.parametrize("name", sorted(STATS))
def test_sample_statistics(name):
    torsh.manual_seed(0)
    x = DRAWS[name](torsh, None).numpy()
    stat, expected, tol = STATS[name]
    got = stat(x)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), atol=tol)


def test_multinomial_without_replacement_draws_distinct_and_never_zero_weight():
    torsh.manual_seed(0)
    s = torsh.multinomial(torsh.tensor([[1.0, 0.0, 2.0, 3.0]] * 300), 3).numpy()
    assert all(len(set(row)) == 3 for row in s)
    assert not (s == 1).any()
    # the heaviest category is drawn first most often
    assert np.bincount(s[:, 0], minlength=4).argmax() == 3


def test_inplace_random_keeps_identity_and_bumps_version():
    t = torsh.zeros(5)
    v = t._version
    assert t.exponential_() is t and t._version > v


@pytest.mark.parametrize("fn", [
    lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 3),
    lambda lib: lib.multinomial(lib.tensor([1.0, -2.0]), 1),
    lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1),
    lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    lambda lib: lib.empty(3, dtype=lib.int64).random_(5, 2),
    lambda lib: lib.empty(3).exponential_(-1.0),
], ids=["too_many", "negative", "zero_sum", "3d", "random_range", "exponential_lambda"])
def test_errors(fn):
    check_same_error(fn)
