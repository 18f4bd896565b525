"""Sampling ops: bernoulli, multinomial, and the in-place fillers exponential_, random_, geometric_,
cauchy_, log_normal_, bernoulli_. All draw from ``torsh.Generator`` streams (the default one unless
``generator=`` is given), so results repeat under ``manual_seed``; they are not PyTorch's bit streams.

torch.poisson and torch.binomial: counts drawn from ``torsh.Generator`` streams (the default one unless
``generator=`` is given), so ``manual_seed`` repeats them; not PyTorch's bit streams. torch.distributions' Poisson,
Binomial and NegativeBinomial sample through these."""
import numpy as np

from ... import _dtype, _random
from ..._tensor import Tensor, wrap
from ...autograd.graph import Node, needs_grad, record
from .. import registry
from .._helpers import dtype_name
from .creation import check_random_bounds, zeros_like
from ..inplace import apply_inplace
from ..registry import register
from .shape.rearrange import broadcast_tensors


def bernoulli(input, p=None, *, generator=None, out=None):
    """Samples 1 with probability ``p`` (a float) or ``input``'s elements (as probabilities)."""
    probs = input._data if p is None else np.full(input._data.shape, p)
    if p is None and not (input.dtype.is_floating_point):
        raise NotImplementedError(f'"bernoulli_tensor_cpu_p_" not implemented for \'{dtype_name(input.dtype)}\'')
    if p is not None:
        _check_p(p)
    elif np.any(~((probs >= 0) & (probs <= 1))):
        raise RuntimeError(_P_IN_MESSAGE)
    draws = _random.bernoulli(input._data.shape, probs if p is None else float(p), generator)
    return wrap(draws.astype(input._data.dtype))
register(bernoulli, out="copy")


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    w = input._data
    if w.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {dtype_name(input.dtype)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = (w[None] if w.ndim == 1 else w).astype(np.float64)  # (rows, categories), also when empty
    n = rows.shape[1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    if n == 0 and num_samples == 1:  # PyTorch's one-sample path takes the min and max first
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    bad = ~(rows >= 0) | np.isinf(rows)
    if bad.any():
        if not replacement or num_samples == 1:
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        # PyTorch's sampling kernel with replacement names the first bad entry it meets
        first = rows.ravel()[np.argmax(bad.ravel())]
        entry = "< 0" if not first >= 0 else "= infinity or NaN"
        raise RuntimeError(f"invalid multinomial distribution (encountering probability entry {entry})")
    totals = rows.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    source = (w[None] if w.ndim == 1 else w)
    if not replacement or num_samples == 1:
        # PyTorch's exponential trick: the largest w / E (E ~ Exp(1)) are a weighted sample without replacement
        keys = source / _random.exponential(source.shape, source.dtype, 1.0, generator)
        idx = (np.argmax(keys, axis=1)[:, None] if num_samples == 1
               else np.argsort(-keys, axis=1, kind="stable")[:, :num_samples])
    else:  # inverse CDF as PyTorch's kernel: the row's running sum in its dtype, normalised; a double per draw
        cdf = np.cumsum(source, axis=1, dtype=source.dtype)
        cdf = (cdf / cdf[:, -1:]).astype(np.float64)
        cdf[:, -1] = 1.0
        u = _random.uniform((rows.shape[0], num_samples), np.float64, generator=generator)
        # one searchsorted for all rows: shifting row r by r keeps the concatenated CDFs sorted
        shift = np.arange(rows.shape[0])[:, None]
        flat = np.searchsorted((cdf + shift).ravel(), (u + shift).ravel(), side="left")
        idx = flat.reshape(u.shape) - shift * n
    idx = np.minimum(idx, n - 1).astype(np.int64)
    return wrap(idx.reshape(w.shape[:-1] + (num_samples,)))
register(multinomial, out="copy")


# -- in-place fillers ---------------------------------------------------------------------------
def _filler(name, draw):
    """Tensor.<name>(...): fill self with ``draw(rng, shape, dtype, *args)`` (never differentiable)."""
    def fast(self, *args, generator=None, **kwargs):
        self._data[...] = draw(_random.rng(generator), self._data.shape, self._data.dtype, *args, **kwargs)

    def source(self, *args, generator=None, **kwargs):
        out = wrap(np.empty_like(self._data))
        fast(out, *args, generator=generator, **kwargs)
        return out

    def method(self, *args, **kwargs):
        return apply_inplace(self, name, source, *args, fast=fast, **kwargs)
    method.__name__ = name
    return method


def _c(x):
    """A number as C++'s ostream prints a double in PyTorch's messages: 2, -0.5, nan, 1e-05."""
    return f"{float(x):g}"


def _require_float(dtype, message):
    if dtype.kind not in "fc":
        raise RuntimeError(message.format(dtype_name(_dtype.from_numpy_dtype(dtype))))


def _exponential(rng, shape, dtype, lambd=1.0):
    _require_float(dtype, "Exponential distribution is a continuous probability distribution. dtype must be a "
                          "floating point but you specified {}")
    if not lambd > 0:  # NaN too
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_c(lambd)}")
    return _random.exponential(shape, dtype if dtype.kind == "f" else np.float64, lambd, rng)


def _random_ints(rng, shape, dtype, from_=None, to=None):
    if to is None and from_ is not None:  # random_(to): [0, to)
        from_, to = 0, from_
    elif to is None:
        from_ = 0
        if dtype.kind == "f":
            to = 2 ** np.finfo(dtype).nmant + 1
        elif dtype == np.bool_:
            to = 2
        else:
            to = np.iinfo(dtype).max + 1 if dtype != np.int64 else np.iinfo(np.int64).max
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    check_random_bounds(from_, to, dtype)
    return rng.integers(from_, to, shape)


def _geometric(rng, shape, dtype, p):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return rng.geometric(p, shape)


def _cauchy(rng, shape, dtype, median=0.0, sigma=1.0):
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_c(sigma)}")
    return median + sigma * rng.standard_cauchy(shape)


def _log_normal(rng, shape, dtype, mean=1.0, std=2.0):
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_c(std)}")
    return rng.lognormal(mean, std, shape)


_P_IN_MESSAGE = ("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message be improved?  "
                 "If so, please report an enhancement request to PyTorch.)")


def _check_p(p):
    """PyTorch's bernoulli_ checks: a float p in [0, 1], a tensor p's every element."""
    if isinstance(p, Tensor):
        if not np.all((p._data >= 0) & (p._data <= 1)):
            raise RuntimeError(_P_IN_MESSAGE)
    elif not 0 <= p <= 1:  # NaN too
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_c(p)}")


def _bernoulli_fill(rng, shape, dtype, p=0.5):
    _check_p(p)
    return _random.bernoulli(shape, p._data if isinstance(p, Tensor) else float(p), rng)


Tensor.exponential_ = _filler("exponential_", _exponential)
Tensor.random_ = _filler("random_", lambda rng, shape, dtype, *a, **k: _random_ints(
    rng, shape, dtype, *a, **({"from_": k.pop("from")} if "from" in k else {}), **k))
Tensor.geometric_ = _filler("geometric_", _geometric)
Tensor.cauchy_ = _filler("cauchy_", _cauchy)
Tensor.log_normal_ = _filler("log_normal_", _log_normal)
Tensor.bernoulli_ = _filler("bernoulli_", _bernoulli_fill)
Tensor.bernoulli = bernoulli
Tensor.multinomial = multinomial


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


__all__ = ["bernoulli", "multinomial"]
