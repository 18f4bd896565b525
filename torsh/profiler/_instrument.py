"""The profiler's subscription to the op-call hook (``torsh._ops.registry.subscribe``).

While a profiler runs, the registry has every op binding (Tensor methods, operators, ``torsh.*``,
``torsh.nn.functional.*``, ``torsh.linalg/special/fft.*``) point at a timing wrapper that hands
each call to the running observer (the profiler's Collector); when it stops, the registry puts the
originals back. With no profiler active the original functions are in place: the cost is exactly
zero. Starts are reference-counted; one observer at a time. The profiler itself sets no attribute.

Only calls made through a public name are seen: code that bound an op before (``from torsh import
add``, or library code importing a function directly) calls the original.
"""
import sys
import threading

from .._ops import registry
from .._tensor import wrap

_lock = threading.Lock()
_observer = None  # read by every wrapper call: the object that times ops, or None
_depth = 0  # nested enable() calls with the same observer
_listeners = {}  # wrapper factory -> its registry listener (one per factory, so the registry's wrapper cache hits)

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


# functions whose op PyTorch names otherwise (F.cross_entropy runs aten::cross_entropy_loss)
_PYTORCH_OP_NAMES = {"cross_entropy": "cross_entropy_loss", "nll_loss": "nll_loss_nd"}
# functions that are Python in PyTorch, no op: no row of their own (the ops they run show)
_NO_ROW = frozenset({"multi_head_attention_forward"})


def aten_name(attribute, prefix=""):
    """The PyTorch-style name an op shows under in tables and traces: ``__radd__`` -> ``aten::add``."""
    if attribute.startswith("__") and attribute.endswith("__"):
        return "aten::" + _DUNDER_NAMES.get(attribute[2:-2], attribute)
    if attribute in _CONVERSIONS:
        return "aten::to"
    return "aten::" + prefix + _PYTORCH_OP_NAMES.get(attribute, attribute)


def _finish_wrapper(op, fn, name, attribute):
    op.__name__ = getattr(fn, "__name__", attribute)
    op.__qualname__ = getattr(fn, "__qualname__", attribute)
    op.__doc__ = getattr(fn, "__doc__", None)
    op.__module__ = getattr(fn, "__module__", None)
    op.__wrapped__ = fn
    op._torsh_profiled_op = name
    return op


def _listener(make_wrapper):
    """The registry listener building ``make_wrapper(fn, name, attribute)`` timing wrappers (the observer's
    ``make_wrapper``: they read ``_instrument._observer`` per call, so a wrapper serves every later
    observer with that factory)."""
    listener = _listeners.get(make_wrapper)
    if listener is None:
        def listener(binding):
            name = aten_name(binding.attribute, binding.prefix)
            if binding.attribute in _NO_ROW:
                return _finish_wrapper(_passthrough(binding.fn), binding.fn, name, binding.attribute)
            return _finish_wrapper(make_wrapper(binding.fn, name, binding.attribute), binding.fn,
                                   name, binding.attribute)
        _listeners[make_wrapper] = listener
    return listener


def _passthrough(fn):
    def op(*args, **kwargs):
        return fn(*args, **kwargs)
    return op


# Functions torsh's own code calls through a module global, no op binding, where PyTorch runs an op: observed
# there under PyTorch's name while a profile records, the arguments shown in the op's order (``row_args``)
_RNN_OPS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}


def _lstm_row_args(mode, x, batch_sizes, h0, c0, layer_params, num_layers, num_directions, dropout, training):
    """aten::lstm's arguments (hx and params are TensorLists: no shape in PyTorch's rows; x is time-major)."""
    has_biases = layer_params(0, 0)[2] is not None
    if batch_sizes is None:
        return x, None, None, has_biases, num_layers, dropout, training, num_directions == 2, False
    return x, wrap(batch_sizes), None, None, has_biases, num_layers, dropout, training, num_directions == 2


def _rnn_layer_row_args(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """aten::mkldnn_rnn_layer's: (input, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse, batch_sizes, mode, hidden_size,
    num_layers, has_biases, bidirectional, batch_first, train)."""
    return (x, w_ih, w_hh, b_ih, b_hh, h0, c0, reverse) + (None,) * 8


_INTERNAL_CALLS = (  # (module, attribute, PyTorch's op name or {first argument: name}, row_args or None)
    ("torsh.nn.modules.rnn", "run_layers", {mode: "aten::" + op for mode, op in _RNN_OPS.items()}, _lstm_row_args),
    ("torsh.nn.modules.rnn", "lstm_sequence", "aten::mkldnn_rnn_layer", _rnn_layer_row_args),  # one layer direction
    ("torsh.nn._functional.attention", "linear", "aten::linear", None),  # multi_head_attention_forward's projections
    ("torsh.nn._functional.attention", "scaled_dot_product_attention", "aten::scaled_dot_product_attention", None),
    ("torsh.nn._functional.attention", "dropout", "aten::dropout", None),
    ("torsh.nn._functional.activation", "softmax", "aten::softmax", None),  # A.softmax: attention weights
    ("torsh.nn._functional.activation", "log_softmax", "aten::log_softmax", None),  # cross_entropy, composed
    ("torsh._ops.nn.loss", "nll_loss", "aten::nll_loss", None),  # F.cross_entropy / F.nll_loss, composed
)
_internal_swaps = []  # (module, attribute, original, wrapper) while observed


def _internal_wrapper(make_wrapper, original, name, row_args):
    if row_args is None:
        return make_wrapper(original, name, name[6:])
    per_name = {}  # op name -> wrapper of a call whose real arguments it closes over

    def observed(*args):
        op_name = name if isinstance(name, str) else name[args[0]]
        wrapper = per_name.get(op_name)
        if wrapper is None:
            wrapper = per_name[op_name] = make_wrapper(_call_pending, op_name, op_name[6:])
        _pending.call = (original, args)
        return wrapper(*row_args(*args))
    return observed


_pending = threading.local()  # the real call an observed internal function's wrapper runs (set just before)


def _call_pending(*row_args):
    original, args = _pending.call
    _pending.call = None
    return original(*args)


def _observe_internal_calls(make_wrapper):
    for module_name, attribute, name, row_args in _INTERNAL_CALLS:
        module = sys.modules.get(module_name)  # not loaded yet: nothing has called it
        if module is not None:
            original = getattr(module, attribute)
            wrapper = _internal_wrapper(make_wrapper, original, name, row_args)
            setattr(module, attribute, wrapper)
            _internal_swaps.append((module, attribute, original, wrapper))


def _restore_internal_calls():
    for module, attribute, original, wrapper in reversed(_internal_swaps):
        if getattr(module, attribute) is wrapper:  # leave alone a name rebound while observed
            setattr(module, attribute, original)
    _internal_swaps.clear()


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
        registry.subscribe(_listener(observer.make_wrapper))
        _observe_internal_calls(observer.make_wrapper)
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
        registry.unsubscribe(_listener(observer.make_wrapper))
        _restore_internal_calls()
        _observer = None


def is_enabled():
    return _observer is not None
