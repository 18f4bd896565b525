"""Buffers of the RNN layers from torsh's pool of recycled buffers (backend.memory.empty).

A W9 step (LSTM 32 -> 128, 50 steps, batch 32) allocated ~12 MB of fresh buffers (input gates,
activations, cells, gate gradients...) that the C allocator had returned to the system after
the previous step: ~3000 page faults a step, more time than the recurrence itself on this VM.
Buffers of a pooled array return to the pool only when no array or view of them is left.
"""
from ....backend import memory

# pool from this size: below it the C allocator reuses its own free memory without faults
_POOL_FROM_BYTES = 1 << 17


def empty(shape, dtype):
    return memory.empty(tuple(shape), dtype, min_bytes=_POOL_FROM_BYTES)


def copy(array):
    out = empty(array.shape, array.dtype)
    out[...] = array
    return out
