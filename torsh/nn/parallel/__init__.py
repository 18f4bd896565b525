"""torch.nn.parallel on a CPU-only framework: DataParallel runs the module as PyTorch does when no GPU is
present (it just calls it); DistributedDataParallel (``distributed.py``) averages gradients over a
torsh.distributed process group."""
from ..modules.module import Module
from .distributed import DistributedDataParallel


class DataParallel(Module):
    """Wraps ``module`` (as ``.module``, so state-dict keys gain the ``module.`` prefix) and calls it."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The functional DataParallel needs an accelerator; PyTorch raises the same without one."""
    raise RuntimeError("device type could not be determined")


__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
