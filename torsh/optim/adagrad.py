"""Adagrad: per-element learning rates from the running sum of squared gradients."""
from . import _fused
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, check_fused_flags, grad_expr

__all__ = ["Adagrad"]


class Adagrad(_GroupwiseOptimizer):
    _takes_sparse_grads = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        check_fused_flags(fused, foreach, differentiable)
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                state = self.state[p]
                state["step"] = self._scalar_step_tensor()
                state["sum"] = _fused.new_state_like(p, group["initial_accumulator_value"])

    def _update_group(self, group):
        lr, lr_decay, eps, wd = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        g_expr = grad_expr(group["maximize"], wd)
        if wd != 0 and any(getattr(p._grad, "is_sparse", False) for p in group["params"]):
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        for p in self._params_with_grad(group):
            state = self.state[p]
            step = self._advance_step(state)
            clr = lr / (1 + (step - 1) * lr_decay)
            param, grad = _fused.param_and_grad(p)
            acc = _fused.state_array(state["sum"])
            # sum += grad * grad
            _fused.update(f"s + {g_expr} * {g_expr}", acc, s=acc, g=grad, p=param, wd=wd)
            # p -= clr * grad / (sqrt(sum) + eps)
            _fused.update(f"p + nclr * {g_expr} / (sqrt(s) + eps)", param, p=param, g=grad, s=acc, wd=wd,
                          nclr=-clr, eps=eps)
            _fused.bump(p, state["sum"])
