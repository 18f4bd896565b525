"""torch.distributions.ContinuousBernoulli: the density proportional to p^x (1 - p)^(1 - x) on [0, 1].

Near p = 0.5 the normaliser and moments are 0 / 0 forms, so inside ``lims`` PyTorch (and this
module) uses Taylor expansions around 0.5 instead.
"""
import math

import torsh
from torsh.nn.functional import binary_cross_entropy_with_logits
from . import constraints
from ._probs_or_logits import _ProbsOrLogitsParam
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(_ProbsOrLogitsParam, ExponentialFamily):
    """Continuous Bernoulli with ``probs`` (or ``logits``); ``lims`` bounds the Taylor-expanded region."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        (param,) = self._set_probs_or_logits(probs, logits)
        if probs is not None:
            # the probabilities are clamped here, so check them before that (as PyTorch does)
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(param).all()):
                raise ValueError("The parameter probs has invalid values")
            self._set_param("probs", clamp_probs(param))
        self._lims = lims
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_probs_or_logits_as(ContinuousBernoulli, batch_shape, _instance, kept=("_lims",))

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        """probs, with the unstable region replaced by lims[0] so the exact formulas stay finite there."""
        return torsh.where(self._outside_unstable_region(), self.probs, self._lims[0] * torsh.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        """log C(p), C(p) = 2 atanh(1 - 2p) / (1 - 2p)."""
        cut_probs = self._cut_probs()
        below_half = cut_probs <= 0.5
        cut_probs_below_half = torsh.where(below_half, cut_probs, torsh.zeros_like(cut_probs))
        cut_probs_above_half = torsh.where(cut_probs >= 0.5, cut_probs, torsh.ones_like(cut_probs))
        log_norm = (torsh.log(torsh.abs(torsh.log1p(-cut_probs) - torsh.log(cut_probs)))
                    - torsh.where(below_half, torsh.log1p(-2.0 * cut_probs_below_half),
                                  torsh.log(2.0 * cut_probs_above_half - 1.0)))
        x = torsh.pow(self.probs - 0.5, 2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return torsh.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut_probs = self._cut_probs()
        mus = cut_probs / (2.0 * cut_probs - 1.0) + 1.0 / (torsh.log1p(-cut_probs) - torsh.log(cut_probs))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * torsh.pow(x, 2)) * x
        return torsh.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return torsh.sqrt(self.variance)

    @property
    def variance(self):
        cut_probs = self._cut_probs()
        variances = (cut_probs * (cut_probs - 1.0) / torsh.pow(1.0 - 2.0 * cut_probs, 2)
                     + 1.0 / torsh.pow(torsh.log1p(-cut_probs) - torsh.log(cut_probs), 2))
        x = torsh.pow(self.probs - 0.5, 2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return torsh.where(self._outside_unstable_region(), variances, taylor)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def sample(self, sample_shape=torsh.Size()):
        u = torsh.rand(tuple(self._extended_shape(sample_shape)), dtype=self.probs.dtype)
        with torsh.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=torsh.Size()):
        return self.icdf(torsh.rand(tuple(self._extended_shape(sample_shape)), dtype=self.probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none") + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut_probs = self._cut_probs()
        cdfs = ((torsh.pow(cut_probs, value) * torsh.pow(1.0 - cut_probs, 1.0 - value) + cut_probs - 1.0)
                / (2.0 * cut_probs - 1.0))
        unbounded_cdfs = torsh.where(self._outside_unstable_region(), cdfs, value)
        return torsh.where(value <= 0.0, torsh.zeros_like(value),
                           torsh.where(value >= 1.0, torsh.ones_like(value), unbounded_cdfs))

    def icdf(self, value):
        cut_probs = self._cut_probs()
        exact = ((torsh.log1p(-cut_probs + value * (2.0 * cut_probs - 1.0)) - torsh.log1p(-cut_probs))
                 / (torsh.log(cut_probs) - torsh.log1p(-cut_probs)))
        return torsh.where(self._outside_unstable_region(), exact, value)

    def entropy(self):
        log_probs0 = torsh.log1p(-self.probs)
        log_probs1 = torsh.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x), Taylor-expanded where x is near 0."""
        out_unst_reg = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut_nat_params = torsh.where(out_unst_reg, x, (self._lims[0] - 0.5) * torsh.ones_like(x))
        log_norm = torsh.log(torsh.abs(torsh.special.expm1(cut_nat_params))) - torsh.log(torsh.abs(cut_nat_params))
        taylor = 0.5 * x + torsh.pow(x, 2) / 24.0 - torsh.pow(x, 4) / 2880.0
        return torsh.where(out_unst_reg, log_norm, taylor)
