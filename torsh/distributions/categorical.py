import math

import torsh
from . import constraints
from ._probs_or_logits import _ProbsOrLogitsParam
from .distribution import Distribution
from .utils import finfo

__all__ = ["Categorical"]


class Categorical(_ProbsOrLogitsParam, Distribution):
    """A distribution over ``{0, ..., K-1}`` given by ``probs`` (normalised here) or ``logits``
    (unnormalised log-probabilities) along the last dimension."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True
    _is_binary = False

    def __init__(self, probs=None, logits=None, validate_args=None):
        name, given = self._which_given(probs, logits)
        if given.dim() < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if name == "probs":
            self._set_param("probs", probs / probs.sum(-1, keepdim=True))
        else:
            self._set_param("logits", logits - logits.logsumexp(dim=-1, keepdim=True))
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else torsh.Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = torsh.Size(batch_shape)
        param_shape = torsh.Size(tuple(batch_shape) + (self._num_events,))
        self._expand_probs_or_logits(new, param_shape)
        new._num_events = self._num_events
        return self._init_expanded(new, batch_shape)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return torsh.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return torsh.full(tuple(self._extended_shape()), math.nan, dtype=self.probs.dtype)

    def sample(self, sample_shape=torsh.Size()):
        sample_shape = torsh.Size(sample_shape)
        probs_2d = self.probs.detach().reshape(-1, self._num_events)
        samples_2d = torsh.multinomial(probs_2d, max(sample_shape.numel(), 1), True).T
        if sample_shape.numel() == 0:
            samples_2d = samples_2d[:0]
        return samples_2d.reshape(tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = torsh.broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        # clamp so that 0 * -inf (an impossible class) counts as 0
        logits = torsh.clamp(self.logits, min=float(finfo(self.logits).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = torsh.arange(self._num_events, dtype=torsh.long)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values
