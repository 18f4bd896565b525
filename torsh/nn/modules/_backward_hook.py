"""Module full backward hooks: identity nodes around a module's inputs and outputs.

The output node sees the gradients w.r.t. the module's outputs (and runs the backward
pre-hooks, which may replace them); the input node sees the gradients w.r.t. the inputs
and runs ``hook(module, grad_input, grad_output)``, which may replace ``grad_input``.
"""
from ..._tensor import Tensor
from ..._warnings import warn
from ...autograd import grad_mode
from ...autograd.graph import Node, record


class BackwardHookFunctionBackward(Node):
    def __init__(self, callback):
        super().__init__()
        self.callback = callback

    def backward(self, *grads):
        return self.callback(grads)

    def _on_release(self):
        self.callback = None


def _wrap_tensors(values, callback):
    """``values`` (a tuple) with its grad-requiring tensors replaced by aliases behind one hook node."""
    positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not positions or not grad_mode.is_grad_enabled():
        return values, positions
    inputs = [values[i] for i in positions]
    aliases = [t.detach() for t in inputs]
    node = BackwardHookFunctionBackward(callback)
    record(node, inputs, aliases)
    out = list(values)
    for i, a in zip(positions, aliases):
        out[i] = a
    return tuple(out), positions


class BackwardHook:
    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_hooked = False

    def _run_hooks(self, grad_inputs):
        for hook in self.user_hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_inputs):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(result)}, but expected {len(grad_inputs)}")
                grad_inputs = result
        return grad_inputs

    def _run_hooks_without_inputs(self):
        """No input needs a gradient: the hooks fire on the output gradients and see grad_input of Nones."""
        warn("Full backward hook is firing when gradients are computed with respect to module outputs since no "
             "inputs require gradients. See https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
             "#torch.nn.Module.register_full_backward_hook for more details.")
        grad_inputs = (None,) * self.n_inputs
        for hook in self.user_hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None and not (isinstance(result, tuple) and all(g is None for g in result)):
                raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                   "return None or None for all gradients.")
        self.grad_outputs = None

    def setup_input_hook(self, args):
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(tensor_positions)
        rank = {pos: k for k, pos in enumerate(tensor_positions)}

        def on_input_grads(grads):
            full = [None] * self.n_inputs
            for pos, g in zip(positions, grads):
                full[rank[pos]] = g
            full = self._run_hooks(tuple(full))
            self.grad_outputs = None
            return tuple(full[rank[pos]] for pos in positions)

        new_args, positions = _wrap_tensors(tuple(args), on_input_grads)
        self.input_hooked = bool(positions) and grad_mode.is_grad_enabled()
        return new_args

    def setup_output_hook(self, result):
        is_tuple = isinstance(result, tuple)
        values = result if is_tuple else (result,)

        def on_output_grads(grads):
            grads = tuple(grads)
            for hook in self.user_pre_hooks:
                new = hook(self.module, grads)
                if new is not None:
                    grads = tuple(new) if isinstance(new, (tuple, list)) else (new,)
            self.grad_outputs = grads
            if not self.input_hooked:
                self._run_hooks_without_inputs()
            return grads

        new_values, _ = _wrap_tensors(values, on_output_grads)
        return new_values if is_tuple else new_values[0]
