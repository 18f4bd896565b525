"""``torch.cuda``'s memory statistics, for torsh's one device (the CPU).

PyTorch names: ``memory_allocated``, ``max_memory_allocated``, ``reset_peak_memory_stats``,
``reset_accumulated_memory_stats``, ``memory_stats``. The ``device`` argument is accepted and
must name the CPU. What differs from PyTorch (see ``torsh/backend/memory.py``):

- counting starts with the first call of any of these (or a memory subscriber such as the
  profiler with ``profile_memory=True``); the storage alive then is counted at once, but
  ``max_memory_allocated`` knows the peak only from that moment on;
- bytes are tensor storage bytes (NumPy's ``nbytes``), with no allocator rounding and no
  reserved-but-unused cache, so ``memory_reserved`` equals ``memory_allocated``;
- ``memory_stats()`` has only the keys that mean something without a caching allocator:
  ``allocated_bytes.all.{current,peak,allocated,freed}`` and
  ``allocation.all.{current,peak,allocated,freed}`` (counts of storages).
"""
from ._tensor import device as _device
from .backend import memory as _memory


def _check_device(device):
    if device is not None:
        _device(device)  # raises for anything but the CPU, with PyTorch's wording


def memory_allocated(device=None):
    """Bytes of tensor storage alive now."""
    _check_device(device)
    return _memory.live_bytes()


def max_memory_allocated(device=None):
    """Highest ``memory_allocated()`` since counting started or the last ``reset_peak_memory_stats()``."""
    _check_device(device)
    return _memory.peak_bytes()


def memory_reserved(device=None):
    """Equals ``memory_allocated()``: NumPy returns freed storage to the C allocator at once."""
    return memory_allocated(device)


def max_memory_reserved(device=None):
    return max_memory_allocated(device)


def reset_peak_memory_stats(device=None):
    """Set the peaks (bytes and storage count) to the current values."""
    _check_device(device)
    _memory.start_counting()
    _memory.reset_peak()


def reset_accumulated_memory_stats(device=None):
    """Zero the cumulative ``.allocated`` and ``.freed`` counters."""
    _check_device(device)
    _memory.start_counting()
    _memory.reset_accumulated()


def memory_stats(device=None):
    """A dict with PyTorch's key names; the keys present are listed in this module's docstring."""
    _check_device(device)
    return _memory.stats()


__all__ = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "reset_peak_memory_stats", "reset_accumulated_memory_stats", "memory_stats"]
