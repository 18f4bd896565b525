"""Time and memory per ``nn.Module`` from a finished profile: the data behind ``torsh.viz.module_view``
and ``prof.advise()``'s activation-memory finding (so it lives with the profiler).

The profile must record module scopes (``profile(with_modules=True)``: events named
``nn.Module: Linear_0``, torsh.profiler._module_scopes). From its events:

- the tree: module scopes nest as the calls did; calls of one module under the same parent
  scope are one node (``calls`` counts them). Scopes opened while backward runs (a checkpointed
  block recomputing its forward) are part of that backward node, not forward calls.
- forward time: a node's ``forward_us`` is the time inside its scopes, ``forward_self_us`` that
  time less its children's.
- backward time: each backward node the engine ran (top-level ``evaluate_function`` events) goes
  to the module whose forward op created it (the forward op of the same sequence number, and the
  innermost module scope around that op); nodes created outside any module (the loss, and
  AccumulateGrad, which has no forward op) stay on the root. ``backward_us`` adds the children's.
- memory (``profile_memory=True``), by phase and category: bytes allocated inside the node's
  forward scopes (not its children's), of which ``activations`` were still alive when the next
  backward pass started (kept for backward) and the rest were temporaries; bytes allocated by
  its backward nodes, of which ``gradients`` were alive when that pass ended; with ``model``,
  its own parameters. Allocations in ``Optimizer.step`` ranges are the optimizer's (state: alive
  at the end of the step). Byte counts are totals over the profile, except ``activations`` and
  ``checkpoint_saving``: the largest over the profile's backward passes (one step's worth).
- ``memory()``: one step's bytes of a node by (phase, category): forward activations (kept for
  backward) and temporaries, backward gradients (with ``model``: the ``.grad`` of the module's own
  parameters) and temporaries, resident parameters (with ``model``) and optimizer state (with ``optimizer``: the tensors of ``optimizer.state`` of the
  module's own parameters). "One step" is the backward pass with the most kept activations.
- ``checkpoint_saving``: what ``torsh.utils.checkpoint`` around the module would save at the step's
  peak: the activations its forward keeps for backward, less its output (the last kept
  allocation of each call, which the next layer keeps anyway), taken off the live-bytes curve
  from the end of its forward to the start of its backward, and the peak of that curve compared
  (a block whose own backward holds the peak saves nothing: recomputation brings its bytes back).
"""
import bisect
from dataclasses import dataclass, field

import numpy as np

from ._module_scopes import CATEGORY, MODULE_PREFIX
from .table import format_memory

_BACKWARD_PREFIX = "autograd::engine::evaluate_function: "
_OPTIMIZER_PREFIX = "Optimizer.step#"
# (phase, category) of ModuleNode.memory(), in display order
MEMORY_CELLS = (("forward", "activations"), ("forward", "temporaries"), ("backward", "gradients"),
                ("backward", "temporaries"), ("resident", "parameters"), ("optimizer", "optimizer_state"))
CHECKPOINT_MIN_BYTES = 1 << 20  # a block is worth recomputing from this saving on (a smaller one costs time for little)
CHECKPOINT_MIN_SHARE = 0.1  # ...and when it saves this share of the step's activations


