"""PyTorch's module path for batch norm (``nn.modules.batchnorm._BatchNorm``); the classes live in normalization.py."""
from .normalization import (_BatchNorm, _LazyNormBase, _NormBase, BatchNorm1d, BatchNorm2d, BatchNorm3d,  # noqa: F401
                            LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, SyncBatchNorm)
