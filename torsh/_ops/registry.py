"""The op registry: each op is declared once, as an ``OpDef``; its bindings are derived from it.

An entry holds an op's facts: the public function, aliases, PyTorch's backward node name, the
dispatch kernel, whether it is a Tensor method, its in-place variant (and that variant's NumPy fast
path), whether it takes ``out=``, the ``torsh.compile`` fusion primitive, and (empty for now) its
forward-mode and batching rules. ``bind_all()`` turns the entries into ``torsh.*`` names, Tensor
methods and in-place methods, binding the very function objects declared (no wrapper, so no extra
call on the hot path).

    python -m torsh._ops.registry --markdown docs/ops.md   # regenerate the op table
"""
import inspect
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True, slots=True)
class Inplace:
    """How ``Tensor.<name>_`` runs: ``apply_inplace`` of the op, with ``numpy_fast(x, out=x)`` on the
    array itself when no graph is recorded (only where it writes the same values as the op)."""
    numpy_fast: Optional[Callable] = None


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    fn: Callable                        # the forward: the public function itself
    aliases: tuple = ()
    node_name: Optional[str] = None     # PyTorch's backward node name (grad_fn.name())
    kernel: Optional[str] = None        # backend dispatch op, or None for NumPy only
    method: bool = True                 # bound as Tensor.<name> (and each alias)
    inplace: Optional[Inplace] = None   # Tensor.<name>_ (and each alias + "_")
    out: bool = False                   # takes out=
    fusion: Optional[str] = None        # torsh.compile primitive
    namespace: str = "torsh"            # where the public name lives ("torsh.special": bound there by hand)
    public_name: Optional[str] = None   # the name in ``namespace`` when it is not ``name``
    jvp: Optional[Callable] = None      # forward-mode rule (function transforms issue)
    vmap: Optional[Callable] = None     # batching rule (function transforms issue)

    @property
    def names(self):
        return (self.name,) + self.aliases


REGISTRY = {}   # name or alias -> OpDef
_ENTRIES = []   # declaration order, one per op


def register(fn, name=None, *, aliases=(), node_name=None, kernel=None, method=True, inplace=None, out=None,
             fusion=None, namespace="torsh", public_name=None):
    """Declare op ``fn`` (named ``name``, default ``fn.__name__``) and return ``fn`` unchanged.

    ``inplace``: True, or an ``Inplace``; ``out``: default whether ``fn`` has an ``out`` parameter.
    """
    name = name or fn.__name__
    if inplace is True:
        inplace = Inplace()
    if out is None:
        out = "out" in inspect.signature(fn).parameters
    entry = OpDef(name, fn, tuple(aliases), node_name, kernel, method, inplace or None, out, fusion, namespace,
                  public_name)
    for key in entry.names:
        if key in REGISTRY:
            raise ValueError(f"op {key!r} is registered twice")
        REGISTRY[key] = entry
    _ENTRIES.append(entry)
    return fn


def entries():
    return list(_ENTRIES)


def namespace_bindings(namespace="torsh"):
    """{public name: function} of the entries living in ``namespace`` (aliases included)."""
    return {public: entry.fn for entry in _ENTRIES if entry.namespace == namespace
            for public in _public_names(entry)}


def _public_names(entry):
    return ((entry.public_name or entry.name),) + entry.aliases


def _inplace_method(name, op, numpy_fast):
    from .inplace import apply_inplace
    fast = None
    if numpy_fast is not None:
        def fast(t):
            numpy_fast(t._data, out=t._data)

    def method(self, *args, **kwargs):
        return apply_inplace(self, name, op, *args, fast=fast, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place version of :meth:`Tensor.{name[:-1]}`."
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
    return fn


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
        for name in entry.names:
            if entry.method:
                setattr(Tensor, name, entry.fn)
            if entry.inplace is not None:
                setattr(Tensor, name + "_", _inplace_method(name + "_", entry.fn, entry.inplace.numpy_fast))
    if namespace is None:
        return []
    bound = namespace_bindings("torsh")
    bound.update({public + "_": inplace_function(public + "_", Tensor) for entry in _ENTRIES
                  if entry.namespace == "torsh" and entry.inplace is not None
                  for public in _public_names(entry) if public + "_" in TOPLEVEL_INPLACE})
    namespace.update(bound)
    return sorted(bound)


# -- generated docs -------------------------------------------------------------------------------
def markdown():
    """docs/ops.md: one row per registered op."""
    lines = ["# Registered ops", "",
             "Generated from `torsh/_ops/registry.py` by `python -m torsh._ops.registry --markdown docs/ops.md`;",
             "do not edit by hand (`tests/test_registry.py` checks it is current).", "",
             "| op | aliases | method | in-place | out= | backward node | kernel | fusion |",
             "|---|---|---|---|---|---|---|---|"]
    for entry in sorted(_ENTRIES, key=lambda e: (e.namespace, e.public_name or e.name)):
        public = f"{entry.namespace}.{entry.public_name or entry.name}"
        inplace = "" if entry.inplace is None else ", ".join(f"`{n}_`" for n in entry.names) + (
            " (NumPy fast path)" if entry.inplace.numpy_fast is not None else "")
        cells = [f"`{public}`", ", ".join(f"`{a}`" for a in entry.aliases), "yes" if entry.method else "",
                 inplace, "yes" if entry.out else "", _code(entry.node_name), _code(entry.kernel),
                 _code(entry.fusion)]
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
