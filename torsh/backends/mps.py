"""torch.backends.mps: no Metal device on a torsh build."""


def is_available():
    return False


def is_built():
    return False
