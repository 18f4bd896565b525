"""torch.nn for torsh: Module system, layers, functional API, losses and init."""
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from .modules import *  # noqa: F401,F403
from .modules.module import Module
from . import functional, init, modules, parameter, utils  # noqa: F401
from .parallel import DataParallel  # noqa: E402,F401  (torch.nn.parallel: DataParallel, DistributedDataParallel)
