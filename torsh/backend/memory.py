"""Accounting of tensor storage: live and peak bytes, allocation and free events, categories.

Counting starts the first time anybody asks (``torsh.memory_allocated()`` and friends,
``categorized_bytes``, a subscriber to the ``memory`` topic such as the profiler with
``profile_memory=True``, or a ``RawSink``) and then stays on. At that moment the storages already
alive are found once (a ``gc`` scan for tensors and saved tensors, ~30 ms), so the current count is
exact from then on; only the peak before that moment is unknown (it starts at the live
bytes). PyTorch counts always; torsh does not, because counting is not free here:
a weakref with a Python callback per storage, two dict writes and the counters add ~1-3 us
per tensor (alloc plus free; benchmarks/memory_costs.py, RESULTS.md "Memory"), i.e. +17-58%
on a 1-element add and +18-33% on a small forward/backward, while a program that never
looks pays one flag test per tensor.

What is counted: the storage of every tensor born through ``Tensor._wrap`` (op outputs,
factories, ``from_numpy``), once per storage. A tensor wrapping a NumPy view is charged to
the array that owns the memory (its ``base`` chain), so views and ``detach()`` add nothing.
A storage is freed for the count when its owning array is garbage collected. Events
(``alloc``/``free`` MemoryEvents) are built only while someone subscribes to ``memory``; a
``RawSink`` gets them as plain tuples appended to its list.
"""
import math
import weakref
from typing import NamedTuple

import numpy as np

from . import events

TOPIC = "memory"

counting = False  # turned on for good by the first reader (start_counting); read by Tensor._wrap
_scanning = False  # no events for the storages found alive when counting starts

# the hot path updates as few globals as it can: storage counts are len(_by_storage), frees
# are derived (freed = allocated - live), and the cumulative counters restart from offsets
_live = 0  # bytes of tracked storage alive now
_peak = 0
_peak_count = 0  # most storages alive at once
_allocated_total = 0  # cumulative bytes / storages ever tracked
_allocations = 0
_accumulated_since = (0, 0, 0, 0)  # (_allocated_total, _allocations, freed bytes, frees) at the last reset
_by_storage = {}  # id(owning array) -> its weakref (ids are unique while the array lives)
_by_ref = {}  # id(weakref) -> (id(owning array), nbytes), for the collection callback


class MemoryEvent(NamedTuple):
    kind: str  # "alloc" or "free"
    nbytes: int
    live_bytes: int
    address: int  # an identity for pairing alloc with free (the owning array's id), not a pointer


_new_event = tuple.__new__  # MemoryEvent(*fields) minus a Python frame: what its generated __new__ calls


class RawSink:
    """A live view's list that hears every event without a callback per event (torsh.viz.MemoryTimeline).

    Each event extends the flat list ``raw`` by ``FIELDS`` values ``clock(), kind, nbytes, live_bytes,
    address`` (a MemoryEvent after the clock time: numbers and an interned str, nothing the cycle
    collector counts); ``on_due(now, kind)`` is called only when ``now >= wake`` (the owner sets
    ``wake`` to when it next has work to do) or ``raw`` holds more than ``limit`` values. Like a
    ``memory`` subscriber, an added sink turns counting on for good."""

    __slots__ = ("raw", "clock", "wake", "limit", "on_due")
    FIELDS = 5

    def __init__(self, clock, on_due, limit):
        self.raw = []
        self.clock = clock
        self.wake = -math.inf
        self.limit = limit
        self.on_due = on_due


_sinks = ()  # the RawSinks added (a tuple: the event path iterates it without locking)


def add_sink(sink):
    """Have ``sink`` hear every alloc and free from now on; returns the function that removes it."""
    global _sinks
    start_counting()
    _sinks = _sinks + (sink,)

    def remove():
        global _sinks
        _sinks = tuple(s for s in _sinks if s is not sink)
        sink.on_due = None  # no view <-> sink cycle left behind: a dropped view frees its model at once
    return remove


