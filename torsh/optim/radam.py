"""RAdam: Adam with the variance of the adaptive learning rate rectified in early steps."""
from . import _fused
from .adam import _check_betas
from .optimizer import _GroupwiseOptimizer, decoupled_grad_expr

__all__ = ["RAdam"]


class RAdam(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        decoupled, g_expr = decoupled_grad_expr(group)
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, ("exp_avg", "exp_avg_sq"))
            step = self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            m, v = _fused.state_array(state["exp_avg"]), _fused.state_array(state["exp_avg_sq"])
            if wd != 0 and decoupled:
                _fused.update("p * decay", param, p=param, decay=1 - lr * wd)
            ops = dict(p=param, g=grad, wd=wd)
            _fused.update(_fused.lerp_expr("m", g_expr, 1 - beta1), m, m=m, w=1 - beta1, w1=beta1, **ops)
            _fused.update(f"v * b2 + c2 * {g_expr} * {g_expr}", v, v=v, b2=beta2, c2=1 - beta2, **ops)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                # p -= (exp_avg / bc1) * lr * (sqrt(bc2) / (sqrt(v) + eps)) * rect
                _fused.update("p - m / bc1 * lr * (sbc2 / (sqrt(v) + eps)) * rect", param, p=param, m=m, v=v,
                              bc1=bias_correction1, lr=lr, sbc2=bias_correction2 ** 0.5, eps=eps, rect=rect)
            else:
                # p -= (exp_avg / bc1) * lr
                _fused.update("p - m / bc1 * lr", param, p=param, m=m, bc1=bias_correction1, lr=lr)
            _fused.bump(p, state["exp_avg"], state["exp_avg_sq"])
