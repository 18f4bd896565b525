"""ASGD: averaged SGD (the running average of the iterates is kept in state['ax'])."""
import numpy as np

from . import _fused
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, grad_expr

__all__ = ["ASGD"]


class ASGD(_GroupwiseOptimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_nonnegative(lr=lr, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        lr, lambd, alpha, t0, wd = group["lr"], group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
        g_expr = grad_expr(group["maximize"], wd)
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, ("ax",), scalars={"eta": lr, "mu": 1.0})
            step = self._advance_step(state)
            param, grad = _fused.param_and_grad(p)
            ax = _fused.state_array(state["ax"])
            eta = float(_fused.array(state["eta"]))  # read back from its float32 tensor, as PyTorch does
            # p = p * (1 - lambd * eta) - eta * grad   (grad uses p before the decay)
            grad_now = np.array(_fused.evaluate(g_expr, param, p=param, g=grad, wd=wd)) if wd != 0 else grad
            _fused.update("p * decay + neta * gr", param, p=param, gr=grad_now, decay=1 - lambd * eta, neta=-eta)
            mu_t = _fused.array(state["mu"])
            if float(mu_t) != 1:
                # ax += (p - ax) * mu
                _fused.update("ax + (p - ax) * mu", ax, ax=ax, p=param, mu=float(mu_t))
            else:
                np.copyto(ax, param)
            _fused.array(state["eta"])[...] = lr / ((1 + lambd * lr * step) ** alpha)
            _fused.array(state["mu"])[...] = 1 / max(1, step - t0)
            _fused.bump(p, state["ax"])
