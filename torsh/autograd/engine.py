"""The backward engine: walks the graph from the roots and runs each Node once.

Ready nodes run latest-created first (highest sequence number), as in PyTorch, and a
node runs only once every gradient flowing into it has arrived. ``autograd.grad``
prunes the walk to the nodes that lead to the requested inputs and captures their
gradients without touching ``.grad``.
"""
import heapq

import numpy as np

from .. import _tensor
from .._tensor_str import type_name
from ..backend import events
from . import anomaly_mode, grad_mode
from . import graph as _graph  # node_runner, set while a profiler records
from .graph import AccumulateGrad, Node, PROFILER_TOPIC, SECOND_BACKWARD_ERROR, gradient_edge


def _collect(roots, targets):
    """Nodes to run and their dependency counts.

    A node runs when some path from it reaches a target (a node whose incoming gradient
    is wanted); with no targets every node runs (``runs`` is then None). Returns (runs, dependencies).
    """
    if targets is None:
        return None, _dependencies(roots)
    order, visited = [], set()
    for root in roots:  # iterative DFS post-order: deep graphs (RNNs) must not hit the recursion limit
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, edges = stack[-1]
            for child, _ in edges:
                if child is not None and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    leads_to_target = {}
    for node in order:  # children come before parents in post-order
        leads = node in targets
        for child, _ in node.next_functions:
            if child is not None and leads_to_target.get(child, False):
                leads = True
        leads_to_target[node] = leads
    runs = set()
    for node in order:
        if any(child is not None and leads_to_target[child] for child, _ in node.next_functions):
            runs.add(node)
    dependencies = {}
    for node in runs:
        for child, _ in node.next_functions:
            if child is not None:
                dependencies[child] = dependencies.get(child, 0) + 1
    return runs, dependencies


def _dependencies(roots):
    """How many edges lead into each node reachable from ``roots`` (a backward of the whole graph)."""
    stack = list(dict.fromkeys(roots))  # each node once, however often it is a root
    roots = set(stack) if len(stack) > 1 else stack
    dependencies = {}  # also the visited set: a node is entered once, when its first edge is counted
    while stack:
        for child, _ in stack.pop().next_functions:
            if child is None:
                continue
            if child in dependencies:
                dependencies[child] += 1
            else:
                dependencies[child] = 1
                if child not in roots:  # a root below another root is already on the stack
                    stack.append(child)
    return dependencies


def _accumulate(buffer, node, nr, grad):
    slots = buffer.get(node)
    if slots is None:
        # AccumulateGrad's _output_meta is a property that reads its leaf: it has one slot
        slots = buffer[node] = [None] * (1 if type(node) is AccumulateGrad else max(1, len(node._output_meta)))
    slots[nr] = grad if slots[nr] is None else slots[nr] + grad


_NO_GRADS = (None,)  # the gradients of a node nothing flowed into (read only)


def _fill_missing(node, grads):
    """Zeros for the outputs that received no gradient (PyTorch materializes them too)."""
    from .. import _ops
    return tuple(
        _ops.tensor.creation.zeros_for(*node._output_meta[i]) if g is None and i < len(node._output_meta) else g
        for i, g in enumerate(grads))


def _check_gradient(node, i, grad):
    """Cast a produced gradient to its input's dtype; refuse one of the wrong shape."""
    meta = node._input_meta[i] if i < len(node._input_meta) else None
    if meta is None:
        return grad
    shape, dtype = meta
    if grad._data.shape != shape:
        raise RuntimeError(
            f"Function {node.name()} returned an invalid gradient at index {i} - got "
            f"{list(grad._data.shape)} but expected shape compatible with {list(shape)}")
    if grad.dtype is not dtype:
        grad = grad.to(dtype)
    return grad


def _check_hook_result(hook, grad, result):
    """PyTorch's checks of what a tensor hook returned: same type, same size as the gradient it replaces."""
    name = getattr(hook, "__name__", repr(hook))
    if result.dtype is not grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {type_name(grad._data.dtype)} got "
                           f"{type_name(result._data.dtype)})")
    if result._data.shape != grad._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")