def storage_of(array):
    """The NumPy array that owns ``array``'s memory (itself unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def track(array):
    """Count ``array``'s storage as allocated now and freed when it is garbage collected."""
    global _live, _peak, _peak_count, _allocated_total, _allocations
    if not counting:  # a memory subscriber appeared: count from now on, existing storage included
        start_counting(new_array=array)
    if array.base is not None:
        array = storage_of(array)
    key = id(array)
    if key in _by_storage:
        return
    nbytes = array.nbytes
    if not nbytes:
        return
    # a bare weakref with a callback costs a tenth of weakref.finalize
    try:
        ref = weakref.ref(array, _on_collected)
    except TypeError:  # a NumPy scalar that some path wrapped as is: no storage to follow
        return
    _by_ref[id(ref)] = (key, nbytes)
    _by_storage[key] = ref
    # no lock (a `with lock` costs ~0.4 us here): under the GIL this run of int arithmetic on
    # globals cannot be interleaved, as CPython switches threads only at calls and backward jumps
    _live += nbytes
    _allocated_total += nbytes
    _allocations += 1
    if _live > _peak:
        _peak = _live
    if len(_by_storage) > _peak_count:
        _peak_count = len(_by_storage)
    if TOPIC in events._subscribers and not _scanning:
        # events.emit inlined, the NamedTuple built without its Python-level __new__: a live view hears every event
        event = _new_event(MemoryEvent, ("alloc", nbytes, _live, key))
        for callback in events._subscribers.get(TOPIC, ()):
            callback(event)
    if _sinks and not _scanning:  # inlined, as above: a sink is one append per event, no Python frame
        for sink in _sinks:
            now = sink.clock()
            raw = sink.raw
            raw += (now, "alloc", nbytes, _live, key)  # one extend: atomic, whatever thread appends
            if now >= sink.wake or len(raw) > sink.limit:
                sink.on_due(now, "alloc")


def _on_collected(ref):
    global _live
    key, nbytes = _by_ref.pop(id(ref))
    del _by_storage[key]
    _live -= nbytes  # no lock: see track
    if TOPIC in events._subscribers:  # as in track
        event = _new_event(MemoryEvent, ("free", nbytes, _live, key))
        for callback in events._subscribers.get(TOPIC, ()):
            callback(event)
    if _sinks:
        for sink in _sinks:
            now = sink.clock()
            raw = sink.raw
            raw += (now, "free", nbytes, _live, key)
            if now >= sink.wake or len(raw) > sink.limit:
                sink.on_due(now, "free")


def start_counting(new_array=None):
    """Count tensor storage from now on, starting with every storage alive now (idempotent).

    ``new_array``: the array whose tracking started the counting. Its tensor already holds it, so
    the scan leaves that tensor out: a fresh allocation then gets its alloc event, while a view of
    storage that other tensors hold is found through them and gets none."""
    global counting, _scanning
    if counting:
        return
    counting = True
    import gc
    from .._tensor import Tensor  # upward import, once: the scan must recognise tensors
    from ..autograd import graph
    gc.collect()  # unreachable tensors waiting for the cycle collector are not counted as alive
    _scanning = True
    try:
        for obj in gc.get_objects():
            kind = type(obj)  # not isinstance: that reads __class__, which some objects compute (and warn)
            if issubclass(kind, Tensor) and hasattr(obj, "_data"):  # (one being built has none yet)
                if obj._data is not new_array:
                    track(obj._data)
            elif kind is graph.SavedTensor:
                graph.register_saved(obj)
                if obj.tensor is None:
                    track(obj.data)
    finally:
        _scanning = False
    reset_peak()


def is_tracked(array):
    """True when ``array``'s storage is counted in ``live_bytes()``."""
    return id(storage_of(array)) in _by_storage


def live_bytes():
    """Bytes of tensor storage alive now."""
    start_counting()
    return _live


def peak_bytes():
    start_counting()
    return _peak


def reset_peak():
    global _peak, _peak_count
    _peak = _live
    _peak_count = len(_by_storage)


def reset_accumulated():
    global _accumulated_since
    _accumulated_since = (_allocated_total, _allocations, _allocated_total - _live, _allocations - len(_by_storage))


def stats():
    """The counters as PyTorch's ``memory_stats()`` keys (the ones that mean something here)."""
    start_counting()
    live_count = len(_by_storage)
    bytes0, count0, freed_bytes0, frees0 = _accumulated_since
    return {
        "allocated_bytes.all.current": _live,
        "allocated_bytes.all.peak": _peak,
        "allocated_bytes.all.allocated": _allocated_total - bytes0,
        "allocated_bytes.all.freed": _allocated_total - _live - freed_bytes0,
        "allocation.all.current": live_count,
        "allocation.all.peak": _peak_count,
        "allocation.all.allocated": _allocations - count0,
        "allocation.all.freed": _allocations - live_count - frees0,
        "reserved_bytes.all.current": _live + _pool_bytes,
    }


# -- categories, for the notebook memory timeline --------------------------------------------
CATEGORIES = ("parameters", "gradients", "saved_activations", "optimizer_state", "temporaries")


def _tensors_in(value):
    """Tensors inside an optimizer state entry (a tensor, or dicts/lists/tuples of them)."""
    if hasattr(value, "_data"):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors_in(v)


