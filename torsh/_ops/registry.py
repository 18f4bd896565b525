"""The op registry: each op is declared once, as an ``OpDef``; its bindings are derived from it.

An entry holds an op's facts: the public function, aliases, PyTorch's backward node name, the
dispatch kernel, whether it is a Tensor method, its in-place variant (and that variant's fast
path), whether it takes ``out=``, the ``torsh.compile`` fusion primitive, and (empty for now) its
forward-mode and batching rules. ``bind_all()`` turns the entries into ``torsh.*`` names, Tensor
methods and in-place methods, binding the very function objects declared (no wrapper, so no extra
call on the hot path), except where PyTorch's parser takes NumPy's argument names (``axis``,
``keepdims``, ``x``, ``x2``...): an op with parameters of those names is bound through
``arg_aliases.accepting_aliases`` (one Python call more, the declared function behind it).

The registry also owns the op-call hook: ``observe(listener)`` swaps every op binding for the
listener's wrapper and puts the originals back when the last subscription ends, so an op costs
nothing more when nobody listens (the profiler subscribes there).

    python -m torsh._ops.registry --markdown docs/ops.md   # regenerate the op table
"""
import contextlib
import functools
import inspect
import re
import sys
import threading
import types
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .. import _dtype, _warnings
from ..autograd import grad_mode
from . import arg_aliases


@dataclass(frozen=True, slots=True)
class Inplace:
    """How ``Tensor.<name>_`` runs: ``apply_inplace`` of the op. Without a graph to record it may write
    the array directly: ``numpy_fast(x, out=x)`` (unary ufuncs) or ``fast(self, *args, **kwargs)``; only
    where that writes the same values as the op."""
    numpy_fast: Optional[Callable] = None
    fast: Optional[Callable] = None
    op: Optional[Callable] = None   # what the variant computes when it is not the method (copy_: the source)
    view: bool = False              # a view op (squeeze_, t_): self takes the view's array and graph place


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    fn: Callable                        # the forward: the public function itself
    aliases: tuple = ()
    node_name: Optional[str] = None     # PyTorch's backward node name (grad_fn.name())
    kernel: Optional[str] = None        # backend dispatch op, or None for NumPy only
    method: object = True               # bound as Tensor.<name> (and each alias); or the method itself
                                        # when it is not ``fn`` with self first (Tensor.where(cond, other))
    inplace: Optional[Inplace] = None   # Tensor.<name>_ (and each alias + "_": one function)
    out: object = False                 # takes out=: True (fn honours it) or "copy" (torsh.<name> copies)
    fusion: Optional[str] = None        # torsh.compile primitive
    namespace: Optional[str] = "torsh"  # the module binding the public name (one of NAMESPACES: "torsh",
                                        # "torsh.linalg", ...; each binds its own with bind_namespace);
                                        # None: a Tensor method only
    public_name: Optional[str] = None   # the name in ``namespace`` when it is not ``name``
    jvp: Optional[Callable] = None      # forward-mode rule (function transforms issue)
    vmap: Optional[Callable] = None     # batching rule (function transforms issue)
    public: Optional[Callable] = None   # what ``namespace`` binds: ``fn``, or ``with_out(fn)`` for out="copy",
                                        # taking NumPy's argument names where PyTorch does (arg_aliases)
    method_binding: Optional[Callable] = None  # what Tensor.<name> binds: the method, or it taking NumPy's names

    @property
    def names(self):
        return (self.name,) + self.aliases


REGISTRY = {}   # name or alias -> OpDef
_ENTRIES = []   # declaration order, one per op
# the namespaces an op's public name lives in -> the prefix of its registry name there (PyTorch's ATen name:
# torch.linalg.det is aten::linalg_det); torch.nn.functional's names are ATen's own, "nn_functional_" keeps
# them apart from torsh.*'s in the registry
NAMESPACES = {"torsh": "", "torsh.linalg": "linalg_", "torsh.fft": "fft_", "torsh.special": "special_",
              "torsh.nn.functional": "nn_functional_"}


