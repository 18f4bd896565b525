"""Print expressions for numexpr and evaluate them in one pass over the data."""
import numexpr
import numpy as np

from .expr import GRAD, TEMPLATE_CONSTANTS, Call, Const, Var, PRIMITIVES


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

    def _print(self, e, np_dtype):
        if isinstance(e, Var):
            return "g" if e is GRAD or e.index == -1 else f"x{e.index}"
        if isinstance(e, Const):
            name = f"c{len(self.constants)}"
            self.constants[name] = np.asarray(e.value, dtype=np_dtype)
            return name
        assert isinstance(e, Call)
        return PRIMITIVES[e.op][0].format(*(self._print(a, np_dtype) for a in e.args))

    def __call__(self, arrays, grad=None):
        names = dict(self.constants)
        names.update({f"x{i}": a for i, a in enumerate(arrays)})
        if grad is not None:
            names["g"] = grad
        return numexpr.evaluate(self.source, local_dict=names)


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
