"""torch.backends.openmp: torsh's C++ kernels are built with OpenMP."""
__all__ = ["is_available"]


def is_available():
    return True
