"""Adam (with amsgrad), and AdamW = Adam with decoupled weight decay."""
from . import _fused
from .._array_api import array, grad_array
from .optimizer import _GroupwiseOptimizer, _check_nonnegative, check_fused_flags, decoupled_grad_expr

__all__ = ["Adam", "AdamW"]


def _check_beta_range(betas):
    for index in (0, 1):
        if not 0.0 <= betas[index] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {betas[index]}")


def _check_betas(lr, eps, betas, weight_decay):
    _check_nonnegative(lr=lr, eps=eps)
    _check_beta_range(betas)
    _check_nonnegative(weight_decay=weight_decay)


class Adam(_GroupwiseOptimizer):
    _group_defaults = {"amsgrad": False, "maximize": False, "decoupled_weight_decay": False}

    def _sparse_grad_error(self):  # AdamW's too, as PyTorch words it
        return "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_betas(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        check_fused_flags(fused, foreach, differentiable)

    def _update_group(self, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd, amsgrad = group["lr"], group["eps"], group["weight_decay"], group["amsgrad"]
        decoupled, g_expr = decoupled_grad_expr(group)
        buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        direct_of = {}  # dtype -> _fused.direct's (kernel entry, low, high), or None
        decay = 1 - lr * wd if wd != 0 and decoupled else 1
        args_key = None  # (step, dtype) the scalars below were computed for: the group's parameters share them
        for p in self._params_with_grad(group):
            state = self._lazy_state(p, buffers)
            step = self._advance_step(state)
            m_t, v_t = state["exp_avg"], state["exp_avg_sq"]
            param, grad, exp_avg, exp_avg_sq = array(p), grad_array(p), array(m_t), array(v_t)
            vmax = array(state["max_exp_avg_sq"]) if amsgrad else exp_avg_sq
            dtype = param.dtype if param.dtype.kind != "c" else param.real.dtype  # complex: as real views
            if args_key is None or step != args_key[0] or dtype != args_key[1]:
                args_key = (step, dtype)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                kernel_args = (*_fused.scalars(dtype, decay, -1 if group["maximize"] else 1,
                                               0 if decoupled else wd, 1 - beta1, beta1),
                               1 - beta1 < 0.5,
                               *_fused.scalars(dtype, beta2, 1 - beta2, bias_correction2 ** 0.5, eps, -step_size),
                               bool(amsgrad))
            direct = direct_of.get(dtype, _UNSET)
            if direct is _UNSET:
                direct = direct_of[dtype] = _fused.direct("adam_step", dtype)
            if (direct is not None and direct[1] <= param.size < direct[2]
                    and dtype == param.dtype == grad.dtype == exp_avg.dtype == exp_avg_sq.dtype == vmax.dtype
                    and param.flags.c_contiguous and grad.flags.c_contiguous and exp_avg.flags.c_contiguous
                    and exp_avg_sq.flags.c_contiguous and vmax.flags.c_contiguous):
                # the common case: the dispatcher's one-thread kernel call, made here as _fused.step would make it
                direct[0](param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                          vmax.reshape(-1), *kernel_args)
            else:
                _update_param(p, state, amsgrad, kernel_args, g_expr, decay, wd, beta1, beta2, bias_correction2,
                              step_size, eps)
            p._version_counter[0] += 1
            m_t._version_counter[0] += 1
            v_t._version_counter[0] += 1


_UNSET = object()


def _update_param(p, state, amsgrad, kernel_args, g_expr, decay, wd, beta1, beta2, bias_correction2, step_size, eps):
    """One parameter's update under the dispatcher's choice (recorded when someone listens)."""
    param, grad = _fused.param_and_grad(p)
    exp_avg, exp_avg_sq = _fused.state_array(state["exp_avg"]), _fused.state_array(state["exp_avg_sq"])
    vmax = _fused.state_array(state["max_exp_avg_sq"]) if amsgrad else exp_avg_sq
    _fused.step("adam_step", (param, grad, exp_avg, exp_avg_sq, vmax), kernel_args,
                lambda: _numexpr_update(param, grad, exp_avg, exp_avg_sq, vmax, g_expr, decay, wd,
                                        beta1, beta2, bias_correction2, step_size, eps, amsgrad))


def _numexpr_update(param, grad, exp_avg, exp_avg_sq, vmax, g_expr, decay, wd, beta1, beta2, bias_correction2,
                    step_size, eps, amsgrad):
    """The Adam update as numexpr passes (the reference variant of the ``adam_step`` kernel)."""
    if decay != 1:
        # p *= 1 - lr * wd
        _fused.update("p * decay", param, p=param, decay=decay)
    # exp_avg = lerp(exp_avg, grad, 1 - beta1)
    _fused.update(_fused.lerp_expr("m", g_expr, 1 - beta1), exp_avg, m=exp_avg, g=grad, p=param, wd=wd,
                  w=1 - beta1, w1=beta1)
    # exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    _fused.update(f"v * b2 + c2 * {g_expr} * {g_expr}", exp_avg_sq, v=exp_avg_sq, g=grad, p=param, wd=wd,
                  b2=beta2, c2=1 - beta2)
    if amsgrad:
        _fused.update("where(vmax > v, vmax, v)", vmax, vmax=vmax, v=exp_avg_sq)
    # p -= step_size * exp_avg / (sqrt(v) / sqrt(bias_correction2) + eps)
    _fused.update("p + nss * m / (sqrt(v) / bc2 + eps)", param, p=param, m=exp_avg, v=vmax if amsgrad else exp_avg_sq,
                  bc2=bias_correction2 ** 0.5, eps=eps, nss=-step_size)


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