def _run_pre_hooks(node, grads):
    grads = list(grads)
    for hook in node.metadata.get("_node_prehooks", ()):
        result = hook(tuple(grads))
        if result is not None:
            grads = list(result)
    tensor_hooks = node.variable._backward_hooks if isinstance(node, AccumulateGrad) else node._pre_hooks
    if tensor_hooks:
        for nr, hooks in tensor_hooks.items():
            for hook in list(hooks):
                if grads[nr] is None:
                    continue
                result = hook(grads[nr])
                if result is not None:
                    _check_hook_result(hook, grads[nr], result)
                    grads[nr] = result
    if node._retain_hooks:
        for nr, hook in node._retain_hooks.items():
            if grads[nr] is not None:
                hook(grads[nr])
    return grads


def _observed_apply(node, grads, args):
    """node.apply(*args) while someone listens to the autograd topic: run by the profiler's node_runner, and
    bracketed by begin/end records when another listener is there. The begin record carries ``grads``, the
    gradients that flowed in (None where none did): PyTorch's input shapes of a backward node."""
    runner = _graph.node_runner
    if runner is not None and len(events._subscribers.get(PROFILER_TOPIC, ())) == 1:  # the profiler alone
        return runner(node, grads, args)
    events.emit(PROFILER_TOPIC, ("begin", node, grads))
    try:
        return node.apply(*args) if runner is None else runner(node, grads, args)
    finally:
        events.emit(PROFILER_TOPIC, ("end", node))


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True):
    """Propagate ``root_grads`` from ``roots``; with ``accumulate=False`` return input grads.

    ``inputs``: tensors whose gradients are wanted (``autograd.grad``, or ``backward(inputs=)``).

    A backward from one root with no ``inputs`` starts as a chain walk: while every node run so far
    had a single next edge, the nodes reachable from the root are exactly those on the path, so the
    next node waits for nothing else and runs at once, without counting dependencies over the graph
    or a ready queue. At the first node with edges to two or more nodes the walk counts the
    dependencies of the graph left below that node (all of it is reachable only through it) and
    goes on in order of sequence numbers, as for any graph.
    """
    if len(roots) == 1:  # loss.backward()
        edge = gradient_edge(roots[0])
        root_edges, root_nodes = (edge,), ([] if edge[0] is None else [edge[0]])
    else:
        root_edges, root_nodes, seen = [], [], set()  # one loop, no comprehension frames (~0.3 us each)
        for t in roots:
            edge = gradient_edge(t)
            root_edges.append(edge)
            if edge[0] is not None and edge[0] not in seen:  # each node once, however often it is a root
                seen.add(edge[0])
                root_nodes.append(edge[0])
    capture = None
    runs = None
    captured = [None] * (len(inputs) if inputs is not None else 0)
    buffer = {}
    for (node, nr), grad in zip(root_edges, root_grads):
        if node is not None:
            _accumulate(buffer, node, nr, grad)
    if inputs is None and len(root_nodes) == 1:
        dependencies, ready, chained = None, [], root_nodes[0]  # the chain walk
    else:
        chained = None
        targets = None
        if inputs is not None:
            capture = {}
            for i, t in enumerate(inputs):
                node, nr = gradient_edge(t)
                if node is None:
                    continue
                capture.setdefault((node, nr), []).append(i)
            targets = {node for node, _ in capture}
        runs, dependencies = (None, _dependencies(root_nodes)) if targets is None else _collect(root_nodes, targets)
        ready = []
        for node in root_nodes:
            if dependencies.get(node, 0) == 0:
                heapq.heappush(ready, (-node._sequence_nr, id(node), node))

    subscribers = events._subscribers  # updated in place: a profiler started by a hook is seen
    heappop, heappush = heapq.heappop, heapq.heappush
    # checked once per backward, not once per node: anomaly mode's NaN check (set around the backward call)
    # and whether releasing a node may skip forward-mode AD's flush (no dual level open)
    check_nan = anomaly_mode._enabled and anomaly_mode._check_nan
    release = not retain_graph and _graph._forward is None
    sinks = []  # ready AccumulateGrad nodes: they run first (PyTorch's), without the heap's tuples
    state = grad_mode._state  # set_grad_enabled(create_graph) without making its context object
    grad_enabled_before, state.enabled = state.enabled, bool(create_graph)
    try:
        while True:
            if chained is not None:
                node, chained = chained, None
            elif sinks:
                node = sinks.pop()
            elif ready:
                node = heappop(ready)[2]
            else:
                break
            grads = buffer.pop(node, _NO_GRADS)
            is_sink = type(node) is AccumulateGrad
            if node._pre_hooks or node._retain_hooks or node._metadata or (is_sink and node.variable._backward_hooks):
                grads = _run_pre_hooks(node, grads)
            if capture is not None:  # autograd.grad / backward(inputs=): capture, and prune to `runs`
                for nr, g in enumerate(grads):
                    for i in capture.get((node, nr), ()):
                        captured[i] = g
                if node not in runs:
                    continue
            if is_sink:
                if accumulate and grads[0] is not None:
                    grad, data = grads[0], node.variable._data
                    if grad._data.shape != data.shape or grad._data.dtype is not data.dtype:
                        grad = _check_gradient(node, 0, grad)
                    node.apply(grad) if PROFILER_TOPIC not in subscribers else _observed_apply(node, (grad,), (grad,))
                    grad = None
                continue
            if node._released and node._holds_state():
                raise RuntimeError(SECOND_BACKWARD_ERROR)
            try:
                if PROFILER_TOPIC in subscribers:
                    filled = grads if all(g is not None for g in grads) else _fill_missing(node, grads)
                    grad_inputs = _observed_apply(node, grads, filled)
                elif len(grads) == 1:  # one output: apply's argument, unless nothing flowed into it
                    grad = grads[0]
                    grad_inputs = node.apply(grad) if grad is not None else node.apply(*_fill_missing(node, grads))
                else:
                    grad_inputs = node.apply(*(grads if all(g is not None for g in grads)
                                               else _fill_missing(node, grads)))
            except Exception:
                if anomaly_mode._enabled:
                    anomaly_mode.report_failure(node)
                raise
            if not isinstance(grad_inputs, tuple):
                grad_inputs = (grad_inputs,)
            if check_nan:
                anomaly_mode.check_for_nan(node, grad_inputs)
            if node._post_hooks:
                for hook in node._post_hooks:
                    result = hook(grad_inputs, tuple(grads))
                    if result is not None:
                        grad_inputs = tuple(result)
            if release:  # Node._release inlined
                node._saved = None
                node._released = True
                if node._custom_release:
                    node._on_release()
            elif not retain_graph:
                node._release()
            edges = node.next_functions
            n_edges = len(edges)
            if len(grad_inputs) != n_edges:
                raise RuntimeError(
                    f"function {node.name()} returned an incorrect number of gradients "
                    f"(expected {n_edges}, got {len(grad_inputs)})")
            if dependencies is None and n_edges > 1 and _fan_out(edges) > 1:
                dependencies = _dependencies((node,))  # the chain ends here: count what is left below it
            metas = node._input_meta
            if len(metas) < n_edges:  # a node recorded without its inputs' metadata: nothing to check
                metas = tuple(metas) + (None,) * (n_edges - len(metas))
            for (child, nr), grad, meta in zip(edges, grad_inputs, metas):
                if child is None:
                    continue
                if grad is not None:
                    # the common case checked inline; _check_gradient casts or raises
                    if meta is not None and (grad._data.shape != meta[0] or grad._data.dtype is not meta[1].np):
                        grad = _check_gradient(node, _position(metas, meta), grad)
                    if nr == 0 and child not in buffer and (type(child) is AccumulateGrad
                                                            or len(child._output_meta) <= 1):
                        buffer[child] = [grad]  # _accumulate's first gradient into a one-slot node, inline
                    else:
                        _accumulate(buffer, child, nr, grad)
                if dependencies is None:  # on the chain: the one next node waits for nothing else
                    chained = child
                    continue
                remaining = dependencies[child] - 1
                dependencies[child] = remaining
                if remaining == 0:
                    if type(child) is AccumulateGrad:
                        sinks.append(child)
                    else:
                        heappush(ready, (-child._sequence_nr, id(child), child))
            # drop this node's gradients now: AccumulateGrad takes an array without copying only
            # when nothing but the engine refers to it (graph._unshared counts the references)
            grads = filled = grad_inputs = grad = None
    finally:
        state.enabled = grad_enabled_before
    return captured


