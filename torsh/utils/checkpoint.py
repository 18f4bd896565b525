"""torch.utils.checkpoint: trade compute for memory by recomputing a function's activations in backward.

Two modes, as in PyTorch 2.13:

- reentrant (``use_reentrant=True``, still the default when the argument is omitted, with PyTorch's
  warning): an autograd.Function runs ``function`` under no_grad and, in its backward, runs it again
  with grad enabled and back-propagates through that graph (gradients of parameters are accumulated by
  that inner backward, so ``torch.autograd.grad`` cannot reach them);
- non-reentrant (``use_reentrant=False``): ``function`` runs with grad, building its graph as usual, and
  then every tensor its nodes saved for backward is dropped and replaced by a placeholder. The first
  placeholder unpacked in backward reruns ``function`` once (same RNG state, same autocast state) and
  hands each node the tensors its twin in the recomputed graph saved. The graph, ``grad_fn`` names and
  gradient routing are the un-checkpointed ones, so ``autograd.grad`` and captured tensors work.
"""
import warnings

import numpy as np

from .. import _random
from ..autograd import graph as _graph
from ..autograd import grad_mode as _grad_mode
from ..autograd.function import Function

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction", "detach_variable"]

_MISSING_REENTRANT = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting in PyTorch 2.9, "
    "calling checkpoint without use_reentrant will raise an exception. use_reentrant=False is recommended, but "
    "if you need to preserve the current default behavior, you can pass use_reentrant=True. Refer to docs for "
    "more details on the differences between the two variants.")
_MISSING_REENTRANT_SEQUENTIAL = (
    "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed explicitly. "
    "In version 2.9 we will raise an exception if use_reentrant is not passed. use_reentrant=False is "
    "recommended, but if you need to preserve the current default behavior, you can pass use_reentrant=True. "
    "Refer to docs for more details on the differences between the two variants.")


class CheckpointError(RuntimeError):
    """The recomputation did not rebuild the graph the forward built."""


def _is_tensor(x):
    from .._tensor import Tensor
    return isinstance(x, Tensor)


def detach_variable(inputs):
    """The tensors of the tuple ``inputs`` detached, keeping their requires_grad flag."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for inp in inputs:
        if _is_tensor(inp):
            detached = inp.detach()
            detached.requires_grad = inp.requires_grad
            inp = detached
        out.append(inp)
    return tuple(out)


class _ForwardState:
    """What recomputation must see as the forward saw it: the CPU RNG state and the autocast state."""

    def __init__(self, preserve_rng_state):
        self.rng = _random.get_rng_state() if preserve_rng_state else None
        self.autocast = _autocast_snapshot()

    def rerun(self, function, *args, **kwargs):
        """``function(*args, **kwargs)`` with grad enabled under the forward's RNG and autocast states;
        the caller's RNG state is restored afterwards."""
        outer_rng = _random.get_rng_state() if self.rng is not None else None
        if self.rng is not None:
            _random.set_rng_state(self.rng)
        try:
            with _grad_mode.enable_grad(), _autocast_restored(self.autocast):
                return function(*args, **kwargs)
        finally:
            if outer_rng is not None:
                _random.set_rng_state(outer_rng)


def _autocast_snapshot():
    from ..amp import autocast_mode
    return autocast_mode._snapshot()


def _autocast_restored(snapshot):
    from ..amp import autocast_mode
    return autocast_mode._restored(snapshot)


