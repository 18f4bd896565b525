"""The autograd graph: Node (a backward function), saved tensors and gradient accumulators.

Every differentiable op records one Node subclass instance (named like PyTorch's,
``MulBackward0``) whose ``backward`` is written in torsh ops, so running it with grad
mode on (``create_graph=True``) builds the graph of the gradient itself.
"""
import contextlib
import itertools
import re
import sys
import threading
import weakref

import numpy as np

from .. import _dtype, _tensor  # partly initialised when torsh._tensor imports autograd: read at call time
from ..backend import events, memory
from . import anomaly_mode, grad_mode

_sequence = itertools.count()
# forward-mode AD's hooks (forward_ad._Gate) while a dual level is open, else None: the only check the
# common path pays (needs_grad when nothing requires grad, record, saving an output)
_forward = None
PROFILER_TOPIC = "autograd"  # node creation here, node runs in engine.py: emitted only while a profiler listens
# the profiler's, while it records: node_runner(node, grads, args) runs node.apply(*args) as a recorded backward
# node (engine.py calls it directly, one call per node instead of begin/end records to every listener)
node_runner = None

SECOND_BACKWARD_ERROR = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


PACK_INPLACE_ERROR = (
    "A saved tensor pack hook is modifying its input in place. Tensors provided as input to pack hook cannot be "
    "modified by in-place operations as this can lead to unexpected side-effects. Please open an issue if you "
    "need to perform in-place operations on the input to a pack hook.")


class _SavedHooksState(threading.local):
    """The saved_tensors_hooks (pack, unpack) pairs in force, innermost last; thread-local as in PyTorch."""

    def __init__(self):
        self.stack = []
        self.disabled_message = None  # set by disable_saved_tensors_hooks


_saved_hooks = _SavedHooksState()
_NO_DATA = np.empty(0)  # what memory counters and graph viewers read for a packed tensor: no bytes known


class SavedTensor:
    """A tensor saved for backward, with the version it had, so later in-place edits are caught.

    An op's own output is saved without its grad_fn (that would be a reference cycle through
    the node) and re-attached to the owning node when unpacked, as PyTorch does. Under
    ``saved_tensors_hooks`` the pack hook's result is kept instead of the tensor, and the unpack
    hook runs at each access (no version check then, as PyTorch).
    """

    __slots__ = ("tensor", "version", "is_output", "data", "version_box", "requires_grad", "output_nr",
                 "packed", "unpack_hook", "grad_fn", "accumulator", "tangent", "__weakref__")

    def __init__(self, tensor, node):
        if memory.counting:  # the memory categories find live saved tensors here
            register_saved(self)
        self.version = tensor._version_counter[0]
        self.is_output = tensor._grad_fn is node and node is not None
        hooks = _saved_hooks.stack
        self.unpack_hook = None
        if hooks:
            self._pack(tensor, *hooks[-1])
        elif self.is_output:
            self.tensor = None
            self.data = tensor._data
            self.version_box = tensor._version_counter
            self.requires_grad = tensor._requires_grad
            self.output_nr = tensor._output_nr
            # a saved output keeps its tangent: backward formulas run under a dual level propagate it
            self.tangent = _forward.tangent_cell(tensor) if _forward is not None else None
        else:
            self.tensor = tensor
            self.version_box = tensor._version_counter

    def _modified_message(self, node):
        # PyTorch names the node that produced the value: the saving node for an output,
        # the tensor's current history (re-derived for a view) for an input
        if self.tensor is None:
            data, producer = self.data, f"output {self.output_nr} of {_short_name(node)}"
        else:
            t = self.tensor
            data, fn = t._data, t.grad_fn
            producer = f"output {t._output_nr} of {_short_name(fn)}" if fn is not None else "a leaf Variable"
        from .._tensor_str import type_name
        return ("one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{type_name(data.dtype)} {list(data.shape)}], which is {producer}, is at version "
                f"{self.version_box[0]}; expected version {self.version} instead. Hint: enable anomaly detection "
                "to find the operation that failed to compute its gradient, with "
                "torch.autograd.set_detect_anomaly(True, check_nan=False).")

    def _pack(self, tensor, pack_hook, unpack_hook):
        """Keep ``pack_hook(tensor)`` and what is needed to give the unpacked value its history back."""
        packed = pack_hook(tensor)
        if tensor._version_counter[0] != self.version:
            raise RuntimeError(PACK_INPLACE_ERROR)
        self.tensor, self.data, self.version_box = None, _NO_DATA, None
        self.packed, self.unpack_hook = packed, unpack_hook
        self.requires_grad, self.output_nr = tensor._requires_grad, tensor._output_nr
        self.grad_fn = None if self.is_output else tensor._grad_fn
        is_grad_leaf = tensor._requires_grad and tensor._grad_fn is None
        self.accumulator = accumulator_of(tensor) if is_grad_leaf else None

    def _unpack_with_hook(self, node):
        """A new tensor on the unpack hook's data with the saved tensor's place in the graph (PyTorch's
        SavedVariable::unpack), so a create_graph backward still differentiates through it."""
        value = self.unpack_hook(self.packed)
        if not isinstance(value, _tensor.Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(value).__name__}")
        t = _tensor.Tensor._wrap(value._data, self.requires_grad)
        grad_fn = node if self.is_output else self.grad_fn
        if self.requires_grad and grad_fn is not None:
            t._grad_fn, t._output_nr = grad_fn, self.output_nr
        elif self.accumulator is not None:
            t._accumulator = weakref.ref(self.accumulator)
        return t

    def unpack(self, node):
        if self.unpack_hook is not None:
            return self._unpack_with_hook(node)
        if self.version_box[0] != self.version:
            raise RuntimeError(self._modified_message(node))
        if self.tensor is not None:
            return self.tensor
        t = _tensor.Tensor._wrap(self.data, self.requires_grad)
        t._version_counter = self.version_box
        if self.requires_grad:
            t._grad_fn = node
            t._output_nr = self.output_nr
        if self.tangent is not None and _forward is not None:
            t._fw_grad = self.tangent
        return t


