"""torch.distributions.Distribution: the base class (shapes, argument validation, sampling API)."""
import warnings

import torsh
from . import constraints
from .utils import broadcast_all, forwarded, lazy_property

__all__ = ["Distribution"]


def _all_true(mask):
    return bool(mask.all()) if isinstance(mask, torsh.Tensor) else bool(mask)


class Distribution:
    """Abstract base class for probability distributions.

    ``batch_shape`` is the shape over which parameters are batched, ``event_shape`` the shape of one
    sample; ``validate_args`` checks parameters against ``arg_constraints`` and values against ``support``.
    """
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for every distribution built afterwards."""
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=torsh.Size(), event_shape=torsh.Size(), validate_args=None):
        self._batch_shape = torsh.Size(batch_shape)
        self._event_shape = torsh.Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()
        super().__init__()

    def _check_parameters(self):
        try:
            arg_constraints = self.arg_constraints
        except NotImplementedError:
            arg_constraints = {}
            warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = {{}}` "
                          "or initialize the distribution with `validate_args=False` to turn off validation.",
                          stacklevel=3)
        for param, constraint in arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue  # depends on other parameters: cannot be checked alone
            if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                continue  # the other parameterisation (probs vs logits) is computed lazily, not given
            value = getattr(self, param)
            if not _all_true(constraint.check(value)):
                raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                                 f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                                 f"but found invalid values:\n{value}")

    def expand(self, batch_shape, _instance=None):
        """A new distribution with parameters expanded to ``batch_shape`` (no copies, no re-validation)."""
        raise NotImplementedError

    batch_shape = forwarded("_batch_shape")
    event_shape = forwarded("_event_shape")

    @property
    def arg_constraints(self):
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=torsh.Size()):
        with torsh.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=torsh.Size()):
        raise NotImplementedError

    def sample_n(self, n):
        warnings.warn("`sample_n(n)` will be deprecated. Use `sample((n,))` instead.", FutureWarning, stacklevel=2)
        return self.sample(torsh.Size((n,)))

    def log_prob(self, value):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return torsh.exp(self.entropy())

    def _extended_shape(self, sample_shape=torsh.Size()):
        """sample_shape + batch_shape + event_shape."""
        return torsh.Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value):
        """Check a value given to log_prob/cdf/icdf: its shape against the distribution's, then the support."""
        if not isinstance(value, torsh.Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_start = value.dim() - len(self._event_shape)
        if tuple(value.size()[event_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {value.size()} vs "
                             f"{self._event_shape}.")
        actual = value.size()
        expected = torsh.Size(tuple(self._batch_shape) + tuple(self._event_shape))
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {actual} vs {expected}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          "initialize the distribution with `validate_args=False` to turn off validation.",
                          stacklevel=3)
            return
        if support is None:
            raise AssertionError("support is unexpectedly None")
        if not _all_true(support.check(value)):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                             f"to be within the support ({support!r}) of the distribution {self!r}, "
                             f"but found invalid values:\n{value}")

    def _broadcast_params(self, **params):
        """Set ``params`` as attributes, broadcast together (numbers become tensors); returns their shape,
        the batch shape of distributions whose parameters are all per batch element."""
        values = broadcast_all(*params.values())
        for name, value in zip(params, values):
            setattr(self, name, value)
        return values[0].size()

    def _expand_params(self, cls, batch_shape, _instance, *names):
        """``expand`` for distributions whose parameters ``names`` all have the batch shape."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = torsh.Size(batch_shape)
        for name in names:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        return self._init_expanded(new, batch_shape)

    def _init_expanded(self, new, batch_shape, event_shape=None):
        """Finish ``expand``: ``new`` gets the shapes and this distribution's validation flag, no re-check."""
        event_shape = self._event_shape if event_shape is None else event_shape
        Distribution.__init__(new, torsh.Size(batch_shape), event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        names = [k for k in self.arg_constraints if k in self.__dict__]
        shown = []
        for name in names:
            value = self.__dict__[name]
            shown.append(f"{name}: {value if value.numel() == 1 else value.size()}")
        return f"{type(self).__name__}({', '.join(shown)})"
