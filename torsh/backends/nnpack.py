"""torch.backends.nnpack: torsh has no NNPACK convolutions."""
import contextlib

__all__ = ["is_available", "flags", "set_flags"]
_enabled = [False]


def is_available():
    return False


def set_flags(_enabled_flag):
    orig = (_enabled[0],)
    _enabled[0] = bool(_enabled_flag)
    return orig


@contextlib.contextmanager
def flags(enabled=False):
    orig = set_flags(enabled)
    try:
        yield
    finally:
        set_flags(*orig)
