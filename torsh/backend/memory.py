"""Accounting of tensor storage: live and peak bytes, allocation and free events.

Tracking starts when someone subscribes to the ``memory`` topic (a profiler, a widget,
a test) and costs nothing before that: tensor construction checks one dict lookup.
Only arrays that own their memory are counted; views share their base's bytes.
"""
import threading
import weakref
from typing import NamedTuple

from . import events

TOPIC = "memory"

_lock = threading.Lock()
_live = 0
_peak = 0


class MemoryEvent(NamedTuple):
    kind: str  # "alloc" or "free"
    nbytes: int
    live_bytes: int
    address: int  # an identity for pairing alloc with free (the owning array's id), not a pointer


def track(array):
    """Count ``array`` as allocated now and freed when it is garbage collected."""
    global _live, _peak
    if array.base is not None or array.nbytes == 0:
        return
    nbytes = array.nbytes
    address = id(array)  # __array_interface__ would give the pointer but costs ~3 us per tensor
    with _lock:
        _live += nbytes
        _peak = max(_peak, _live)
        live = _live
    events.emit(TOPIC, MemoryEvent("alloc", nbytes, live, address))
    # a bare weakref with a callback costs a tenth of weakref.finalize; the ref must stay alive
    ref = weakref.ref(array, _on_collected)
    _pending[id(ref)] = (ref, nbytes, address)  # keyed by the ref's id: arrays are unhashable


_pending = {}  # id(weakref of a tracked array) -> (weakref, nbytes, address)


def _on_collected(ref):
    _, nbytes, address = _pending.pop(id(ref))
    _freed(nbytes, address)


def _freed(nbytes, address):
    global _live
    with _lock:
        _live -= nbytes
        live = _live
    events.emit(TOPIC, MemoryEvent("free", nbytes, live, address))


def live_bytes():
    """Bytes of tracked storage alive now (counted only while tracking was on)."""
    return _live


def peak_bytes():
    return _peak


def reset_peak():
    global _peak
    with _lock:
        _peak = _live
