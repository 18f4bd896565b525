"""convert_conv2d/3d_weight_memory_format. torsh's arrays have one layout, so the conversion re-sets each
convolution's weight data to a copy in it (the same values, the same Parameter object), as PyTorch's does."""
from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, kinds, memory_format):
    if isinstance(module, kinds):
        module.weight.data = module.weight.detach().clone()
    for child in module.children():
        _convert(child, kinds, memory_format)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Every nn.Conv2d / nn.ConvTranspose2d weight in ``module`` (recursively) in ``memory_format``."""
    return _convert(module, (Conv2d, ConvTranspose2d), memory_format)


def convert_conv3d_weight_memory_format(module, memory_format):
    """Every nn.Conv3d / nn.ConvTranspose3d weight in ``module`` (recursively) in ``memory_format``."""
    return _convert(module, (Conv3d, ConvTranspose3d), memory_format)
