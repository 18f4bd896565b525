"""Turn a function's autograd graph into an elementwise expression.

``torsh.compile`` runs the function once on traced copies of its inputs (leaves that
require grad) and reads the recorded graph back from the output: every node must be a
supported elementwise op whose scalar operands were recorded on the node. Anything else
(a reduction, a view, a tensor captured from outside) makes tracing fail with the reason,
and the compiled function runs eagerly instead.
"""
import functools

from .._ops import registry
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


# primitives whose node carries more than its operands (alpha, a scalar operand or exponent)
_SPECIAL = {"add": _add, "sub": _sub, "rsub": _rsub, "mul": _binary("mul"), "div": _binary("div"),
            "pow": _pow_scalar_exponent}


@functools.cache
def _builders():
    """Backward node name -> how to read that node back as an expression, for every op the registry declares
    with a fusion primitive (``register(..., fusion=...)``)."""
    return {entry.node_name: _SPECIAL.get(entry.fusion) or _unary(entry.fusion)
            for entry in registry.entries() if entry.fusion is not None and entry.node_name is not None}



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
        builder = _builders().get(node.name())
        if builder is None:
            raise NotFusable(f"{node.name()} is not an elementwise op torsh.compile can fuse")
        memo[node] = builder(node, trace)
        return memo[node]

    if output.grad_fn is None:
        if output._requires_grad and output in leaves:
            return Var(leaves.index(output))
        raise NotFusable("the output does not depend on the inputs through tensor ops")
    return trace(output.grad_fn)
