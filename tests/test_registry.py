"""The op registry (torsh/_ops/registry.py): every binding is derived from an entry and is the declared
function itself; each registered op matches PyTorch (values, backward node name, in-place variants);
docs/ops.md is the generated table."""
import importlib
import pathlib
import types

import numpy as np
import pytest

import torsh
from torsh._ops import arg_aliases, registry
from torsh._tensor import Tensor

from helpers import assert_close, check_same_error, needs_torch, torch_ref

ENTRIES = registry.entries()
# how to call the ops with a node name that take more than one tensor (x, y: 5 float64 values in (0.2, 0.8))
CALLS = {
    "mul": lambda lib, x, y: lib.mul(x, y), "div": lambda lib, x, y: lib.div(x, y),
    "add": lambda lib, x, y: lib.add(x, y, alpha=2), "sub": lambda lib, x, y: lib.sub(x, y),
    "rsub": lambda lib, x, y: lib.rsub(x, 2.0), "pow": lambda lib, x, y: lib.pow(x, 3),
    "where": lambda lib, x, y: lib.where(x > 0.5, x, y), "clamp": lambda lib, x, y: lib.clamp(x, min=0.3),
    "index_put": lambda lib, x, y: lib.index_put(x, (lib.tensor([0, 2]),), y[:2]),
    "masked_fill": lambda lib, x, y: lib.masked_fill(x, x > 0.5, 0.0), "dot": lambda lib, x, y: lib.dot(x, y),
    "logsumexp": lambda lib, x, y: lib.logsumexp(x, 0), "clone": lambda lib, x, y: lib.clone(x),
    "cat": lambda lib, x, y: lib.cat([x, y]), "stack": lambda lib, x, y: lib.stack([x, y]),
    "scatter_reduce": lambda lib, x, y: lib.scatter_reduce(x, 0, lib.tensor([0, 1, 0, 1, 0]), y, "sum"),
    "cumsum": lambda lib, x, y: lib.cumsum(x, 0), "cumprod": lambda lib, x, y: lib.cumprod(x, 0),
    "logcumsumexp": lambda lib, x, y: lib.logcumsumexp(x, 0), "softmax": lambda lib, x, y: lib.softmax(x, 0),
    "log_softmax": lambda lib, x, y: lib.log_softmax(x, 0), "complex": lambda lib, x, y: lib.complex(x, y),
    "as_strided": lambda lib, x, y: lib.as_strided(x, (2,), (2,)), "polygamma": lambda lib, x, y: lib.polygamma(1, x),
}
UNARY = [e for e in ENTRIES if e.node_name is not None and e.name not in CALLS]
UNARY_NAMES = {e.name for e in UNARY}
# PyTorch records another node for these (torsh keeps its declared one): known gaps, listed so a change shows
KNOWN_NODE_GAPS = {"special_ndtr": "MulBackward1",  # PyTorch's ndtr is composite
                   "asinh_": "AsinhBackward1", "arcsinh_": "AsinhBackward1", "acosh_": "AcoshBackward1",
                   "arccosh_": "AcoshBackward1", "atanh_": "AtanhBackward1", "arctanh_": "AtanhBackward1"}
DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def _namespace(lib, entry):
    """The module (of torsh or of torch) where ``entry``'s public name lives."""
    module = lib
    for part in entry.namespace.split(".")[1:]:
        module = getattr(module, part)
    return module


def _input(lib, entry, requires_grad=False):
    values = np.linspace(0.2, 0.8, 5) + (1.5 if entry.name == "acosh" else 0.0)  # inside every op's domain
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


def test_registry_holds_the_unary_ops():
    print(f"{len(ENTRIES)} registered ops, {sum(len(e.aliases) for e in ENTRIES)} aliases")
    assert {"exp", "sigmoid", "relu", "erfinv", "special_ndtr", "round", "square"} <= set(registry.REGISTRY)
    assert registry.REGISTRY["arcsin"] is registry.REGISTRY["asin"]
    assert registry.REGISTRY["fix"].name == "trunc"