def register(fn, name=None, *, aliases=(), node_name=None, kernel=None, method=True, inplace=None, out=None,
             fusion=None, namespace="torsh", public_name=None):
    """Declare op ``fn`` (named ``name``, default ``fn.__name__``) and return ``fn`` unchanged.

    ``inplace``: True, or an ``Inplace``; ``out``: default whether ``fn`` has an ``out`` parameter;
    ``out="copy"``: ``fn`` ignores ``out`` and ``torsh.<name>`` copies its result there (``with_out``).
    ``namespace``: where the public name lives; outside ``torsh`` (``"torsh.linalg"``, ...) ``name`` is the
    public name there and the registry name gets the namespace's prefix (``linalg_det``), unless
    ``public_name`` is given (then ``name`` is the registry name as written).
    """
    name = name or fn.__name__
    prefix = NAMESPACES.get(namespace, "")
    if prefix and public_name is None:
        name, public_name = prefix + name, name
    if inplace is True:
        inplace = Inplace()
    if out is None:
        out = _takes_out(fn)
    elif out == "copy" and not _takes_out(fn):  # nothing to copy into: the op takes no out=
        out = False
    public = with_out(fn) if out == "copy" else fn
    if namespace in _ALIASED_NAMESPACES and not (namespace == "torsh" and name in arg_aliases.PYTHON_FUNCTIONS):
        public = arg_aliases.accepting_aliases(public)
    bound_method = fn if method is True else method or None
    if bound_method is not None and name not in arg_aliases.PYTHON_METHODS:
        bound_method = arg_aliases.accepting_aliases(bound_method, method=True)
    entry = OpDef(name, fn, tuple(aliases), node_name, kernel, method, inplace or None, out, fusion, namespace,
                  public_name, public=public, method_binding=bound_method)
    for key in entry.names:
        if key in REGISTRY:
            raise ValueError(f"op {key!r} is registered twice")
        REGISTRY[key] = entry
    _ENTRIES.append(entry)
    return fn


# PyTorch's native namespaces: its arg parser reads their calls (torch.nn.functional's are mostly Python functions)
_ALIASED_NAMESPACES = frozenset({"torsh", "torsh.linalg", "torsh.fft", "torsh.special"})