_live_saved = {}  # id(weakref) -> weakref of every SavedTensor alive (kept while memory is counted)


def register_saved(saved):
    ref = weakref.ref(saved, _forget_saved)
    _live_saved[id(ref)] = ref


def _forget_saved(ref):
    _live_saved.pop(id(ref), None)


def saved_arrays():
    """The arrays held by the SavedTensors alive now (for backend.memory.categorized_bytes)."""
    for ref in list(_live_saved.values()):
        saved = ref()
        if saved is not None:
            yield saved.data if saved.tensor is None else saved.tensor._data


def _short_name(node):
    """ExpBackward0 -> Exp, LeakyReluBackward1 -> LeakyRelu1, as PyTorch's saved-variable messages print them."""
    return re.sub(r"Backward(\d*)$", lambda m: "" if m.group(1) in ("", "0") else m.group(1), node.name())


class Node:
    """A backward function: ``apply(*grad_outputs)`` returns one gradient per next edge."""

    _output_meta = ()  # [(shape, dtype)] of the forward outputs, to fill in missing grads
    _input_meta = ()  # [(shape, dtype)] of the forward inputs, to check and cast gradients
    _saved = None
    _released = False
    # defaults on the class, set on the instance only when used: every op builds a node, and six
    # attribute writes plus an empty dict per node were a quarter of its creation cost
    next_functions = ()
    _pre_hooks = None  # {output_nr: [hook(grad) -> grad or None]}
    _retain_hooks = None  # {output_nr: retain_grad hook}, run after the others
    _post_hooks = None
    _metadata = None  # the dict behind `metadata`, made on first access

    _custom_release = False  # the class overrides _on_release (set per subclass; the engine reads it per node)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._custom_release = cls._on_release is not Node._on_release

    def __init__(self):
        self._sequence_nr = next(_sequence)

    @property
    def metadata(self):
        """Free for users and tools (PyTorch's Node.metadata); the engine reads prehooks here."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    # -- what the engine and users see ------------------------------------------------
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def _sequence(self):
        return self._sequence_nr

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` runs after this node; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _RemovableHandle(self._post_hooks, hook)

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` runs before this node; may return new grad_outputs."""
        self.metadata.setdefault("_node_prehooks", []).append(hook)
        return _RemovableHandle(self.metadata["_node_prehooks"], hook)

    # -- saved tensors ---------------------------------------------------------------------
    def save_for_backward(self, *tensors):
        # most ops save one or two tensors: spelled out, no generator (~0.5-0.8 us an op)
        if len(tensors) == 1:
            t = tensors[0]
            self._saved = (None if t is None else SavedTensor(t, self),)
        elif len(tensors) == 2:
            a, b = tensors
            self._saved = (None if a is None else SavedTensor(a, self), None if b is None else SavedTensor(b, self))
        else:
            self._saved = tuple([None if t is None else SavedTensor(t, self) for t in tensors])
        self._had_saved = True

    _had_saved = False

    def _holds_state(self):
        """True when this node needs state that a backward without retain_graph frees."""
        return self._had_saved or self._custom_release

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(SECOND_BACKWARD_ERROR)
        saved = self._saved
        if saved is None:
            return ()
        if len(saved) == 1:  # the common case without a comprehension's frame
            s = saved[0]
            return (None if s is None else s.unpack(self),)
        return tuple([None if s is None else s.unpack(self) for s in saved])  # a list: no generator frame

    def _release(self):
        if _forward is not None:  # pending tangents may still read this node's saved tensors
            _forward.flush()
        self._saved = None
        self._released = True
        self._on_release()

    def _on_release(self):
        """Drop any other state kept for backward (overridden by nodes holding more)."""

    def backward(self, *grads):
        raise NotImplementedError(f"{self.name()} has no backward")

    def apply(self, *grads):
        return self.backward(*grads)


