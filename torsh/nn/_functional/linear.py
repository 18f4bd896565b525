"""linear and bilinear."""
import math

from ..._array_api import array
from ..._ops.tensor.linalg import matmul as linalg
from ..._ops._helpers import broadcast_shapes, dtype_name
from ..._tensor import _CPP_TYPE
from ...amp import autocast_mode as _autocast

__all__ = ["linear", "bilinear"]


def _dtype_mismatch(input, weight, bias):
    """PyTorch 2.13's error: addmm's words with a bias, matmul's (C++ type names) without."""
    if bias is not None:
        return RuntimeError(f"mat1 and mat2 must have the same dtype, but got {dtype_name(input.dtype)} and "
                            f"{dtype_name(weight.dtype)}")
    return RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_CPP_TYPE.get(input.dtype.name)} != "
                        f"{_CPP_TYPE.get(weight.dtype.name)}")


def _check_linear(input, weight, bias):
    """PyTorch's errors for F.linear's operands, in its order; returns for odd operands it accepts (a 1-D
    weight, a bias that broadcasts). Contiguous inputs with a bias take PyTorch's addmm path (flattened to
    rows x in), whose checks differ from matmul's."""
    xd, wd = input.ndim, weight.ndim
    if xd == 0 or wd == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {xd}D and {wd}D")
    if wd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {wd}D")
    rows = math.prod(input.shape[:-1]) if xd > 1 else 1
    out_features = weight.shape[0] if wd == 2 else 1
    # ATen's linear: addmm for a 2-D input; flattened to addmm for a contiguous 3-D input or a 1-D bias
    addmm = bias is not None and (xd == 2 or (input.is_contiguous() and (bias.ndim == 1 or (xd == 3 and wd == 2))))
    shapes_differ = input.shape[-1] != weight.shape[-1]
    if xd == 1 and wd == 1:  # PyTorch's dot: dtypes checked before sizes
        if input.dtype != weight.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {dtype_name(input.dtype)} "
                               f"and {dtype_name(weight.dtype)}")
        if shapes_differ:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                               f"[{weight.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
                               f"and {weight.shape[0]} elements respectively")
    if addmm:  # addmm checks the dtypes before the ranks
        if bias.dtype != weight.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {dtype_name(bias.dtype)} and "
                               f"{dtype_name(weight.dtype)}")
        if input.dtype != weight.dtype:
            raise _dtype_mismatch(input, weight, bias)
        if wd == 1:
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
    if shapes_differ and wd == 1:  # PyTorch's mv of the rows x in input with the weight vector
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{input.shape[-1]}), vec ({weight.shape[0]})")
    if shapes_differ:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{weight.shape[-1]}x{out_features})")
    if input.dtype != weight.dtype and wd == 1:  # mv's result takes the vector's dtype
        w_name, x_name = dtype_name(weight.dtype), dtype_name(input.dtype)
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {w_name}, {x_name}, and {w_name}")
    if input.dtype != weight.dtype:
        raise _dtype_mismatch(input, weight, bias)
    if addmm:
        _check_expand(bias, [rows, out_features])
    elif bias is not None:  # matmul, then output.add_(bias): the bias must broadcast to the output's shape
        out_shape = list(input.shape[:-1]) + ([weight.shape[0]] if wd == 2 else [])
        full = list(broadcast_shapes(tuple(out_shape), tuple(bias.shape)))
        if full != out_shape:
            raise RuntimeError(f"output with shape {out_shape} doesn't match the broadcast shape {full}")


def _check_expand(bias, target):
    """addmm's bias.expand(rows, out) errors."""
    if bias.ndim > len(target):
        raise RuntimeError(f"expand({bias.type()}{{{list(bias.shape)}}}, size={target}): the number of sizes provided "
                           f"({len(target)}) must be greater or equal to the number of dimensions in the tensor "
                           f"({bias.ndim})")
    for i in range(1, bias.ndim + 1):
        if bias.shape[-i] not in (1, target[-i]):
            raise RuntimeError(f"The expanded size of the tensor ({target[-i]}) must match the existing size "
                               f"({bias.shape[-i]}) at non-singleton dimension {len(target) - i}.  Target sizes: "
                               f"{target}.  Tensor sizes: {list(bias.shape)}")


def linear(input, weight, bias=None):
    if _autocast._state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, weight, bias = _autocast.lower_precision(input, weight, bias)
    x, w = array(input), array(weight)  # the arrays' metadata: Tensor.shape builds a torch.Size per call
    b = array(bias) if bias is not None else None
    if (x.dtype != w.dtype or w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]
            or (b is not None and (b.dtype != x.dtype or b.shape != w.shape[:1]))):
        _check_linear(input, weight, bias)  # raises PyTorch's error, or returns for the odd operands it accepts
    if w.ndim == 2 and x.ndim > 2:
        # one (rows x in) @ (in x out) product: its weight gradient is then one GEMM too, not a stack of
        # per-batch products summed afterwards
        lead = input.shape[:-1]
        rows = math.prod(lead)  # not -1: an empty input's rows are not inferable
        return linear(input.reshape(rows, input.shape[-1]), weight, bias).reshape(*lead, weight.shape[0])
    if w.ndim == 2 and x.ndim == 2 and bias is not None:
        out = linalg.linear_without_graph(input, weight, bias)  # inference: no view tensor, no node
        if out is not None:
            return out
        # addmm(bias, input, weight.t()) as PyTorch: one AddmmBackward0 node, bias added in place
        out = linalg.addmm_fused(bias, input, weight.t())
        if out is not None:
            return out
    out = input.matmul(weight.t()) if weight.ndim == 2 else input.matmul(weight)
    if bias is not None:
        out = out + bias
    return out


def _size(t, dim):
    if t.ndim == 0:
        raise IndexError(f"Dimension specified as 0 but tensor has no dimensions")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-t.ndim}, {t.ndim - 1}], but got {dim})")
    return t.shape[dim]


def _check_bilinear(input1, input2, weight, bias):
    """ATen's bilinear checks, in its order."""
    named = [("input1", input1), ("input2", input2), ("weight", weight)] + ([("bias", bias)] if bias is not None else [])
    if len({t.dtype for _, t in named}) > 1:
        shown = ", ".join(f"{n}: {_CPP_TYPE.get(t.dtype.name, t.dtype.name)}" for n, t in named)
        raise RuntimeError(f"All tensors must have the same dtype, got {shown}")
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {input1.shape[i]} "
                               f"and {input2.shape[i]}")
    if _size(input1, -1) != _size(weight, 1):
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {weight.shape[1]}")
    if _size(input2, -1) != _size(weight, 2):
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {weight.shape[2]}")
    if bias is not None and _size(bias, 0) != weight.shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but expected "
                           f"{weight.shape[0]}")
    if weight.ndim != 3:
        raise RuntimeError("number of dimensions must match")


def bilinear(input1, input2, weight, bias=None):
    _check_bilinear(input1, input2, weight, bias)
    # y_k = x1^T W_k x2 + b_k, as (x1 W_k) . x2 for every k at once
    tmp = (input1.unsqueeze(-2).unsqueeze(-3) @ weight).squeeze(-2)  # (..., out, in2)
    out = (tmp * input2.unsqueeze(-2)).sum(-1)
    if bias is not None:
        out = out + bias
    return out
