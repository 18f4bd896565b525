"""torch.distributions.InverseGamma: 1 / X for X ~ Gamma(concentration, rate)."""
import math

import torsh
from . import constraints
from .gamma import Gamma
from .transformed_distribution import TransformedDistribution
from .transforms import PowerTransform
from .utils import forwarded

__all__ = ["InverseGamma"]


class InverseGamma(TransformedDistribution):
    """Inverse-gamma distribution with shape ``concentration`` and scale ``rate``."""
    arg_constraints = Gamma.arg_constraints
    support = constraints.positive
    has_rsample = True
    concentration = forwarded("base_dist.concentration")
    rate = forwarded("base_dist.rate")

    def __init__(self, concentration, rate, validate_args=None):
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        neg_one = -base_dist.rate.new_ones(())
        super().__init__(base_dist, PowerTransform(neg_one), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_as(InverseGamma, batch_shape, _instance)

    @property
    def mean(self):
        result = self.rate / (self.concentration - 1)
        return torsh.where(self.concentration > 1, result, math.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        result = self.rate.square() / ((self.concentration - 1).square() * (self.concentration - 2))
        return torsh.where(self.concentration > 2, result, math.inf)

    def entropy(self):
        return (self.concentration + self.rate.log() + self.concentration.lgamma()
                - (1 + self.concentration) * self.concentration.digamma())
