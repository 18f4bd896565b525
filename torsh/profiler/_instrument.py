"""The profiler's subscription to the op-call hook (``torsh._ops.registry.subscribe``).

While a profiler runs, the registry has every op binding (Tensor methods, operators, ``torsh.*``,
``torsh.nn.functional.*``, ``torsh.linalg/special/fft.*``) point at a timing wrapper that hands
each call to the running observer (the profiler's Collector); when it stops, the registry puts the
originals back. With no profiler active the original functions are in place: the cost is exactly
zero. Starts are reference-counted; one observer at a time. The profiler itself sets no attribute.

Only calls made through a public name are seen: code that bound an op before (``from torsh import
add``, or library code importing a function directly) calls the original.
"""
import functools
import sys
import threading

from .._ops import registry

_lock = threading.Lock()
_observer = None  # read by every wrapper call: the object that times ops, or None
_depth = 0  # nested enable() calls with the same observer
_listeners = {}  # observer class -> its registry listener (one per class, so the registry's wrapper cache hits)

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


def _listener(observer_class):
    """The registry listener building ``observer_class.make_wrapper`` timing wrappers (which read
    ``_instrument._observer`` per call, so a wrapper serves every later observer of that class)."""
    listener = _listeners.get(observer_class)
    if listener is None:
        def listener(binding):
            name = aten_name(binding.attribute, binding.prefix)
            return _finish_wrapper(observer_class.make_wrapper(binding.fn, name, binding.attribute), binding.fn,
                                   name, binding.attribute)
        _listeners[observer_class] = listener
    return listener


# nn.LSTM/GRU/RNN (and torsh.lstm, gru, rnn_tanh, rnn_relu) run their layers through nn/modules/rnn.py's
# run_layers(mode, ...), called by no op binding: observed there under PyTorch's op of each mode (aten::lstm)
_RNN_MODULE = "torsh.nn.modules.rnn"
_RNN_OPS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}
_rnn_swap = None  # (module, original run_layers, its wrapper) while observed


def _observe_rnn_layers(observer_class):
    global _rnn_swap
    module = sys.modules.get(_RNN_MODULE)  # not loaded yet: no recurrent module has run
    if module is None:
        return
    original = module.run_layers
    per_mode = {mode: observer_class.make_wrapper(functools.partial(original, mode), "aten::" + op, op)
                for mode, op in _RNN_OPS.items()}

    def run_layers(mode, *args, **kwargs):
        return per_mode[mode](*args, **kwargs)
    module.run_layers = run_layers
    _rnn_swap = (module, original, run_layers)


def _restore_rnn_layers():
    global _rnn_swap
    if _rnn_swap is not None:
        module, original, wrapper = _rnn_swap
        if module.run_layers is wrapper:
            module.run_layers = original
        _rnn_swap = None


def enable(observer):
    """Have every op call timed by ``observer`` until the matching ``disable``."""
    global _observer, _depth
    with _lock:
        if _observer is not None:
            if _observer is not observer:
                raise RuntimeError("torsh.profiler: another observer already instruments the ops; "
                                   "only one profiler can run at a time")
            _depth += 1
            return
        registry.subscribe(_listener(type(observer)))
        _observe_rnn_layers(type(observer))
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
        registry.unsubscribe(_listener(type(observer)))
        _restore_rnn_layers()
        _observer = None


def is_enabled():
    return _observer is not None
