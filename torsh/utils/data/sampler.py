"""Samplers: which dataset indices a DataLoader visits, and in what order.

Random indices are drawn as PyTorch draws them, on demand: ``RandomSampler(replacement=True)`` in
chunks of 32, so that ``num_samples=10**10`` ("infinite" loaders) costs no memory up front."""
import itertools

from ... import _random
from ..._dtype import float64, int64
from ..._ops.tensor.creation import as_tensor, randint, randperm
from ..._ops.tensor.random import multinomial

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]

_CHUNK = 32  # indices RandomSampler draws at a time with replacement (PyTorch's chunk)
_WEIGHTED_CHUNK = 1 << 16  # at least this many weighted draws with replacement at a time


def _pass_generator(generator):
    """The Generator one pass draws from: the given one, or (as PyTorch) a fresh one seeded from the
    default generator, so ``torsh.manual_seed`` makes unseeded samplers reproducible."""
    if generator is not None:
        return generator
    seed = _random.full_range_int64()  # PyTorch: torch.empty((), dtype=torch.int64).random_()
    return _random.Generator().manual_seed(seed)


class Sampler:
    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices, or ``num_samples`` draws with replacement."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = _pass_generator(self.generator)
        if self.replacement:  # on demand, 32 at a time: num_samples may be far beyond what fits in memory
            for _ in range(self.num_samples // _CHUNK):
                yield from randint(high=n, size=(_CHUNK,), dtype=int64, generator=generator).tolist()
            yield from randint(high=n, size=(self.num_samples % _CHUNK,), dtype=int64, generator=generator).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=generator).tolist()
        yield from randperm(n, generator=generator).tolist()[: self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    As in PyTorch the weights are checked by ``multinomial`` when iteration starts. Draws with
    replacement come a chunk at a time (PyTorch draws all at once), so a huge ``num_samples`` costs
    no memory up front."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        weights_tensor = as_tensor(weights, dtype=float64)
        if len(weights_tensor.shape) != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_tensor.shape)}")
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        if not self.replacement:  # at most len(weights) draws
            yield from multinomial(self.weights, self.num_samples, False, generator=self.generator).tolist()
            return
        chunk = max(_WEIGHTED_CHUNK, self.weights.shape[0])  # each call checks the weights: O(len) per chunk
        left = self.num_samples
        while left > 0:
            size = min(chunk, left)
            yield from multinomial(self.weights, size, True, generator=self.generator).tolist()
            left -= size

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        batch = list(itertools.islice(indices, self.batch_size))
        while len(batch) == self.batch_size or (batch and not self.drop_last):
            yield batch
            batch = list(itertools.islice(indices, self.batch_size))

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
