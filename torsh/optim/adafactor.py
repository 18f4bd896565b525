"""Adafactor (torch.optim.Adafactor, PyTorch 2.13's single-tensor algorithm).

Matrices (and stacks of them) keep a factored second moment: one row and one column mean of the
squared gradient over the last two dims; vectors keep a full one. Written in torsh ops, in the order
PyTorch's CPU implementation rounds in, so float32 runs match it step by step.
"""
from .._type_info import finfo
from .._ops.tensor.creation import zeros
from .optimizer import _GroupwiseOptimizer

__all__ = ["Adafactor"]


def _check_args(lr, beta2_decay, eps, d, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")


class Adafactor(_GroupwiseOptimizer):
    _group_defaults = {"foreach": None}

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _check_args(lr, beta2_decay, eps, d, weight_decay)
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._scalar_step_tensor()
            grad = p.grad
            if grad.dim() > 1:
                state["row_var"] = grad.new_zeros(list(grad.shape[:-1]) + [1])
                state["col_var"] = grad.new_zeros(list(grad.shape[:-2]) + [1, grad.shape[-1]])
            else:
                state["variance"] = zeros(grad.shape, dtype=grad.dtype)
        return state

    def _update_group(self, group):
        eps1, eps2 = group["eps"]
        for p in self._params_with_grad(group):
            if p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
            # PyTorch fills a missing eps1 from the first parameter's dtype and keeps it for the group
            if eps1 is None:
                eps1 = finfo(p.dtype).eps
            _update(p, self._init_state(p), group, eps1, eps2)


def _update(param, state, group, eps1, eps2):
    lr, d, weight_decay = float(group["lr"]), group["d"], group["weight_decay"]
    grad = -param.grad if group["maximize"] else param.grad
    state["step"] += 1
    step = state["step"].item()
    one_minus_beta2 = step ** group["beta2_decay"]
    rho = min(lr, 1 / (step ** 0.5))
    alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho
    if weight_decay != 0:
        param.mul_(1 - lr * weight_decay)
    if grad.dim() > 1:
        var_estimate = _factored_variance(grad, state["row_var"], state["col_var"], one_minus_beta2, eps1)
    else:
        state["variance"].lerp_(grad * grad, one_minus_beta2)
        var_estimate = state["variance"].clone()
    # eps1 squared: the update takes the square root
    update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
    update.mul_(grad)
    denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    param.add_(update, alpha=-alpha / denom)


def _factored_variance(grad, row_var, col_var, one_minus_beta2, eps1):
    """Update the row/column means of grad**2 and return their outer-product estimate of it."""
    row_mean = grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1))
    row_var.lerp_(row_mean, one_minus_beta2)
    col_mean = grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2))
    col_var.lerp_(col_mean, one_minus_beta2)
    var_estimate = row_var @ col_var
    return var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
