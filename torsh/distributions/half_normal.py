import math

from ._loc_scale import _Half
from .normal import Normal

__all__ = ["HalfNormal"]


class HalfNormal(_Half):
    """|X| for X ~ Normal(0, scale)."""
    _family = Normal

    def expand(self, batch_shape, _instance=None):
        return self._expand_as(HalfNormal, batch_shape, _instance)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)
