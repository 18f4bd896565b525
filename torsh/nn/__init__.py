"""torch.nn for torsh: Module system, layers, functional API, losses and init."""
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from .modules import *  # noqa: F401,F403
from .modules.module import Module
from . import functional, grad, init, modules, parameter, utils  # noqa: F401
from .parallel import DataParallel  # noqa: E402,F401  (torch.nn.parallel: DataParallel, DistributedDataParallel)


def factory_kwargs(kwargs):
    """``kwargs`` canonicalised for factory functions (device, dtype, memory_format, and an explicit
    ``factory_kwargs`` dict), refusing any other key, as torch.nn.factory_kwargs."""
    if kwargs is None:
        return {}
    simple_keys = {"device", "dtype", "memory_format"}
    expected_keys = simple_keys | {"factory_kwargs"}
    if not kwargs.keys() <= expected_keys:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected_keys}")
    result = dict(kwargs.get("factory_kwargs", {}))
    for key in simple_keys:
        if key in kwargs:
            if key in result:
                raise TypeError(f"{key} specified twice, in **kwargs and in factory_kwargs")
            result[key] = kwargs[key]
    return result