def _takes_aliases(fn, method=False):
    return bool(arg_aliases.aliases_of(arg_aliases.signature(fn), method=method))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_bindings_are_the_declared_function(entry):
    """torsh.<name>, Tensor.<name> bind the very function declared (no wrapper, no extra call), except where
    PyTorch's parser takes NumPy's names for the op's parameters (axis, keepdims, x, x2...): there, and only
    there, the binding is ``arg_aliases.accepting_aliases`` of it, a function calling the declared one."""
    python_defined = (entry.namespace == "torsh" and (entry.public_name or entry.name) in arg_aliases.PYTHON_FUNCTIONS)
    for name in entry.names:
        public = entry.public_name if name == entry.name and entry.public_name else name
        if entry.namespace is not None:  # out="copy": torsh.<name> is the op copying into out=
            bound = getattr(_namespace(torsh, entry), public)
            assert bound is entry.public
            aliased = entry.namespace != "torsh.nn.functional" and not python_defined and _takes_aliases(entry.fn)
            assert hasattr(bound, "numpy_aliases") == aliased
            declared = arg_aliases.unaliased(bound)
            assert declared is entry.fn or declared.__wrapped__ is entry.fn  # out="copy": with_out(fn)
        if entry.method:
            method = entry.fn if entry.method is True else entry.method
            bound = Tensor.__dict__[name]
            assert bound is entry.method_binding and arg_aliases.unaliased(bound) is method
            assert (bound is not method) == (_takes_aliases(method, True) and entry.name not in arg_aliases.PYTHON_METHODS)
        if entry.inplace is not None:  # one in-place function for the op and its aliases
            assert Tensor.__dict__[name + "_"] is Tensor.__dict__[entry.name + "_"]
            assert Tensor.__dict__[name + "_"].__name__ == entry.name + "_"


@needs_torch
@pytest.mark.parametrize("entry", UNARY, ids=lambda e: e.name)
def test_forward_and_backward_node_as_pytorch(entry):
    ours_fn = getattr(_namespace(torsh, entry), entry.public_name or entry.name)
    ref_fn = getattr(_namespace(torch_ref, entry), entry.public_name or entry.name)
    ours, ref = ours_fn(_input(torsh, entry, True)), ref_fn(_input(torch_ref, entry, True))
    assert_close(ours, ref)
    assert ours.grad_fn.name() == entry.node_name
    assert ref.grad_fn.name() == KNOWN_NODE_GAPS.get(entry.name, entry.node_name)


@needs_torch
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name in CALLS], ids=lambda e: e.name)
def test_node_names_of_the_other_ops_as_pytorch(entry):
    def run(lib):
        x = _input(lib, entry, True)
        y = lib.tensor(np.linspace(0.7, 0.3, 5), dtype=lib.float64, requires_grad=True)
        return CALLS[entry.name](lib, x, y)
    ours, ref = run(torsh), run(torch_ref)
    assert_close(ours, ref)
    assert ours.grad_fn.name() == entry.node_name
    assert ref.grad_fn.name() == KNOWN_NODE_GAPS.get(entry.name, entry.node_name)


@needs_torch
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.inplace is not None and e.name in UNARY_NAMES],
                         ids=lambda e: e.name)
def test_inplace_variants_as_pytorch(entry):
    for name in entry.names:
        ours, ref = _input(torsh, entry), _input(torch_ref, entry)
        assert getattr(ours, name + "_")() is ours
        getattr(ref, name + "_")()
        assert_close(ours, ref)
        # with a graph: the in-place op records its own node, as PyTorch's
        ours = _input(torsh, entry, True).clone()
        ref = _input(torch_ref, entry, True).clone()
        getattr(ours, name + "_")()
        getattr(ref, name + "_")()
        assert ref.grad_fn.name() == KNOWN_NODE_GAPS.get(name + "_", ours.grad_fn.name())


@needs_torch
def test_inplace_fast_path_on_a_view_writes_the_base():
    ours, ref = torsh.tensor([[1.0, -2.0], [-3.0, 4.0]]), torch_ref.tensor([[1.0, -2.0], [-3.0, 4.0]])
    ours[0].neg_(), ref[0].neg_()
    ours[:, 1].abs_(), ref[:, 1].abs_()
    assert_close(ours, ref)


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(lambda input: input, "exp")


OP_NAMESPACES = ("torsh.linalg", "torsh.fft", "torsh.special", "torsh.nn.functional")


