"""torch.cuda.sparse: the legacy sparse CUDA tensor types (none can be built on a CPU build)."""
from . import _cuda_tensor_types

globals().update(_cuda_tensor_types(sparse=True))
