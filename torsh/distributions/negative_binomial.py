"""torch.distributions.NegativeBinomial: successes before ``total_count`` failures (a Gamma-Poisson mixture)."""
import torsh
from torsh.nn.functional import logsigmoid
from . import constraints
from ._extra_ops import poisson
from ._probs_or_logits import _ProbsOrLogitsParam
from .distribution import Distribution
from .gamma import Gamma
from .utils import lazy_property

__all__ = ["NegativeBinomial"]


class NegativeBinomial(_ProbsOrLogitsParam, Distribution):
    """Number of successes (each with probability ``probs``) before ``total_count`` failures."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        param = self._set_total_count_and_probs_or_logits(total_count, probs, logits)
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_probs_or_logits_as(NegativeBinomial, batch_shape, _instance, expanded=("total_count",))

    @property
    def mean(self):
        return self.total_count * torsh.exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / torsh.sigmoid(-self.logits)

    @lazy_property
    def _gamma(self):
        # the Poisson rate's mixing distribution
        return Gamma(concentration=self.total_count, rate=torsh.exp(-self.logits), validate_args=False)

    def sample(self, sample_shape=torsh.Size()):
        with torsh.no_grad():
            return poisson(self._gamma.sample(sample_shape=sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized_prob = self.total_count * logsigmoid(-self.logits) + value * logsigmoid(self.logits)
        log_normalization = (-torsh.lgamma(self.total_count + value) + torsh.lgamma(1.0 + value)
                             + torsh.lgamma(self.total_count))
        # total_count + value == 0 only for total_count == 0, value == 0: probability 1
        log_normalization = torsh.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