class _RemovableHandle:
    def __init__(self, container, item, key=None):
        self._container, self._item, self._key = container, item, key

    def remove(self):
        try:
            self._container.remove(self._item)
        except ValueError:
            pass


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``tensor.grad``."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable
        self._sequence_nr = _RUN_FIRST  # run as soon as ready, as PyTorch does

    @property
    def _input_meta(self):
        # read from the leaf each time: `p.data = ...` may change its dtype while old graphs live
        return ((self.variable._data.shape, self.variable.dtype),)

    _output_meta = _input_meta

    def apply(self, grad):
        var = self.variable
        if grad_mode._state.enabled:  # create_graph: keep the graph of the gradient
            var._grad = grad if var._grad is None else var._grad + grad
        elif var._grad is None:
            if _unshared(grad) and grad._data.flags.c_contiguous and grad._data.flags.writeable:
                # a fresh array nobody else holds: take it, as PyTorch does (the very tensor when it is
                # a plain one: no view, no history)
                plain = grad._base is None and grad._grad_fn is None and not grad._requires_grad
                var._grad = grad if plain else _tensor.wrap(grad._data)
            else:
                # a private copy: the incoming array may be shared (a broadcast, a user's gradient); a sparse
                # gradient (embedding(sparse=True)) is kept as it comes, as PyTorch's
                var._grad = grad if grad.is_sparse else _tensor.wrap(_private_copy(grad._data))
        elif grad.is_sparse or var._grad.is_sparse:  # sparse + sparse stays sparse, any dense term makes it dense
            var._grad = grad + var._grad if var._grad.is_sparse and not grad.is_sparse else var._grad + grad
        else:
            var._grad._iadd_no_grad(grad)
        if var._post_accumulate_grad_hooks:  # Tensor.register_post_accumulate_grad_hook: after .grad is updated
            for hook in tuple(var._post_accumulate_grad_hooks):
                hook(var)
        return ()


_RUN_FIRST = float("inf")  # AccumulateGrad's sequence number


# references to the incoming gradient tensor inside _unshared when only the backward engine holds
# it: run_backward's `grads` list and `grad`, apply's and _unshared's arguments, getrefcount's
_ENGINE_REFERENCES = 5


def _unshared(grad):
    """True when nothing outside the backward engine can see ``grad``'s memory.

    PyTorch's AccumulateGrad steals a gradient whose reference count says nobody else holds it,
    instead of copying it into ``.grad`` (the copies were ~5% of an MLP training step). Here the
    same test is made on the tensor object (no user variable, hook or retained ``.grad`` holds it)
    and on its array: it owns its memory, or is a view of a whole array (a transposed product)
    that nothing else refers to. A profiler or hook frame holding extra references only makes
    the test fail, which copies: always safe.
    """
    if sys.getrefcount(grad) > _ENGINE_REFERENCES or sys.getrefcount(grad._data) != 2:
        return False
    data, root = grad._data, grad._base
    owner = data if data.base is None else data.base
    if type(owner) is not np.ndarray or owner.base is not None or owner.size != data.size:
        return False
    if root is None:  # references: grad._data or data.base, `data` (when the owner), `owner`, the argument
        return sys.getrefcount(owner) == (4 if owner is data else 3)
    # a view (weight.t()'s gradient): its root tensor must hold the owner and be held by nothing else
    return (root._data is owner and sys.getrefcount(root) == 3  # grad._base, `root`, the argument
            and sys.getrefcount(owner) == 4)  # data.base, root._data, `owner`, the argument


def _private_copy(array):
    return np.array(array, copy=True, order="C")


def accumulator_of(tensor):
    """The AccumulateGrad node of a leaf, made once and kept as long as a graph uses it."""
    ref = tensor._accumulator
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(tensor)
        tensor._accumulator = weakref.ref(acc)
    return acc


def gradient_edge(tensor):
    """(node, output_nr) through which a gradient reaches ``tensor``; (None, 0) if none."""
    if not tensor._requires_grad:
        return (None, 0)
    fn = tensor.grad_fn
    if fn is None:
        return (accumulator_of(tensor), 0)
    return (fn, tensor._output_nr)


