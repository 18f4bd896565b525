"""torch.utils.hooks: the handle every ``register_*_hook`` returns, and the helpers libraries import."""
import warnings

from ..nn.modules.module import RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks"]


def unserializable_hook(f):
    """Marks a hook that must not be serialized with its tensor (PyTorch's ``__torch_unserializable__``)."""
    f.__torch_unserializable__ = True
    return f


def warn_if_has_hooks(tensor):
    """PyTorch's warning when a tensor with backward hooks is serialized: the hooks are not saved."""
    hooks = getattr(tensor, "_backward_hooks", None)
    if hooks:
        for k in hooks:
            hook = hooks[k]
            if not hasattr(hook, "__torch_unserializable__"):
                warnings.warn(f"backward hook {repr(hook)} on tensor will not be serialized.  If this is expected, "
                              "you can decorate the function with @torch.utils.hooks.unserializable_hook to "
                              "suppress this warning", stacklevel=2)


