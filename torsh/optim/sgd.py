"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from . import _fused
from .._array_api import array, grad_array
from .optimizer import _GroupwiseOptimizer, check_fused_flags, grad_expr

__all__ = ["SGD"]


class SGD(_GroupwiseOptimizer):
    _group_defaults = {"nesterov": False, "maximize": False}
    _takes_sparse_grads = True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        check_fused_flags(fused, foreach, differentiable)

    def _update_group(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov = group["weight_decay"], group["nesterov"]
        g_expr = grad_expr(group["maximize"], wd)
        sign = -1 if group["maximize"] else 1
        args_of = {}  # (dtype, first step) -> the kernel's scalar arguments: typed once per group, not per parameter
        direct_of = {}  # dtype -> the kernel entry called directly (_fused.direct), or None
        state_of = self.state
        if wd != 0 and any(getattr(p._grad, "is_sparse", False) for p in group["params"]):  # PyTorch's d_p.add(p)
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        for p in self._params_with_grad(group):
            param, grad = array(p), grad_array(p)
            dtype = param.dtype if param.dtype.kind != "c" else param.real.dtype  # complex: as real views
            if momentum == 0:
                buf_t, first = None, False
            else:
                state = state_of[p]
                buf_t = state.get("momentum_buffer")
                first = buf_t is None
                if first:  # zeros: the kernel's first step is buf = 0 * buf + 1 * d
                    buf_t = state["momentum_buffer"] = _fused.new_state_like(p, 0)
            kernel_args = args_of.get((dtype, first))
            if kernel_args is None:
                buf_coefficients = (0, 1) if first else (momentum, 1 - dampening)
                kernel_args = args_of[dtype, first] = (
                    *_fused.scalars(dtype, lr, sign, wd, momentum, *buf_coefficients), momentum != 0, nesterov)
            direct = direct_of.get(dtype, _UNSET)
            if direct is _UNSET:
                direct = direct_of[dtype] = _fused.direct("sgd_step", dtype)
            buf = param if buf_t is None else array(buf_t)  # the kernel ignores it without momentum
            if (direct is not None and direct[1] <= param.size < direct[2] and dtype == param.dtype == grad.dtype == buf.dtype
                    and param.flags.c_contiguous and grad.flags.c_contiguous and buf.flags.c_contiguous):
                # the common case: the dispatcher's one-thread kernel call, made here as _fused.step would make it
                direct[0](param.reshape(-1), grad.reshape(-1), buf.reshape(-1), *kernel_args)
            else:
                self._update_param(p, buf_t, first, kernel_args, g_expr, lr, momentum, dampening, wd, nesterov)
            p._version_counter[0] += 1
            if buf_t is not None:
                buf_t._version_counter[0] += 1

    @staticmethod
    def _update_param(p, buf_t, first, kernel_args, g_expr, lr, momentum, dampening, wd, nesterov):
        """One parameter's update under the dispatcher's choice (recorded when someone listens)."""
        param, grad = _fused.param_and_grad(p)
        buf = param if buf_t is None else _fused.state_array(buf_t)  # the kernel ignores it then
        _fused.step("sgd_step", (param, grad, buf), kernel_args,
                    lambda: _numexpr_update(param, grad, buf, first, g_expr, lr, momentum, dampening, wd, nesterov))


_UNSET = object()


def _numexpr_update(param, grad, buf, first, g_expr, lr, momentum, dampening, wd, nesterov):
    """The SGD update as numexpr passes (the reference variant of the ``sgd_step`` kernel)."""
    if momentum == 0:
        # p -= lr * d_p,  d_p = grad (+ wd * p)
        _fused.update(f"p - lr * {g_expr}", param, p=param, g=grad, wd=wd, lr=lr)
        return
    if first:
        # first step: buf = d_p (a copy)
        _fused.update(g_expr, buf, p=param, g=grad, wd=wd)
    else:
        # buf = momentum * buf + (1 - dampening) * d_p
        _fused.update(f"buf * mom + {g_expr} * damp", buf, buf=buf, p=param, g=grad, wd=wd, mom=momentum,
                      damp=1 - dampening)
    if nesterov:
        # p -= lr * (d_p + momentum * buf)
        _fused.update(f"p - lr * ({g_expr} + buf * mom)", param, p=param, g=grad, buf=buf, wd=wd, mom=momentum, lr=lr)
    else:
        # p -= lr * buf
        _fused.update("p - lr * buf", param, p=param, buf=buf, lr=lr)
