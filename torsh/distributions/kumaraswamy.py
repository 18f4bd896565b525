"""torch.distributions.Kumaraswamy: (1 - U^(1/concentration0))^(1/concentration1) for U ~ Uniform(0, 1)."""
import math

import torsh
from . import constraints
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform
from .utils import broadcast_all, euler_constant

__all__ = ["Kumaraswamy"]


def _moments(a, b, n):
    """E[X^n] = b * B(1 + n / a, b), through lgamma."""
    arg1 = 1 + n / a
    log_value = torsh.lgamma(arg1) + torsh.lgamma(b) - torsh.lgamma(arg1 + b)
    return b * torsh.exp(log_value)


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy distribution on (0, 1), a Beta look-alike with a closed-form CDF."""
    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(torsh.full_like(self.concentration0, 0), torsh.full_like(self.concentration0, 1),
                            validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()), AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_as(Kumaraswamy, batch_shape, _instance, "concentration1", "concentration0")

    @property
    def mean(self):
        return _moments(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        log_mode = (self.concentration0.reciprocal() * (-self.concentration0).log1p()
                    - (-self.concentration0 * self.concentration1).log1p())
        no_mode = (self.concentration0 < 1) | (self.concentration1 < 1)
        return torsh.where(no_mode, math.nan, log_mode).exp()

    @property
    def variance(self):
        return _moments(self.concentration1, self.concentration0, 2) - torsh.pow(self.mean, 2)

    def entropy(self):
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        H0 = torsh.digamma(self.concentration0 + 1) + euler_constant
        return t0 + t1 * H0 - torsh.log(self.concentration1) - torsh.log(self.concentration0)