@dataclass
class ModuleNode:
    name: str  # the scope name, "Linear_1" ("" for the root)
    type: str  # the module's class name ("" for the root)
    path: str  # dotted path from the outermost module called ("2.fc"; "" for outermost modules)
    depth: int
    children: list = field(default_factory=list)
    calls: int = 0
    forward_us: float = 0.0
    backward_self_us: float = 0.0
    forward_allocated_self: int = 0
    activations_self: int = 0  # largest over backward passes
    backward_allocated_self: int = 0
    gradients_self: int = 0
    parameters_self: int = 0  # with a model only
    optimizer_state_self: int = 0  # with an optimizer only
    parameter_gradients_self: int = None  # with a model: the .grad bytes of its own parameters
    checkpoint_saving: int = 0
    _activations_by_pass: dict = field(default_factory=dict, repr=False)
    _saving_by_pass: dict = field(default_factory=dict, repr=False)
    # pass index -> [forward allocated, backward allocated, gradients] in that step
    _step_bytes: dict = field(default_factory=dict, repr=False)

    @property
    def label(self):
        return self.name if not self.path else f"{self.path} ({self.name})"

    @property
    def forward_self_us(self):
        return self.forward_us - sum(c.forward_us for c in self.children)

    @property
    def backward_us(self):
        return self.backward_self_us + sum(c.backward_us for c in self.children)

    def total(self, attribute):
        """``attribute`` (one of the ``*_self`` byte counts) summed over this node and its descendants."""
        return getattr(self, attribute) + sum(c.total(attribute) for c in self.children)

    def memory(self, total=False):
        """{(phase, category): bytes} of one step (MEMORY_CELLS), this node's own or, with ``total``,
        with its descendants'; every cell is there, zero or not."""
        cells = self._own_memory()
        if total:
            for child in self.children:
                for key, nbytes in child.memory(total=True).items():
                    cells[key] += nbytes
        return cells

    def _own_memory(self):
        step = max(self._activations_by_pass, key=self._activations_by_pass.get, default=None)
        if step is None:  # nothing kept for backward: the step that allocated the most
            step = max(self._step_bytes, key=lambda k: sum(self._step_bytes[k]), default=None)
        forward, backward, outliving = self._step_bytes.get(step, (0, 0, 0))
        kept = self._activations_by_pass.get(step, 0)
        # AccumulateGrad (on the root: no forward op) may copy a gradient into .grad, so with a model the
        # gradients are those of the module's own parameters; without one, what its backward made that outlived it
        gradients = outliving if self.parameter_gradients_self is None else self.parameter_gradients_self
        return {("forward", "activations"): kept, ("forward", "temporaries"): max(forward - kept, 0),
                ("backward", "gradients"): gradients, ("backward", "temporaries"): max(backward - outliving, 0),
                ("resident", "parameters"): self.parameters_self,
                ("optimizer", "optimizer_state"): self.optimizer_state_self}

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class ModuleTree:
    root: ModuleNode
    profile_memory: bool
    optimizer_allocated: int = 0
    optimizer_state: int = 0

    def nodes(self):
        """Every module node (the root left out), parents before children."""
        return [n for n in self.root.walk() if n is not self.root]

    def find(self, name_or_path):
        """The first node whose scope name or path is ``name_or_path``."""
        return next(n for n in self.nodes() if name_or_path in (n.name, n.path))

    def checkpoint_candidate(self):
        """The block whose checkpointing saves the most (below the outermost modules), or None."""
        inner = [n for n in self.nodes() if n.depth > 1] or self.nodes()
        best = max(inner, key=lambda n: (n.checkpoint_saving, -n.depth), default=None)
        return best if best is not None and best.checkpoint_saving > 0 else None

    def suggestion(self):
        """"recompute this block with utils.checkpoint to save X MB", or None."""
        best = self.checkpoint_candidate()
        return None if best is None else checkpoint_text(best)

    def activations_per_step(self):
        """Bytes kept for backward by all modules in one step (the sum of their activations)."""
        return sum(n.activations_self for n in self.nodes())

    def checkpoint_advice(self, min_bytes=CHECKPOINT_MIN_BYTES, min_share=CHECKPOINT_MIN_SHARE):
        """The blocks worth recomputing with torsh.utils.checkpoint, largest saving first: those saving
        at least ``min_bytes`` and ``min_share`` of the step's activations, below the outermost
        modules (checkpointing the whole model saves nothing: its output is kept anyway), a block
        left out when a block around it is listed (checkpointing that one covers it)."""
        floor = max(min_bytes, min_share * self.activations_per_step())
        inner = [n for n in self.nodes() if n.depth > 1] or self.nodes()
        chosen = []
        for node in sorted(inner, key=lambda n: (-n.checkpoint_saving, n.depth)):
            if node.checkpoint_saving >= floor and node.checkpoint_saving > 0 \
                    and not any(_contains(c, node) for c in chosen):
                chosen.append(node)
        return chosen


