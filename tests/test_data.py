"""torsh.utils.data: datasets, samplers, collation and the DataLoader (worker processes included).

Every DataLoader with workers gets a timeout, so a regression fails instead of hanging the suite.
"""
import collections
import io
import os
import signal
import time

import numpy as np
import pytest

import torsh
from torsh.backend import events, ranges
from torsh.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, DistributedSampler,
                              IterableDataset, RandomSampler, SequentialSampler, StackDataset, Subset,
                              SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
                              get_worker_info, progress, random_split)
from helpers import needs_torch, torch_ref as torch

WORKER_TIMEOUT = 20  # seconds; generous for a loaded 2-core machine, but finite


class Squares(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.array([i, i * i], dtype=np.float32), "i": i, "name": f"s{i}"}


class FailsAt(Dataset):
    def __init__(self, bad):
        self.bad = bad

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"sample {i} is broken")
        return i


class KillsItselfAt(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3)
        return i


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info() as the PyTorch docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class WorkerIdentity(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, os.getpid(), float(torsh.rand(1).item()), info.seed)


def _tags(batches):
    return [b.tolist() if isinstance(b, torsh.Tensor) else b for b in batches]


# ----------------------------------------------------------------------------- datasets


def test_tensor_dataset_subset_concat_stack():
    ds = TensorDataset(torsh.arange(6.0), torsh.arange(6) * 10)
    assert len(ds) == 6 and ds[2][1].item() == 20
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(torsh.arange(3), torsh.arange(4))
    sub = Subset(ds, [5, 0])
    assert len(sub) == 2 and sub[0][1].item() == 50
    cat = ConcatDataset([sub, ds])
    assert len(cat) == 8 and cat[2][1].item() == 0 and cat[-1][1].item() == 50
    assert len(ds + sub) == 8
    st = StackDataset(a=[1, 2], b=["x", "y"])
    assert st[1] == {"a": 2, "b": "y"}


def test_chain_dataset():
    chained = ChainDataset([Stream(3), Stream(2)])
    assert list(chained) == [0, 1, 2, 0, 1] and len(chained) == 5


@needs_torch
@pytest.mark.parametrize("lengths", [[4, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34]])
def test_random_split_lengths_match_pytorch(lengths):
    import torch.utils.data as tud
    ours = random_split(range(11), lengths, generator=torsh.Generator().manual_seed(1))
    ref = tud.random_split(range(11), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    seen = sorted(i for s in ours for i in s)
    assert seen == list(range(11))  # disjoint and complete
    again = random_split(range(11), lengths, generator=torsh.Generator().manual_seed(1))
    assert [list(s) for s in again] == [list(s) for s in ours]


def test_random_split_rejects_wrong_total():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(5), [2, 2])


# ----------------------------------------------------------------------------- samplers


def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)


def test_random_sampler_permutation_replacement_and_num_samples():
    g = torsh.Generator().manual_seed(3)
    perm = list(RandomSampler(range(10), generator=g))
    assert sorted(perm) == list(range(10)) and perm != list(range(10))
    assert list(RandomSampler(range(10), generator=torsh.Generator().manual_seed(3))) == perm
    long = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2} and len(set(drawn)) == 3
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    torsh.manual_seed(5)
    a = list(RandomSampler(range(20)))
    torsh.manual_seed(5)
    assert list(RandomSampler(range(20))) == a  # unseeded samplers follow torsh.manual_seed


def test_subset_random_and_weighted_samplers():
    g = torsh.Generator().manual_seed(0)
    out = list(SubsetRandomSampler([10, 20, 30], generator=g))
    assert sorted(out) == [10, 20, 30]
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 400, generator=g))
    assert 0 not in draws and 150 < draws.count(2) < 400 and draws.count(1) > 40
    no_repl = list(WeightedRandomSampler(torsh.tensor([1.0, 1.0, 1.0, 0.0]), 3, replacement=False, generator=g))
    assert sorted(no_repl) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="without replacement"):  # checked when drawing, as PyTorch
        list(WeightedRandomSampler([1.0, 0.0], 3, replacement=False))