def _position(metas, meta):
    """The input index of ``meta`` (each input's metadata is its own tuple): named in _check_gradient's error."""
    for i, m in enumerate(metas):
        if m is meta:
            return i
    return 0


def _fan_out(edges):
    """How many of ``edges`` lead to a node (an edge repeated counts each time)."""
    count = 0
    for child, _ in edges:
        if child is not None:
            count += 1
    return count


def _implicit_grad(out):
    """The gradient ``backward()`` gives a scalar output: a one of its dtype."""
    data = out._data
    if data.size != 1:
        raise RuntimeError("grad can be implicitly created only for scalar outputs")
    if data.dtype.kind != "f" and not out.dtype.is_floating_point:  # complex too, as PyTorch (bfloat16: kind "V")
        raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
    # ones_like's checks (device, fill value against the dtype) cannot fail here: ~5 us saved;
    # a 0-d one (a loss) from np.array, ~0.5 us against np.ones' ~2 us of Python
    return _tensor.Tensor._wrap(np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype))


def _make_root_grads(outputs, grad_outputs, create_graph):
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            g = _implicit_grad(out)
        elif not hasattr(g, "_data"):
            from .. import _ops
            g = _ops.tensor.creation.full_like(out, g)
        elif g._data.shape != out._data.shape:
            from .. import _ops
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {_ops.shape_str(g)} and output[{i}] "
                f"has a shape of {_ops.shape_str(out)}.")
        grads.append(g)
    return grads