def checkpoint_text(node):
    """The advice for one block, with the bytes its checkpointing saves."""
    return (f"recompute {node.label} with torsh.utils.checkpoint to save "
            f"{format_memory(node.checkpoint_saving)} of activations kept for backward")


def _contains(outer, node):
    return node is not outer and any(n is node for n in outer.walk())


def module_tree(result, model=None, optimizer=None):
    """The ModuleTree of a ProfileResult (``prof._results``) or a finished ``torsh.profiler.profile``;
    ``model`` adds each module's own parameter bytes, ``optimizer`` its parameters' optimizer state."""
    if hasattr(result, "_require_results"):  # the profile itself
        result = result._require_results("module_view()")
    events = result.events
    paths = getattr(result, "module_paths", {})
    scopes = [e for e in events if e.category == CATEGORY and e.name.startswith(MODULE_PREFIX)
              and not _under_backward(e)]
    if not scopes:
        raise RuntimeError("torsh.viz.module_view: the profile recorded no nn.Module scopes; "
                           "profile with torsh.profiler.profile(with_modules=True)")
    root = ModuleNode("", "", "", 0)
    node_of = _forward_nodes(scopes, root, paths)
    root.forward_us = sum(c.forward_us for c in root.children)
    backward = [e for e in events if e.name.startswith(_BACKWARD_PREFIX) and not _under_backward(e)]
    owner_of = {id(w): _backward_owner(w, node_of, root) for w in backward}
    for w in backward:
        owner_of[id(w)].backward_self_us += w.cpu_time_total
    profile_memory = bool(result.options.get("profile_memory"))
    tree = ModuleTree(root, profile_memory)
    if profile_memory:
        _attribute_memory(tree, result, scopes, node_of, backward, owner_of)
    if model is not None:
        _add_parameters(tree, model, optimizer)
    return tree


def _under_backward(event):
    parent = event.cpu_parent
    while parent is not None:
        if parent.is_backward:
            return True
        parent = parent.cpu_parent
    return False


def _scope_parent(event):
    """The innermost module scope around ``event`` (None outside any)."""
    parent = event.cpu_parent
    while parent is not None and not (parent.category == CATEGORY and parent.name.startswith(MODULE_PREFIX)):
        parent = parent.cpu_parent
    return parent


def _forward_nodes(scopes, root, paths):
    """Build the tree from the forward scopes; {id(scope event): its node}."""
    node_of = {}
    for event in scopes:  # start order: a scope's parent scope comes first
        parent_scope = _scope_parent(event)
        parent = node_of.get(id(parent_scope), root)
        name = event.name[len(MODULE_PREFIX):]
        node = next((c for c in parent.children if c.name == name), None)
        if node is None:
            node = ModuleNode(name, name.rsplit("_", 1)[0], paths.get(name, ""), parent.depth + 1)
            parent.children.append(node)
        node.calls += 1
        node.forward_us += event.cpu_time_total
        node_of[id(event)] = node
    return node_of


def _backward_owner(wrapper, node_of, root):
    """The node whose forward created the backward node ``wrapper`` runs (root when none did)."""
    for inner in wrapper.cpu_children:
        if inner.forward_op is not None:
            scope = _scope_parent(inner.forward_op)
            while scope is not None and id(scope) not in node_of:
                scope = _scope_parent(scope)
            return node_of.get(id(scope), root) if scope is not None else root
    return root


