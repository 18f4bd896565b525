"""torch.jit, eagerly: scripting and tracing as PyTorch does them with its JIT disabled (``_scripting``: they
return what they are given, the model runs in Python), and the asynchronous calls: ``fork(fn, *args)`` runs
``fn`` at once and returns a completed ``Future`` whose ``wait()`` gives the result (PyTorch's own eager mode
also runs a fork synchronously)."""
from ._scripting import *  # noqa: F401,F403
from ._scripting import __all__ as _scripting_names

__all__ = ["Error", "Future", "fork", "wait", *_scripting_names]


class Error(Exception):
    """torch.jit.Error (torch.JITException): an exception raised inside TorchScript code."""


class Future:
    """A value that is ready (torch.futures.Future, as fork returns it): set once, read with wait()/value()."""

    def __init__(self):
        self._done, self._result, self._exception, self._callbacks = False, None, None, []

    def done(self):
        return self._done

    def set_result(self, result):
        self._finish(result, None)

    def set_exception(self, exception):
        self._finish(None, exception)

    def _finish(self, result, exception):
        if self._done:
            raise RuntimeError("Future can only be marked completed once.")
        self._done, self._result, self._exception = True, result, exception
        for callback in self._callbacks:
            callback(self)
        self._callbacks.clear()

    def wait(self):
        if self._exception is not None:
            raise self._exception
        return self._result

    value = wait

    def then(self, callback):
        """A Future completed with ``callback(self)``, once this one is done."""
        chained = Future()

        def run(fut):
            try:
                chained.set_result(callback(fut))
            except Exception as e:  # noqa: BLE001 - the callback's failure is the chained future's result
                chained.set_exception(e)
        self.add_done_callback(run)
        return chained

    def add_done_callback(self, callback):
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)


def fork(func, *args, **kwargs):
    """Run ``func(*args, **kwargs)`` now (an exception propagates at once, as in PyTorch's eager fork); the
    result is read through the returned Future."""
    future = Future()
    future.set_result(func(*args, **kwargs))
    return future


def wait(future):
    return future.wait()


Error.__module__ = Future.__module__ = "torsh.jit"
