"""What this build of torsh can run on (``torch.backends`` namesake)."""
from ..backend import kernels as _kernels


def kernels_available():
    """{kernel family: True when its compiled Pythran module imported}."""
    return _kernels.available()


def kernel_load_errors():
    """{kernel family: why it is missing} for the families that did not load."""
    return _kernels.load_errors()
