"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from . import _fused
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, grad_expr

__all__ = ["Adadelta"]


class Adadelta(_GroupwiseOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        g_expr = grad_expr(group["maximize"], wd)
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, ("square_avg", "acc_delta"))
            self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            sq, acc = _fused.state_array(state["square_avg"]), _fused.state_array(state["acc_delta"])
            ops = dict(p=param, g=grad, wd=wd)
            # square_avg = rho * square_avg + (1 - rho) * grad^2
            _fused.update(f"sq * rho + crho * {g_expr} * {g_expr}", sq, sq=sq, rho=rho, crho=1 - rho, **ops)
            # delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad  (needed by two updates)
            delta = _fused.evaluate(f"sqrt(acc + eps) / sqrt(sq + eps) * {g_expr}", sq, acc=acc, sq=sq, eps=eps,
                                    **ops)
            # acc_delta = rho * acc_delta + (1 - rho) * delta^2;  p -= lr * delta
            _fused.update("acc * rho + crho * d * d", acc, acc=acc, d=delta, rho=rho, crho=1 - rho)
            _fused.update("p + nlr * d", param, p=param, d=delta, nlr=-lr)
            _fused.bump(p, state["square_avg"], state["acc_delta"])


