"""``torch.cuda``'s memory statistics, for torsh's one device (the CPU).

PyTorch names: ``memory_allocated``, ``max_memory_allocated``, ``reset_peak_memory_stats``,
``reset_accumulated_memory_stats``, ``memory_stats``. The ``device`` argument is accepted and
must name the CPU. What differs from PyTorch (see ``torsh/backend/memory.py``):

- counting starts with the first call of any of these (or a memory subscriber such as the
  profiler with ``profile_memory=True``); the storage alive then is counted at once, but
  ``max_memory_allocated`` knows the peak only from that moment on;
- bytes are tensor storage bytes (NumPy's ``nbytes``), with no allocator rounding; the only
  cache is the pool of large freed output buffers (``torsh.backend.memory.empty``), so
  ``memory_reserved`` is ``memory_allocated`` plus the pooled bytes, and ``empty_cache``
  releases them;
- ``memory_stats()`` has only the keys that mean something here:
  ``allocated_bytes.all.{current,peak,allocated,freed}``,
  ``allocation.all.{current,peak,allocated,freed}`` (counts of storages) and
  ``reserved_bytes.all.current``.
"""
from ._tensor import require_cpu
from .backend import memory as _memory


def _check_device(device):
    if device is not None:
        require_cpu(device)  # raises for anything but the CPU, with PyTorch's wording


def memory_allocated(device=None):
    """Bytes of tensor storage alive now."""
    _check_device(device)
    return _memory.live_bytes()


def max_memory_allocated(device=None):
    """Highest ``memory_allocated()`` since counting started or the last ``reset_peak_memory_stats()``."""
    _check_device(device)
    return _memory.peak_bytes()


def memory_reserved(device=None):
    """``memory_allocated()`` plus the freed large buffers pooled for reuse."""
    return memory_allocated(device) + _memory.cached_bytes()


def empty_cache():
    """Release the pooled buffers to the C allocator."""
    _memory.empty_cache()


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


__all__ = ["memory_allocated", "max_memory_allocated", "memory_reserved", "empty_cache",
           "reset_peak_memory_stats", "reset_accumulated_memory_stats", "memory_stats"]
