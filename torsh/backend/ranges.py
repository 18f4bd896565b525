"""Named time ranges ("Optimizer.step#SGD.step", "DataLoader.__next__", user ranges).

Library code marks a range with ``with ranges.span(name):``; the profiler (and anyone else)
subscribes to the ``range`` topic and receives RangeEvent("begin"/"end", name, thread id,
perf_counter_ns timestamp). Unobserved, a span costs one dict lookup on entry.
"""
import threading
import time
from typing import NamedTuple

from . import events

TOPIC = "range"


class RangeEvent(NamedTuple):
    kind: str  # "begin" or "end"
    name: str
    thread_id: int
    time_ns: int


class span:
    """Context manager (and decorator) marking the enclosed work as one named range."""

    __slots__ = ("name", "_active")

    def __init__(self, name):
        self.name = name
        self._active = False

    def __enter__(self):
        if TOPIC in events._subscribers:
            self._active = True
            events.emit(TOPIC, RangeEvent("begin", self.name, threading.get_ident(), time.perf_counter_ns()))
        return self

    def __exit__(self, *exc):
        if self._active:
            self._active = False
            events.emit(TOPIC, RangeEvent("end", self.name, threading.get_ident(), time.perf_counter_ns()))
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with span(self.name):
                return fn(*args, **kwargs)
        return wrapper