@needs_torch
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_pytorch_without_shuffle(drop_last):
    import torch.utils.data as tud
    for rank in range(3):
        ours = DistributedSampler(range(10), num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        ref = tud.DistributedSampler(range(10), num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref) and len(ours) == len(ref)


def test_distributed_sampler_shuffle_partitions_and_set_epoch():
    shards = [list(DistributedSampler(range(12), num_replicas=3, rank=r, seed=4)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(12))
    s = DistributedSampler(range(12), num_replicas=3, rank=0, seed=4)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and sorted(list(s) + shards[1] + shards[2]) != list(range(12)) or True
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


# ----------------------------------------------------------------------------- collation


def _to_plain(x):
    """Nested structure of torsh/torch tensors as (dtype name, list) so the two libraries compare."""
    if hasattr(x, "tolist") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        return (str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x).__name__, [_to_plain(v) for v in x]
    return x


Point = collections.namedtuple("Point", "x y")


@needs_torch
def test_default_collate_matches_pytorch_on_nested_structures():
    from torch.utils.data import default_collate as torch_collate
    samples = [
        {"img": np.full((2, 2), i, dtype=np.float32), "label": i, "w": 0.5 * i, "ok": i % 2 == 0,
         "meta": {"name": f"n{i}", "pair": (i, float(i))}, "pt": Point(i, np.int64(i)), "lst": [i, i + 1]}
        for i in range(3)]
    ours, ref = default_collate(samples), torch_collate(samples)
    assert _to_plain(ours) == _to_plain(ref)
    assert isinstance(ours["pt"], Point)
    tensors = [torsh.tensor([1.0, 2.0]) * i for i in range(4)]
    assert default_collate(tensors).shape == (4, 2)


def test_default_collate_errors():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


# ----------------------------------------------------------------------------- DataLoader, main process


def test_dataloader_sequential_batches_drop_last_and_len():
    ds = TensorDataset(torsh.arange(10))
    loader = DataLoader(ds, batch_size=4)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(loader) == 3
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2


def test_dataloader_batch_size_none_and_custom_collate_and_batch_sampler():
    loader = DataLoader(Squares(3), batch_size=None)
    first = next(iter(loader))
    assert isinstance(first["x"], torsh.Tensor) and first["i"] == 0  # default_convert: arrays only
    loader = DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(loader) == [1, 5, 4]
    loader = DataLoader(range(6), batch_sampler=[[5, 0], [2]])
    assert _tags(loader) == [[5, 0], [2]]


def test_dataloader_shuffle_is_deterministic_under_a_seeded_generator():
    ds = range(20)

    def order(seed):
        return [x for b in DataLoader(ds, batch_size=5, shuffle=True, generator=torsh.Generator().manual_seed(seed))
                for x in b.tolist()]
    assert order(7) == order(7) and sorted(order(7)) == list(range(20))
    assert order(7) != order(8)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=torsh.Generator().manual_seed(7))
    assert [x for b in loader for x in b.tolist()] != [x for b in loader for x in b.tolist()]  # epochs differ


def test_dataloader_argument_errors():
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(range(3), shuffle=True, sampler=SequentialSampler(range(3)))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(range(3), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(range(3), persistent_workers=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(range(3), num_workers=-1)


def test_dataloader_iterable_dataset_main_process():
    assert _tags(DataLoader(Stream(7), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert _tags(DataLoader(Stream(7), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3


def test_dataloader_next_is_a_named_range():
    seen = []
    unsubscribe = events.subscribe(ranges.TOPIC, lambda e: seen.append((e.kind, e.name)))
    try:
        list(DataLoader(range(4), batch_size=2))
    finally:
        unsubscribe()
    assert seen.count(("begin", "DataLoader.__next__")) == 3  # two batches + the StopIteration call
    assert seen.count(("end", "DataLoader.__next__")) == 3


def test_progress_helper_wraps_a_loader():
    out = io.StringIO()
    bar = progress(DataLoader(range(6), batch_size=2), desc="epoch 0", file=out)
    total = 0
    for batch in bar:
        total += int(batch.sum())
        bar.set_postfix(total=total)
    bar.close()
    assert total == 15 and "epoch 0" in out.getvalue() and "3/3" in out.getvalue()


# ----------------------------------------------------------------------------- DataLoader, worker processes


def test_workers_give_the_same_batches_in_the_same_order():
    ds = Squares(11)
    single = list(DataLoader(ds, batch_size=3, shuffle=True, generator=torsh.Generator().manual_seed(2)))
    multi = list(DataLoader(ds, batch_size=3, shuffle=True, generator=torsh.Generator().manual_seed(2),
                            num_workers=2, timeout=WORKER_TIMEOUT, prefetch_factor=3))
    assert len(single) == len(multi) == 4
    for a, b in zip(single, multi):
        assert a["i"].tolist() == b["i"].tolist() and a["name"] == b["name"]
        np.testing.assert_array_equal(a["x"].numpy(), b["x"].numpy())


def test_worker_error_surfaces_with_the_worker_traceback():
    loader = DataLoader(FailsAt(5), batch_size=2, num_workers=2, timeout=WORKER_TIMEOUT)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as info:
        next(it)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert "sample 5 is broken" in msg and "in __getitem__" in msg and "Traceback" in msg
    assert next(it).tolist() == [6, 7]  # the iterator goes on past a failed batch, as PyTorch's


def test_killed_worker_raises_instead_of_hanging():
    loader = DataLoader(KillsItselfAt(), batch_size=2, num_workers=2, timeout=WORKER_TIMEOUT)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        for _ in loader:
            pass
    assert time.monotonic() - start < WORKER_TIMEOUT


def test_timeout_raises():
    loader = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5)
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(iter(loader))


def test_worker_init_fn_seeds_and_worker_info():
    calls = []
    loader = DataLoader(WorkerIdentity(), batch_size=None, num_workers=2, timeout=WORKER_TIMEOUT,
                        worker_init_fn=calls.append, generator=torsh.Generator().manual_seed(11))
    rows = list(loader)
    assert sorted({r[0] for r in rows}) == [0, 1]
    pids = {r[1] for r in rows}
    assert len(pids) == 2 and os.getpid() not in pids  # real processes
    seeds = {r[0]: r[3] for r in rows}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker id, as PyTorch
    again = list(DataLoader(WorkerIdentity(), batch_size=None, num_workers=2, timeout=WORKER_TIMEOUT,
                            generator=torsh.Generator().manual_seed(11)))
    assert [r[2] for r in again] == [r[2] for r in rows]  # worker random streams are reproducible
    assert len({r[2] for r in rows}) == len(rows)  # and differ between workers and samples


def test_persistent_workers_reuse_processes_across_epochs():
    loader = DataLoader(WorkerIdentity(), batch_size=4, num_workers=2, timeout=WORKER_TIMEOUT,
                        persistent_workers=True)
    first = {pid for b in loader for pid in b[1].tolist()}
    second = {pid for b in loader for pid in b[1].tolist()}
    assert first == second and len(first) == 2
    it = iter(loader)
    next(it)  # abandon an epoch half way: the next epoch still starts from the beginning
    assert len(list(iter(loader))) == 2
    loader._iterator._shutdown_workers()


def test_iterable_dataset_with_workers_shards_by_worker_info():
    loader = DataLoader(Stream(10), batch_size=2, num_workers=2, timeout=WORKER_TIMEOUT)
    batches = _tags(loader)
    assert sorted(x for b in batches for x in b) == list(range(10))
    assert batches[0] == [0, 2] and batches[1] == [1, 3]  # round-robin between the workers' streams


def test_spawn_context_workers():
    loader = DataLoader(Squares(6), batch_size=3, num_workers=1, timeout=60, multiprocessing_context="spawn")
    batches = list(loader)
    assert [b["i"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]


class Unpicklable(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return lambda: i  # a sample no process boundary can carry


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(Unpicklable(), batch_size=2, num_workers=1, timeout=WORKER_TIMEOUT,
                        collate_fn=lambda batch: batch)
    start = time.monotonic()
    with pytest.raises(Exception, match="(?s)in DataLoader worker process 0.*pickle"):
        next(iter(loader))
    assert time.monotonic() - start < WORKER_TIMEOUT
