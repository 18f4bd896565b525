"""torch.poisson and torch.binomial: counts drawn from ``torsh.Generator`` streams (the default one unless
``generator=`` is given), so ``manual_seed`` repeats them; not PyTorch's bit streams. torch.distributions' Poisson,
Binomial and NegativeBinomial sample through these."""
import numpy as np

from .. import _random
from .._tensor import wrap
from ..autograd.graph import Node, needs_grad, record
from . import registry
from ._helpers import dtype_name
from .creation import zeros_like
from .shape_extra import broadcast_tensors


class PoissonBackward0(Node):
    def backward(self, grad):
        return (zeros_like(grad),)  # as PyTorch: the draws carry no gradient to the rates


class _BinomialNotImplemented(Node):
    """PyTorch's node for an op without a derivative: it raises when backward reaches it."""

    def name(self):
        return "torch::autograd::NotImplemented"

    def backward(self, *grads):
        raise RuntimeError("derivative for aten::binomial is not implemented")


def poisson(input, generator=None):
    """Poisson(rate) counts, one per element of ``input``, in its dtype."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"poisson_cpu" not implemented for \'{dtype_name(input.dtype)}\'')
    rates = input._data.astype(np.float64)
    if not np.all(rates >= 0):  # NaN fails too
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    draws = _random.rng(generator).poisson(rates)
    result = wrap(np.asarray(draws, dtype=input._data.dtype))
    if needs_grad(input):
        record(PoissonBackward0(), (input,), (result,))
    return result


def binomial(count, prob, generator=None):
    """Binomial(count, prob) counts (broadcast), in ``count``'s dtype; not differentiable, as in PyTorch."""
    if not count.dtype.is_floating_point:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: {dtype_name(count.dtype)}")
    if prob.dtype != count.dtype:
        raise RuntimeError(f"Found dtype {dtype_name(prob.dtype)} but expected {dtype_name(count.dtype)}")
    n, p = broadcast_tensors(count.detach(), prob.detach())
    draws = _random.rng(generator).binomial(n._data.astype(np.int64), np.clip(p._data.astype(np.float64), 0.0, 1.0))
    result = wrap(np.asarray(draws, dtype=count._data.dtype))
    if needs_grad(count, prob):
        record(_BinomialNotImplemented(), (count, prob), (result,))
    return result


registry.register(poisson, method=False)
registry.register(binomial, method=False)
