"""torch.distributions.LKJCholesky: Cholesky factors of LKJ-distributed correlation matrices."""
import math

import torsh
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """LKJ(concentration) over ``dim`` x ``dim`` correlation matrices, as their lower Cholesky factors.

    Sampled by the onion method (Ghosh & Henderson 2003): row i is sqrt(y_i) times a random unit
    vector, y_i ~ Beta, completed by the diagonal that makes the row unit length.
    """
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.size()
        event_shape = torsh.Size((dim, dim))
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = torsh.arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = torsh.cat([offset.new_zeros((1,)), offset])
        beta_conc1 = offset + 0.5
        beta_conc0 = marginal_conc.unsqueeze(-1) - 0.5 * offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = torsh.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(torsh.Size(tuple(batch_shape) + (self.dim,)))
        return self._init_expanded(new, batch_shape)

    def sample(self, sample_shape=torsh.Size()):
        with torsh.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = torsh.randn(tuple(self._extended_shape(sample_shape)), dtype=y.dtype).tril(-1)
            u_hypersphere = u_normal / u_normal.norm(dim=-1, keepdim=True)
            # the first row has no off-diagonal entries (0 / 0 above): zero it
            first_row = torsh.zeros(self.dim, 1, dtype=y.dtype)
            first_row[0] = 1.0
            u_hypersphere = torsh.where(first_row.bool(), 0.0, u_hypersphere)
            w = torsh.sqrt(y) * u_hypersphere
            eps = torsh.finfo(w.dtype).tiny
            diag_elems = torsh.clamp(1 - torsh.sum(w ** 2, dim=-1), min=eps).sqrt()
            return w + torsh.diag_embed(diag_elems)

    def log_prob(self, value):
        # density of the Cholesky factor L: prod_i L_ii^(2 (eta - 1) + dim - i) (Stan's LKJ Cholesky form)
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = torsh.arange(2, self.dim + 1)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = torsh.sum(order * diag_elems.log(), dim=-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = torsh.lgamma(alpha) * dm1
        numerator = torsh.mvlgamma(alpha - 0.5, dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)
        return unnormalized_log_pdf - (pi_constant + numerator - denominator)