def categorized_bytes(model=None, optimizer=None):
    """Live bytes by role: {"parameters", "gradients", "saved_activations", "optimizer_state",
    "temporaries", "total"}.

    Each storage is counted once, in the first category that claims it (in the order above),
    so a parameter saved for backward is a parameter and views share their base's bytes.
    ``parameters``/``gradients`` come from ``model.parameters()`` and their ``.grad``,
    ``optimizer_state`` from the tensors in ``optimizer.state``, ``saved_activations`` from
    every tensor saved for backward by a graph that is still alive. ``temporaries`` is the
    rest of the tracked storage; ``total`` is ``live_bytes()`` plus any claimed storage that
    was not tracked (e.g. created before this module counted), so the parts add up to it.
    """
    from ..autograd import graph  # upward import: the saved-tensor registry lives with SavedTensor
    start_counting()
    seen = set()
    out = dict.fromkeys(CATEGORIES, 0)
    untracked = 0

    def claim(category, array):
        nonlocal untracked
        storage = storage_of(array)
        key = id(storage)
        if key in seen:
            return
        seen.add(key)
        out[category] += storage.nbytes
        if key not in _by_storage:
            untracked += storage.nbytes

    params = list(model.parameters()) if model is not None else []
    if optimizer is not None:  # an optimizer alone still names its parameters
        params += [p for group in optimizer.param_groups for p in group["params"]]
    for p in params:
        claim("parameters", p._data)
    for p in params:
        if p._grad is not None:
            claim("gradients", p._grad._data)
    for array in graph.saved_arrays():
        claim("saved_activations", array)
    if optimizer is not None:
        for state in optimizer.state.values():
            for t in _tensors_in(state):
                claim("optimizer_state", t._data)
    total = _live + untracked
    out["temporaries"] = max(total - sum(out.values()), 0)
    out["total"] = total
    return out


# -- output buffers: recycling of large blocks ------------------------------------------------
# Measured (benchmarks/memory_costs.py, RESULTS.md "Memory"): below 32 MiB a fresh np.empty
# costs nothing extra, because glibc serves it from its heap and recycles freed blocks itself
# (its mmap threshold adapts up to 32 MiB); above that every allocation is a fresh mmap whose
# pages fault on first touch, and writing a 40 MB add into a recycled buffer takes ~0.6x the
# time. So only blocks of at least POOL_MIN_BYTES are pooled, by exact size (training loops
# repeat their shapes), and at most POOL_MAX_CACHED_BYTES wait in the pool.
POOL_MIN_BYTES = 32 * 2**20
POOL_MAX_CACHED_BYTES = 512 * 2**20

_pool = {}  # nbytes -> [raw uint8 buffers ready for reuse]
_pool_bytes = 0
_pool_hits = 0


class _Block:
    """The owner of a pooled buffer, as NumPy sees it (the ``base`` of the array handed out).

    Every array sharing the buffer keeps this object alive (NumPy's base chain ends here), so
    ``__del__`` runs only when no array or view of the buffer is left; only then does the
    buffer go back to the pool.
    """

    __slots__ = ("raw", "__array_interface__")

    def __init__(self, raw, shape, dtype):
        self.raw = raw
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "version": 3,
                                    "data": (raw.__array_interface__["data"][0], False)}

    def __del__(self):
        try:
            _give_back(self.raw)
        except Exception:  # at interpreter exit the module's globals may already be gone
            pass


def _give_back(raw):
    global _pool_bytes
    if _pool_bytes + raw.nbytes > POOL_MAX_CACHED_BYTES:
        return  # let NumPy free it
    _pool.setdefault(raw.nbytes, []).append(raw)
    _pool_bytes += raw.nbytes


def empty(shape, dtype, min_bytes=POOL_MIN_BYTES):
    """An uninitialised C-contiguous array, from the pool when it is large enough to pay
    (``min_bytes``: callers that allocate the same buffers call after call may pool smaller ones)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < min_bytes or dtype.hasobject:
        return np.empty(shape, dtype)
    shape = tuple(shape)
    global _pool_bytes, _pool_hits
    free = _pool.get(nbytes)
    if free:
        raw = free.pop()
        _pool_bytes -= nbytes
        _pool_hits += 1
    else:
        raw = np.empty(nbytes, np.uint8)
    return np.asarray(_Block(raw, shape, dtype))


def cached_bytes():
    """Bytes of freed large buffers waiting in the pool for reuse."""
    return _pool_bytes


def empty_cache():
    """Give the pooled buffers back to the C allocator (torch.cuda.empty_cache's namesake)."""
    global _pool_bytes
    _pool.clear()
    _pool_bytes = 0
