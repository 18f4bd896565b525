"""torch.nn.parallel on a CPU-only framework: DataParallel runs the module as PyTorch does when no GPU is
present (it just calls it); DistributedDataParallel needs a process group, which torsh does not have yet."""
from ..modules.module import Module


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


class DistributedDataParallel(Module):
    """Importable so programs load; constructing one needs an initialised process group (none in torsh yet)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, **kwargs):
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")


__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
