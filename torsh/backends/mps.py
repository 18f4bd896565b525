"""torch.backends.mps: no Metal device on a torsh build."""


def is_available():
    return False


def is_built():
    return False


def get_core_count():
    raise AttributeError("module 'torch._C' has no attribute '_mps_get_core_count'")


def get_name():
    raise AttributeError("module 'torch._C' has no attribute '_mps_get_name'")


def is_macos_or_newer(major, minor):
    raise RuntimeError("Cannot execute isOnMacOSorNewer() without MPS backend.")


def is_macos13_or_newer(minor=0):
    return is_macos_or_newer(13, minor)
