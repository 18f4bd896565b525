"""Samplers against torch.utils.data 2.13: lazy draws for huge ``num_samples``, argument checks
(type and wording), and where PyTorch raises (construction or first draw)."""
import itertools
import tracemalloc

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch

HUGE = 10 ** 10  # 74.5 GiB of int64 indices if drawn at once


def _data(lib):
    return lib.utils.data


def _first(sampler, count):
    """The first ``count`` indices and the peak bytes traced while drawing them."""
    tracemalloc.start()
    try:
        drawn = list(itertools.islice(iter(sampler), count))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return drawn, peak


def test_random_sampler_with_huge_num_samples_draws_lazily():
    ours = torsh.utils.data.RandomSampler(range(10), replacement=True, num_samples=HUGE)
    assert len(ours) == len(torch_ref.utils.data.RandomSampler(range(10), replacement=True, num_samples=HUGE))
    drawn, peak = _first(ours, 1000)
    assert peak < 16 * 2 ** 20  # what 1000 indices need, not num_samples' worth
    assert len(drawn) == 1000 and set(drawn) == set(range(10))


def test_weighted_sampler_with_huge_num_samples_draws_lazily():
    """PyTorch draws all num_samples at once (MemoryError here); torsh draws a chunk at a time."""
    ours = torsh.utils.data.WeightedRandomSampler([1.0, 0.0, 3.0, 2.0], HUGE)
    assert len(ours) == len(torch_ref.utils.data.WeightedRandomSampler([1.0, 0.0, 3.0, 2.0], HUGE)) == HUGE
    drawn, peak = _first(ours, 1000)
    assert peak < 16 * 2 ** 20
    assert len(drawn) == 1000 and set(drawn) == {0, 2, 3}  # never the zero weight


def test_batches_of_an_infinite_random_sampler():
    sampler = torsh.utils.data.RandomSampler(range(5), replacement=True, num_samples=HUGE)
    batches = torsh.utils.data.BatchSampler(sampler, 64, drop_last=True)
    assert len(batches) == len(torch_ref.utils.data.BatchSampler(range(HUGE), 64, drop_last=True))
    first = list(itertools.islice(iter(batches), 3))
    assert [len(b) for b in first] == [64, 64, 64] and set(sum(first, [])) <= set(range(5))


def test_random_sampler_draws_follow_the_generator():
    def draws(seed):
        g = torsh.Generator().manual_seed(seed)
        return list(torsh.utils.data.RandomSampler(range(7), replacement=True, num_samples=70, generator=g))
    assert draws(4) == draws(4) and draws(4) != draws(5)
    assert len(draws(4)) == 70 and set(draws(4)) == set(range(7))


@pytest.mark.parametrize("num_samples", [1, 31, 32, 33, 100])
def test_random_sampler_counts_match_pytorch(num_samples):
    for replacement in (True, False):
        ours = list(torsh.utils.data.RandomSampler(range(6), replacement, num_samples))
        ref = list(torch_ref.utils.data.RandomSampler(range(6), replacement, num_samples))
        assert len(ours) == len(ref) == num_samples
        if not replacement:  # whole permutations first, then part of one
            full = num_samples // 6 * 6
            assert sorted(ours[:full]) == sorted(ref[:full])
            assert len(set(ours[full:])) == num_samples - full


