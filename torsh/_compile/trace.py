"""Turn a function's autograd graph into an elementwise expression.

``torsh.compile`` runs the function once on traced copies of its inputs (leaves that
require grad) and reads the recorded graph back from the output: every node must be a
supported elementwise op whose scalar operands were recorded on the node. Anything else
(a reduction, a view, a tensor captured from outside) makes tracing fail with the reason,
and the compiled function runs eagerly instead.
"""
from .expr import Const, Var, call


class NotFusable(Exception):
    pass


def _operands(node, trace):
    """The node's operands as expressions, scalars from ``node.scalars`` where recorded."""
    scalars = getattr(node, "scalars", (None,) * len(node.next_functions))
    operands = []
    for (child, nr), scalar in zip(node.next_functions, scalars):
        if child is not None:
            operands.append(trace(child))
        elif scalar is not None and isinstance(scalar, (int, float)) and not isinstance(scalar, bool):
            operands.append(Const(float(scalar)))
        else:
            raise NotFusable(f"{node.name()} uses a tensor that is not an input of the compiled function")
    return operands


def _binary(op):
    return lambda node, trace: call(op, *_operands(node, trace))


def _unary(op):
    def build(node, trace):
        (child, _), = node.next_functions
        return call(op, trace(child))
    return build


def _add(node, trace):
    a, b = _operands(node, trace)
    return call("add", a, b if node.alpha == 1 else call("mul", Const(float(node.alpha)), b))


def _sub(node, trace):
    a, b = _operands(node, trace)
    return call("sub", a, b if node.alpha == 1 else call("mul", Const(float(node.alpha)), b))


def _rsub(node, trace):
    (child, _), = node.next_functions
    x = trace(child)
    return call("sub", Const(float(node.other)), x if node.alpha == 1 else call("mul", Const(float(node.alpha)), x))


def _pow_scalar_exponent(node, trace):
    (child, _), = node.next_functions
    return call("pow", trace(child), Const(float(node.exponent)))


_BUILDERS = {
    "AddBackward0": _add, "SubBackward0": _sub, "RsubBackward1": _rsub,
    "MulBackward0": _binary("mul"), "DivBackward0": _binary("div"),
    "NegBackward0": _unary("neg"), "ExpBackward0": _unary("exp"), "LogBackward0": _unary("log"),
    "SqrtBackward0": _unary("sqrt"), "TanhBackward0": _unary("tanh"), "SigmoidBackward0": _unary("sigmoid"),
    "SinBackward0": _unary("sin"), "CosBackward0": _unary("cos"), "ReluBackward0": _unary("relu"),
    "PowBackward0": _pow_scalar_exponent,
}


def expression_of(output, leaves):
    """The expression computing ``output`` from ``leaves`` (traced inputs), or NotFusable."""
    leaf_index = {}
    for i, leaf in enumerate(leaves):
        acc = leaf._accumulator() if leaf._accumulator is not None else None
        if acc is not None:
            leaf_index[acc] = i
    memo = {}

    def trace(node):
        if node in leaf_index:
            return Var(leaf_index[node])
        if node in memo:
            return memo[node]
        builder = _BUILDERS.get(node.name())
        if builder is None:
            raise NotFusable(f"{node.name()} is not an elementwise op torsh.compile can fuse")
        memo[node] = builder(node, trace)
        return memo[node]

    if output.grad_fn is None:
        if output._requires_grad and output in leaves:
            return Var(leaves.index(output))
        raise NotFusable("the output does not depend on the inputs through tensor ops")
    return trace(output.grad_fn)
