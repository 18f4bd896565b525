"""Forward-mode AD (torch.autograd.forward_ad): dual levels, dual tensors and tangent propagation.

How tangents flow. While a level is open, ``graph._forward`` points at this module, so
``graph.needs_grad`` also answers True for inputs carrying a tangent: every differentiable op then
builds its backward Node and calls ``graph.record``, which hands the node to ``record_dual`` here.
Each floating output gets a lazy tangent (``_Tangent``), computed the first time it is read (the next
op, ``unpack_dual``) or at the next op's record, once the op has finished saving what its node needs:
- by the op's jvp rule (``RULES``, by backward node name; ``torsh/_ops/transforms/jvp_rules.py`` fills it), or
- by the double-vjp trick on the node's own backward: u -> node.backward(u) is linear in u, so
  J t = d<node.backward(u), t>/du, which gives every op with a backward Node forward AD.
Rules run with the level switched off (a tangent has no tangent of its own: one level, as PyTorch),
and with grad mode as it was at the op, so tangents of primals that require grad keep a reverse graph
(reverse-over-forward), and backward formulas run under a level propagate tangents
(forward-over-reverse Hessian-vector products).
A view of a dual tensor gets the same view of its base's tangent, so in-place ops on either update both.
With no level open nothing here runs: the gate is ``graph._forward is None``.
"""
import weakref
from typing import NamedTuple, Optional

import numpy as np

from .. import _tensor
from . import engine, grad_mode, graph

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "dual_level"]

# backward node class -> rule(node, inputs, tangents, outputs) -> output tangent(s); filled by
# torsh/_ops/transforms/jvp_rules.py from the registry entries' jvp slots (by class: node names are not unique,
# square's PowBackward0 is not pow's)
RULES = {}
LEVEL_HOOKS = []  # (on_enter, on_exit) pairs run when a level opens and closes (jvp_rules: the operators)

_current_level = -1
_level_token = None     # one object per entered level: a tangent of an exited level is never read back
_unresolved = []        # lazy tangents recorded and not yet computed, oldest first

# ops PyTorch has no forward-mode formula for (by backward node name, or class name for PyTorch's generic
# NotImplemented node): a tangent reaching one raises its NotImplementedError at the op, where the double-vjp
# fallback would compute one
_NOT_IMPLEMENTED = ("Trying to use forward AD with {} that does not support it because it has not been implemented "
                    "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
                    "feature-request.yml so that we can prioritize its implementation or submit a PR adding the "
                    "implementation to derivatives.yaml")
NO_FORWARD_AD = {"IgammaBackward0": _NOT_IMPLEMENTED.format("igamma"),
                 "IgammacBackward0": _NOT_IMPLEMENTED.format("igammac"),
                 "GeqrfBackward0": _NOT_IMPLEMENTED.format("geqrf"),
                 "_BinomialNotImplemented": "Trying to use forward AD with aten::binomial that does not support it."}
_dual_tensors = []      # weakrefs of the tensors given a tangent at this level, cleared on exit


class UnpackedDualTensor(NamedTuple):
    """Namedtuple returned by :func:`unpack_dual` containing the primal and tangent components of the dual tensor."""
    primal: "_tensor.Tensor"
    tangent: Optional["_tensor.Tensor"]


# -- levels ------------------------------------------------------------------------------------
def enter_dual_level():
    """Enter a new forward grad level (only one may be open at a time, as in PyTorch)."""
    global _current_level, _level_token
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level += 1
    _level_token = object()
    graph._forward = _Gate
    for on_enter, _ in LEVEL_HOOKS:
        on_enter()
    return _current_level


def exit_dual_level(*, level=None):
    """Exit the level: every tangent made at it is dropped."""
    global _current_level, _level_token
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    graph._forward = None
    for _, on_exit in LEVEL_HOOKS:
        on_exit()
    _unresolved.clear()
    for ref in _dual_tensors:
        t = ref()
        if t is not None:
            t._fw_grad = None
    _dual_tensors.clear()
    _current_level, _level_token = level - 1, None


