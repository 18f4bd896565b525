"""Muon (torch.optim.Muon, PyTorch 2.13): momentum SGD whose update is orthogonalised by a quintic
Newton-Schulz iteration run in bfloat16, for 2-D parameters only."""
import math

from .._ops.tensor.linalg.products import addmm
from .._tensor import Tensor
from .optimizer import _GroupwiseOptimizer

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """An approximately orthogonal matrix with grad's singular vectors (U S' V^T, S' near 1)."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = grad.size(0) > grad.size(1)
    ortho = grad.bfloat16()
    if tall:  # iterate on the wide orientation: the Gram matrix is the smaller one
        ortho = ortho.T
    # the norm summed in float32 and rounded once, as PyTorch reduces bfloat16 (torsh.norm sums in bfloat16)
    ortho.div_(ortho.float().norm().clamp(min=eps).bfloat16())
    for _ in range(ns_steps):
        gram = ortho @ ortho.T
        gram_update = _bf16_addmm(gram, gram, gram, beta=b, alpha=c)
        ortho = _bf16_addmm(ortho, gram_update, ortho, beta=a)
    return ortho.T if tall else ortho


def _bf16_addmm(input, mat1, mat2, beta, alpha=1.0):
    """beta * input + alpha * mat1 @ mat2 of bfloat16 matrices, computed in float32 and rounded once, as
    PyTorch's bfloat16 GEMM does (torsh.addmm rounds the product and each scaling to bfloat16)."""
    return addmm(input.float(), mat1.float(), mat2.float(), beta=beta, alpha=alpha).bfloat16()


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """The learning rate scaled so that rectangular matrices get updates of comparable RMS."""
    rows, cols = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _update_group(self, group):
        for p in self._params_with_grad(group):
            if p.is_complex():
                raise RuntimeError("Muon does not support complex parameters")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = p.grad.new_zeros(p.grad.shape)
            _update(p, state["momentum_buffer"], group)


def _update(param, buf, group):
    grad, momentum, lr = param.grad, group["momentum"], float(group["lr"])
    if grad.ndim != 2:
        raise ValueError("Param gradient must be a 2D matrix")
    buf.lerp_(grad, 1 - momentum)
    update = grad.lerp(buf, momentum) if group["nesterov"] else buf
    update = _zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
    param.mul_(1 - lr * group["weight_decay"])
    # widened first: PyTorch scales the bfloat16 update by alpha in the parameter's dtype (torsh would in bfloat16)
    param.add_(update.to(param.dtype), alpha=-_adjust_lr(lr, group["adjust_lr_fn"], param.shape))
