"""torch.distributions.GeneralizedPareto: the limiting distribution of threshold exceedances."""
import math

import torsh
from . import constraints
from .distribution import Distribution

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Generalized Pareto with ``loc``, ``scale`` and shape ``concentration`` (0: shifted exponential)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        batch_shape = self._broadcast_params(loc=loc, scale=scale, concentration=concentration)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(GeneralizedPareto, batch_shape, _instance, "loc", "scale", "concentration")

    def rsample(self, sample_shape=torsh.Size()):
        shape = tuple(self._extended_shape(sample_shape))
        return self.icdf(torsh.rand(shape, dtype=self.loc.dtype))

    def _zero_and_safe_concentration(self):
        """Where the shape is (close to) 0, and the shape with those entries replaced by 1 (no 0 / 0)."""
        eq_zero = torsh.isclose(self.concentration, torsh.zeros_like(self.concentration))
        return eq_zero, torsh.where(eq_zero, torsh.ones_like(self.concentration), self.concentration)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe_concentration()
        y = 1 / safe_conc + torsh.ones_like(z)
        where_nonzero = torsh.where(y == 0, y, y * torsh.log1p(safe_conc * z))
        return -self.scale.log() - torsh.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._zero_and_safe_concentration()
        where_nonzero = -torsh.log1p(safe_conc * z) / safe_conc
        return torsh.where(eq_zero, -z, where_nonzero)

    def log_cdf(self, value):
        return torsh.log1p(-torsh.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return torsh.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, safe_conc = self._zero_and_safe_concentration()
        logu = torsh.log1p(-value)
        where_nonzero = self.loc + self.scale / safe_conc * torsh.expm1(-safe_conc * logu)
        where_zero = self.loc - self.scale * logu
        return torsh.where(eq_zero, where_zero, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe_conc = torsh.where(valid, self.concentration, 0.5)
        return torsh.where(valid, self.loc + self.scale / (1 - safe_conc), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe_conc = torsh.where(valid, self.concentration, 0.25)
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return torsh.where(valid, result, math.nan)

    def entropy(self):
        return torsh.broadcast_to(torsh.log(self.scale) + self.concentration + 1, tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = torsh.where(self.concentration < 0, lower - self.scale / self.concentration, math.inf)
        return constraints.interval(lower, upper)
