"""``torch.utils.flop_counter``: ``FlopCounterMode`` counts the FLOPs of the matrix products and convolutions
run inside it, per ``nn.Module`` (named as PyTorch's ModuleTracker names them) and in total ("Global").

How torsh sees the ops: while a counter runs, it holds the registry's op-call hook
(``torsh._ops.registry.subscribe``), so every call through a public name (``torsh.mm``, ``Tensor.matmul``,
``F.linear``, ``F.conv2d``, ...) reaches it; a counted op calling other ops inside counts once. It also
listens to the autograd topic, which has backward formulas run torsh ops (``graph.backward_on_arrays`` is
off), so the products inside a backward node are seen as well; a convolution's backward runs kernels no hook
sees, so its node counts PyTorch's ``convolution_backward`` (the forward's FLOPs for the input gradient,
``groups`` times them for the weight gradient, as PyTorch's formula counts it). Backward ops count under the
modules their forward ran in.
"""
import collections
import threading
import warnings
import weakref

from .._ops import flops, registry
from .._tensor import Tensor
from ..autograd.graph import PROFILER_TOPIC as AUTOGRAD_TOPIC
from ..backend import events
from ..nn.modules import module as nn_module
from ._pytree import tree_map

__all__ = ["FlopCounterMode"]

_SUFFIXES = ["", "K", "M", "B", "T"]
_active = None  # the running FlopCounterMode, read by every wrapper call


class _OpName(str):
    """An op key of ``get_flop_counts()``: the string ``"aten.mm"``, shown as PyTorch shows its op packet."""

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self}')>"


_OP_NAMES = {}


def _op_name(name):
    key = _OP_NAMES.get(name)
    if key is None:
        key = _OP_NAMES[name] = _OpName("aten." + name)
    return key


def _listener(binding):
    """The registry listener: a wrapper counting the call when it is one of the counted ops."""
    fn, attribute = binding.fn, binding.attribute
    if attribute not in flops.COUNTER_OPS:
        return _passing(fn, attribute)  # a fresh function: the registry marks each wrapper it gets as one

    def op(*args, **kwargs):
        counter = _active
        if counter is None or counter._local.inside:  # inside a counted op: its own products count once
            return fn(*args, **kwargs)
        counter._local.inside = True
        try:
            result = fn(*args, **kwargs)
        finally:
            counter._local.inside = False
        counter._count_call(attribute, args, kwargs, result)
        return result

    return _named_like(op, fn, attribute)


def _passing(fn, attribute):
    def op(*args, **kwargs):
        return fn(*args, **kwargs)
    return _named_like(op, fn, attribute)


def _named_like(op, fn, attribute):
    op.__name__ = getattr(fn, "__name__", attribute)
    op.__qualname__ = getattr(fn, "__qualname__", attribute)
    op.__doc__ = getattr(fn, "__doc__", None)
    op.__wrapped__ = fn
    return op


def _shape_of(value):
    return value.shape if isinstance(value, Tensor) else value


class _Local(threading.local):
    inside = False


