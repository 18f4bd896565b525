import torsh
from ._loc_scale import _LocScale
from .distribution import Distribution
from .utils import finfo

__all__ = ["Laplace"]


class Laplace(_LocScale, Distribution):
    """Laplace (double exponential) distribution with ``loc`` and ``scale``."""

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Laplace, batch_shape, _instance, "loc", "scale")

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return 2 ** 0.5 * self.scale

    def rsample(self, sample_shape=torsh.Size()):
        eps = float(finfo(self.loc).eps)  # keeps log1p(-|u|) finite
        u = torsh.empty(tuple(self._extended_shape(sample_shape)), dtype=self.loc.dtype).uniform_(eps - 1, 1)
        return self.loc - self.scale * u.sign() * torsh.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -torsh.log(2 * self.scale) - torsh.abs(value - self.loc) / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * torsh.expm1(-z.abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * torsh.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + torsh.log(2 * self.scale)