def _takes_out(fn):
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def copy_out(result, out, check_dtype=True):
    """The one ``out=`` mechanism: resize ``out`` to ``result`` and copy into it (PyTorch's out= variants);
    ``result`` itself when ``out`` is None. An op taking ``out`` calls it on its result (declared ``out=True``,
    the default); ``out="copy"`` has ``with_out`` call it for the op. As PyTorch's: the result's dtype must
    cast to out's by PyTorch's rules (float into an integer ``out`` raises; factories, ``check_dtype=False``,
    take out's dtype), and a non-empty ``out`` of another shape is resized with a warning; checked before
    ``out`` changes."""
    if out is None:
        return result
    if result.requires_grad and grad_mode.is_grad_enabled():
        raise RuntimeError(f"{_op_of_node(result.grad_fn)}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    if check_dtype and result.dtype is not out.dtype and not _dtype.can_cast(result.dtype, out.dtype):
        names = _dtype.SCALAR_TYPE_NAMES
        raise RuntimeError(f"result type {names[result.dtype.name]} can't be cast to the desired output type "
                           f"{names[out.dtype.name]}")
    if out._data.shape != result._data.shape:
        if out._data.size:
            _warnings.warn(
                f"An output with one or more elements was resized since it had shape {list(out._data.shape)}, "
                f"which does not match the required output shape {list(result._data.shape)}. This behavior is "
                "deprecated, and in a future PyTorch release outputs will not be resized unless they have zero "
                "elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                "t.resize_(0).")
        out._data = np.empty(result._data.shape, dtype=out._data.dtype)
    np.copyto(out._data, result._data, casting="unsafe")
    out._version_counter[0] += 1
    return out


def _op_of_node(node):
    """The ATen op name PyTorch's errors use, from the node's name: LogSoftmaxBackward0 -> log_softmax."""
    if node is None:
        return "op"
    base = re.sub(r"Backward\d*$", "", node.name())
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", base).lower()


def with_out(fn):
    """``fn`` honouring ``out=`` through ``copy_out``: compute, then copy into ``out`` (a tensor, or a tuple of
    tensors for ops returning several) as PyTorch's out= variants do."""
    if not _takes_out(fn):
        return fn

    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if isinstance(result, tuple):
            for r, o in zip(result, out):
                copy_out(r, o)
            return out
        return copy_out(result, out)
    return op


def entries():
    return list(_ENTRIES)


def namespace_bindings(namespace="torsh"):
    """{public name: function} of the entries living in ``namespace`` (aliases included)."""
    return {public: entry.public for entry in _ENTRIES if entry.namespace == namespace
            for public in _public_names(entry)}


def bind_namespace(module):
    """Bind the entries living in ``module`` (``torsh.linalg``, ...: its ``__name__``) as its attributes, the
    declared functions themselves, and let the op-call hook see them. Returns the names bound."""
    bound = namespace_bindings(module.__name__)
    for attribute, fn in bound.items():
        _bind(module, attribute, fn)
    return sorted(bound)


def _public_names(entry):
    return ((entry.public_name or entry.name),) + entry.aliases


def _method_of(entry):
    """The function bound as Tensor.<name>, or None."""
    if entry.method is True:
        return entry.fn
    return entry.method or None


def _inplace_method(name, op, spec):
    if spec.view:
        return _inplace_view(name, op)
    from .inplace import apply_inplace
    fast = spec.fast
    if spec.numpy_fast is not None:
        numpy_fast = spec.numpy_fast

        def fast(t):
            numpy_fast(t._data, out=t._data)

    def method(self, *args, **kwargs):
        return apply_inplace(self, name, op, *args, fast=fast, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place version of :meth:`Tensor.{name[:-1]}`."
    return method


def _inplace_view(name, op):
    """An in-place view op: self takes the view's array and place in the graph (metadata, no version bump)."""
    def method(self, *args, **kwargs):
        out = op(self, *args, **kwargs)
        self._data = out._data
        if self._grad_fn is not None:  # a non-leaf: its history continues through the view op
            self._grad_fn, self._output_nr = out._grad_fn, out._output_nr
        return self
    method.__name__ = method.__qualname__ = name
    return method


# PyTorch's top-level in-place functions (torch.exp_(x) is x.exp_()); every other in-place variant
# (add_, sign_, lgamma_, ...) is a Tensor method only, so it gets no torsh.<name>_
TOPLEVEL_INPLACE = frozenset({
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_",
    "as_strided_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_",
    "conj_physical_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_",
    "fix_", "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_",
    "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "resize_as_", "round_",
    "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_",
    "zero_"})


def inplace_function(name, tensor_type):
    """``torsh.<name>(input, ...)``: the Tensor method ``name``, looked up per call (a rebound method is used)."""
    def fn(input, *args, **kwargs):
        if not isinstance(input, tensor_type):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return getattr(tensor_type, name)(input, *args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"In-place version of :func:`torsh.{name[:-1]}`: ``input.{name}(...)``."
    return arg_aliases.accepting_aliases(fn)  # torch.exp_(x=t)


def bind_toplevel_inplace(namespace):
    """Bind into ``namespace`` each of PyTorch's top-level in-place functions whose Tensor method exists and
    that is not bound yet (bind_all binds the registry's; this adds clamp_, zero_, fill_, ...). Returns them."""
    from .._tensor import Tensor
    missing = sorted(n for n in TOPLEVEL_INPLACE if n not in namespace and hasattr(Tensor, n))
    namespace.update({name: inplace_function(name, Tensor) for name in missing})
    return missing


def bind_all(namespace=None):
    """Bind every entry: Tensor methods and in-place methods; and, given a module's ``namespace`` dict,
    the ``torsh.*`` names into it. Returns the names bound into ``namespace``."""
    from .._tensor import Tensor
    for entry in _ENTRIES:
        method = _method_of(entry)
        inplace = None
        if entry.inplace is not None:
            inplace = _inplace_method(entry.name + "_", entry.inplace.op or method or entry.fn, entry.inplace)
            inplace = arg_aliases.accepting_aliases(
                inplace, arg_aliases.signature(entry.inplace.op or method or entry.fn), method=True,
                only=arg_aliases.INPLACE_ALIASES)
        for name in entry.names:
            if method is not None:
                _bind(Tensor, name, entry.method_binding)
            if inplace is not None:
                _bind(Tensor, name + "_", inplace)
    if namespace is None:
        return []
    bound = namespace_bindings("torsh")
    bound.update({public + "_": inplace_function(public + "_", Tensor) for entry in _ENTRIES
                  if entry.namespace == "torsh" and entry.inplace is not None
                  for public in _public_names(entry) if public + "_" in TOPLEVEL_INPLACE})
    namespace.update(bound)
    _MADE.extend(("torsh", name, fn) for name, fn in bound.items())
    return sorted(bound)


# -- the op-call hook -------------------------------------------------------------------------------
_MADE = []  # (owner, attribute, function) of every binding bind_all made; owner "torsh": the package
# Public functions bound by hand beside the registry's (Tensor.detach, F.has_torch_function...): observed as well,
# found in these namespaces (those already imported: observing imports nothing); the prefix of their ATen names
_ADOPTED_NAMESPACES = (("torsh.nn.functional", ""), ("torsh.linalg", "linalg_"), ("torsh.special", "special_"),
                       ("torsh.fft", "fft_"))
_ATEN_PREFIX = dict(_ADOPTED_NAMESPACES)
_TENSOR_OPS_IN_TENSOR_MODULE = ("detach", "detach_", "item")  # ops in PyTorch's sense (aten::detach, aten::item)
_TORSH_FUNCTIONS_OUTSIDE_OPS = ("detach",)


@dataclass(frozen=True, slots=True)
class Binding:
    """One public name of an op: ``owner.<attribute>`` is ``fn``; ``prefix`` is its namespace's op prefix."""
    owner: object
    attribute: str
    fn: Callable
    prefix: str = ""


def _bind(owner, attribute, fn):
    setattr(owner, attribute, fn)
    _MADE.append((owner, attribute, fn))


_bindings_cache = None  # (namespaces' shape when scanned, the bindings found): what bindings() returns


def bindings():
    """Every op binding now in place: those bind_all made, then the adopted hand-bound ones.

    The scan reads every attribute of Tensor, torsh and the adopted namespaces (~2 ms, paid by each vmap
    call), so its result is kept while nothing was added (the namespaces' sizes and bind_all's list) and every
    binding found still holds its function (an identity check each; a rebound name rescans)."""
    global _bindings_cache
    shape = _namespaces_shape()
    cached = _bindings_cache
    if cached is None or cached[0] != shape or not all(
            b.owner.__dict__.get(b.attribute) is b.fn for b in cached[1]):
        cached = _bindings_cache = (shape, tuple(_scan_bindings()))
    return list(cached[1])


def _namespaces_shape():
    """What grows when a binding is added: bind_all's list, Tensor's, torsh's and each adopted module's dict."""
    from .._tensor import Tensor
    adopted = tuple(len(vars(module)) if (module := sys.modules.get(name)) is not None else -1
                    for name, _ in _ADOPTED_NAMESPACES)
    return len(_MADE), len(Tensor.__dict__), len(vars(sys.modules["torsh"])), adopted


def _scan_bindings():
    from .._tensor import Tensor
    torsh = sys.modules["torsh"]
    found, seen = [], set()

    def add(owner, attribute, fn, prefix=""):
        if (id(owner), attribute) not in seen and getattr(owner, "__dict__", {}).get(attribute) is fn:
            seen.add((id(owner), attribute))
            found.append(Binding(owner, attribute, fn, prefix))

    for owner, attribute, fn in _MADE:
        owner = torsh if owner == "torsh" else owner
        add(owner, attribute, fn, _ATEN_PREFIX.get(getattr(owner, "__name__", None), ""))  # module: its prefix
    for attribute, value in list(vars(Tensor).items()):
        if attribute not in ("__init__", "__new__", "__repr__", "__hash__") and (
                _is_op_function(value, "torsh._ops") or (
                attribute in _TENSOR_OPS_IN_TENSOR_MODULE and isinstance(value, types.FunctionType))):
            add(Tensor, attribute, value)
    for attribute, value in list(vars(torsh).items()):
        if not attribute.startswith("_") and (_is_op_function(value, "torsh._ops") or (
                attribute in _TORSH_FUNCTIONS_OUTSIDE_OPS and isinstance(value, types.FunctionType))):
            add(torsh, attribute, value)
    for module_name, prefix in _ADOPTED_NAMESPACES:
        module = sys.modules.get(module_name)
        for attribute, value in list(vars(module).items()) if module is not None else ():
            if not attribute.startswith("_") and _is_op_function(value, "torsh"):
                add(module, attribute, value, prefix)
    return found


def _is_op_function(value, modules):
    return (isinstance(value, types.FunctionType) and value not in _WRAPPERS_SET
            and (value.__module__ or "").startswith(modules))


_lock = threading.Lock()
_listener = None  # the one subscribed listener, or None
_depth = 0  # its subscriptions (reference count)
_swapped = []  # (owner, attribute, original, wrapper) in place while observed
_wrappers = {}  # (listener, id(owner), attribute, original) -> wrapper: a new subscription builds nothing
_WRAPPERS_SET = set()  # every wrapper made (never observed twice)


def subscribe(listener):
    """Swap every op binding for ``listener(binding)`` (a wrapper calling ``binding.fn``) until the matching
    ``unsubscribe``. Reference-counted; one listener at a time (RuntimeError for a second one)."""
    global _listener, _depth
    with _lock:
        if _listener is not None:
            if _listener is not listener:
                raise RuntimeError("the ops are already observed by another listener")
            _depth += 1
            return
        _unswap()
        _listener, _depth = listener, 1
        _swap()


_base = None  # the meta device's listener (torsh/_meta.py) while meta tensors exist: outside any other's wrappers


def set_base_listener(listener):
    """Wrap every op binding in ``listener``'s wrapper (None: no more), around a subscribed listener's wrappers,
    which keep seeing the ops themselves as ``binding.fn``. Not counted by ``observed()``."""
    global _base
    with _lock:
        if listener is _base:
            return
        _unswap()
        _base = listener
        _swap()


_swap_plans = {}  # (listeners) -> (the cached bindings it was made for, [(owner, attribute, original, wrapper)])


def _swap():
    layers = tuple(layer for layer in (_listener, _base) if layer is not None)  # innermost first
    if layers:
        plan = _swap_plan(layers)
        for owner, attribute, _, wrapper in plan:
            setattr(owner, attribute, wrapper)
        _swapped[:] = plan


def _unswap():
    for owner, attribute, original, wrapper in reversed(_swapped):
        if owner.__dict__.get(attribute) is wrapper:  # leave alone a name rebound while observed
            setattr(owner, attribute, original)
    _swapped.clear()


def _swap_plan(layers):
    """The swaps installing ``layers``' wrappers: rebuilt only when bindings() found something new."""
    bindings()
    found = _bindings_cache[1]
    plan = _swap_plans.get(layers)
    if plan is None or plan[0] is not found:
        plan = _swap_plans[layers] = (found, [(b.owner, b.attribute, b.fn, _layered(layers, b)) for b in found])
    return plan[1]


def _layered(layers, binding):
    for layer in layers:
        binding = Binding(binding.owner, binding.attribute, _wrapper(layer, binding), binding.prefix)
    return binding.fn


def _wrapper(listener, binding):
    key = (listener, id(binding.owner), binding.attribute, binding.fn)
    wrapper = _wrappers.get(key)
    if wrapper is None:
        wrapper = _wrappers[key] = listener(binding)
        _WRAPPERS_SET.add(wrapper)
    return wrapper


def unsubscribe(listener):
    """Undo one ``subscribe(listener)``; the last one puts the original functions back."""
    global _listener, _depth
    with _lock:
        if _listener is not listener:
            return
        _depth -= 1
        if _depth > 0:
            return
        _unswap()
        _listener = None
        _swap()


@contextlib.contextmanager
def observe(listener):
    """``with registry.observe(listener):`` every op call goes through ``listener``'s wrappers."""
    subscribe(listener)
    try:
        yield
    finally:
        unsubscribe(listener)


def observed():
    return _listener is not None


# -- generated docs -------------------------------------------------------------------------------
def markdown():
    """docs/ops.md: one row per registered op."""
    lines = ["# Registered ops", "",
             "Generated from `torsh/_ops/registry.py` by `python -m torsh._ops.registry --markdown docs/ops.md`;",
             "do not edit by hand (`tests/test_registry.py` checks it is current).", "",
             "| op | aliases | method | in-place | out= | backward node | kernel | fusion |",
             "|---|---|---|---|---|---|---|---|"]
    for entry in sorted(_ENTRIES, key=lambda e: (e.namespace or "Tensor", e.public_name or e.name)):
        public = f"{entry.namespace or 'Tensor'}.{entry.public_name or entry.name}"
        inplace = "" if entry.inplace is None else ", ".join(f"`{n}_`" for n in entry.names) + (
            " (fast path)" if entry.inplace.numpy_fast or entry.inplace.fast else "") + (
            " (view)" if entry.inplace.view else "")
        out = {True: "yes", "copy": "yes (copied)"}.get(entry.out, "")
        cells = [f"`{public}`", ", ".join(f"`{a}`" for a in entry.aliases), "yes" if entry.method else "",
                 inplace, out, _code(entry.node_name), _code(entry.kernel), _code(entry.fusion)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _code(value):
    return f"`{value}`" if value else ""


def _main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m torsh._ops.registry")
    parser.add_argument("--markdown", metavar="PATH", required=True, help="write the op table to PATH")
    args = parser.parse_args(argv)
    import torsh  # noqa: F401  (importing torsh declares every op)
    from torsh._ops import registry  # the module torsh filled (this file runs as __main__)
    with open(args.markdown, "w") as f:
        f.write(registry.markdown())


if __name__ == "__main__":
    _main()
