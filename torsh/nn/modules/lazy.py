"""LazyModuleMixin: modules whose parameter shapes are inferred from the first input."""
from ..parameter import is_lazy


class LazyModuleMixin:
    """Mix in before the concrete module class; subclasses define ``initialize_parameters(*inputs)``
    and ``cls_to_become``. After the first forward the module becomes ``cls_to_become``."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy_hook = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self):
        for param in list(self._parameters.values()) + list(self._buffers.values()):
            if is_lazy(param):
                return True
        return False

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for {self.__class__.__name__}")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if (keep_vars or is_lazy(param)) else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if (keep_vars or is_lazy(buf)) else buf.detach()


def _infer_parameters(module, args, kwargs=None):
    module.initialize_parameters(*args)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._lazy_hook.remove()
    del module._lazy_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become
