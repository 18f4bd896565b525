"""linear and bilinear."""
from ..._array_api import array
from ..._ops.tensor.linalg import matmul as linalg
from ..._ops._helpers import dtype_name
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


def linear(input, weight, bias=None):
    if _autocast._state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, weight, bias = _autocast.lower_precision(input, weight, bias)
    x, w = array(input), array(weight)  # the arrays' metadata: Tensor.shape builds a torch.Size per call
    if x.dtype != w.dtype:
        raise _dtype_mismatch(input, weight, bias)
    if w.ndim == 2 and (x.ndim == 0 or x.shape[-1] != w.shape[1]):
        if input.ndim <= 1:
            shape_a = f"1x{input.shape[0] if input.ndim else 1}"
        else:
            shape_a = f"{input.numel() // max(input.shape[-1], 1)}x{input.shape[-1]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({shape_a} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    if w.ndim == 2 and x.ndim > 2:
        # one (rows x in) @ (in x out) product: its weight gradient is then one GEMM too, not a stack of
        # per-batch products summed afterwards
        lead = input.shape[:-1]
        return linear(input.reshape(-1, input.shape[-1]), weight, bias).reshape(*lead, weight.shape[0])
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


def bilinear(input1, input2, weight, bias=None):
    # y_k = x1^T W_k x2 + b_k, as (x1 W_k) . x2 for every k at once
    tmp = (input1.unsqueeze(-2).unsqueeze(-3) @ weight).squeeze(-2)  # (..., out, in2)
    out = (tmp * input2.unsqueeze(-2)).sum(-1)
    if bias is not None:
        out = out + bias
    return out
