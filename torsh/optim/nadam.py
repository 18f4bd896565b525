"""NAdam: Adam with Nesterov momentum (momentum_decay schedule, optional decoupled weight decay)."""
from . import _fused
from .adam import _check_betas
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, decoupled_grad_expr

__all__ = ["NAdam"]


class NAdam(_GroupwiseOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_betas(lr, eps, betas, weight_decay)
        _check_nonnegative(momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd, psi = group["lr"], group["eps"], group["weight_decay"], group["momentum_decay"]
        decoupled, g_expr = decoupled_grad_expr(group)
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, ("exp_avg", "exp_avg_sq"), scalars={"mu_product": 1.0})
            step = self._advance_step(state)
            bias_correction2 = 1 - beta2 ** step
            param, grad = _fused.param_and_grad(p)
            m, v = _fused.state_array(state["exp_avg"]), _fused.state_array(state["exp_avg_sq"])
            if wd != 0 and decoupled:
                _fused.update("p * decay", param, p=param, decay=1 - lr * wd)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
            mu_product_t = state["mu_product"]
            mu_product_array = _fused.array(mu_product_t)
            mu_product_array *= mu_product_array.dtype.type(mu)  # a float32 0-d tensor, as PyTorch's
            mu_product = float(mu_product_array)
            ops = dict(p=param, g=grad, wd=wd)
            _fused.update(_fused.lerp_expr("m", g_expr, 1 - beta1), m, m=m, w=1 - beta1, w1=beta1, **ops)
            _fused.update(f"v * b2 + c2 * {g_expr} * {g_expr}", v, v=v, b2=beta2, c2=1 - beta2, **ops)
            # denom = sqrt(v / bias_correction2) + eps
            # p += c_g * grad / denom, then p += c_m * exp_avg / denom (two addcdiv_ in PyTorch)
            c_g = -lr * (1.0 - mu) / (1.0 - mu_product)
            c_m = (-lr * mu_next) / (1.0 - mu_product * mu_next)
            denom = "(sqrt(v / bc2) + eps)"
            _fused.update(f"(p + cg * {g_expr} / {denom}) + cm * m / {denom}", param, v=v, m=m, bc2=bias_correction2,
                          eps=eps, cg=c_g, cm=c_m, **ops)
            _fused.bump(p, state["exp_avg"], state["exp_avg_sq"])
