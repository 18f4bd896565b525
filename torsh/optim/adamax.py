"""Adamax: Adam with the infinity norm in place of the second moment."""
from . import _fused
from .adam import _check_betas
from .optimizer import _GroupwiseOptimizer, grad_expr

__all__ = ["Adamax"]


class Adamax(_GroupwiseOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        g_expr = grad_expr(group["maximize"], wd)
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, ("exp_avg", "exp_inf"))
            step = self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            m, u = _fused.state_array(state["exp_avg"]), _fused.state_array(state["exp_inf"])
            ops = dict(p=param, g=grad, wd=wd)
            # exp_avg = lerp(exp_avg, grad, 1 - beta1)
            _fused.update(_fused.lerp_expr("m", g_expr, 1 - beta1), m, m=m, w=1 - beta1, w1=beta1, **ops)
            # exp_inf = max(beta2 * exp_inf, |grad| + eps)
            _fused.update(f"where(u * b2 > abs({g_expr}) + eps, u * b2, abs({g_expr}) + eps)", u, u=u, b2=beta2,
                          eps=eps, **ops)
            # p -= lr / (1 - beta1^step) * exp_avg / exp_inf
            clr = lr / (1 - beta1 ** step)
            _fused.update("p + nclr * m / u", param, p=param, m=m, u=u, nclr=-clr)
            _fused.bump(p, state["exp_avg"], state["exp_inf"])
