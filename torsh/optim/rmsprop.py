"""RMSprop, optionally centered and with momentum."""
from . import _fused
from .optimizer import Optimizer, grad_expr

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import grad_mode
            with grad_mode.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
            momentum, centered = group["momentum"], group["centered"]
            g_expr = grad_expr(group["maximize"], wd)
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = self._scalar_step_tensor()
                    state["square_avg"] = _fused.new_state_like(p, 0)
                    if momentum > 0:
                        state["momentum_buffer"] = _fused.new_state_like(p, 0)
                    if centered:
                        state["grad_avg"] = _fused.new_state_like(p, 0)
                state["step"]._data += 1
                param, grad = _fused.real_view(p._data), _fused.real_view(p._grad._data)
                sq = _fused.real_view(state["square_avg"]._data)
                ops = dict(p=param, g=grad, wd=wd)
                # square_avg = alpha * square_avg + (1 - alpha) * grad * grad
                _fused.update(f"sq * a + ca * {g_expr} * {g_expr}", sq, sq=sq, a=alpha, ca=1 - alpha, **ops)
                if centered:
                    ga = _fused.real_view(state["grad_avg"]._data)
                    # grad_avg = lerp(grad_avg, grad, 1 - alpha); avg = sqrt(square_avg - grad_avg^2) + eps
                    _fused.update(_fused.lerp_expr("ga", g_expr, 1 - alpha), ga, ga=ga, w=1 - alpha, w1=alpha, **ops)
                    avg_expr = "(sqrt(sq + mone * ga * ga) + eps)"
                    ops.update(ga=ga, mone=-1.0)
                else:
                    avg_expr = "(sqrt(sq) + eps)"
                ops.update(sq=sq, eps=eps)
                if momentum > 0:
                    buf = _fused.real_view(state["momentum_buffer"]._data)
                    # buf = momentum * buf + grad / avg; p -= lr * buf
                    _fused.update(f"buf * mom + {g_expr} / {avg_expr}", buf, buf=buf, mom=momentum, **ops)
                    _fused.update("p + nlr * buf", param, p=param, buf=buf, nlr=-lr)
                    _fused.bump(state["momentum_buffer"])
                else:
                    # p -= lr * grad / avg
                    _fused.update(f"p + nlr * {g_expr} / {avg_expr}", param, nlr=-lr, **ops)
                _fused.bump(p, state["square_avg"])
        return loss
