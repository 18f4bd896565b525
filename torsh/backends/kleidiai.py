"""torch.backends.kleidiai: Arm's KleidiAI kernels (not in torsh)."""
__all__ = ["is_available"]


def is_available():
    return False
