"""torch.backends.miopen: ROCm's MIOpen (not in torsh); its ``immediate`` flag is kept and changes nothing."""
import contextlib

immediate = False


def set_flags(_immediate=None):
    global immediate
    orig = (immediate,)
    if _immediate is not None:
        immediate = bool(_immediate)
    return orig


@contextlib.contextmanager
def flags(immediate=False):
    orig = set_flags(immediate)
    try:
        yield
    finally:
        set_flags(*orig)
