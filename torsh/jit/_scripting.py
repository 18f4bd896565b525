"""TorchScript's entry points, eagerly: what ``torch.jit`` does when scripting is disabled (``PYTORCH_JIT=0``).

torsh has no TorchScript compiler (graph capture will come through ``torsh.fx``). So, exactly as PyTorch behaves
with its JIT disabled, ``script``/``trace``/``trace_module`` return what they were given and the decorators
(``ignore``, ``unused``, ``export``, ``interface``...) return the function: model code written for TorchScript
runs unchanged, in eager mode. PyTorch 2.13 deprecates these entry points with a DeprecationWarning; torsh warns
with the same words. Saving a scripted model needs TorchScript's serialized code, which torsh cannot produce:
``save``/``load`` raise and point at ``state_dict``.
"""
import collections.abc
import contextlib
import types
import typing
import warnings

from ..nn import Module

__all__ = ["Attribute", "Final", "ScriptFunction", "ScriptModule", "RecursiveScriptModule", "ScriptWarning",
           "TracerWarning", "TracingCheckError", "annotate", "enable_onednn_fusion", "export", "export_opnames",
           "freeze", "fuser", "ignore", "interface", "is_scripting", "is_tracing", "isinstance", "load",
           "onednn_fusion_enabled", "optimize_for_inference", "optimized_execution", "save", "script",
           "script_if_tracing", "script_method", "set_fusion_strategy", "strict_fusion", "trace", "trace_module",
           "unused"]

_builtin_isinstance = isinstance
Final = typing.Final


def _deprecated(api, replacement="Please switch to `torch.compile` or `torch.export`."):
    # attributed to torsh.jit as PyTorch does (stacklevel 1 there): hidden by the default warning filters
    warnings.warn(f"`torch.jit.{api}` is deprecated. {replacement}", DeprecationWarning, stacklevel=2)


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """torch.jit.script: returns ``obj`` itself (a function, a module or a class), which then runs eagerly."""
    _deprecated("script")
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """torch.jit.trace: returns ``func`` itself; calls run it eagerly, so data-dependent control flow keeps
    working (the traced graph would have frozen one branch)."""
    _deprecated("trace")
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
                 strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    """torch.jit.trace_module: returns ``mod`` itself."""
    _deprecated("trace_method")
    return mod


def script_method(fn):
    _deprecated("script_method")
    return fn


def script_if_tracing(fn):
    return fn


def _check_scriptable(api, mod):
    if not _builtin_isinstance(mod, Module):
        raise RuntimeError(f"{api} expects a ScriptModule as input. "
                           "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'.")


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """torch.jit.freeze on an eager module: the module itself, after PyTorch's eval-mode check."""
    _deprecated("freeze", "Please use `torch.compile` instead.")
    _check_scriptable("Freezing", mod)
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    return mod


def optimize_for_inference(mod, other_methods=None):
    """torch.jit.optimize_for_inference on an eager module: the module, put in eval mode as PyTorch does."""
    _deprecated("optimize_for_inference", "Please use `torch.compile` instead.")
    _check_scriptable("optimize_for_inference", mod)
    return mod.eval()


def run_frozen_optimizations(mod, optimize_numerics=True, preserved_methods=None):
    """Nothing to optimize in eager mode."""


def ignore(drop=False, **kwargs):
    """torch.jit.ignore, as ``@ignore`` or ``@ignore(drop=...)``: the function is left as it is."""
    if callable(drop):
        return drop
    if not _builtin_isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def interface(obj):
    if not (_builtin_isinstance(obj, type)):
        raise RuntimeError("interface must be applied to a class")
    return obj


def is_scripting():
    """False: torsh code always runs in Python."""
    return False


def is_tracing():
    """False: torsh has no tracer running."""
    return False


def annotate(the_type, the_value):
    """The value itself (the type is a hint for the TorchScript compiler)."""
    return the_value


def Attribute(value, type):  # noqa: A002 - PyTorch's parameter name
    """The value itself, as torch.jit.Attribute is when scripting is disabled."""
    return value


