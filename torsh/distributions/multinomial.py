import math

import torsh
from . import constraints
from ._probs_or_logits import _OfCategorical
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(_OfCategorical, Distribution):
    """Counts of each of K categories in ``total_count`` independent Categorical draws."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_categorical_as(Multinomial, batch_shape, _instance, kept=("total_count",))

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    def sample(self, sample_shape=torsh.Size()):
        sample_shape = torsh.Size(sample_shape)
        draws = self._categorical.sample(torsh.Size((self.total_count,) + tuple(sample_shape)))
        draws = draws.permute(*range(1, draws.dim()), 0)  # the draws last, to count them per category
        counts = torsh.zeros(tuple(self._extended_shape(sample_shape)), dtype=draws.dtype)
        counts = counts.scatter_add(-1, draws, torsh.ones_like(draws))
        return counts.type_as(self.probs)

    def entropy(self):
        n = torsh.tensor(self.total_count)
        term1 = n * self._categorical.entropy() - torsh.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = torsh.exp(self._binomial.log_prob(support))
        term2 = (binomial_probs * torsh.lgamma(support + 1)).sum([0, -1])
        return term1 + term2

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = torsh.lgamma(value.sum(-1) + 1)
        log_factorial_xs = torsh.lgamma(value + 1).sum(-1)
        logits = torsh.where((value == 0) & (logits == -math.inf), 0.0, logits)  # 0 * log(0) counts as 0
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)
