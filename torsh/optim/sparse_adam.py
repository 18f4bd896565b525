"""SparseAdam: Adam that updates only the entries a gradient touches (lazy moments).

torsh has no sparse tensors, so the "touched" entries of a dense gradient are its non-zero
elements; for gradients of an embedding lookup that is exactly the rows PyTorch's sparse gradient
holds (unless a looked-up row's gradient is exactly zero).
"""
import numpy as np

from . import _fused
from .adam import _check_beta_range
from .optimizer import _GroupwiseOptimizer

__all__ = ["SparseAdam"]


class SparseAdam(_GroupwiseOptimizer):
    _takes_sparse_grads = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_beta_range(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        if any(p._grad is not None and not p._grad.is_sparse for p in group["params"]):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        for p in self._params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["exp_avg"] = _fused.new_state_like(p, 0)
                state["exp_avg_sq"] = _fused.new_state_like(p, 0)
            state["step"] += 1
            step = state["step"]
            grad = -_fused.grad_array(p) if group["maximize"] else _fused.grad_array(p)
            touched = grad != 0
            g = grad[touched]
            m, v = _fused.array(state["exp_avg"]), _fused.array(state["exp_avg_sq"])
            old_m, old_v = m[touched], v[touched]
            # m += (g - m) * (1 - beta1); v += (g*g - v) * (1 - beta2), at touched entries only
            m_update = _fused.evaluate("(g - m) * c1", g, g=g, m=old_m, c1=1 - beta1)
            v_update = _fused.evaluate("(g * g - v) * c2", g, g=g, v=old_v, c2=1 - beta2)
            m[touched] = old_m + m_update
            v[touched] = old_v + v_update
            numer = m_update + old_m
            denom = np.sqrt(v_update + old_v) + np.asarray(eps, dtype=g.dtype)
            step_size = lr * (1 - beta2 ** step) ** 0.5 / (1 - beta1 ** step)
            _fused.array(p)[touched] += _fused.evaluate("nss * (numer / denom)", numer, nss=-step_size, numer=numer,
                                                 denom=denom)
            _fused.bump(p, state["exp_avg"], state["exp_avg_sq"])
