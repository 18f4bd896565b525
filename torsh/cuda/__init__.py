"""torch.cuda's answers on a CPU-only framework, so device-selection code runs unchanged:
``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks "cpu".

As in PyTorch without a GPU, seeding is accepted and ignored (it is lazy there too); anything that
needs a device raises.
"""

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all", "current_device"]


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Accepted and ignored: there is no CUDA generator to seed (PyTorch defers it the same way)."""


def manual_seed_all(seed):
    """Accepted and ignored, as ``manual_seed``."""


def current_device():
    raise RuntimeError("Found no NVIDIA driver on your system. torsh runs on the CPU only "
                       "(torsh.cuda.is_available() is False).")


class _CudaTensorType(type):
    """torch.cuda.FloatTensor & co: no tensor is one, and building one raises as CPU-only PyTorch does."""

    def __instancecheck__(cls, obj):
        return False

    def __call__(cls, *args, **kwargs):
        raise TypeError(f"type torch.cuda.{cls.__name__} not available. Torch not compiled with CUDA enabled.")


def _cuda_tensor_types():
    from .._tensor import LEGACY_TENSOR_TYPES
    return {name: _CudaTensorType(name, (), {"dtype": legacy.dtype, "is_cuda": True})
            for name, legacy in LEGACY_TENSOR_TYPES.items()}


globals().update(_cuda_tensor_types())  # torch.cuda.FloatTensor, LongTensor, ... (as torsh.FloatTensor's list)
from . import amp  # noqa: E402,F401  (GradScaler / autocast: harmless no-ops)
