"""NumPy's argument names (axis, keepdims, x/a/x1, x2) where PyTorch's arg parser takes them
(torsh/_ops/arg_aliases.py): values and gradients as PyTorch, its TypeErrors for an alias beside its parameter
or beside an unknown keyword, and no alias where PyTorch's function is Python (torch.split)."""
import types

import numpy as np
import pytest

import torsh
from torsh._ops import arg_aliases, registry

from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, requires_grad=False):
    data = np.arange(12, dtype=np.float64).reshape(3, 4) / 7 - 0.5
    return lib.tensor(data, requires_grad=requires_grad)


def _u(lib):
    return lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4))


ACCEPTED = {
    "sum keepdims (makemore)": lambda lib: _t(lib).sum(1, keepdims=True),
    "Tensor.mean axis": lambda lib: _t(lib).mean(axis=0),
    "torch.max axis": lambda lib: tuple(lib.max(_t(lib), axis=1)),
    "torch.max axis keepdims": lambda lib: tuple(lib.max(_t(lib), axis=1, keepdims=True)),
    "torch.cat axis": lambda lib: lib.cat([_t(lib), _u(lib)], axis=0),
    "torch.stack axis": lambda lib: lib.stack([_t(lib), _u(lib)], axis=1),
    "squeeze axis": lambda lib: _t(lib).unsqueeze(0).squeeze(axis=0),
    "unsqueeze axis": lambda lib: _t(lib).unsqueeze(axis=1),
    "torch.add x1 x2": lambda lib: lib.add(x1=_t(lib), x2=_u(lib)),
    "torch.add x other": lambda lib: lib.add(x=_t(lib), other=_u(lib), alpha=2),
    "torch.add a x2": lambda lib: lib.add(a=_t(lib), x2=_u(lib)),
    "Tensor.add x2": lambda lib: _t(lib).add(x2=_u(lib)),
    "torch.sum x axis": lambda lib: lib.sum(x=_t(lib), axis=0),
    "torch.sum axis tuple": lambda lib: lib.sum(_t(lib), axis=(0, 1)),
    "torch.exp x": lambda lib: lib.exp(x=_t(lib)),
    "torch.where x": lambda lib: lib.where(_t(lib) > 0, x=_t(lib), other=_u(lib)),
    "torch.gather x1 axis": lambda lib: lib.gather(x1=_t(lib), axis=1, index=lib.tensor([[0, 1], [2, 3], [1, 1]])),
    "softmax axis": lambda lib: lib.softmax(_t(lib), axis=0),
    "Tensor.log_softmax axis": lambda lib: _t(lib).log_softmax(axis=1),
    "argmax axis keepdims": lambda lib: lib.argmax(_t(lib), axis=0, keepdims=True),
    "std axis": lambda lib: _t(lib).std(axis=0),
    "var keepdims": lambda lib: _t(lib).var(0, keepdims=True),
    "cumsum axis": lambda lib: _t(lib).cumsum(axis=1),
    "index_select axis": lambda lib: _t(lib).index_select(axis=0, index=lib.tensor([2, 0])),
    "linalg.vector_norm axis keepdims": lambda lib: lib.linalg.vector_norm(_t(lib), axis=0, keepdims=True),
    "special.logsumexp axis": lambda lib: lib.special.logsumexp(_t(lib), axis=1),
    "fft.fft axis": lambda lib: lib.fft.fft(_t(lib), axis=0),
    "in-place cumsum_ axis": lambda lib: _t(lib).cumsum_(axis=0),
    "in-place squeeze_ axis": lambda lib: _t(lib).unsqueeze(0).squeeze_(axis=0),
    "torch.exp_ x": lambda lib: lib.exp_(x=_t(lib)),
    "sum axis dtype": lambda lib: _t(lib).sum(axis=1, dtype=lib.float32),
    "sum axis=None": lambda lib: _t(lib).sum(axis=None),
}


@pytest.mark.parametrize("case", ACCEPTED, ids=str)
def test_aliases_are_accepted_as_pytorch(case):
    ours, ref = ACCEPTED[case](torsh), ACCEPTED[case](torch_ref)
    if isinstance(ref, tuple):
        for o, r in zip(ours, ref):
            assert_close(o, r)
    else:
        assert_close(ours, ref)


def test_gradients_through_an_aliased_call():
    def run(lib):
        x = _t(lib, requires_grad=True)
        y = lib.softmax(x, axis=1).sum(axis=0, keepdims=True).mean(axis=1)
        (g,) = lib.autograd.grad(y.sum(), x)
        return y, g
    for o, r in zip(run(torsh), run(torch_ref)):
        assert_close(o, r)
    x = torsh.tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda x: torsh.sum(x=x * x, axis=1, keepdims=True), (x,))


