"""torch.backends.mkl: torsh links no MKL (NumPy's BLAS is OpenBLAS), so is_available() is False; verbose()
is PyTorch's context manager, a no-op here."""
__all__ = ["is_available", "verbose", "VERBOSE_OFF", "VERBOSE_ON"]
VERBOSE_OFF = 0
VERBOSE_ON = 1


def is_available():
    return False


class verbose:
    """``with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):`` (nothing to log without MKL)."""

    def __init__(self, enable):
        self.enable = enable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
