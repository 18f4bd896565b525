"""torch.signal for torsh: the ``windows`` namespace of window functions."""
from . import windows  # noqa: F401

__all__ = ["windows"]
