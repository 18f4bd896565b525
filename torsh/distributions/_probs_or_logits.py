"""The parameterisation shared by Bernoulli-like and Categorical distributions: ``probs`` or
``logits``, exactly one given, the other computed lazily from it."""
import torsh
from .utils import broadcast_all, forwarded, lazy_property, logits_to_probs, probs_to_logits

__all__ = []


class _ProbsOrLogits:
    """Mixin: set whichever of ``probs`` / ``logits`` is given; the other is a lazy_property.

    ``_is_binary``: True for the log-odds of one event (sigmoid), False for log-probabilities over
    the last dimension (softmax).
    """
    _is_binary = True

    @staticmethod
    def _which_given(probs, logits):
        """("probs", probs) or ("logits", logits), with PyTorch's error unless exactly one is given."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        return ("probs", probs) if probs is not None else ("logits", logits)

    def _set_param(self, name, value):
        setattr(self, name, value)

    def _set_probs_or_logits(self, probs, logits, *others):
        """Set the given one of ``probs`` / ``logits``, broadcast with the ``others`` parameters (which
        come first, as in PyTorch's broadcast_all call); returns it and the broadcast ``others``."""
        name, given = self._which_given(probs, logits)
        *others, param = broadcast_all(*others, given)
        self._set_param(name, param)
        return (param, *others)

    def _expand_probs_or_logits(self, new, param_shape):
        for name in ("probs", "logits"):
            if name in self.__dict__:
                new._set_param(name, getattr(self, name).expand(param_shape))

    def _expand_probs_or_logits_as(self, cls, batch_shape, _instance, expanded=(), kept=()):
        """``expand`` of ``cls``, whose batch shape is its probs/logits' shape: those and the parameters
        ``expanded`` are expanded to ``batch_shape``, the attributes ``kept`` (temperature, lims) are copied."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = torsh.Size(batch_shape)
        for name in expanded:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        for name in kept:
            setattr(new, name, getattr(self, name))
        self._expand_probs_or_logits(new, batch_shape)
        return self._init_expanded(new, batch_shape)

    def _set_total_count_and_probs_or_logits(self, total_count, probs, logits):
        """The count distributions' parameters: ``total_count`` broadcast with probs/logits, in their dtype;
        returns the given one of probs/logits."""
        param, total_count = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(param)
        return param

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=self._is_binary)


class _ProbsOrLogitsParam(_ProbsOrLogits):
    """_ProbsOrLogits that also keeps the given one as ``_param`` and has ``param_shape`` (as all of
    PyTorch's probs-or-logits distributions but Geometric)."""

    def _set_param(self, name, value):
        super()._set_param(name, value)
        self._param = value

    @property
    def param_shape(self):
        return self._param.size()


class _OfCategorical:
    """Mixin of the distributions built on a ``self._categorical``: its parameters are theirs."""
    logits = forwarded("_categorical.logits")
    probs = forwarded("_categorical.probs")
    param_shape = forwarded("_categorical.param_shape")

    def _expand_categorical_as(self, cls, batch_shape, _instance, kept=()):
        """``expand`` of ``cls``: its categorical expanded to ``batch_shape``, the attributes ``kept`` (total_count,
        temperature) copied."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = torsh.Size(batch_shape)
        for name in kept:
            setattr(new, name, getattr(self, name))
        new._categorical = self._categorical.expand(batch_shape)
        return self._init_expanded(new, batch_shape)


class _OfRelaxed:
    """Mixin of the relaxed distributions, transforms of a ``base_dist`` that holds the parameters."""
    temperature = forwarded("base_dist.temperature")
    logits = forwarded("base_dist.logits")
    probs = forwarded("base_dist.probs")