def isinstance(obj, target_type):  # noqa: A001 - torch.jit.isinstance
    """torch.jit.isinstance: ``isinstance`` that also refines typing containers (``List[int]``, ``Dict[str,
    Tensor]``, ``Tuple[...]``, ``Optional[...]``)."""
    if _builtin_isinstance(target_type, collections.abc.Container):
        if not _builtin_isinstance(target_type, tuple):
            raise RuntimeError("The second argument to `torch.jit.isinstance` must be a type or a tuple of types")
        return any(isinstance(obj, t) for t in target_type)
    origin = typing.get_origin(target_type)
    if origin is None:
        return _builtin_isinstance(obj, target_type)
    args = typing.get_args(target_type)
    if origin is list:
        return _builtin_isinstance(obj, list) and all(isinstance(el, args[0]) for el in obj)
    if origin is dict:
        return _builtin_isinstance(obj, dict) and all(
            isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple:
        return (_builtin_isinstance(obj, tuple) and len(obj) == len(args)
                and all(isinstance(el, t) for el, t in zip(obj, args)))
    if origin is typing.Union or origin is types.UnionType:
        return obj is None and type(None) in args or any(isinstance(obj, t) for t in args)
    return False


def export_opnames(m):
    """The operator names a scripted module needs: none, an eager module carries no TorchScript code."""
    return []


def save(m, f, _extra_files=None):
    raise RuntimeError("torch.jit.save needs TorchScript code, which torsh does not compile: save the weights "
                       "with torch.save(model.state_dict(), f) and rebuild the module from its class.")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    raise RuntimeError("torch.jit.load reads TorchScript archives, which torsh cannot run: load weights saved "
                       "with torch.save(model.state_dict(), f) into the module built from its class.")


class ScriptModule(Module):
    """Base class of script modules; with scripting disabled, a plain ``nn.Module`` whose methods run eagerly."""


class RecursiveScriptModule(ScriptModule):
    """What ``script(module)`` returns in PyTorch; torsh's ``script`` returns the module itself instead."""


class ScriptFunction:
    """What ``script(function)`` returns in PyTorch; torsh's ``script`` returns the function itself instead."""


class ScriptWarning(Warning):
    pass


class TracerWarning(Warning):
    pass


class TracingCheckError(Exception):
    def __init__(self, graph_diff_error, tensor_compare_error, extra_msg=None):
        self.message = "Tracing failed sanity checks!\n" + (extra_msg + "\n" if extra_msg else "")
        for part in (graph_diff_error, tensor_compare_error):
            if part is not None:
                self.message += part + "\n"
        super().__init__(self.message)


_fusion_strategy = [("STATIC", 2), ("DYNAMIC", 10)]
_onednn_fusion = False


def set_fusion_strategy(strategy):
    """Records the strategy and returns the previous one, as PyTorch does (no fuser runs in torsh)."""
    global _fusion_strategy
    previous, _fusion_strategy = _fusion_strategy, list(strategy)
    return previous


def enable_onednn_fusion(enabled):
    global _onednn_fusion
    _onednn_fusion = bool(enabled)


def onednn_fusion_enabled():
    return _onednn_fusion


@contextlib.contextmanager
def optimized_execution(should_optimize):
    yield


@contextlib.contextmanager
def fuser(name):
    if name not in ("fuser0", "fuser1", "fuser2", "fuser3", "none"):
        raise Exception(f"unrecognized fuser option (name: {name})")  # noqa: TRY002 - PyTorch raises Exception
    yield


class strict_fusion:
    """A context manager that checks fusion inside scripted code; eager code has none to check."""

    def __enter__(self):
        if not is_scripting():
            warnings.warn("Only works in script mode", stacklevel=2)

    def __exit__(self, exc_type, exc_value, tb):
        return None


for _cls in (ScriptModule, RecursiveScriptModule, ScriptFunction, ScriptWarning, TracerWarning, TracingCheckError,
             strict_fusion):
    _cls.__module__ = "torsh.jit"