def _as_tuple(x):
    if x is None:
        return None
    if hasattr(x, "_data"):
        return (x,)
    return tuple(x)


def _check_requires_grad(outputs):
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into ``.grad`` of the leaves the gradients of ``tensors`` (torch.autograd.backward)."""
    if grad_tensors is None and inputs is None and isinstance(tensors, _tensor.Tensor):  # loss.backward()
        if not tensors._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        run_backward((tensors,), (_implicit_grad(tensors),), create_graph if retain_graph is None else retain_graph,
                     create_graph)
        return None
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    _check_requires_grad(tensors)
    roots = _make_root_grads(tensors, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        grads = run_backward(tensors, roots, retain_graph, create_graph, inputs=inputs, accumulate=False)
        for t, g in zip(inputs, grads):
            if g is not None:
                accumulate_into_leaf(t, g, create_graph)
        return None
    run_backward(tensors, roots, retain_graph, create_graph)
    return None


def accumulate_into_leaf(t, g, create_graph):
    with grad_mode.set_grad_enabled(create_graph):
        if t.grad_fn is None:
            from .graph import accumulator_of
            accumulator_of(t).apply(g)
        else:  # backward(inputs=[non_leaf]) fills non_leaf.grad like a retained grad
            t._grad = g if t._grad is None else t._grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad`` (torch.autograd.grad)."""
    if is_grads_batched:
        raise NotImplementedError("torsh.autograd.grad: is_grads_batched=True is not supported")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _as_tuple(outputs)
    single_input = hasattr(inputs, "_data")
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    _check_requires_grad(outputs)
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad")
    roots = _make_root_grads(outputs, grad_outputs, create_graph)
    grads = run_backward(outputs, roots, retain_graph, create_graph, inputs=inputs, accumulate=False)
    result = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if materialize_grads:
                from .. import _ops
                g = _ops.tensor.creation.zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
        result.append(g)
    return tuple(result)