# -- reentrant ------------------------------------------------------------------------------------
class CheckpointFunction(Function):
    """The reentrant checkpoint: no graph in forward, a nested backward over the recomputed graph."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        if not any(getattr(a, "requires_grad", False) for a in args if _is_tensor(a)):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        ctx.run_function = run_function
        ctx.state = _ForwardState(preserve_rng_state)
        ctx.inputs = [None if _is_tensor(a) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if _is_tensor(a)]
        ctx.save_for_backward(*[a for a in args if _is_tensor(a)])
        return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import backward as autograd_backward
        inputs = list(ctx.inputs)
        for i, tensor in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = tensor
        detached = detach_variable(tuple(inputs))
        outputs = ctx.state.rerun(ctx.run_function, *detached)
        outputs = (outputs,) if _is_tensor(outputs) else outputs
        pairs = [(o, g) for o, g in zip(outputs, grads) if _is_tensor(o) and o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(inp.grad if _is_tensor(inp) else None for inp in detached)


# -- non-reentrant --------------------------------------------------------------------------------
class _Recomputation:
    """Reruns the checkpointed function once, on first demand, and deals out its saved tensors."""

    def __init__(self, function, args, kwargs, state, nodes):
        self.function, self.args, self.kwargs, self.state = function, args, kwargs, state
        self.node_ids = [id(n) for n in nodes]  # creation order of the forward's nodes that saved tensors
        self.saved = None  # {id(forward node): the SavedTensor tuple of its recomputed twin}

    def saved_for(self, node):
        if self.saved is None:
            self._run()
        return self.saved[id(node)]

    def _run(self):
        start = next(_graph._sequence)
        outputs = self.state.rerun(self.function, *detach_variable(tuple(self.args)), **self.kwargs)
        twins = _nodes_that_saved(_tensors_in(outputs), start)
        if len(twins) != len(self.node_ids):
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the original forward "
                f"and recomputation (the forward's graph had {len(self.node_ids)} nodes saving tensors, the "
                f"recomputed one {len(twins)}). The checkpointed function must run the same ops each time.")
        self.saved = {node_id: twin._saved for node_id, twin in zip(self.node_ids, twins)}
        self.function = self.args = self.kwargs = None  # keep nothing more than needed


class _PendingSaved:
    """Stands for one tensor a node saved: nothing is held until backward asks for it."""

    __slots__ = ("recomputation", "slot", "tensor", "data")
    _EMPTY = np.empty(0)

    def __init__(self, recomputation, slot):
        self.recomputation, self.slot = recomputation, slot
        self.tensor, self.data = None, self._EMPTY  # what graph viewers read: no bytes held

    def unpack(self, node):
        return self.recomputation.saved_for(node)[self.slot].unpack(node)


def _tensors_in(value):
    if _is_tensor(value):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def _nodes_that_saved(outputs, start):
    """The nodes created since sequence number ``start`` that are reachable from ``outputs`` and saved
    tensors, in creation order."""
    found, stack = {}, [t.grad_fn for t in outputs]
    while stack:
        node = stack.pop()
        if node is None or id(node) in found or not start <= node._sequence_nr < float("inf"):
            continue
        found[id(node)] = node
        stack.extend(fn for fn, _ in node.next_functions)
    return sorted((n for n in found.values() if n._saved), key=lambda n: n._sequence_nr)


def _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs):
    if not _grad_mode.is_grad_enabled():
        return function(*args, **kwargs)
    state = _ForwardState(preserve_rng_state)
    start = next(_graph._sequence)
    outputs = function(*args, **kwargs)
    nodes = _nodes_that_saved(_tensors_in(outputs), start)
    recomputation = _Recomputation(function, args, kwargs, state, nodes)
    for node in nodes:  # drop the activations: each node gets placeholders for what it saved
        node._saved = tuple(None if s is None else _PendingSaved(recomputation, i) for i, s in enumerate(node._saved))
    return outputs


# -- public API -----------------------------------------------------------------------------------
def _noop_context_fn():
    import contextlib
    return contextlib.nullcontext(), contextlib.nullcontext()


def checkpoint(function, *args, use_reentrant=None, context_fn=_noop_context_fn, determinism_check="default",
               debug=False, early_stop=None, **kwargs):
    """``function(*args, **kwargs)``, keeping none of its activations for backward: backward recomputes them."""
    if use_reentrant is None:
        warnings.warn(_MISSING_REENTRANT, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not _noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a list or nn.Sequential) in ``segments`` chunks, checkpointing all but the last."""
    if use_reentrant is None:
        warnings.warn(_MISSING_REENTRANT_SEQUENTIAL, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):  # the last segment keeps its graph
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
