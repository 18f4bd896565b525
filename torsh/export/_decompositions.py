"""The decompositions ``ExportedProgram.run_decompositions`` applies (PyTorch's core-ATen lowering of the ops
torsh's export records at a higher level). Each rule writes the replacement nodes and returns the last one."""

from .._op_overloads import ops
from ._trace import TensorMeta


def _linear(graph, node, env):
    """``aten.linear`` of a matrix: ``addmm(bias, x, permute(w, [1, 0]))`` (``mm`` without a bias)."""
    x, weight, *rest = node.args
    bias = rest[0] if rest else node.kwargs.get("bias")
    permute = graph.create_node("call_function", ops.aten.permute.default, (env(weight), [1, 0]), {}, "permute")
    w = weight.meta.get("val")
    if w is not None:
        permute.meta["val"] = TensorMeta(tuple(reversed(w.shape)), w.dtype)
    if bias is None:
        out = graph.create_node("call_function", ops.aten.mm.default, (env(x), permute), {}, "mm")
    else:
        out = graph.create_node("call_function", ops.aten.addmm.default, (env(bias), env(x), permute), {}, "addmm")
    out.meta = dict(node.meta)
    return out


def rule_for(node, decomp_table=None):
    """The rule decomposing ``node``, or None to keep it."""
    if node.op != "call_function" or decomp_table == {}:
        return None
    if node.target is ops.aten.linear.default or getattr(node.target, "__name__", "") == "linear.default":
        x = node.args[0].meta.get("val") if hasattr(node.args[0], "meta") else None
        if x is not None and len(x.shape) == 2 and len(node.args) >= 2:
            return _linear
    return None


def default_decompositions():
    """The table ``run_decompositions`` uses when given none (torsh's rules by op name)."""
    return {"aten.linear.default": _linear}

