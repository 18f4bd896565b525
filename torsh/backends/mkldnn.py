"""torch.backends.mkldnn: torsh does not use oneDNN (its kernels are Pythran, C++ and NumPy)."""
enabled = False


def is_available():
    return False