class FlopCounterMode:
    """``with FlopCounterMode(display=False) as fc: ...`` then ``fc.get_total_flops()``.

    ``mods`` is accepted and ignored, as in PyTorch (modules are tracked anyway); ``depth`` is the table's
    module depth; ``custom_mapping`` maps op names (``"mm"`` or ``"aten.mm"``) to
    ``fn(*shapes, out_shape=..., **kwargs) -> flops``, replacing the count of an op counted here (the
    arguments are those of the torsh call: ``F.linear``'s, not the ``addmm`` PyTorch reaches)."""

    def __init__(self, mods=None, depth=2, display=True, custom_mapping=None):
        if mods is not None:
            warnings.warn("mods argument is not needed anymore, you can stop passing it", stacklevel=2)
        self.depth, self.display = depth, display
        self.custom_mapping = {str(k).removeprefix("aten."): v for k, v in (custom_mapping or {}).items()}
        self.flop_counts = collections.defaultdict(lambda: collections.defaultdict(int))
        self._local = _Local()
        self._hooks = []
        self._unsubscribe_autograd = None

    # -- results -----------------------------------------------------------------------------------
    def get_total_flops(self):
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self):
        """{module name: {op: flops}}, "Global" holding every op counted."""
        return {k: dict(v) for k, v in self.flop_counts.items()}

    def get_table(self, depth=None):
        """PyTorch's table: each module to ``depth`` with its ops, FLOPs and share of the total."""
        depth = self.depth if depth is None else depth
        depth = 999999 if depth is None else depth
        total = self.get_total_flops()
        suffix = _suffix(total)
        rows, subsumed = [], False
        for name in sorted(self.flop_counts):
            if name == "Global" or name.count(".") + 1 > depth:
                continue
            subsumed |= sum(self.flop_counts[name].values()) >= total
            rows.extend(self._module_rows(name, name.count("."), total, suffix))
        if "Global" in self.flop_counts and not subsumed:
            rows = self._module_rows("Global", 0, total, suffix) + [[" " + r[0], r[1], r[2]] for r in rows]
        return _table(rows or [["Global", "0", "0%"]], ["Module", "FLOP", "% Total"])

    def _module_rows(self, name, indent, total, suffix):
        counts = self.flop_counts[name]
        padding = " " * indent
        rows = [[padding + name, _with_suffix(sum(counts.values()), suffix), _percent(sum(counts.values()), total)]]
        rows += [[padding + " - " + str(op), _with_suffix(n, suffix), _percent(n, total)] for op, n in counts.items()]
        return rows

    # -- the context -------------------------------------------------------------------------------
    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("FlopCounterMode: another FlopCounterMode is already counting")
        registry.subscribe(_listener)  # first: it raises while a profiler holds the op hook
        self.flop_counts.clear()
        self.flop_counts["Global"]  # first key, as PyTorch's tracker enters Global first
        self._modules = _ModuleScopes()
        self._backward_scopes = weakref.WeakKeyDictionary()  # node -> module names its forward ran in
        self._conv_nodes = weakref.WeakKeyDictionary()  # convolution node -> (its forward's FLOPs, groups)
        self._running_nodes = []  # backward nodes running now: their forward's module names
        self._hooks = [nn_module.register_module_forward_pre_hook(self._modules.enter),
                       nn_module.register_module_forward_hook(self._modules.exit)]
        self._unsubscribe_autograd = events.subscribe(AUTOGRAD_TOPIC, self._on_autograd)
        _active = self
        return self

    def __exit__(self, *exc):
        global _active
        _active = None
        registry.unsubscribe(_listener)
        self._unsubscribe_autograd()
        for handle in self._hooks:
            handle.remove()
        self._hooks = []
        if self.display:
            print(self.get_table(self.depth))
        return False

    # -- counting ----------------------------------------------------------------------------------
    def _scopes(self):
        """The module names an op running now counts under: its backward node's forward modules, or the
        modules whose forward is running."""
        return self._running_nodes[-1] if self._running_nodes else self._modules.names()

    def _add(self, op, count):
        key = _op_name(op)
        for scope in ("Global",) + self._scopes():
            self.flop_counts[scope][key] += count

    def _count_call(self, attribute, args, kwargs, result):
        counted = flops.flop_counter_count(attribute, args, kwargs, result)
        if counted is None:
            return
        op, count = counted
        custom = self.custom_mapping.get(op)
        if custom is not None:  # called on shapes, as PyTorch's shape_wrapper calls it
            args, kwargs, out_shape = tree_map(_shape_of, (args, kwargs, result))
            count = custom(*args, out_shape=out_shape, **kwargs)
        self._add(op, count)
        node = getattr(result, "grad_fn", None)
        if attribute in flops.CONV_OPS and node is not None and not self._running_nodes:
            self._conv_nodes[node] = (count, flops.conv_groups(args, kwargs))

    def _on_autograd(self, record):
        kind, node = record[0], record[1]  # "begin" also carries the incoming gradients
        if kind == "record":  # a node made by the op running now: its backward counts under these modules
            self._backward_scopes[node] = self._scopes()
        elif kind == "begin":
            self._running_nodes.append(self._backward_scopes.get(node, ()))
            conv = self._conv_nodes.get(node)
            if conv is not None:
                input_grad, weight_grad = (edge[0] is not None for edge in node.next_functions[:2])
                self._add("convolution_backward", flops.conv_backward_count(*conv, input_grad, weight_grad))
        elif kind == "end" and self._running_nodes:
            self._running_nodes.pop()


class _ModuleScopes:
    """The running modules' names, as PyTorch's ModuleTracker gives them: an outermost module by its class
    name, a child as ``<parent name>.<attribute>`` (named when its parent first runs)."""

    def __init__(self):
        self.known = weakref.WeakKeyDictionary()
        self.seen = weakref.WeakSet()
        self.stack = []

    def name_of(self, module):
        if module not in self.known:
            self.known[module] = type(module).__name__
        name = self.known[module]
        if module not in self.seen:
            for child_name, child in module.named_children():
                self.known[child] = f"{name}.{child_name}"
                self.name_of(child)
            self.seen.add(module)
        return name

    def enter(self, module, args):
        self.stack.append(self.name_of(module))

    def exit(self, module, args, result):
        name = self.known.get(module)
        if name in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(name)]

    def names(self):
        return tuple(dict.fromkeys(self.stack))


# -- table formatting (PyTorch prints with tabulate's "simple" format) ---------------------------------
def _suffix(number):
    return _SUFFIXES[max(0, min(len(_SUFFIXES) - 1, (len(str(number)) - 2) // 3))]


def _with_suffix(number, suffix):
    index = _SUFFIXES.index(suffix)
    return f"{number / 1000 ** index:.3f}" + suffix


def _percent(number, total):
    return "0%" if total == 0 else f"{number / total:.2%}"


def _table(rows, headers):
    """tabulate(rows, headers, colalign=("left", "right", "right")): two spaces between columns."""
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])
