"""Seeded programs draw PyTorch's random numbers: ops that sample inside nn.functional use PyTorch's samplers (its
exponential_ / rand), not NumPy's, so a program seeded alike prints the same values with torsh and with torch."""
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref

pytestmark = needs_torch


def _seeded_alike(fn, seed=0):
    """fn(lib) in both libraries, each right after manual_seed(seed); then one more draw, to check that both consumed
    the same amount of the stream."""
    results = []
    for lib in (torsh, torch_ref):
        lib.manual_seed(seed)
        results.append((fn(lib), lib.rand(4)))
    return results


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_draws_torch_stream(dtype, hard):
    def sample(lib):
        logits = lib.randn(3, 7, dtype=getattr(lib, dtype))
        return lib.nn.functional.gumbel_softmax(logits, tau=0.5, hard=hard, dim=-1)
    (ours, ours_next), (ref, ref_next) = _seeded_alike(sample)
    assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert_close(ours_next, ref_next)


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_draws_torch_stream(nd):
    def pool(lib):
        x = lib.randn((2, 3) + (7,) * nd, dtype=lib.float64)
        fractional = getattr(lib.nn.functional, f"fractional_max_pool{nd}d")
        return fractional(x, 2, output_size=3, return_indices=True)
    (ours, ours_next), (ref, ref_next) = _seeded_alike(pool)
    assert_close(ours[0], ref[0])
    assert_close(ours[1], ref[1])
    assert_close(ours_next, ref_next)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("transposed", [False, True])
def test_rrelu_training_draws_torch_stream(dtype, transposed):
    """PyTorch draws a double uniform slope per element <= 0 only, its bounds read in the op's math type."""
    def rrelu(lib):
        x = lib.randn(5, 6, dtype=getattr(lib, dtype))
        x = x.t() if transposed else x
        return lib.nn.functional.rrelu(x, 0.1, 0.3, training=True), lib.nn.RReLU()(x)
    (ours, ours_next), (ref, ref_next) = _seeded_alike(rrelu)
    for a, b in zip(ours, ref):
        assert_close(a, b)
    assert_close(ours_next, ref_next)
