"""torch.compiler: the compile entry point and the hints compiled code leaves for the compiler.

torsh's compiler is the elementwise fusion of ``torsh.compile`` (torsh/_compile); it captures no graphs, so
the hints that steer graph capture (``allow_in_graph``, ``assume_constant_result``, ``substitute_in_graph``,
``nested_compile_region``, ``set_stance``) leave the function as it is, and code is never "compiling" when it
runs. ``disable`` returns the function unchanged: it already runs eagerly outside fused chains.
"""
import contextlib
import functools

from .._compile import compile
from .._compile.compiled import _BACKEND_ALIASES

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin", "disable",
           "get_default_backend", "is_compiling", "is_dynamo_compiling", "is_exporting", "list_backends",
           "nested_compile_region", "reset", "set_default_backend", "set_stance", "substitute_in_graph"]

_default_backend = ["inductor"]


def is_compiling():
    """False: torsh runs Python code as Python (no tracer is ever running it)."""
    return False


def is_dynamo_compiling():
    return False


def is_exporting():
    return False


def reset():
    """Clears compile caches; torsh's fusion plans live on each compiled function, so there is nothing global."""


def disable(fn=None, recursive=True, *, reason=None):
    """torch.compiler.disable, as ``disable(fn)`` or ``@disable(recursive=False)``: the function itself."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    return fn


def allow_in_graph(fn):
    return fn


def assume_constant_result(fn):
    return fn


def substitute_in_graph(original_fn, *, can_constant_fold_through=False, skip_signature_check=False):
    """A decorator registering a traceable replacement of ``original_fn``; torsh traces nothing, so it
    returns the replacement unchanged."""
    return lambda fn: fn


def nested_compile_region(fn=None, options=None):
    if fn is None:
        return lambda f: f
    return fn


def cudagraph_mark_step_begin():
    """No CUDA graphs on a CPU build."""


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names ``torsh.compile`` takes (PyTorch's alias ``inductor`` is torsh's default fusion)."""
    return sorted({"numexpr", "pythran", "inductor"})


def get_default_backend():
    return _default_backend[0]


def set_default_backend(backend):
    if backend not in ("numexpr", "pythran", *_BACKEND_ALIASES):
        raise ValueError(f"Invalid backend: {backend!r}, see `torch.compiler.list_backends()` for available "
                         "backends.")
    _default_backend[0] = backend


class set_stance(contextlib.ContextDecorator):
    """torch.compiler.set_stance: how compiled functions behave (e.g. ``"force_eager"``). torsh's fused
    functions already fall back to eager per call, so the stance is recorded and changes nothing."""
    _current = "default"

    def __init__(self, stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
        if stance not in ("default", "force_eager", "eager_on_recompile", "fail_on_recompile",
                          "eager_then_compile", "aot_eager_then_compile"):
            raise RuntimeError(f"invalid torch.compile stance '{stance}'")
        self.stance, self._previous = stance, set_stance._current
        set_stance._current = stance

    def __enter__(self):
        set_stance._current = self.stance
        return self

    def __exit__(self, *exc):
        set_stance._current = self._previous
        return False
