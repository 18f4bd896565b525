"""Print expressions for numexpr and evaluate them in one pass over the data; large arrays with transcendental
calls go op by op on torsh's eager kernels instead.

numexpr's float32 transcendental functions are scalar libm calls here (no VML): tanh(x*0.5+1)*sigmoid(x) - x*x
on 1e6 float32 took 6.9 ms in one numexpr pass, where NumPy's SIMD tanh alone takes ~0.17 ms. Evaluating only
the transcendental calls with torsh's ops and fusing the arithmetic around them in numexpr took 1.35 ms (quiet
2-core VM, 2 threads): numexpr's arithmetic itself ran slower than the dispatcher's kernels (x * 0.5 + 1: 621 us
on its two threads, 145 us for NumPy's two passes on one; the eager kernels' passes 60-75 us each on two). So
from ``STAGED_FROM`` elements an ``EagerProgram`` runs each op of the expression on torsh's eager op, i.e. on
the variant the dispatcher picks for its size (OpenMP kernels, NumPy's SIMD tanh; their dispatch records say
which), 0.9 ms for that chain. Below that, one numexpr pass costs less than a call per op.
"""
import numexpr
import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from .expr import GRAD, TEMPLATE_CONSTANTS, Call, Const, Var, PRIMITIVES, post_order

STAGED_FROM = 16_384  # elements from which op-by-op kernels beat one numexpr pass (libm at ~7 ns/element)


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


# the transcendental primitives whose presence sends a large expression to an EagerProgram
_STAGED_OPS = ("tanh", "sigmoid", "exp", "log", "sin", "cos")


def staged_calls(expr):
    """The transcendental calls of ``expr`` in evaluation order (arguments first), each once."""
    return [call for call in post_order(expr) if call.op in _STAGED_OPS]


class EagerProgram:
    """``expr`` evaluated op by op with torsh's eager ops (no graph recorded): each op on the dispatcher's
    variant for its size (OpenMP kernels for large arrays, NumPy's SIMD tanh), so the values are eager
    torsh's. Each intermediate is dropped after its last use, as in eager code, so the memory pool hands its
    buffer, still in cache, to the next op (keeping them all alive to the end cost ~1.7x here)."""

    def __init__(self, expr, np_dtype):
        self.expr = expr
        self.order = post_order(expr)  # the calls, arguments first
        self.uses = {}
        for call in self.order:
            for a in call.args:
                if isinstance(a, Call):
                    self.uses[id(a)] = self.uses.get(id(a), 0) + 1
        self.calls = [call.op for call in self.order if call.op in _STAGED_OPS]

    def __call__(self, arrays, grad=None):
        tensors = [Tensor._wrap(a) for a in arrays]
        g = None if grad is None else Tensor._wrap(grad)
        values, left = {}, dict(self.uses)
        with grad_mode.no_grad():
            for call in self.order:
                args = []
                for a in call.args:
                    if isinstance(a, Call):
                        args.append(values[id(a)])
                        left[id(a)] -= 1
                        if not left[id(a)]:
                            del values[id(a)]
                    elif isinstance(a, Var):
                        args.append(g if a.index == -1 else tensors[a.index])
                    else:
                        args.append(a.value)
                values[id(call)] = _TORSH_OPS[call.op](*args)
        return values[id(self.expr)]._data


def program(expr, np_dtype, numel):
    """The program for ``expr`` over ``numel`` elements: eager kernels when large and transcendental, else
    one numexpr pass."""
    if numel >= STAGED_FROM and staged_calls(expr):
        return EagerProgram(expr, np_dtype)
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
