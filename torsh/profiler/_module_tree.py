"""Time and memory per ``nn.Module`` from a finished profile: the data behind ``torsh.viz.module_view``.

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
- ``checkpoint_saving``: what ``torsh.utils.checkpoint`` around the module would save at the peak,
  estimated as the activations its forward keeps for backward, less its output (the last kept
  allocation of each call), which the next layer keeps anyway.
"""
import bisect
from dataclasses import dataclass, field

from ..profiler._module_scopes import CATEGORY, MODULE_PREFIX
from ._live import human_bytes

_BACKWARD_PREFIX = "autograd::engine::evaluate_function: "
_OPTIMIZER_PREFIX = "Optimizer.step#"


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
    checkpoint_saving: int = 0
    _activations_by_pass: dict = field(default_factory=dict, repr=False)
    _saving_by_pass: dict = field(default_factory=dict, repr=False)

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
        if best is None:
            return None
        return (f"recompute {best.label} with torsh.utils.checkpoint to save "
                f"{human_bytes(best.checkpoint_saving)} of activations kept for backward")


def module_tree(result, model=None):
    """The ModuleTree of a ProfileResult (``prof._results``) or a finished ``torsh.profiler.profile``."""
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
        _add_parameters(tree, model)
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
    kept_by_scope = {}  # id(scope event) -> [bytes kept for backward, last kept allocation, pass index]
    for index, (t, _, nbytes, freed) in enumerate(allocations):
        scope, wrapper, step = in_scope[index], in_backward[index], in_step[index]
        if wrapper is not None:
            node = owner_of[id(wrapper)]
            node.backward_allocated_self += nbytes
            end = next(e for s, e in passes if s <= wrapper.time_range.start <= e)
            if freed is None or freed > end:
                node.gradients_self += nbytes
        elif step is not None:
            tree.optimizer_allocated += nbytes
            if freed is None or freed > step.time_range.end:
                tree.optimizer_state += nbytes
        elif scope is not None:
            node = node_of[id(scope)]
            node.forward_allocated_self += nbytes
            later = bisect.bisect_left(pass_starts, t)
            if later < len(passes) and (freed is None or freed > pass_starts[later]):
                node._activations_by_pass[later] = node._activations_by_pass.get(later, 0) + nbytes
                _keep(kept_by_scope, scope, nbytes, later)
    for event in scopes:
        kept = kept_by_scope.get(id(event))
        if kept is not None:
            node = node_of[id(event)]
            node._saving_by_pass[kept[2]] = node._saving_by_pass.get(kept[2], 0) + kept[0] - kept[1]
    for node in tree.nodes():
        node.activations_self = max(node._activations_by_pass.values(), default=0)
        node.checkpoint_saving = max(node._saving_by_pass.values(), default=0)


def _keep(kept_by_scope, scope, nbytes, pass_index):
    """Count a kept allocation in ``scope`` and every scope around it (it is their last one so far)."""
    while scope is not None:
        entry = kept_by_scope.setdefault(id(scope), [0, 0, pass_index])
        entry[0] += nbytes
        entry[1] = nbytes
        scope = _scope_parent(scope)


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


def _add_parameters(tree, model):
    """Own parameter bytes of each node whose path names a submodule of ``model``."""
    modules = dict(model.named_modules())
    for node in tree.nodes():
        module = modules.get(node.path)
        if module is not None and type(module).__name__ == node.type:
            node.parameters_self = sum(p._data.nbytes for p in module.parameters(recurse=False))