@pytest.mark.parametrize("make", [
    lambda lib: _data(lib).RandomSampler(range(3), replacement=1),
    lambda lib: _data(lib).RandomSampler(range(3), replacement="yes"),
    lambda lib: _data(lib).RandomSampler(range(3), num_samples=0),
    lambda lib: _data(lib).RandomSampler(range(3), num_samples=-2),
    lambda lib: _data(lib).RandomSampler(range(3), num_samples=2.0),
    lambda lib: _data(lib).RandomSampler([]),
    lambda lib: list(_data(lib).RandomSampler([], replacement=True, num_samples=3)),
    lambda lib: list(_data(lib).RandomSampler([], num_samples=3)),
    lambda lib: _data(lib).WeightedRandomSampler([1.0, 2.0], 0),
    lambda lib: _data(lib).WeightedRandomSampler([1.0, 2.0], 3.0),
    lambda lib: _data(lib).WeightedRandomSampler([1.0, 2.0], True),
    lambda lib: _data(lib).WeightedRandomSampler([1.0, 2.0], 2, replacement=1),
    lambda lib: _data(lib).WeightedRandomSampler([[1.0, 2.0]], 2),
    lambda lib: _data(lib).WeightedRandomSampler(3.0, 2),
    lambda lib: list(_data(lib).WeightedRandomSampler([1.0, -1.0], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([float("inf"), 1.0], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([-1.0, float("inf")], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([float("nan"), 1.0], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([1.0, -1.0], 1)),
    lambda lib: list(_data(lib).WeightedRandomSampler([0.0, 0.0], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([], 2)),
    lambda lib: list(_data(lib).WeightedRandomSampler([1.0, 1.0], 3, replacement=False)),
    lambda lib: list(_data(lib).WeightedRandomSampler([-1.0, 1.0], 2, replacement=False)),
    lambda lib: list(_data(lib).WeightedRandomSampler([0.0, 0.0], 2, replacement=False)),
    lambda lib: _data(lib).BatchSampler(range(3), 0, False),
    lambda lib: _data(lib).BatchSampler(range(3), 2.0, False),
    lambda lib: _data(lib).BatchSampler(range(3), True, False),
    lambda lib: _data(lib).BatchSampler(range(3), 2, 1),
    lambda lib: _data(lib).DistributedSampler(range(4), num_replicas=2, rank=2),
    lambda lib: _data(lib).DistributedSampler(range(4), num_replicas=2, rank=-1),
])
def test_errors_match_pytorch(make):
    check_same_error(make)


def test_weighted_sampler_checks_weights_when_drawing_as_pytorch():
    bad = torsh.utils.data.WeightedRandomSampler([1.0, -1.0], 4)  # accepted: multinomial checks them
    assert len(bad) == len(torch_ref.utils.data.WeightedRandomSampler([1.0, -1.0], 4)) == 4
    with pytest.raises(RuntimeError):
        next(iter(bad))


def test_weighted_sampler_keeps_float64_weights():
    for weights in ([1, 2, 3], np.array([0.5, 1.5], dtype=np.float32)):
        ours = torsh.utils.data.WeightedRandomSampler(weights, 2).weights
        ref = torch_ref.utils.data.WeightedRandomSampler(weights, 2).weights
        assert_close(ours, ref)


def test_weighted_sampler_without_replacement_takes_zero_weights_last():
    """PyTorch draws every positive weight before any zero one, and never raises for them."""
    g = torsh.Generator().manual_seed(1)
    for _ in range(20):
        drawn = list(torsh.utils.data.WeightedRandomSampler([1.0, 0.0, 2.0, 0.0, 3.0], 5, False, generator=g))
        ref = list(torch_ref.utils.data.WeightedRandomSampler([1.0, 0.0, 2.0, 0.0, 3.0], 5, False))
        assert sorted(drawn) == sorted(ref) == [0, 1, 2, 3, 4]
        assert set(drawn[:3]) == set(ref[:3]) == {0, 2, 4}
    assert list(torsh.utils.data.WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == \
        list(torch_ref.utils.data.WeightedRandomSampler([1.0, 0.0], 2, replacement=False))


def test_weighted_sampler_frequencies_follow_the_weights():
    g = torsh.Generator().manual_seed(0)
    drawn = np.array(list(torsh.utils.data.WeightedRandomSampler([1.0, 0.0, 3.0], 200_000, generator=g)))
    counts = np.bincount(drawn, minlength=3) / drawn.size
    np.testing.assert_allclose(counts, [0.25, 0.0, 0.75], atol=0.01)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("source", [range(10), [3, 1, 4, 1, 5, 9, 2], range(0)], ids=["range", "list", "empty"])
def test_batch_sampler_matches_pytorch_on_any_iterable(source, drop_last):
    for batch_size in (1, 3, 7, 11):
        ours = torsh.utils.data.BatchSampler(iter(source), batch_size, drop_last)
        ref = torch_ref.utils.data.BatchSampler(iter(source), batch_size, drop_last)
        assert list(ours) == list(ref)
        assert len(torsh.utils.data.BatchSampler(source, batch_size, drop_last)) == \
            len(torch_ref.utils.data.BatchSampler(source, batch_size, drop_last))


def test_subset_random_sampler_is_a_permutation_of_the_indices():
    g = torsh.Generator().manual_seed(2)
    ours = list(torsh.utils.data.SubsetRandomSampler([10, 20, 30, 40], generator=g))
    ref = list(torch_ref.utils.data.SubsetRandomSampler([10, 20, 30, 40]))
    assert sorted(ours) == sorted(ref) and len(torsh.utils.data.SubsetRandomSampler(range(9))) == 9


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_shards_partition_a_shuffled_epoch(drop_last):
    for size, replicas in ((10, 3), (12, 4), (5, 8)):
        ours = [torsh.utils.data.DistributedSampler(range(size), replicas, rank, seed=3, drop_last=drop_last)
                for rank in range(replicas)]
        refs = [torch_ref.utils.data.DistributedSampler(range(size), replicas, rank, seed=3, drop_last=drop_last)
                for rank in range(replicas)]
        assert [len(s) for s in ours] == [len(s) for s in refs]
        shards, ref_shards = [list(s) for s in ours], [list(s) for s in refs]
        assert [len(s) for s in shards] == [len(s) for s in ref_shards]
        merged, ref_merged = sum(shards, []), sum(ref_shards, [])
        # padding repeats the first shuffled indices, trimming drops the last: the same counts as PyTorch
        assert len(set(merged)) == len(set(ref_merged)) and set(merged) <= set(range(size))


@pytest.mark.parametrize("weights", [[1.0, -1.0], [float("inf"), 1.0], [float("nan"), 1.0], [-float("inf"), 1.0],
                                     [[1.0, 1.0], [2.0, -1.0]], [0.0, 0.0], []])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("num_samples, replacement", [(1, True), (2, True), (2, False)])
def test_multinomial_checks_as_pytorch(weights, dtype, num_samples, replacement):
    """The checks WeightedRandomSampler's draws rely on: with replacement and more than one sample
    PyTorch names the first bad entry, otherwise it has one message for every bad entry."""
    check_same_error(lambda lib: lib.multinomial(lib.tensor(weights, dtype=getattr(lib, dtype)), num_samples,
                                                 replacement))


def test_distributed_sampler_accepts_any_seed_pytorch_accepts():
    for seed in (0, -1, 2 ** 40):
        ours = torsh.utils.data.DistributedSampler(range(9), 2, 1, seed=seed)
        ref = torch_ref.utils.data.DistributedSampler(range(9), 2, 1, seed=seed)
        assert len(list(ours)) == len(list(ref)) == 5
        ours.set_epoch(3)
        assert set(ours) <= set(range(9))
