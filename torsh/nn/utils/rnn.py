"""PackedSequence and pack_padded_sequence / pad_packed_sequence / pad_sequence / pack_sequence."""
from collections import namedtuple

import numpy as np

from ... import _dtype
from ..._array_api import array
from ..._ops.tensor import creation
from ..._ops.tensor.shape.views import cat, stack
from ..._tensor import Tensor, wrap

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Time-major packed rows: step t holds ``batch_sizes[t]`` rows (sequences sorted by length, longest first)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes, self.sorted_indices,
                                                         self.unsorted_indices)

    def double(self):
        return self.to(_dtype.float64)

    def float(self):
        return self.to(_dtype.float32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    indices = array(permutation)
    inv = np.empty_like(indices)
    inv[indices] = np.arange(permutation.numel())
    return wrap(inv)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lengths_np = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if enforce_sorted:
        if np.any(np.diff(lengths_np) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = np.arange(len(lengths_np))
    else:
        order = np.argsort(-lengths_np, kind="stable")
        sorted_indices = wrap(order.astype(np.int64))
    if batch_first:
        input = input.transpose(0, 1)
    if np.any(lengths_np <= 0):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    sorted_lengths = lengths_np[order]
    if sorted_indices is not None:
        input = input[:, sorted_indices]
    max_len = int(sorted_lengths[0])
    batch_sizes = np.array([(sorted_lengths > t).sum() for t in range(max_len)], dtype=np.int64)
    data = cat([input[t, :int(bs)] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(data, wrap(batch_sizes), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data, batch_sizes = sequence.data, array(sequence.batch_sizes)
    max_batch = int(batch_sizes[0])
    max_len = len(batch_sizes)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {max_len}")
    else:
        total_length = max_len
    steps, offset = [], 0
    trailing = tuple(data.shape[1:])
    for bs in batch_sizes:
        bs = int(bs)
        rows = data[offset:offset + bs]
        if bs < max_batch:
            rows = cat([rows, creation.full((max_batch - bs,) + trailing, padding_value, dtype=data.dtype)], 0)
        steps.append(rows)
        offset += bs
    for _ in range(total_length - max_len):
        steps.append(creation.full((max_batch,) + trailing, padding_value, dtype=data.dtype))
    padded = stack(steps, 0)
    lengths = np.array([(batch_sizes > b).sum() for b in range(max_batch)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded[:, sequence.unsorted_indices]
        lengths = lengths[array(sequence.unsorted_indices)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, wrap(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        if extra:
            fill = creation.full((extra,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            s = cat([s, fill], 0) if padding_side == "right" else cat([fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(np.asarray(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
