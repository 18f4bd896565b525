"""After the same manual_seed, torsh draws PyTorch's values: the mt19937 engine and PyTorch's CPU samplers."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref as torch

pytestmark = needs_torch


def _both(draw, seed=0):
    """``draw(lib)`` after ``lib.manual_seed(seed)`` in each library, as NumPy arrays (lists of them)."""
    results = []
    for lib in (torsh, torch):
        lib.manual_seed(seed)
        out = draw(lib)
        results.append([np.asarray(o.detach().numpy() if hasattr(o, "detach") else o)
                        for o in (out if isinstance(out, (list, tuple)) else [out])])
    return results


def _assert_same(draw, seed=0, close=False):
    """Bit-equal values; ``close``: float32 normal samples within rounding (Box-Muller blocks of 16, whose
    sin/cos/log PyTorch's vector math library rounds differently), everything else still bit-equal."""
    ours, ref = _both(draw, seed)
    for a, b in zip(ours, ref):
        assert a.dtype == b.dtype and a.shape == b.shape
        if close and a.dtype == np.float32:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1234, 2 ** 40 + 7])
def test_rand_and_uniform_are_pytorchs_bit_for_bit(seed):
    _assert_same(lambda lib: [lib.rand(7), lib.rand(3, 5, dtype=lib.float64), lib.empty(50).uniform_(-0.3, 0.7),
                              lib.rand(2)], seed)


def test_randn_small_sizes_keep_pytorchs_cached_box_muller_half():
    _assert_same(lambda lib: [lib.randn(3), lib.randn(5), lib.randn(2, dtype=lib.float64),
                              lib.empty(7).normal_(2.0, 0.5)])


@pytest.mark.parametrize("n", [16, 40, 1000])
def test_randn_blocks_of_16_match_pytorch_to_the_last_bits(n):
    _assert_same(lambda lib: [lib.randn(n), lib.empty(n).normal_(-1.0, 3.0), lib.rand(3)], close=True)


def test_integer_samplers_are_pytorchs():
    _assert_same(lambda lib: [lib.randint(0, 10, (20,)), lib.randint(-5, 2 ** 40, (4,)), lib.randperm(37),
                              lib.randint(3, (2, 3)), lib.rand(1)])


def test_bernoulli_dropout_multinomial_exponential_are_pytorchs():
    probs = np.array([[0.2, 0.3, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
    _assert_same(lambda lib: [
        lib.bernoulli(lib.full((9,), 0.3)), lib.empty(6).bernoulli_(0.7),
        lib.nn.functional.dropout(lib.ones(12), 0.4), lib.nn.functional.dropout2d(lib.ones(2, 5, 3, 3), 0.5),
        lib.multinomial(lib.from_numpy(probs), 6, replacement=True), lib.multinomial(lib.from_numpy(probs), 3),
        lib.multinomial(lib.from_numpy(probs[0]), 1), lib.empty(5).exponential_(2.0), lib.rand(2)])


def test_default_initialised_modules_start_from_pytorchs_weights():
    def build(lib):
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 5),
                              nn.Embedding(7, 3), nn.LSTM(3, 4), nn.GRU(3, 2))
        return [p for p in model.parameters()]
    _assert_same(build, close=True)  # the embedding's 21 normal samples


def test_nn_init_functions_match_pytorch():
    def inits(lib):
        init = lib.nn.init
        return [init.kaiming_uniform_(lib.empty(8, 6)), init.xavier_uniform_(lib.empty(5, 4)),
                init.trunc_normal_(lib.empty(30), std=0.02), init.trunc_normal_(lib.empty(20), a=1.5, b=3.0),
                init.normal_(lib.empty(4), 0.0, 0.1), init.uniform_(lib.empty(6), -1, 1), lib.rand(1)]
    _assert_same(inits, close=True)


def test_data_loader_shuffle_and_random_split_follow_pytorchs_order():
    def order(lib):
        data = lib.utils.data
        dataset = data.TensorDataset(lib.arange(23))
        batches = [b[0] for b in data.DataLoader(dataset, batch_size=5, shuffle=True)]
        left, right = data.random_split(dataset, [0.6, 0.4])
        return batches + [lib.tensor(list(left.indices)), lib.tensor(list(right.indices))]
    _assert_same(order)


def test_generators_and_rng_state_round_trip():
    def draws(lib):
        g = lib.Generator().manual_seed(7)
        first = lib.randn(3, generator=g)
        state = lib.get_rng_state()
        a = lib.randn(5)
        lib.set_rng_state(state)
        b = lib.randn(5)
        assert (a == b).all()
        return [first, a, lib.rand(4, generator=g), lib.normal(lib.zeros(3), lib.ones(3) * 2)]
    _assert_same(draws)


def test_dropout_of_a_transposed_tensor_draws_in_memory_order_as_pytorch():
    """PyTorch's dropout fills empty_like(input): a batch-first attention output (a transposed view) gets its
    mask in memory order, so a transformer layer with dropout gives PyTorch's values."""
    def run(lib):
        x = lib.rand(4, 3, 5).transpose(0, 1)
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True, norm_first=True)
        return [lib.nn.functional.dropout(x, 0.3), lib.empty(6, 4).t().normal_(), lib.empty(5, 4).t().uniform_(),
                layer(lib.rand(2, 5, 8)), lib.rand(1)]
    ours, ref = _both(run)
    for k, (a, b) in enumerate(zip(ours, ref)):  # the layer's matmuls round apart; another mask moves it by ~1
        np.testing.assert_allclose(a, b, rtol=1e-5 if k == 3 else 1e-6, atol=1e-5 if k == 3 else 1e-7)