REFUSED = {
    "dim and axis": lambda lib: _t(lib).sum(dim=1, axis=1),
    "axis after dim": lambda lib: lib.sum(_t(lib), dim=1, axis=0),
    "positional dim and axis": lambda lib: _t(lib).sum(1, axis=1),
    "keepdim and keepdims": lambda lib: _t(lib).sum(1, keepdim=True, keepdims=True),
    "keepdims reported first": lambda lib: lib.sum(_t(lib), dim=1, keepdims=True, axis=0),
    "axis reported first": lambda lib: lib.sum(_t(lib), axis=1, keepdim=True, keepdims=False),
    "axis beside an unknown keyword": lambda lib: _t(lib).sum(axis=0, bogus=1),
    "unknown keyword first": lambda lib: _t(lib).sum(bogus=1, axis=0),
    "unknown keyword alone": lambda lib: lib.sum(_t(lib), 1, bogus=1),
    "two aliases of input": lambda lib: lib.add(x=_t(lib), a=_t(lib), other=_u(lib)),
    "two aliases of input, other order": lambda lib: lib.add(a=_t(lib), x=_t(lib), other=_u(lib)),
    "other and x2": lambda lib: lib.add(_t(lib), other=_u(lib), x2=_u(lib)),
    "positional other and x2": lambda lib: lib.add(_t(lib), _u(lib), x2=_u(lib)),
    "input and x": lambda lib: lib.exp(input=_t(lib), x=_t(lib)),
    "multiple values for dim": lambda lib: _t(lib).sum(1, dim=1),
    "mean dim and axis": lambda lib: _t(lib).mean(0, axis=0),
    "F.softmax is Python in PyTorch": lambda lib: lib.nn.functional.softmax(_t(lib), axis=1),
    "torch.split is Python in PyTorch": lambda lib: lib.split(_t(lib), 1, axis=0),
    "torch.norm is Python in PyTorch": lambda lib: lib.norm(_t(lib), dim=0, keepdims=True),
    "roll takes dims, not dim": lambda lib: _t(lib).roll(1, axis=0),
    # an explicit default beside its alias: PyTorch's parser sees both
    "keepdim=False beside keepdims": lambda lib: _t(lib).sum(1, keepdim=False, keepdims=True),
    "keepdims before keepdim=False": lambda lib: _t(lib).sum(keepdims=True, keepdim=False, dim=1),
    "dim=None beside axis": lambda lib: _t(lib).mean(dim=None, axis=1),
    "amax dim=() beside axis": lambda lib: lib.amax(_t(lib), dim=(), axis=1),
    "positional default dim beside axis": lambda lib: lib.sum(_t(lib), None, axis=1),
}


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_refused_as_pytorch(case):
    check_same_error(REFUSED[case])


def test_refused_call_changes_nothing():
    t = _t(torsh)
    before, version = t.clone(), t._version
    with pytest.raises(TypeError):
        t.cumsum_(0, axis=0)
    assert torsh.equal(t, before) and t._version == version


def test_python_defined_lists_are_pytorchs():
    """The ops PyTorch defines in Python (no parser, so no aliases) among the registry's aliasable ones."""
    functions, methods = set(), set()
    for entry in registry.entries():
        sig = arg_aliases.signature(entry.fn)
        if not arg_aliases.aliases_of(sig):
            continue
        if entry.namespace == "torsh":
            for name in (entry.public_name or entry.name,) + entry.aliases:
                if isinstance(getattr(torch_ref, name, None), types.FunctionType):
                    functions.add(name)
        if entry.method:
            for name in entry.names:
                if isinstance(getattr(torch_ref.Tensor, name, None), types.FunctionType):
                    methods.add(name)
    assert functions == arg_aliases.PYTHON_FUNCTIONS
    assert methods == arg_aliases.PYTHON_METHODS


def test_binding_keeps_the_signature_and_defaults():
    import inspect
    assert inspect.signature(torsh.sum) == inspect.signature(arg_aliases.unaliased(torsh.sum))
    assert torsh.Tensor.sum.numpy_aliases == {"axis": "dim", "keepdims": "keepdim"}
    assert torsh.Tensor.add.numpy_aliases == {"x2": "other"}
    assert "x" in torsh.sum.numpy_aliases and "x" not in torsh.Tensor.sum.numpy_aliases  # self is input
    assert torsh.exp.__name__ == "exp" and torsh.Tensor.exp is arg_aliases.unaliased(torsh.exp)  # nothing to alias
    # x += y and x.add_(y) keep the in-place method itself
    assert not hasattr(torsh.Tensor.add_, "numpy_aliases") and not hasattr(torsh.Tensor.__iadd__, "numpy_aliases")


def test_vmap_and_fx_read_aliased_calls():
    def f(lib, x):
        return lib.sum(x, axis=0, keepdims=True) + x.softmax(axis=0).max(axis=0).values
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 10
    assert_close(torsh.func.vmap(lambda v: f(torsh, v))(torsh.tensor(x)),
                 torch_ref.func.vmap(lambda v: f(torch_ref, v))(torch_ref.tensor(x)))

    class M(torsh.nn.Module):
        def forward(self, v):
            return f(torsh, v)
    gm = torsh.fx.symbolic_trace(M())
    assert_close(gm(torsh.tensor(x[0])), f(torch_ref, torch_ref.tensor(x[0])))
