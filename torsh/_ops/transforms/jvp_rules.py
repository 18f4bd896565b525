"""Forward-mode (jvp) rules of the hot ops, attached to their registry entries (``OpDef.jvp``).

A rule is ``rule(node, inputs, tangents, outputs)``: the op's recorded node (its attributes: dims,
shapes, ...), the inputs as given to ``record`` (primals, numbers), their tangents (None where an input
has none) and the outputs; it returns the output tangent(s), None for a zero one, or NotImplemented to
leave the op to ``forward_ad.jvp_by_double_vjp`` (what every op without a rule gets). Rules run with
forward AD switched off and grad mode as at the op, so they are ordinary differentiable torsh code.

Ops outside the registry have their rules keyed by backward node class (``_BY_NODE``).
"""
import numpy as np

from ...autograd import forward_ad
from ...autograd.graph import Node
from ..._tensor import Tensor
from ..nn import conv as conv_ops
from ..nn import norm as norm_ops
from ..nn.activation import pointwise as nn_pointwise
from ..nn.activation import softmax as activation
from ..tensor.linalg import matmul as linalg
from ..tensor.elementwise import arithmetic as pointwise
from ..tensor.reduction import reductions as reduction
from .. import registry


def _sum(*terms):
    """The sum of the terms that are not None (None when all are)."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total


def _is_real(t):
    return isinstance(t, Tensor) and not t.dtype.is_complex


# -- ops whose Jacobian is symmetric: the backward applied to the tangent is the jvp ---------------
def symmetric_jacobian(node, inputs, tangents, outputs):
    """Elementwise unary ops and softmax: J = J^T, so J t = node.backward(t) (real dtypes only)."""
    if not (_is_real(inputs[0]) and _is_real(outputs[0])):
        return NotImplemented
    return node.backward(tangents[0])[0]


# -- arithmetic -----------------------------------------------------------------------------------
def add(node, inputs, tangents, outputs):
    ta, tb = tangents
    alpha = getattr(node, "alpha", 1)
    return _sum(ta, tb if tb is None or alpha == 1 else tb * alpha)


def sub(node, inputs, tangents, outputs):
    ta, tb = tangents
    alpha = getattr(node, "alpha", 1)
    return _sum(ta, None if tb is None else -(tb if alpha == 1 else tb * alpha))


def mul(node, inputs, tangents, outputs):
    (a, b), (ta, tb) = inputs, tangents
    return _sum(None if ta is None else ta * b, None if tb is None else a * tb)


def div(node, inputs, tangents, outputs):
    (a, b), (ta, tb) = inputs, tangents
    return _sum(None if ta is None else ta / b, None if tb is None else -(tb * outputs[0]) / b)


# -- products ---------------------------------------------------------------------------------------
def product(node, inputs, tangents, outputs):
    """a @ b (MmBackward0, BmmBackward0, the batched matmul's UnsafeViewBackward0) and bias + a @ b."""
    bias_tangent = None
    if len(inputs) == 3:
        bias_tangent, inputs, tangents = tangents[0], inputs[1:], tangents[1:]
    (a, b), (ta, tb) = inputs, tangents
    return _sum(None if ta is None else ta.matmul(b), None if tb is None else a.matmul(tb), bias_tangent)


def dot(node, inputs, tangents, outputs):
    (a, b), (ta, tb) = inputs, tangents
    return _sum(None if ta is None else ta.dot(b), None if tb is None else a.dot(tb))


# -- reductions -------------------------------------------------------------------------------------
def sum_(node, inputs, tangents, outputs):
    return tangents[0].sum(node.dims, keepdim=node.keepdim) if node.dims else tangents[0].clone()


def mean(node, inputs, tangents, outputs):
    return tangents[0].mean(node.dims, keepdim=node.keepdim) if node.dims else tangents[0].clone()


# -- activations ------------------------------------------------------------------------------------
def log_softmax(node, inputs, tangents, outputs):
    t = tangents[0]
    return t - (outputs[0].exp() * t).sum(node.dim, keepdim=True)


# nn.functional's elementwise activations (one tensor input): diagonal Jacobians
_ACTIVATION_NODES = ("GeluBackward0", "SiluBackward0", "LeakyReluBackward0", "EluBackward0", "SoftplusBackward0",
                     "HardtanhBackward0", "MishBackward0", "CeluBackward0", "HardswishBackward0",
                     "HardsigmoidBackward0", "LogSigmoidBackward0")


def activation_nodes():
    return [getattr(nn_pointwise, name) for name in _ACTIVATION_NODES if hasattr(nn_pointwise, name)]


def elementwise_activation(node, inputs, tangents, outputs):
    """J is diagonal: J t = node.backward(t) (one tensor input, extra inputs are numbers)."""
    if sum(isinstance(x, Tensor) for x in inputs) != 1:
        return NotImplemented
    return symmetric_jacobian(node, inputs, tangents, outputs)


def logsumexp(node, inputs, tangents, outputs):
    """sum(softmax(x) * t) over the reduced dims."""
    if not _is_real(inputs[0]):
        return NotImplemented
    x = inputs[0]
    weights = (x - reduction._keep(outputs[0], node.dims, x.dim())).exp()
    return (weights * tangents[0]).sum(node.dims, keepdim=node.keepdim)


# -- nn: convolution, layer norm ----------------------------------------------------------------------
def convolution(node, inputs, tangents, outputs):
    """conv is bilinear in (x, w), plus the bias: conv(tx, w) + conv(x, tw) + tb."""
    x, w = inputs[0], inputs[1]
    tx, tw = tangents[0], tangents[1]
    tb = tangents[2] if len(tangents) > 2 else None
    params = node._params()
    return _sum(None if tx is None else conv_ops.convolution(tx, w, None, *params),
                None if tw is None else conv_ops.convolution(x, tw, None, *params),
                None if tb is None else tb.reshape((1, -1) + (1,) * (outputs[0].dim() - 2)))


def layer_norm(node, inputs, tangents, outputs):
    """y = x_hat * w + b: d x_hat = rstd * (t - mean(t)) - x_hat * mean(x_hat * (t - mean(t))) * rstd."""
    (x, weight, _), (tx, tw, tb) = inputs, tangents
    axes = tuple(range(x.dim() - node.k, x.dim()))
    mean = x.mean(axes, keepdim=True)
    centered = x - mean
    rstd = ((centered * centered).mean(axes, keepdim=True) + node.eps).rsqrt()
    x_hat = centered * rstd
    terms = []
    if tx is not None:
        t_centered = tx - tx.mean(axes, keepdim=True)
        d_hat = (t_centered - x_hat * (x_hat * t_centered).mean(axes, keepdim=True)) * rstd
        terms.append(d_hat if weight is None else d_hat * weight)
    if tw is not None:
        terms.append(x_hat * tw)
    return _sum(*terms, tb)


_BY_NODE = {
    pointwise.AddBackward0: add, pointwise.SubBackward0: sub, pointwise.MulBackward0: mul,
    pointwise.DivBackward0: div,
    linalg.MmBackward0: product, linalg.BmmBackward0: product, linalg.UnsafeViewBackward0: product,
    linalg.AddmmBackward0: product, linalg.DotBackward0: dot,
    reduction.SumBackward0: sum_, reduction.SumBackward1: sum_,
    activation.SoftmaxBackward0: symmetric_jacobian, activation.LogSoftmaxBackward0: log_softmax,
    conv_ops.ConvolutionBackward0: convolution, norm_ops.NativeLayerNormBackward0: layer_norm,
    reduction.LogsumexpBackward0: logsumexp,
    **{node_cls: elementwise_activation for node_cls in activation_nodes()},
}
if hasattr(reduction, "MeanBackward0"):
    _BY_NODE[reduction.MeanBackward0] = _BY_NODE[reduction.MeanBackward1] = mean
# the registry entries these rules belong to (what OpDef.jvp shows; the lookup is by node class)
_BY_OP = {"add": add, "sub": sub, "mul": mul, "div": div, "matmul": product, "mm": product, "bmm": product,
          "addmm": product, "dot": dot, "sum": sum_, "mean": mean, "softmax": symmetric_jacobian,
          "log_softmax": log_softmax, "logsumexp": logsumexp, "nn_functional_conv1d": convolution,
          "nn_functional_conv2d": convolution, "nn_functional_conv3d": convolution,
          "nn_functional_layer_norm": layer_norm,
          **{f"nn_functional_{name}": elementwise_activation
             for name in ("gelu", "silu", "leaky_relu", "elu", "selu", "softplus", "hardtanh", "relu6", "mish",
                          "celu", "hardswish", "hardsigmoid", "logsigmoid")}}


# every op made by pointwise._make_unary runs this one code object; its node class is in the closure
_UNARY_OP_CODE = pointwise._make_unary("jvp_probe", np.negative, None, node_name="JvpProbeBackward0")[0].__code__


def _unary_node_class(entry):
    """The node class of an elementwise unary op made by pointwise._make_unary, else None."""
    if getattr(entry.fn, "__code__", None) is not _UNARY_OP_CODE:
        return None
    for cell in entry.fn.__closure__:
        value = cell.cell_contents
        if isinstance(value, type) and issubclass(value, Node):
            return value
    return None


def attach():
    """Put the rules in the registry entries (``OpDef.jvp``) and give forward_ad its table by node class."""
    forward_ad.RULES.update(_BY_NODE)
    for entry in registry.entries():
        node_cls = _unary_node_class(entry)
        if node_cls is not None:
            forward_ad.RULES[node_cls] = symmetric_jacobian
            rule = symmetric_jacobian
        else:
            rule = _BY_OP.get(entry.name)
        if rule is not None and entry.jvp is None:
            object.__setattr__(entry, "jvp", rule)  # OpDef is frozen: the registry's one late-bound slot


# -- the operator shortcut ----------------------------------------------------------------------------
# Tensor's +, -, *, / skip needs_grad on small tensors without grad (pointwise.operator_with_shortcut);
# while a dual level is open they are the general ops, so tangents propagate through them.
_GENERAL_OPERATORS = {
    "__add__": pointwise.add, "__radd__": lambda self, other: pointwise.add(other, self),
    "__sub__": pointwise.sub, "__rsub__": pointwise.rsub,
    "__mul__": pointwise.mul, "__rmul__": lambda self, other: pointwise.mul(other, self),
    "__truediv__": pointwise.div, "__rtruediv__": lambda self, other: pointwise.div(other, self),
}
_shortcut_operators = {}


def _enter_level():
    for name, general in _GENERAL_OPERATORS.items():
        _shortcut_operators[name] = Tensor.__dict__[name]
        setattr(Tensor, name, general)


def _exit_level():
    for name, shortcut in _shortcut_operators.items():
        setattr(Tensor, name, shortcut)
    _shortcut_operators.clear()


attach()
forward_ad.LEVEL_HOOKS.append((_enter_level, _exit_level))
