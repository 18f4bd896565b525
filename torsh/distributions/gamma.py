import torsh
from . import constraints
from ._extra_ops import gammainc, standard_gamma
from .exp_family import ExponentialFamily
from .utils import finfo

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    """Gamma distribution with shape ``concentration`` and inverse scale ``rate``."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        batch_shape = self._broadcast_params(concentration=concentration, rate=rate)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Gamma, batch_shape, _instance, "concentration", "rate")

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=torsh.Size()):
        shape = tuple(self._extended_shape(sample_shape))
        value = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        value._data[...] = value._data.clip(min=finfo(value).tiny)  # as PyTorch: keep samples off 0
        return value

    def log_prob(self, value):
        value = torsh.as_tensor(value, dtype=self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (torsh.xlogy(self.concentration, self.rate) + torsh.xlogy(self.concentration - 1, value)
                - self.rate * value - torsh.lgamma(self.concentration))

    def entropy(self):
        return (self.concentration - torsh.log(self.rate) + torsh.lgamma(self.concentration)
                + (1.0 - self.concentration) * torsh.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return torsh.lgamma(x + 1) + (x + 1) * torsh.log(-y.reciprocal())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)
