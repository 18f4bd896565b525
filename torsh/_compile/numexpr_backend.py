"""Print expressions for numexpr and evaluate them: in one pass over the data, or for large arrays in stages.

numexpr's transcendental functions are scalar libm calls here (no VML): tanh(x*0.5+1)*sigmoid(x) - x*x on 1e6
float32 took 6.9 ms in one numexpr pass, where NumPy's SIMD tanh alone takes ~0.18 ms. So from ``STAGED_FROM``
elements a ``StagedProgram`` evaluates each transcendental call (tanh, sigmoid, exp, log, sin, cos) with
torsh's own eager op (NumPy's SIMD ufuncs, or the dispatcher's compiled kernels: the same values as eager
torsh, and the dispatcher's records say which variant ran), and numexpr fuses only the arithmetic around
them, each arithmetic stage one multi-threaded numexpr pass.
"""
import numexpr
import numpy as np

from .._tensor import Tensor
from .._ops.tensor.elementwise import arithmetic
from ..autograd import grad_mode
from .expr import GRAD, TEMPLATE_CONSTANTS, Call, Const, Var, PRIMITIVES

STAGED_FROM = 16_384  # elements from which the staged evaluation beats one numexpr pass (libm at ~7 ns/element)


class NumexprProgram:
    """One expression compiled for numexpr, with its constants typed to the data's dtype
    (bare float literals would make numexpr compute in float64)."""

    def __init__(self, expr, np_dtype):
        self.constants = {}
        self.source = self._print(expr, np_dtype)
        for name, value in TEMPLATE_CONSTANTS.items():
            if name in self.source:
                self.constants[name] = np.asarray(value, dtype=np_dtype)
        self._compiled = None

    def _print(self, e, np_dtype, staged=None):
        if staged and id(e) in staged:
            return staged[id(e)]
        if isinstance(e, Var):
            return "g" if e is GRAD or e.index == -1 else f"x{e.index}"
        if isinstance(e, Const):
            name = f"c{len(self.constants)}"
            self.constants[name] = np.asarray(e.value, dtype=np_dtype)
            return name
        assert isinstance(e, Call)
        return PRIMITIVES[e.op][0].format(*(self._print(a, np_dtype, staged) for a in e.args))

    def __call__(self, arrays, grad=None):
        names = dict(self.constants)
        names.update({f"x{i}": a for i, a in enumerate(arrays)})
        if grad is not None:
            names["g"] = grad
        return numexpr.evaluate(self.source, local_dict=names)


# transcendental primitives evaluated by torsh's eager op in a StagedProgram
_STAGED_OPS = ("tanh", "sigmoid", "exp", "log", "sin", "cos")


def staged_calls(expr):
    """The transcendental calls of ``expr`` in evaluation order (arguments first), each once."""
    order, seen = [], set()

    def visit(e):
        if not isinstance(e, Call) or id(e) in seen:
            return
        seen.add(id(e))
        for a in e.args:
            visit(a)
        if e.op in _STAGED_OPS:
            order.append(e)

    visit(expr)
    return order


class StagedProgram(NumexprProgram):
    """``expr`` with each transcendental call computed by torsh's eager op into its own array (``t<k>``), and
    the arithmetic around them fused by numexpr: one numexpr pass per call argument that is not a bare
    input, and one for the rest."""

    def __init__(self, expr, np_dtype):
        self.constants = {}
        self.staged = {}     # id(call) -> its variable name
        self.stages = []     # (variable name, op, argument: ("input", index) or ("numexpr", source))
        for call in staged_calls(expr):
            (arg,) = call.args
            if isinstance(arg, Var):
                argument = ("input", "g" if arg is GRAD or arg.index == -1 else f"x{arg.index}")
            else:
                argument = ("numexpr", self._print(arg, np_dtype, self.staged))
            name = f"t{len(self.stages)}"
            self.stages.append((name, call.op, argument))
            self.staged[id(call)] = name
        self.source = self._print(expr, np_dtype, self.staged)
        for name, value in TEMPLATE_CONSTANTS.items():
            if any(name in text for text in [self.source] + [a[1] for _, _, a in self.stages]):
                self.constants[name] = np.asarray(value, dtype=np_dtype)
        self._compiled = None

    def __call__(self, arrays, grad=None):
        names = dict(self.constants)
        names.update({f"x{i}": a for i, a in enumerate(arrays)})
        if grad is not None:
            names["g"] = grad
        with grad_mode.no_grad():
            for name, op, (kind, argument) in self.stages:
                value = names[argument] if kind == "input" else numexpr.evaluate(argument, local_dict=names)
                names[name] = _EAGER_OPS[op](Tensor._wrap(value))._data
        if self.source in self.staged.values():  # the expression is one staged call
            return names[self.source]
        return numexpr.evaluate(self.source, local_dict=names)


_EAGER_OPS = {"tanh": arithmetic.tanh, "sigmoid": arithmetic.sigmoid, "exp": arithmetic.exp, "log": arithmetic.log,
              "sin": arithmetic.sin, "cos": arithmetic.cos}


def program(expr, np_dtype, numel):
    """The numexpr program for ``expr`` over ``numel`` elements: staged when large and transcendental."""
    if numel >= STAGED_FROM and staged_calls(expr):
        return StagedProgram(expr, np_dtype)
    return NumexprProgram(expr, np_dtype)


def evaluate_with_torsh(e, tensors, grad=None):
    """The same expression computed with torsh ops: differentiable, for create_graph."""
    memo = {}

    def ev(x):
        if isinstance(x, Var):
            return grad if x.index == -1 else tensors[x.index]
        if isinstance(x, Const):
            return x.value
        if id(x) in memo:
            return memo[id(x)]
        args = [ev(a) for a in x.args]
        memo[id(x)] = _TORSH_OPS[x.op](*args)
        return memo[id(x)]

    return ev(e)


def _torsh_ops():
    import torsh
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "neg": lambda a: -a, "exp": torsh.exp, "log": torsh.log,
        "sqrt": torsh.sqrt, "tanh": torsh.tanh, "sin": torsh.sin, "cos": torsh.cos,
        "sigmoid": torsh.sigmoid, "relu": torsh.relu, "gt0": lambda a: (a > 0).to(a.dtype),
        "square": lambda a: a * a, "pow": lambda a, b: a ** b,
    }


class _LazyOps(dict):
    def __missing__(self, key):
        self.update(_torsh_ops())
        return dict.__getitem__(self, key)


_TORSH_OPS = _LazyOps()
