"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled, inference_mode.

The flag is thread-local, as in PyTorch (a DataLoader thread does not inherit a no_grad).
"""
import functools
import threading


class _State(threading.local):
    enabled = True
    inference = False
    multithreading = True  # set_multithreading_enabled (kept for PyTorch code: backward runs on the caller)
    grad_layout_enforced = True  # enforce_grad_layout_policy


_state = _State()


def is_grad_enabled():
    return _state.enabled


def is_inference_mode_enabled():
    return _state.inference


class _DecoratorContextManager:
    """Usable as ``with ctx():`` and as ``@ctx()`` (also bare ``@no_grad``)."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args = ()

    def clone(self):
        return self.__class__(*self._args)


class set_grad_enabled(_DecoratorContextManager):
    def __init__(self, mode):
        self._args = (mode,)
        self._prev = _state.enabled
        _state.enabled = bool(mode)  # takes effect as a function call too, like PyTorch

    def __call__(self, fn):
        _state.enabled = self._prev  # as a decorator it must not change the mode at definition time
        return super().__call__(fn)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False


class no_grad(_DecoratorContextManager):
    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):  # bare @no_grad
            return self(fn)
        return self

    def __init__(self, fn=None):
        self._prev = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = False

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False


class enable_grad(no_grad):
    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = True


class inference_mode(_DecoratorContextManager):
    """Like no_grad; torsh has no separate inference tensors (documented difference)."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode=True):
        self._args = (mode,)
        self._mode = bool(mode)

    def __enter__(self):
        self._prev = (_state.enabled, _state.inference)
        if self._mode:
            _state.enabled = False
            _state.inference = True

    def __exit__(self, *exc):
        _state.enabled, _state.inference = self._prev
        return False


def is_multithreading_enabled():
    """torsh's engine always runs backward on the calling thread; the flag is kept for PyTorch code."""
    return _state.multithreading


def is_view_replay_enabled():
    return False


class _FlagSwitch(_DecoratorContextManager):
    """Sets the thread-local flag ``_flag`` when made (so a plain call switches it too) and restores the previous
    value on exit, as PyTorch's set_multithreading_enabled / enforce_grad_layout_policy do."""
    _flag = None

    def __init__(self, mode):
        self.prev = getattr(_state, self._flag)
        setattr(_state, self._flag, mode)
        self.mode = mode
        self._args = (mode,)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        setattr(_state, self._flag, self.prev)

    def clone(self):
        return self.__class__(self.mode)


class set_multithreading_enabled(_FlagSwitch):
    """Switch multithreaded backward on or off; works as a function call and as a context manager."""
    _flag = "multithreading"


class enforce_grad_layout_policy(_FlagSwitch):
    """Whether accumulated gradients must match their parameter's strides (torsh's always are C-ordered)."""
    _flag = "grad_layout_enforced"

    def __init__(self, enable=True):
        super().__init__(enable)