class dual_level:
    """Context manager (and decorator) inside which forward AD computations run."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()

    def __call__(self, fn):
        def wrapped(*args, **kwargs):
            with dual_level():
                return fn(*args, **kwargs)
        wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
        return wrapped


# -- the tangent of a tensor -------------------------------------------------------------------
class _Tangent:
    """A tensor's tangent at one level: a value, or a pending computation (``_Pending``) of it.

    ``base``: the tangent of the tensor's ``_base`` when this value is a view of it (views of a view
    then view the same base tangent, and in-place ops on any of them are seen by all)."""

    __slots__ = ("level", "value", "pending", "index", "base")

    def __init__(self, value=None, pending=None, index=0, base=None):
        self.level, self.value, self.pending, self.index, self.base = _level_token, value, pending, index, base

    def get(self):
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.value, self.base = pending.result(self.index)
        return self.value


def _set_cell(t, cell):
    t._fw_grad = cell
    _dual_tensors.append(weakref.ref(t))


def _cell_of(t):
    cell = getattr(t, "_fw_grad", None)  # the slot is left unset on tensors born without a level
    return cell if cell is not None and cell.level is _level_token else None


def tangent_of(t):
    """``t``'s tangent at the open level, or None (a view whose base has a tangent views that tangent)."""
    cell = _cell_of(t)
    if cell is not None:
        return cell.get()
    base = t._base
    if base is None or t._view_fn is None:
        return None
    base_cell = _cell_of(base)
    if base_cell is None or base_cell.get() is None:
        return None
    with _level_off(), grad_mode.no_grad():
        value = t._view_fn(base_cell.value)
    _set_cell(t, _Tangent(value, base=base_cell.value))
    return value


def _base_tangent(t):
    """The tangent of the storage root ``t`` views (t itself when not a view), if it views one."""
    cell = _cell_of(t)
    if t._base is None:
        return cell.get() if cell is not None else None
    if cell is not None:
        cell.get()
        return cell.base
    tangent_of(t)
    cell = _cell_of(t)
    return cell.base if cell is not None else None


def has_tangent(tensors):
    """True when some tensor among ``tensors`` carries a tangent at the open level.

    graph.needs_grad asks this at the start of every op: the ops before it have finished, so their
    pending tangents are computed now, before this op may change what they read (in place)."""
    if _unresolved:
        flush()
    for t in tensors:
        if isinstance(t, _tensor.Tensor) and tangent_of(t) is not None:
            return True
        if isinstance(t, (list, tuple)) and has_tangent(t):
            return True
    return False


class _level_off:
    """No tangent propagation while a rule or a fallback computes a tangent (tangents have none)."""

    def __enter__(self):
        self.previous, graph._forward = graph._forward, None

    def __exit__(self, *exc):
        graph._forward = self.previous


# -- propagation (called by graph.record while a level is open) ---------------------------------
class _Pending:
    """The output tangents of one recorded op, computed on first need."""

    __slots__ = ("node", "inputs", "tangents", "outputs", "grad_enabled", "results")

    def __init__(self, node, inputs, tangents, outputs):
        self.node, self.inputs, self.tangents, self.outputs = node, inputs, tangents, outputs
        self.grad_enabled = grad_mode._state.enabled
        self.results = None

    def result(self, index):
        if self.results is None:
            with _level_off(), grad_mode.set_grad_enabled(self.grad_enabled):
                self.results = _output_tangents(self.node, self.inputs, self.tangents, self.outputs)
            self.node = self.inputs = self.tangents = None  # done: let the graph go
        return self.results[index]


def flush():
    """Compute every pending tangent (before anything may change what they read)."""
    while _unresolved:
        pending = _unresolved.pop(0)
        if pending.results is None:
            pending.result(0)


def _is_differentiable(t):
    return t.dtype.is_floating_point or t.dtype.is_complex


