"""Rprop: per-element step sizes grown or shrunk by the sign agreement of successive gradients."""

from . import _fused
from .optimizer import _GroupwiseOptimizer, _check_nonnegative

__all__ = ["Rprop"]


class Rprop(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_nonnegative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        g_expr = "(-g)" if group["maximize"] else "g"
        lr = group["lr"]
        for p in self._params_with_grad(group):
            # complex entries are two independent reals: both parts of a step size start at lr
            state = self._lazy_state(p, ("prev", "step_size"),
                                     fill={"step_size": complex(lr, lr) if p.is_complex() else lr})
            self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            prev, size = _fused.state_array(state["prev"]), _fused.state_array(state["step_size"])
            # factor = etaplus where grad*prev > 0, etaminus where < 0, 1 where == 0
            # step_size = clamp(step_size * factor, min, max)
            sign = f"({g_expr} * prev)"
            factor = f"where({sign} > zero, ep, where({sign} < zero, em, one))"
            _fused.update(f"where(s * {factor} < lo, lo, where(s * {factor} > hi, hi, s * {factor}))", size, s=size,
                          g=grad, prev=prev, ep=etaplus, em=etaminus, one=1.0, zero=0.0, lo=step_size_min,
                          hi=step_size_max)
            # where the sign flipped the gradient counts as 0: no move now, no sign memory next step
            # p -= sign(grad) * step_size ;  prev = grad
            _fused.update(f"where({sign} < zero, zero, {g_expr})", prev, g=grad, prev=prev, zero=0.0)
            _fused.update("p - where(prev > zero, one, where(prev < zero, mone, zero)) * s", param, p=param,
                          prev=prev, s=size, one=1.0, mone=-1.0, zero=0.0)
            _fused.bump(p, state["prev"], state["step_size"])