def _public_functions(module):
    """{name: function} of a namespace's public functions defined in torsh (what the op-call hook observes)."""
    return {name: value for name in dir(module) if not name.startswith("_")
            and isinstance(value := getattr(module, name), types.FunctionType) and value.__module__.startswith("torsh")}


@pytest.mark.parametrize("namespace", OP_NAMESPACES)
def test_every_function_of_an_op_namespace_is_declared(namespace):
    """torsh.linalg/fft/special/nn.functional bind exactly their registry entries: every public function is
    one (the declared object itself), and every entry of the namespace is bound."""
    module = importlib.import_module(namespace)
    declared = registry.namespace_bindings(namespace)
    functions = _public_functions(module)
    not_ops = {n for n, f in functions.items() if f.__module__ in getattr(module, "_NOT_OPS", ())}
    assert sorted(set(functions) - set(declared) - not_ops) == []
    assert sorted(n for n, fn in declared.items() if getattr(module, n, None) is not fn) == []
    print(f"{namespace}: {len(declared)} ops declared")


@needs_torch
@pytest.mark.parametrize("namespace", OP_NAMESPACES)
def test_declared_names_are_pytorchs(namespace):
    """Each op declared in a namespace is a public name of PyTorch's namespace of the same path."""
    ref = importlib.import_module(namespace.replace("torsh", "torch", 1))
    assert sorted(n for n in registry.namespace_bindings(namespace) if not hasattr(ref, n)) == []


def test_creation_ops_are_declared():
    creation = {n for n, f in _public_functions(torsh).items() if f.__module__ == "torsh._ops.tensor.creation"}
    assert {"zeros", "ones", "tensor", "arange", "randn", "normal", "full_like", "asarray"} <= creation
    assert sorted(creation - set(registry.namespace_bindings("torsh"))) == []
    assert registry.REGISTRY["normal"].inplace is not None  # Tensor.normal_ is declared with torch.normal


@needs_torch
def test_profiler_names_the_namespace_ops_as_pytorch():
    """The profiler's op names come from the registry's bindings (ATen prefix per namespace), as PyTorch's."""
    def names(lib):
        a = lib.ones(3, 3) + lib.eye(3)
        with lib.profiler.profile() as prof:
            lib.linalg.det(a), lib.fft.fft(a), lib.special.expit(a), lib.nn.functional.relu(a), lib.zeros(3)
        return {e.key for e in prof.key_averages()}
    expected = {"aten::linalg_det", "aten::fft_fft", "aten::special_expit", "aten::relu", "aten::zeros"}
    assert expected <= names(torch_ref)
    assert expected <= names(torsh)


# out= through registry.copy_out: ops honouring out themselves (add, exp, zeros) and out="copy" ones (cumsum,
# linalg.inv: with_out); each returns out itself, resized from empty to the result
OUT_CALLS = {
    "add": lambda lib, x, out: lib.add(x, x, out=out), "exp": lambda lib, x, out: lib.exp(x, out=out),
    "zeros": lambda lib, x, out: lib.zeros(2, 2, out=out), "cumsum": lambda lib, x, out: lib.cumsum(x, 0, out=out),
    "linalg.inv": lambda lib, x, out: lib.linalg.inv(x + 2 * lib.eye(2, dtype=x.dtype), out=out),
}


@needs_torch
@pytest.mark.parametrize("name", OUT_CALLS)
def test_out_is_one_mechanism_as_pytorchs(name):
    def run(lib):
        x = lib.tensor([[0.5, 0.25], [0.125, 1.0]], dtype=lib.float64)
        out = lib.empty(0, dtype=lib.float64)
        assert OUT_CALLS[name](lib, x, out) is out
        return out
    assert_close(run(torsh), run(torch_ref))


@needs_torch
@pytest.mark.parametrize("name", ["add", "exp", "cumsum"])
def test_out_refuses_autograd_in_pytorchs_words(name):
    check_same_error(lambda lib: OUT_CALLS[name](lib, lib.ones(2, 2, dtype=lib.float64, requires_grad=True),
                                                 lib.empty(2, 2, dtype=lib.float64)))


def test_docs_ops_md_is_the_generated_table():
    """Regenerate with: python -m torsh._ops.registry --markdown docs/ops.md"""
    assert DOCS.read_text() == registry.markdown()
