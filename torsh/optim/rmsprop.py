"""RMSprop, optionally centered and with momentum."""
from . import _fused
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, grad_expr

__all__ = ["RMSprop"]


class RMSprop(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        momentum, centered = group["momentum"], group["centered"]
        g_expr = grad_expr(group["maximize"], wd)
        buffers = ["square_avg"]
        if momentum > 0:
            buffers.append("momentum_buffer")
        if centered:
            buffers.append("grad_avg")
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, buffers)
            self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            sq = _fused.state_array(state["square_avg"])
            ops = dict(p=param, g=grad, wd=wd)
            # square_avg = alpha * square_avg + (1 - alpha) * grad * grad
            _fused.update(f"sq * a + ca * {g_expr} * {g_expr}", sq, sq=sq, a=alpha, ca=1 - alpha, **ops)
            if centered:
                ga = _fused.state_array(state["grad_avg"])
                # grad_avg = lerp(grad_avg, grad, 1 - alpha); avg = sqrt(square_avg - grad_avg^2) + eps
                _fused.update(_fused.lerp_expr("ga", g_expr, 1 - alpha), ga, ga=ga, w=1 - alpha, w1=alpha, **ops)
                avg_expr = "(sqrt(sq + mone * ga * ga) + eps)"
                ops.update(ga=ga, mone=-1.0)
            else:
                avg_expr = "(sqrt(sq) + eps)"
            ops.update(sq=sq, eps=eps)
            if momentum > 0:
                buf = _fused.state_array(state["momentum_buffer"])
                # buf = momentum * buf + grad / avg; p -= lr * buf
                _fused.update(f"buf * mom + {g_expr} / {avg_expr}", buf, buf=buf, mom=momentum, **ops)
                _fused.update("p + nlr * buf", param, p=param, buf=buf, nlr=-lr)
                _fused.bump(state["momentum_buffer"])
            else:
                # p -= lr * grad / avg
                _fused.update(f"p + nlr * {g_expr} / {avg_expr}", param, nlr=-lr, **ops)
            _fused.bump(p, state["square_avg"])
