"""One tiny publish/subscribe point between the core and whoever watches it.

The core calls ``emit`` only after checking ``listening(topic)``, a dict lookup, so an
unobserved program pays next to nothing. Profilers, widgets and tests subscribe.
"""
import threading

_subscribers = {}  # topic -> tuple of callbacks (tuples: emit iterates without locking)
_lock = threading.Lock()


def subscribe(topic, callback):
    """Call ``callback(record)`` for every record emitted on ``topic``; returns an unsubscribe function."""
    with _lock:
        _subscribers[topic] = _subscribers.get(topic, ()) + (callback,)

    def unsubscribe():
        with _lock:
            remaining = tuple(c for c in _subscribers.get(topic, ()) if c is not callback)
            if remaining:
                _subscribers[topic] = remaining
            else:
                _subscribers.pop(topic, None)

    return unsubscribe


def listening(topic):
    return topic in _subscribers


def emit(topic, record):
    for callback in _subscribers.get(topic, ()):
        callback(record)
