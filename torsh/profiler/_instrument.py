"""The op-call hook: while a profiler runs, every public op name points at a timing wrapper.

torsh has no central op-call path (ops are plain functions bound as Tensor methods,
operators and ``torsh.*`` / ``torsh.nn.functional.*`` attributes), so instead of a check
on every call, ``enable(observer)`` swaps those attributes for thin wrappers that hand
each call to the running observer (the profiler's Collector), and ``disable`` puts the
originals back. With no profiler active the original functions are in place: the cost
is exactly zero. Starts are reference-counted; one observer at a time.

Only calls made through a swapped name are seen: code that bound an op before (``from
torsh import add``, or library code importing a function directly) calls the original.
"""
import sys
import threading
import types

_lock = threading.Lock()
_observer = None  # read by every wrapper call: the object that times ops, or None
_depth = 0  # nested enable() calls with the same observer
_swapped = []  # (owner, attribute, original, wrapper) put in place by enable()
_wrappers = {}  # (observer class, id(owner), attribute, original) -> wrapper, so a restart builds nothing

# Tensor methods defined in torsh/_tensor.py that are ops in PyTorch's sense (aten::detach, aten::item)
_TENSOR_OPS_IN_TENSOR_MODULE = ("detach", "detach_", "item")
_TORSH_FUNCTIONS_OUTSIDE_OPS = ("detach",)

# operator dunders -> aten op name (reflected variants run the same op)
_DUNDER_NAMES = {
    "add": "add", "radd": "add", "sub": "sub", "rsub": "rsub", "mul": "mul", "rmul": "mul",
    "truediv": "div", "rtruediv": "div", "floordiv": "floor_divide", "rfloordiv": "floor_divide",
    "mod": "remainder", "rmod": "remainder", "pow": "pow", "rpow": "pow", "matmul": "matmul",
    "rmatmul": "matmul", "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge",
    "and": "__and__", "rand": "__and__", "or": "__or__", "ror": "__or__", "xor": "__xor__", "rxor": "__xor__",
    "neg": "neg", "abs": "abs", "pos": "positive", "invert": "bitwise_not",
    "iadd": "add_", "isub": "sub_", "imul": "mul_", "itruediv": "div_", "ipow": "pow_", "imod": "remainder_",
    "ifloordiv": "floor_divide_", "iand": "__iand__", "ior": "__ior__", "ixor": "__ixor__",
    "getitem": "index", "setitem": "index_put_",
}
# dtype conversion methods all run aten::to in PyTorch
_CONVERSIONS = {"float", "double", "half", "bfloat16", "int", "long", "short", "char", "byte", "bool",
                "cfloat", "cdouble", "type_as"}


def aten_name(attribute, prefix=""):
    """The PyTorch-style name an op shows under in tables and traces: ``__radd__`` -> ``aten::add``."""
    if attribute.startswith("__") and attribute.endswith("__"):
        return "aten::" + _DUNDER_NAMES.get(attribute[2:-2], attribute)
    if attribute in _CONVERSIONS:
        return "aten::to"
    return "aten::" + prefix + attribute


def _finish_wrapper(op, fn, name, attribute):
    op.__name__ = getattr(fn, "__name__", attribute)
    op.__qualname__ = getattr(fn, "__qualname__", attribute)
    op.__doc__ = getattr(fn, "__doc__", None)
    op.__module__ = getattr(fn, "__module__", None)
    op.__wrapped__ = fn
    op._torsh_profiled_op = name
    return op


def _is_op_function(value, modules):
    return (isinstance(value, types.FunctionType) and not hasattr(value, "_torsh_profiled_op")
            and (value.__module__ or "").startswith(modules))


def _targets():
    """(owner, attribute, original, op name) of every public op name to swap."""
    from .._tensor import Tensor
    import torsh

    found = []
    for attribute, value in list(vars(Tensor).items()):
        if attribute in ("__init__", "__new__", "__repr__", "__hash__"):
            continue
        if _is_op_function(value, "torsh._ops") or (
                attribute in _TENSOR_OPS_IN_TENSOR_MODULE and isinstance(value, types.FunctionType)):
            found.append((Tensor, attribute, value, aten_name(attribute)))
    for attribute, value in list(vars(torsh).items()):
        if attribute.startswith("_"):
            continue
        if _is_op_function(value, "torsh._ops") or (
                attribute in _TORSH_FUNCTIONS_OUTSIDE_OPS and isinstance(value, types.FunctionType)):
            found.append((torsh, attribute, value, aten_name(attribute)))
    # namespaces written by other modules; only those already imported (starting a profiler imports nothing)
    for module_name, prefix in (("torsh.nn.functional", ""), ("torsh.linalg", "linalg_"),
                                ("torsh.special", "special_"), ("torsh.fft", "fft_")):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if not attribute.startswith("_") and _is_op_function(value, "torsh"):
                found.append((module, attribute, value, aten_name(attribute, prefix)))
    return found


def enable(observer):
    """Swap op names for ``observer.make_wrapper(fn, name, attribute)`` until the matching ``disable``.

    Wrappers are cached per name and reused by later observers (of one class: the profiler's
    Collector), so each wrapper must look up the running observer, ``_instrument._observer``, per call.
    """
    global _observer, _depth
    with _lock:
        if _observer is not None:
            if _observer is not observer:
                raise RuntimeError("torsh.profiler: another observer already instruments the ops; "
                                   "only one profiler can run at a time")
            _depth += 1
            return
        for owner, attribute, original, name in _targets():
            key = (type(observer), id(owner), attribute, original)
            wrapper = _wrappers.get(key)
            if wrapper is None:  # the observer's class writes the timing code; it reads _observer per call
                wrapper = _wrappers[key] = _finish_wrapper(
                    type(observer).make_wrapper(original, name, attribute), original, name, attribute)
            setattr(owner, attribute, wrapper)
            _swapped.append((owner, attribute, original, wrapper))
        _observer = observer
        _depth = 1


def disable(observer):
    """Undo one ``enable(observer)``; the last one puts the original functions back."""
    global _observer, _depth
    with _lock:
        if _observer is not observer:
            return
        _depth -= 1
        if _depth > 0:
            return
        for owner, attribute, original, wrapper in reversed(_swapped):
            # leave alone a name someone rebound while we were running
            if owner.__dict__.get(attribute) is wrapper:
                setattr(owner, attribute, original)
        _swapped.clear()
        _observer = None


def is_enabled():
    return _observer is not None
