import math

import torsh
from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .utils import _standard_normal

__all__ = ["StudentT"]


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, location ``loc`` and scale ``scale``."""
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        batch_shape = self._broadcast_params(df=df, loc=loc, scale=scale)
        self._chi2 = Chi2(self.df)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_params(StudentT, batch_shape, _instance, "df", "loc", "scale")
        new._chi2 = self._chi2.expand(batch_shape)
        return new

    @property
    def mean(self):
        return torsh.where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        finite = self.scale.pow(2) * self.df / (self.df - 2)
        var = torsh.where(self.df > 2, finite, self.df)
        var = torsh.where((self.df <= 2) & (self.df > 1), math.inf, var)
        return torsh.where(self.df <= 1, math.nan, var)

    def rsample(self, sample_shape=torsh.Size()):
        # X / sqrt(Z / df) for X ~ N(0, 1), Z ~ Chi2(df)
        X = _standard_normal(self._extended_shape(sample_shape), dtype=self.df.dtype)
        Z = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * X * torsh.rsqrt(Z / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        Z = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) + torsh.lgamma(0.5 * self.df)
             - torsh.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * torsh.log1p(y ** 2.0 / self.df) - Z

    def entropy(self):
        lbeta = torsh.lgamma(0.5 * self.df) + math.lgamma(0.5) - torsh.lgamma(0.5 * (self.df + 1))
        return (self.scale.log()
                + 0.5 * (self.df + 1) * (torsh.digamma(0.5 * (self.df + 1)) - torsh.digamma(0.5 * self.df))
                + 0.5 * self.df.log() + lbeta)
