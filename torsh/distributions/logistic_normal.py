"""torch.distributions.LogisticNormal: a Normal pushed onto the simplex by stick breaking."""
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform
from .utils import forwarded

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """StickBreakingTransform(X) for X ~ Normal(loc, scale): one more coordinate than ``loc``."""
    arg_constraints = Normal.arg_constraints
    support = constraints.simplex
    has_rsample = True
    # the base is Independent(Normal) (the transform works on a vector): its Normal holds the parameters
    loc = forwarded("base_dist.base_dist.loc")
    scale = forwarded("base_dist.base_dist.scale")

    def __init__(self, loc, scale, validate_args=None):
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:  # the transform needs an event dimension
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_as(LogisticNormal, batch_shape, _instance)
