"""torch.utils for torsh: ``data`` (datasets, samplers, DataLoader) and ``safetensors`` files."""
from . import data  # noqa: F401
