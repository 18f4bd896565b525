"""Floating-point operation counts for the ops PyTorch counts (matrix products and convolutions).

A multiply-add is two FLOPs, as in PyTorch's profiler: ``mm`` of (M, K) x (K, N) is 2*M*K*N.
Counts are taken from shapes only; every other op counts 0 (shown as ``--`` in tables).
``count`` serves the profiler's ``with_flops``; ``flop_counter_count`` serves ``torch.utils.flop_counter``,
which counts fewer ops (not mv, dot, addmv, addbmm) and names each by the aten op PyTorch's reaches.
"""
def _shape(value):
    data = getattr(value, "_data", None)
    return None if data is None else data.shape


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _matmul(left, result):
    """2 * (elements of the product) * (length of the contracted dimension)."""
    left_shape, out_shape = _shape(left), _shape(result)
    if left_shape is None or out_shape is None or not left_shape:
        return 0
    return 2 * _numel(out_shape) * left_shape[-1]


def _conv(weight, result):
    """2 * output elements * (input channels per group * kernel size) = weight[0].numel()."""
    weight_shape, out_shape = _shape(weight), _shape(result)
    if weight_shape is None or out_shape is None or not weight_shape:
        return 0
    return 2 * _numel(out_shape) * _numel(weight_shape[1:])


def _conv_transpose(input, weight):
    """Each input element scatters into out_channels/groups * kernel outputs: weight[0].numel()."""
    input_shape, weight_shape = _shape(input), _shape(weight)
    if input_shape is None or weight_shape is None:
        return 0
    return 2 * _numel(input_shape) * _numel(weight_shape[1:])


def _arg(args, kwargs, index, name):
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


_MATMULS = {"matmul", "mm", "bmm", "mv", "dot", "__matmul__", "inner"}
_MATMULS_WITH_BIAS = {"addmm", "baddbmm", "addmv", "addbmm"}  # (bias, left, right)


def count(attribute, args, kwargs, result):
    """FLOPs of one call of the op bound under ``attribute``; 0 when not counted."""
    try:
        if attribute in _MATMULS:
            return _matmul(args[0], result)
        if attribute == "__rmatmul__":
            return _matmul(args[1], result)
        if attribute in _MATMULS_WITH_BIAS:
            return _matmul(args[1], result)
        if attribute == "linear":
            return _matmul(_arg(args, kwargs, 0, "input"), result)
        if attribute in ("conv1d", "conv2d", "conv3d"):
            return _conv(_arg(args, kwargs, 1, "weight"), result)
        if attribute in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
            return _conv_transpose(_arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight"))
    except (IndexError, TypeError, AttributeError):
        return 0
    return 0



# -- torch.utils.flop_counter.FlopCounterMode: the aten op each call reaches in PyTorch, and its count ------
def _product_name(left_shape, right_shape):
    """The aten op PyTorch's matmul runs: mm when the right operand has no batch (folded into rows),
    bmm otherwise; None for a matrix-vector or vector product (mv and dot count no FLOPs there)."""
    if len(right_shape) < 2 or not left_shape:
        return None
    return "mm" if len(right_shape) == 2 or _numel(right_shape[:-2]) == 1 else "bmm"


def _counter_matmul(left, right, result):
    name = _product_name(_shape(left) or (), _shape(right) or ())
    return None if name is None else (name, _matmul(left, result))


def _counter_linear(args, kwargs, result):
    input, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    if _shape(weight) is None or len(_shape(weight)) != 2:
        return None
    return ("addmm" if _arg(args, kwargs, 2, "bias") is not None else "mm"), _matmul(input, result)


def _counter_conv(attribute, args, kwargs, result):
    input, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    if attribute.startswith("conv_transpose"):
        return "convolution", _conv_transpose(input, weight)
    return "convolution", _conv(weight, result)


COUNTER_OPS = {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "linear",
               "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
CONV_OPS = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}


def flop_counter_count(attribute, args, kwargs, result):
    """(aten op name, FLOPs) of one call as PyTorch's FlopCounterMode counts it, or None when it counts none."""
    try:
        if attribute in ("matmul", "__matmul__", "mm", "bmm"):
            return _counter_matmul(args[0], args[1], result)
        if attribute == "__rmatmul__":
            return _counter_matmul(args[1], args[0], result)
        if attribute in ("addmm", "baddbmm"):
            return attribute, _matmul(args[1], result)
        if attribute == "linear":
            return _counter_linear(args, kwargs, result)
        if attribute in CONV_OPS:
            return _counter_conv(attribute, args, kwargs, result)
    except (IndexError, TypeError, AttributeError):
        return None
    return None


def conv_groups(args, kwargs):
    """``groups`` of an F.conv* / F.conv_transpose* call (the seventh argument of both)."""
    return _arg(args, kwargs, 6, "groups") or 1


def conv_backward_count(forward, groups, input_grad, weight_grad):
    """PyTorch's ``convolution_backward`` count: the input gradient costs the forward's FLOPs; its weight
    gradient formula takes all input channels against all output channels, ``groups`` times the forward's."""
    return forward * (int(input_grad) + groups * int(weight_grad))
