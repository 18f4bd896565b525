"""Reverse-mode automatic differentiation (torch.autograd)."""
from . import forward_ad, functional, graph
from .anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled,
                           set_detect_anomaly)
from .engine import backward, grad
from ._torch_function import handle_torch_function, has_torch_function, is_tensor_like
from .function import Function, FunctionCtx, NestedIOFunction, once_differentiable
from .grad_mode import (enable_grad, enforce_grad_layout_policy, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, is_multithreading_enabled, is_view_replay_enabled, no_grad,
                        set_grad_enabled, set_multithreading_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .variable import Variable, variable


def kineto_available():
    """True: torsh's profiler (torsh.profiler) records CPU activity as PyTorch's Kineto-backed one does."""
    return True


__all__ = ["backward", "grad", "forward_ad", "Function", "FunctionCtx", "once_differentiable", "enable_grad", "inference_mode",
           "is_grad_enabled", "no_grad", "set_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "graph", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "Variable", "variable", "NestedIOFunction", "kineto_available",
           "set_multithreading_enabled", "is_multithreading_enabled", "is_view_replay_enabled",
           "enforce_grad_layout_policy", "handle_torch_function", "has_torch_function", "is_tensor_like"]
