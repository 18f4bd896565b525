"""torch.nn.functional: thin wrappers over the ops in torsh._ops.nn_* and composites of torsh ops."""
from .. import _ops  # noqa: F401
from .._tensor import Tensor


def linear(input, weight, bias=None):
    if input.shape[-1:] != weight.shape[-1:] and weight.ndim == 2:
        rows = input.numel() // input.shape[-1] if input.ndim and input.shape[-1] else 0
        shape_a = f"{rows}x{input.shape[-1] if input.ndim else 1}" if input.ndim != 1 else f"1x{input.shape[0]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({shape_a} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    out = input.matmul(weight.t()) if weight.ndim == 2 else input.matmul(weight)
    if bias is not None:
        out = out + bias
    return out


def bilinear(input1, input2, weight, bias=None):
    # y_k = x1^T W_k x2 + b_k
    out = (input1.unsqueeze(-2).unsqueeze(-2) @ weight @ input2.unsqueeze(-2).unsqueeze(-1)).squeeze(-1).squeeze(-1)
    if bias is not None:
        out = out + bias
    return out
