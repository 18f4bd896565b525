"""What the location-scale families share: parameters, moments at ``loc``, and their halves |X|."""
import math

import torsh
from . import constraints
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform
from .utils import forwarded

__all__ = []


class _CenteredAtLoc:
    """Mixin: unimodal distributions symmetric about ``loc``, whose mean and mode are ``loc``."""
    mean = forwarded("loc")
    mode = forwarded("loc")


class _LocScale(_CenteredAtLoc):
    """Mixin: a family on the real line with location ``loc`` and scale ``scale`` (broadcast together)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        batch_shape = self._broadcast_params(loc=loc, scale=scale)
        super().__init__(batch_shape, validate_args=validate_args)


class _Half(TransformedDistribution):
    """|X| for X ~ ``_family``(0, scale), a location-scale family symmetric about 0."""
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _family = None
    scale = forwarded("base_dist.scale")

    def __init__(self, scale, validate_args=None):
        base_dist = self._family(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    @property
    def mode(self):
        return torsh.zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._folded_log_prob(value)

    def _folded_log_prob(self, value):
        """The base density doubled on the non-negative half, zero elsewhere."""
        return torsh.where(value >= 0, self.base_dist.log_prob(value) + math.log(2), -math.inf)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)
