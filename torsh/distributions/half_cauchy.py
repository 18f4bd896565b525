import math

import torsh
from ._loc_scale import _Half
from .cauchy import Cauchy
from .utils import forwarded

__all__ = ["HalfCauchy"]


class HalfCauchy(_Half):
    """|X| for X ~ Cauchy(0, scale)."""
    _family = Cauchy

    def expand(self, batch_shape, _instance=None):
        return self._expand_as(HalfCauchy, batch_shape, _instance)

    @property
    def mean(self):
        return torsh.full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype)

    variance = forwarded("base_dist.variance")

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._folded_log_prob(torsh.as_tensor(value, dtype=self.base_dist.scale.dtype))