def record(node, inputs, outputs):
    """Link ``node`` into the graph: its edges to ``inputs``, and ``outputs`` to it.

    ``inputs`` may hold non-tensors (scalars) or None, which get no edge. Under a dual level the outputs
    get their tangents (forward_ad.record_dual), and are linked only when reverse mode needs them.
    """
    attach = _forward is None or _forward.record_dual(node, inputs, outputs)
    by_np, tensor_type = _dtype._BY_NP, _tensor.Tensor
    # one loop, gradient_edge inlined (every op pays this): 2.7 us against 3.9 us in generator passes (3 inputs)
    edges, metas = [], []
    for t in inputs:
        if isinstance(t, tensor_type):
            if t._requires_grad:
                fn = t._grad_fn if t._base is None else t.grad_fn  # a view may re-derive its grad_fn
                edges.append((accumulator_of(t), 0) if fn is None else (fn, t._output_nr))
            else:
                edges.append(_NO_EDGE)
            data = t._data
            metas.append((data.shape, by_np[data.dtype]))
        else:
            edges.append(_NO_EDGE)
            metas.append(None)
    node.next_functions = tuple(edges)
    node._input_meta = tuple(metas)
    if len(outputs) == 1:
        out = outputs[0]
        node._output_meta = ((out._data.shape, by_np[out._data.dtype]),)
        if attach:
            out._grad_fn, out._output_nr, out._requires_grad = node, 0, True
    else:
        node._output_meta = tuple([(o._data.shape, by_np[o._data.dtype]) for o in outputs])
        if attach:
            for nr, out in enumerate(outputs):
                out._grad_fn, out._output_nr, out._requires_grad = node, nr, True
    if anomaly_mode._enabled:
        anomaly_mode.remember_forward_stack(node)
    if PROFILER_TOPIC in events._subscribers:  # links the op running now to this node (sequence number)
        events.emit(PROFILER_TOPIC, ("record", node))
    return node


_NO_EDGE = (None, 0)


def backward_on_arrays():
    """True when a backward formula may work on the NumPy arrays instead of torsh ops: no graph of
    the gradient is being built (create_graph=False) and no profiler records the ops that backward
    nodes run (it shows them inside each node, as PyTorch's shows aten::mm inside AddmmBackward0)."""
    return not grad_mode._state.enabled and PROFILER_TOPIC not in events._subscribers and _forward is None


def needs_grad(*tensors):
    """True when grad mode is on and any of ``tensors`` (non-tensors ignored) requires grad, or when a
    dual level is open and any of them has a tangent (forward mode needs the node too)."""
    if not grad_mode._state.enabled:
        return _forward is not None and _forward.has_tangent(tensors)
    for t in tensors:
        if getattr(t, "_requires_grad", False):
            return True
    return _forward is not None and _forward.has_tangent(tensors)


# -- saved tensors hooks (torch.autograd.graph) ---------------------------------------------------
class saved_tensors_hooks:
    """Inside this context every tensor saved for backward is stored as ``pack_hook(tensor)`` and read back
    as ``unpack_hook(packed)``; only the innermost pair applies when nested."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _saved_hooks.disabled_message is not None:
            raise RuntimeError(_saved_hooks.disabled_message)
        _saved_hooks.stack.append((self.pack_hook, self.unpack_hook))

    def __exit__(self, *args):
        _saved_hooks.stack.pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors stored on the CPU and moved back to their device for backward (torsh's tensors all live
    on the CPU, so this keeps ``(device, tensor)`` pairs as PyTorch's hooks do)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return (tensor.device, tensor.cpu())

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Make entering saved_tensors_hooks (or this context while hooks are in force) raise RuntimeError(error_message)."""
    previous = _saved_hooks.disabled_message
    if _saved_hooks.stack:
        raise RuntimeError(error_message)
    _saved_hooks.disabled_message = error_message
    try:
        yield
    finally:
        _saved_hooks.disabled_message = previous


class GradientEdge(tuple):
    """(node, output_nr, ownership_token): where the gradient of a tensor is computed (PyTorch's NamedTuple)."""

    __slots__ = ()
    _fields = ("node", "output_nr", "ownership_token")

    def __new__(cls, node, output_nr, ownership_token=None):
        return tuple.__new__(cls, (node, output_nr, ownership_token))

    node = property(lambda self: self[0])
    output_nr = property(lambda self: self[1])
    ownership_token = property(lambda self: self[2])

    def __repr__(self):
        return f"GradientEdge(node={self[0]!r}, output_nr={self[1]!r}, ownership_token={self[2]!r})"


def get_gradient_edge(tensor):
    """The GradientEdge of ``tensor``: its grad_fn, or its AccumulateGrad node for a leaf."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    node, output_nr = gradient_edge(tensor)
    return GradientEdge(node, output_nr)


def increment_version(tensor):
    """Mark ``tensor`` (or each tensor of an iterable) as modified in place, so saved copies of it are stale."""
    tensors = (tensor,) if isinstance(tensor, _tensor.Tensor) else tensor
    for t in tensors:
        t._version_counter[0] += 1