def record_dual(node, inputs, outputs):
    """Give ``outputs`` lazy tangents when some input has one. Returns whether the reverse graph is
    attached (grad mode on and some input requires grad), as graph.record then does."""
    flush()
    tangents = [tangent_of(t) if isinstance(t, _tensor.Tensor) else None for t in inputs]
    if any(t is not None for t in tangents):
        _check_forward_ad_exists(node)
        pending = _Pending(node, tuple(inputs), tangents, tuple(outputs))
        _unresolved.append(pending)
        for i, out in enumerate(outputs):
            if _is_differentiable(out):
                _set_cell(out, _Tangent(pending=pending, index=i))
    return grad_mode._state.enabled and any(
        isinstance(t, _tensor.Tensor) and t._requires_grad for t in inputs)


def _check_forward_ad_exists(node):
    message = NO_FORWARD_AD.get(node.name()) or NO_FORWARD_AD.get(type(node).__name__)
    if message is not None:
        raise NotImplementedError(message)


def _output_tangents(node, inputs, tangents, outputs):
    """[(tangent, base tangent it views or None)] per output."""
    results = _view_tangents(inputs, tangents, outputs)
    if results is not None:
        return results
    rule = RULES.get(type(node))
    values = rule(node, inputs, tangents, outputs) if rule is not None else NotImplemented
    if values is NotImplemented:
        values = jvp_by_double_vjp(node, inputs, tangents, outputs)
    if not isinstance(values, (tuple, list)):
        values = (values,)
    # an output's tangent never aliases an input's (add with one tangent returns it): in-place ops on
    # one must not change the other
    values = [v.clone() if any(v is t for t in tangents) else v for v in values]
    return [(_fit(v, o), None) for v, o in zip(values, outputs)]


def _fit(tangent, output):
    """The tangent as the output's dtype and shape (rules may broadcast); zeros for None."""
    if not _is_differentiable(output):
        return None
    if tangent is None:
        return _tensor.wrap(np.zeros(output._data.shape, output._data.dtype))
    if tangent._data.shape != output._data.shape:
        tangent = tangent.expand(output._data.shape).contiguous()
    if tangent._data.dtype != output._data.dtype:
        tangent = tangent.to(output.dtype)
    return tangent


def _view_tangents(inputs, tangents, outputs):
    """A view op's output tangents are the same views of the input's base tangent, when it has one."""
    inp = inputs[0] if inputs else None
    if not isinstance(inp, _tensor.Tensor) or tangents[0] is None:
        return None
    root = inp if inp._base is None else inp._base
    if not all(isinstance(o, _tensor.Tensor) and o._base is root and o._view_fn is not None for o in outputs):
        return None
    base = _base_tangent(inp)
    if base is None:
        return None
    return [(o._view_fn(base), base) for o in outputs]


class _TangentEdge(graph.Node):
    """Stands for an input that has a tangent but no reverse edge, while the fallback runs a node's
    backward: nodes skip the gradients of inputs without an edge."""


_TANGENT_EDGE = (_TangentEdge(), 0)


def jvp_by_double_vjp(node, inputs, tangents, outputs):
    """J t of any node: the vjp of u -> node.backward(u), with the input tangents as cotangents."""
    seeds = [_tensor.wrap(np.zeros(o._data.shape, o._data.dtype), requires_grad=True)
             if _is_differentiable(o) else None for o in outputs]
    edges = node.next_functions
    node.next_functions = tuple(_TANGENT_EDGE if e[0] is None and i < len(tangents) and tangents[i] is not None
                                else e for i, e in enumerate(edges))
    try:
        with grad_mode.enable_grad():
            grads = node.apply(*seeds)
    finally:
        node.next_functions = edges
    if not isinstance(grads, tuple):
        grads = (grads,)
    pairs = [(g, t) for g, t in zip(grads, tangents)
             if g is not None and t is not None and isinstance(g, _tensor.Tensor) and g._requires_grad]
    used = [s for s in seeds if s is not None]
    if not pairs or not used:
        return [None] * len(outputs)
    gs, ts = zip(*pairs)
    ts = [_fit(t.reshape(g.shape) if t._data.shape != g._data.shape else t, g) for g, t in pairs]
    results = iter(engine.grad(gs, used, ts, allow_unused=True, create_graph=grad_mode._state.enabled))
    return [next(results) if s is not None else None for s in seeds]


