"""``record_function(name)``: a user range that shows in tables and traces under ``name``.

It is a ``torsh.backend.ranges.span``: the profiler and any other watcher of the ``range``
topic see it; with nobody watching it costs one dict lookup.
"""
from ..backend import ranges


class record_function(ranges.span):
    """Context manager and decorator: ``with record_function("forward"): ...``."""

    __slots__ = ("args",)

    def __init__(self, name, args=None):
        super().__init__(name)
        self.args = args  # accepted for PyTorch compatibility; not shown

    def __call__(self, fn):
        import functools

        name = self.name

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(name):
                return fn(*args, **kwargs)
        return wrapper
