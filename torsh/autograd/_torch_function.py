"""The ``__torch_function__`` protocol helpers torch.autograd re-exports from torch.overrides."""
from .. import _tensor


def _overrides(value):
    """The ``__torch_function__`` of ``value``'s type when it overrides the plain Tensor's, else None."""
    if type(value) is _tensor.Tensor:
        return None
    override = getattr(type(value), "__torch_function__", None)
    if override is None or override is getattr(_tensor.Tensor, "__torch_function__", None):
        return None
    return override


def has_torch_function(relevant_args):
    """True when any of ``relevant_args`` has a type overriding ``__torch_function__``."""
    return any(_overrides(a) is not None for a in relevant_args)


def is_tensor_like(inp):
    """True for tensors and for objects whose type defines ``__torch_function__``."""
    return type(inp) is _tensor.Tensor or hasattr(inp, "__torch_function__")


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call the ``__torch_function__`` overrides of ``relevant_args`` (subclasses first) until one does not
    return NotImplemented, as torch.overrides.handle_torch_function."""
    overloaded = []
    for arg in relevant_args:
        if _overrides(arg) is None or type(arg) in [type(o) for o in overloaded]:
            continue
        index = next((i for i, o in enumerate(overloaded) if issubclass(type(arg), type(o))), len(overloaded))
        overloaded.insert(index, arg)
    types = tuple(type(a) for a in overloaded)
    for arg in overloaded:
        result = type(arg).__torch_function__(public_api, types, args, kwargs)
        if result is not NotImplemented:
            return result
    func_name = f"{public_api.__module__}.{public_api.__name__}"
    raise TypeError(f"no implementation found for '{func_name}' on types that implement __torch_function__: "
                    f"{[type(arg) for arg in overloaded]}")
