"""A tiny expression language for fused elementwise code: inputs, constants and calls.

Expressions are immutable trees (shared subtrees allowed); ``Call.op`` names one of the
primitives in ``PRIMITIVES``, each of which knows how to print itself for numexpr, how to
evaluate itself with torsh ops (for create_graph) and its partial derivatives.
"""
from dataclasses import dataclass
import math


@dataclass(frozen=True)
class Var:
    index: int  # position in the compiled function's tensor arguments ("g" is -1: the incoming gradient)


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True, eq=False)  # identity equality: a DAG node, hashed by id
class Call:
    op: str
    args: tuple


GRAD = Var(-1)


def call(op, *args):
    """A Call with light constant folding and the identities that keep gradients short."""
    if op == "mul":
        a, b = args
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Const) and x.value == 1.0:
                return y
            if isinstance(x, Const) and x.value == 0.0:
                return Const(0.0)
    if op == "add":
        a, b = args
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Const) and x.value == 0.0:
                return y
    if op == "neg" and isinstance(args[0], Const):
        return Const(-args[0].value)
    if all(isinstance(a, Const) for a in args) and op in _FOLD:
        return Const(_FOLD[op](*(a.value for a in args)))
    return Call(op, tuple(args))


_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "div": lambda a, b: a / b, "neg": lambda a: -a, "exp": math.exp}


def _sig(x):
    return call("div", Const(1.0), call("add", Const(1.0), call("exp", call("neg", x))))


# op -> (numexpr template, partial derivatives as functions of (args..., result) returning Exprs)
PRIMITIVES = {
    "add": ("({0} + {1})", (lambda a, b, y: Const(1.0), lambda a, b, y: Const(1.0))),
    "sub": ("({0} - {1})", (lambda a, b, y: Const(1.0), lambda a, b, y: Const(-1.0))),
    "mul": ("({0} * {1})", (lambda a, b, y: b, lambda a, b, y: a)),
    "div": ("({0} / {1})", (lambda a, b, y: call("div", Const(1.0), b),
                            lambda a, b, y: call("neg", call("div", y, b)))),
    "neg": ("(-{0})", (lambda a, y: Const(-1.0),)),
    "exp": ("exp({0})", (lambda a, y: y,)),
    "log": ("log({0})", (lambda a, y: call("div", Const(1.0), a),)),
    "sqrt": ("sqrt({0})", (lambda a, y: call("div", Const(0.5), y),)),
    # numexpr's own tanh runs ~10x slower than its exp here (and its where/abs are slow too),
    # so tanh is 2 * sigmoid(2x) - 1 on exp: no overflow at either end; near 0 its absolute
    # error is a couple of float32 ulps of 1 (not relative to x, as eager tanh's is)
    "tanh": ("(2 / (1 + exp(-2 * {0})) - 1)",
             (lambda a, y: call("sub", Const(1.0), call("mul", y, y)),)),
    "sin": ("sin({0})", (lambda a, y: call("cos", a),)),
    "cos": ("cos({0})", (lambda a, y: call("neg", call("sin", a)),)),
    "sigmoid": ("(1 / (1 + exp(-{0})))", (lambda a, y: call("mul", y, call("sub", Const(1.0), y)),)),
    "relu": ("where({0} > 0, {0}, 0)", (lambda a, y: call("gt0", a),)),
    "gt0": ("where({0} > 0, 1, 0)", (lambda a, y: Const(0.0),)),
    "square": ("({0} * {0})", (lambda a, y: call("mul", Const(2.0), a),)),
    "pow": ("({0} ** {1})", (lambda a, b, y: call("mul", b, call("pow", a, call("sub", b, Const(1.0)))),
                             lambda a, b, y: call("mul", y, call("log", a)))),
}


# named constants the templates above may use (float literals would make numexpr compute in
# float64), created with the data's dtype
TEMPLATE_CONSTANTS = {}


def post_order(expr):
    """The calls of ``expr``'s DAG, each once, arguments before the calls that use them."""
    order, seen = [], set()

    def visit(e):
        if id(e) in seen or not isinstance(e, Call):
            return
        seen.add(id(e))
        for a in e.args:
            visit(a)
        order.append(e)

    visit(expr)
    return order


def gradients(output, n_inputs, seed=GRAD):
    """Expressions for d(sum(seed * output)) / d(input i), i < n_inputs (None when unused).

    With ``seed=Const(1.0)`` they are the partial derivatives d output / d input i themselves."""
    order = post_order(output)
    adjoint = {id(output): seed}
    grads = [None] * n_inputs
    for node in reversed(order):
        g = adjoint.get(id(node))
        if g is None:
            continue
        for arg, partial in zip(node.args, PRIMITIVES[node.op][1]):
            if isinstance(arg, Const):
                continue
            contribution = call("mul", g, partial(*node.args, node))
            if isinstance(arg, Var):
                grads[arg.index] = contribution if grads[arg.index] is None else call("add", grads[arg.index], contribution)
            else:
                prev = adjoint.get(id(arg))
                adjoint[id(arg)] = contribution if prev is None else call("add", prev, contribution)
    if isinstance(output, Var):
        grads[output.index] = seed
    return grads


def count_ops(e, seen=None):
    seen = set() if seen is None else seen
    if not isinstance(e, Call) or id(e) in seen:
        return 0
    seen.add(id(e))
    return 1 + sum(count_ops(a, seen) for a in e.args)