# -- memory ----------------------------------------------------------------------------------
def _attribute_memory(tree, result, scopes, node_of, backward, owner_of):
    allocations = _allocations(result.memory)  # [(time_us, tid, nbytes, freed_at_us or None)]
    passes = _backward_passes(backward, scopes)  # [(start_us, end_us)]
    pass_starts = [start for start, _ in passes]
    in_scope = _innermost(scopes, allocations)
    in_backward = _innermost(backward, allocations)
    steps = [e for e in result.events if e.category == "user_annotation" and e.name.startswith(_OPTIMIZER_PREFIX)]
    in_step = _innermost(steps, allocations)
    kept_by_scope = {}  # id(scope event) -> (pass index, [indices of the allocations it kept for backward])
    for index, (t, _, nbytes, freed) in enumerate(allocations):
        scope, wrapper, step = in_scope[index], in_backward[index], in_step[index]
        if wrapper is not None:
            node = owner_of[id(wrapper)]
            node.backward_allocated_self += nbytes
            which = next(i for i, (s, e) in enumerate(passes) if s <= wrapper.time_range.start <= e)
            gradient = freed is None or freed > passes[which][1]
            if gradient:
                node.gradients_self += nbytes
            _count_step(node, which, 1, nbytes)
            _count_step(node, which, 2, nbytes if gradient else 0)
        elif step is not None:
            tree.optimizer_allocated += nbytes
            if freed is None or freed > step.time_range.end:
                tree.optimizer_state += nbytes
        elif scope is not None:
            node = node_of[id(scope)]
            node.forward_allocated_self += nbytes
            later = bisect.bisect_left(pass_starts, t)
            _count_step(node, later, 0, nbytes)
            if later < len(passes) and (freed is None or freed > pass_starts[later]):
                node._activations_by_pass[later] = node._activations_by_pass.get(later, 0) + nbytes
                _keep(kept_by_scope, scope, index, later)
    starts = _backward_starts(tree, backward, owner_of, passes)
    removed = _recomputable(scopes, node_of, kept_by_scope, allocations, starts)
    curve = _live_curve(result.memory)
    for (_, which), (node, intervals) in removed.items():
        node._saving_by_pass[which] = _peak_drop(curve, intervals, passes, which)
    for node in tree.nodes():
        node.activations_self = max(node._activations_by_pass.values(), default=0)
        node.checkpoint_saving = max(node._saving_by_pass.values(), default=0)


def _count_step(node, pass_index, column, nbytes):
    """Add ``nbytes`` to column (0 forward allocated, 1 backward allocated, 2 gradients) of a step."""
    node._step_bytes.setdefault(pass_index, [0, 0, 0])[column] += nbytes


def _keep(kept_by_scope, scope, allocation, pass_index):
    """Note a kept allocation in ``scope`` and every scope around it."""
    while scope is not None:
        kept_by_scope.setdefault(id(scope), (pass_index, []))[1].append(allocation)
        scope = _scope_parent(scope)


# -- what checkpointing a block would save at the peak ------------------------------------------
# Checkpointed, a block keeps only its input: what its forward kept for backward is freed when its
# forward ends and made again when its backward starts (the recomputation). Its output (its last
# kept allocation) is kept by the next layer either way. So the live-bytes curve of the step loses
# those bytes between the end of the block's forward and the start of its backward; the saving is
# how much lower the step's peak gets (nothing when the peak is in the block's own backward).

def _backward_starts(tree, backward, owner_of, passes):
    """{(id(node), pass index): start of the first backward node of that node or a descendant}."""
    parent_of = {id(c): n for n in tree.root.walk() for c in n.children}
    starts = {}
    for wrapper in backward:
        start = wrapper.time_range.start
        which = next(i for i, (s, e) in enumerate(passes) if s <= start <= e)
        node = owner_of[id(wrapper)]
        while node is not None and node is not tree.root:
            key = (id(node), which)
            starts[key] = min(starts.get(key, start), start)
            node = parent_of.get(id(node))
    return starts


def _recomputable(scopes, node_of, kept_by_scope, allocations, backward_starts):
    """{(id(node), pass index): (node, [(from_us, to_us, nbytes)])}: the kept allocations checkpointing the node
    would free from its forward's end to its backward's start (all but each call's output)."""
    removed = {}
    for event in scopes:
        kept = kept_by_scope.get(id(event))
        if kept is None:
            continue
        which, indices = kept
        node = node_of[id(event)]
        until = backward_starts.get((id(node), which))
        if until is None:
            continue
        for index in indices[:-1]:
            _, _, nbytes, freed = allocations[index]
            end = until if freed is None else min(freed, until)
            removed.setdefault((id(node), which), (node, []))[1].append((event.time_range.end, end, nbytes))
    return removed