# -- in-place ops (called by _ops/inplace.apply_inplace while a level is open) ---------------------
def apply_inplace(t, op, args, kwargs, run):
    """``t``'s in-place op: ``run()`` writes the primal (and reverse graph) as without forward AD, and
    t's tangent becomes, in place, the tangent of ``op(t, *args)`` (the op run on a copy of t)."""
    if not has_tangent((t,) + tuple(args) + tuple(kwargs.values())):
        with _level_off():
            return run()
    new_tangent = tangent_of(op(t.clone(), *args, **kwargs))
    flush()
    with _level_off():
        run()
        _write_tangent(t, new_tangent)
    return t


def _write_tangent(t, value):
    """Make ``value`` (None: zeros) t's tangent, writing into t's tangent (or its base's) in place."""
    current = tangent_of(t)
    if current is None and t._base is not None and t._view_fn is not None:
        current = _view_of_base_tangent(t)
    if current is None:
        if value is not None:
            _set_cell(t, _Tangent(value.clone()))  # the source's tangent stays its own
        return
    leaf = current._requires_grad and current._grad_fn is None
    with grad_mode.set_grad_enabled(grad_mode._state.enabled and not leaf):
        if value is None:
            current.zero_()
        else:
            current.copy_(value)


def _view_of_base_tangent(t):
    """The view of t's base's tangent that t is of the base, giving the base a zero tangent if it has none."""
    root = t._base
    base = _base_tangent(root)
    if base is None:
        base = _tensor.wrap(np.zeros(root._data.shape, root._data.dtype))
        _set_cell(root, _Tangent(base))
    with grad_mode.no_grad():
        view = t._view_fn(base)
    _set_cell(t, _Tangent(view, base=base))
    return view


class _Gate:
    """What graph.py calls while a level is open (graph._forward)."""
    has_tangent = staticmethod(has_tangent)
    record_dual = staticmethod(record_dual)
    flush = staticmethod(flush)
    apply_inplace = staticmethod(apply_inplace)
    tangent_cell = staticmethod(_cell_of)


# -- the public API ------------------------------------------------------------------------------
def make_dual(tensor, tangent, *, level=None):
    """A new tensor aliasing ``tensor`` (a view of it) that carries ``tangent`` at the current level."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor._data.shape)} while the "
                           f"given forward gradient is of size {list(tangent._data.shape)}.")
    if tangent_of(tensor) is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           f"level {level} is not supported.")
    flush()
    with _level_off():
        dual = tensor.view_as(tensor)
    if tangent._data.strides != tensor._data.strides:  # PyTorch copies a tangent laid out otherwise
        tangent = _tensor.wrap(np.array(tangent._data, copy=True, order="K")) if not tangent._requires_grad \
            else tangent.clone()
    _set_cell(dual, _Tangent(tangent, base=tangent if tensor._base is None else None))
    return dual


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): the primal is an alias of ``tensor`` without tangent, the tangent is as stored."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    tangent = tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with _level_off():
        primal = tensor.view_as(tensor)
    _set_cell(primal, _Tangent(None))  # explicitly none, though its base may have one
    return UnpackedDualTensor(primal, tangent)


def set_tangent(t, tangent):
    """Give ``t`` (an output made with propagation off) ``tangent`` at the open level: a custom Function's jvp."""
    if tangent._data.shape != t._data.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(t._data.shape)} while the "
                           f"given forward gradient is of size {list(tangent._data.shape)}.")
    _set_cell(t, _Tangent(tangent, base=tangent if t._base is None else None))
