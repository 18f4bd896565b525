"""torch.backends.cudnn: there is no cuDNN on the CPU; the flags programs set are kept and change nothing."""
benchmark = False
deterministic = False
enabled = True
allow_tf32 = True


def is_available():
    return False


def version():
    return None