def _live_curve(records):
    """(times_us, live bytes after each event) of the profile's memory events, in time order."""
    ordered = sorted(records, key=lambda r: r.time_ns)
    return (np.array([r.time_ns / 1000.0 for r in ordered]), np.array([r.live_bytes for r in ordered], dtype=np.int64))


def _peak_drop(curve, intervals, passes, which):
    """How much lower the peak of step ``which`` (from the previous backward pass to the end of this
    one) gets without the bytes of ``intervals`` in their time ranges."""
    times, live = curve
    low = passes[which - 1][1] if which > 0 else -np.inf
    first, last = np.searchsorted(times, low, side="right"), np.searchsorted(times, passes[which][1], side="right")
    if first >= last:
        return 0
    times, window = times[first:last], live[first:last]
    lowered = window.copy()
    for start, end, nbytes in intervals:
        lowered[np.searchsorted(times, start, side="left"):np.searchsorted(times, end, side="left")] -= nbytes
    return max(int(window.max() - lowered.max()), 0)


def _allocations(records):
    """Allocations in time order, each with the time its storage was freed (None: alive at stop)."""
    allocations, open_at = [], {}
    for record in sorted(records, key=lambda r: r.time_ns):
        t = record.time_ns / 1000.0
        if record.kind == "alloc":
            open_at[record.address] = len(allocations)
            allocations.append([t, record.tid, record.nbytes, None])
        else:
            index = open_at.pop(record.address, None)
            if index is not None:
                allocations[index][3] = t
    return [tuple(a) for a in allocations]


def _backward_passes(backward, scopes):
    """(start, end) of each run of backward nodes with no forward module call in between."""
    forward_starts = sorted(e.time_range.start for e in scopes)
    passes = []
    for w in sorted(backward, key=lambda e: e.time_range.start):
        start, end = w.time_range.start, w.time_range.end
        if passes and not _any_between(forward_starts, passes[-1][1], start):
            passes[-1] = (passes[-1][0], max(passes[-1][1], end))
        else:
            passes.append((start, end))
    return passes


def _any_between(sorted_times, low, high):
    index = bisect.bisect_right(sorted_times, low)
    return index < len(sorted_times) and sorted_times[index] < high


def _innermost(intervals, allocations):
    """For each allocation, the innermost interval event of its thread around it (or None).

    The events of one thread nest (or are disjoint), so a sweep in time order with a stack works."""
    found = [None] * len(allocations)
    ordered = sorted(intervals, key=lambda e: (e.time_range.start, -e.time_range.end))
    stacks, next_event = {}, 0
    for index, (t, tid, _, _) in enumerate(allocations):
        while next_event < len(ordered) and ordered[next_event].time_range.start <= t:
            event = ordered[next_event]
            stacks.setdefault(event.thread, []).append(event)
            next_event += 1
        stack = stacks.get(tid)
        while stack and stack[-1].time_range.end < t:
            stack.pop()
        if stack:
            found[index] = stack[-1]
    return found


def _add_parameters(tree, model, optimizer=None):
    """Own parameter bytes (and optimizer state, with ``optimizer``) of each node whose path names
    a submodule of ``model``."""
    modules = dict(model.named_modules())
    for node in tree.nodes():
        module = modules.get(node.path)
        if module is not None and type(module).__name__ == node.type:
            own = list(module.parameters(recurse=False))
            node.parameters_self = sum(p._data.nbytes for p in own)
            node.parameter_gradients_self = sum(p.grad._data.nbytes for p in own if p.grad is not None)
            if optimizer is not None:
                node.optimizer_state_self = sum(_state_bytes(optimizer.state.get(p, {})) for p in own)


def _state_bytes(state):
    """Bytes of the tensors in one parameter's optimizer state (step counters included)."""
    if hasattr(state, "_data"):
        return state._data.nbytes
    values = state.values() if isinstance(state, dict) else state if isinstance(state, (list, tuple)) else ()
    return sum(_state_bytes(v) for v in values)
