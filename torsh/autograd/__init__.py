"""Reverse-mode automatic differentiation (torch.autograd)."""
from . import graph
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "enable_grad", "inference_mode",
           "is_grad_enabled", "no_grad", "set_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "graph"]
