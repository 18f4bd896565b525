"""DistributedSampler: each of ``num_replicas`` processes sees its own 1/num_replicas of the data."""
import math

from ... import _random, distributed as dist
from ..._ops.tensor.creation import randperm
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _from_process_group(query):
    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return query()


class DistributedSampler(Sampler):
    """Indices for replica ``rank`` of ``num_replicas`` (padded or trimmed to equal shares). ``num_replicas``
    and ``rank`` default to the default process group's world size and rank (PyTorch's error without one);
    call ``set_epoch`` each epoch so shuffling differs between epochs (the permutation is seeded by
    ``seed + epoch``)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None:
            num_replicas = _from_process_group(dist.get_world_size)
        if rank is None:
            rank = _from_process_group(dist.get_rank)
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(dataset) % num_replicas != 0:
            self.num_samples = math.ceil((len(dataset) - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(len(dataset) / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:  # deterministically shuffled by seed and epoch, as PyTorch
            generator = _random.Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank: self.total_size: self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
