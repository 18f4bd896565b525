"""torsh.distributions against PyTorch 2.13: densities, moments, entropies, CDFs, shapes, gradients of
log_prob, argument validation and KL divergences, for every family on the same float64 parameters.

Each family is a ``Case``: a constructor written once against ``lib`` (torsh or torch), its parameter
arrays (positive ones drawn away from 0), and a function giving values in the support.
"""
import math
import warnings

import numpy as np
import pytest

import torsh
from helpers import PKG, assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch


def _pos(shape, seed, low=0.5, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _real(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def _simplex(shape, seed):
    p = _pos(shape, seed)
    return p / p.sum(-1, keepdims=True)


def _spd(shape, seed):
    """Symmetric positive-definite matrices of shape (..., n, n)."""
    a = _real(shape, seed)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _lower_cholesky(shape, seed):
    return np.linalg.cholesky(_spd(shape, seed))


class Case:
    """One family on one set of parameters; ``build(lib, *tensors)`` makes the distribution."""

    def __init__(self, name, build, params, values, int_params=()):
        self.name, self.build, self.params, self.values = name, build, params, values
        self.int_params = int_params  # indices of parameters that get no gradient

    def __repr__(self):
        return self.name

    def make(self, lib, requires_grad=False):
        tensors = []
        for i, p in enumerate(self.params):
            t = lib.tensor(np.array(p, dtype=np.float64))
            if requires_grad and i not in self.int_params:
                t.requires_grad_(True)
            tensors.append(t)
        return self.build(lib, *tensors), tensors

    def value(self, lib, dist_ref):
        return lib.tensor(np.asarray(self.values(dist_ref), dtype=np.float64))


def _sample_np(dist_ref, shape=(5,)):
    """Values in the support: PyTorch's own samples (reproducible with a fixed seed)."""
    torch_ref.manual_seed(0)
    return dist_ref.sample(shape).numpy()


D = lambda lib: lib.distributions  # noqa: E731

CASES = [
    Case("Normal", lambda lib, m, s: D(lib).Normal(m, s), [_real((3,), 1), _pos((3,), 2)], _sample_np),
    Case("Normal_broadcast", lambda lib, m, s: D(lib).Normal(m, s), [_real((2, 1), 1), _pos((3,), 2)], _sample_np),
    Case("Categorical_probs", lambda lib, p: D(lib).Categorical(probs=p), [_pos((2, 4), 3)], _sample_np),
    Case("Categorical_logits", lambda lib, lg: D(lib).Categorical(logits=lg), [_real((3, 5), 4)], _sample_np),
    Case("Bernoulli_probs", lambda lib, p: D(lib).Bernoulli(probs=p), [_pos((4,), 5, 0.1, 0.9)], _sample_np),
    Case("Bernoulli_logits", lambda lib, lg: D(lib).Bernoulli(logits=lg), [_real((2, 3), 6)], _sample_np),
    Case("Uniform", lambda lib, lo, w: D(lib).Uniform(lo, lo + w), [_real((3,), 7), _pos((3,), 8)], _sample_np),
    Case("MultivariateNormal_cov", lambda lib, m, c: D(lib).MultivariateNormal(m, covariance_matrix=c),
         [_real((2, 3), 9), _spd((3, 3), 10)], _sample_np),
    Case("MultivariateNormal_tril", lambda lib, m, L: D(lib).MultivariateNormal(m, scale_tril=L),
         [_real((3,), 11), _lower_cholesky((2, 3, 3), 12)], _sample_np),
    Case("MultivariateNormal_prec", lambda lib, m, P: D(lib).MultivariateNormal(m, precision_matrix=P),
         [_real((3,), 13), _spd((3, 3), 14)], _sample_np),
    Case("OneHotCategorical", lambda lib, p: D(lib).OneHotCategorical(probs=p), [_pos((2, 3), 15)], _sample_np),
    Case("Exponential", lambda lib, r: D(lib).Exponential(r), [_pos((2, 3), 16)], _sample_np),
    Case("Laplace", lambda lib, m, s: D(lib).Laplace(m, s), [_real((3,), 17), _pos((3,), 18)], _sample_np),
    Case("Cauchy", lambda lib, m, s: D(lib).Cauchy(m, s), [_real((3,), 19), _pos((3,), 20)], _sample_np),
    Case("Gumbel", lambda lib, m, s: D(lib).Gumbel(m, s), [_real((3,), 21), _pos((3,), 22)], _sample_np),
    Case("LogNormal", lambda lib, m, s: D(lib).LogNormal(m, s), [_real((3,), 23), _pos((3,), 24)], _sample_np),
    Case("Independent_Normal", lambda lib, m, s: D(lib).Independent(D(lib).Normal(m, s), 1),
         [_real((2, 3), 25), _pos((2, 3), 26)], _sample_np),
    Case("LowRankMultivariateNormal", lambda lib, m, W, d: D(lib).LowRankMultivariateNormal(m, W, d),
         [_real((2, 3), 27), _real((3, 2), 28), _pos((3,), 29)], _sample_np),
    Case("Binomial", lambda lib, n, p: D(lib).Binomial(n, probs=p), [np.array([5.0, 5.0, 5.0]),
         _pos((3,), 30, 0.1, 0.9)], _sample_np, int_params=(0,)),
    Case("Binomial_logits", lambda lib, n, lg: D(lib).Binomial(n, logits=lg), [np.array([3.0, 7.0]),
         _real((2,), 31)], _sample_np, int_params=(0,)),
    Case("Multinomial", lambda lib, p: D(lib).Multinomial(4, probs=p), [_pos((2, 3), 32)], _sample_np),
    Case("Beta", lambda lib, a, b: D(lib).Beta(a, b), [_pos((3,), 33), _pos((3,), 34)], _sample_np),
    Case("Gamma", lambda lib, a, r: D(lib).Gamma(a, r), [_pos((2, 3), 35), _pos((3,), 36)], _sample_np),
    Case("Chi2", lambda lib, k: D(lib).Chi2(k), [_pos((3,), 37, 1.0, 4.0)], _sample_np),
    Case("Dirichlet", lambda lib, a: D(lib).Dirichlet(a), [_pos((2, 4), 38)], _sample_np),
    Case("Poisson", lambda lib, r: D(lib).Poisson(r), [_pos((3,), 39, 0.5, 5.0)], _sample_np),
    Case("StudentT", lambda lib, df, m, s: D(lib).StudentT(df, m, s),
         [_pos((3,), 40, 2.5, 6.0), _real((3,), 41), _pos((3,), 42)], _sample_np),
    Case("Geometric", lambda lib, p: D(lib).Geometric(p), [_pos((3,), 43, 0.2, 0.9)], _sample_np),
    Case("Geometric_logits", lambda lib, lg: D(lib).Geometric(logits=lg), [_real((2,), 44)], _sample_np),
    Case("HalfNormal", lambda lib, s: D(lib).HalfNormal(s), [_pos((3,), 45)], _sample_np),
    Case("HalfCauchy", lambda lib, s: D(lib).HalfCauchy(s), [_pos((3,), 46)], _sample_np),
    Case("MixtureSameFamily", lambda lib, lg, m, s: D(lib).MixtureSameFamily(
        D(lib).Categorical(logits=lg), D(lib).Normal(m, s)), [_real((2, 3), 47), _real((2, 3), 48),
                                                              _pos((2, 3), 49)], _sample_np),
    Case("MixtureSameFamily_mvn", lambda lib, lg, m: D(lib).MixtureSameFamily(
        D(lib).Categorical(logits=lg), D(lib).Independent(D(lib).Normal(m, 1.0), 1)),
         [_real((3,), 50), _real((3, 2), 51)], _sample_np),
]


def _torch_has(fn):
    """fn() from PyTorch, or None when PyTorch does not implement it for this family."""
    try:
        return fn()
    except NotImplementedError:
        return None


def _both(case, requires_grad=False):
    ours, our_params = case.make(torsh, requires_grad)
    ref, ref_params = case.make(torch_ref, requires_grad)
    return ours, ref, our_params, ref_params


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_shapes_and_repr(case):
    ours, ref, _, _ = _both(case)
    assert tuple(ours.batch_shape) == tuple(ref.batch_shape)
    assert tuple(ours.event_shape) == tuple(ref.event_shape)
    assert type(ours.batch_shape) is torsh.Size
    assert repr(ours).replace(PKG, "torch") == repr(ref)
    assert ours.has_rsample == ref.has_rsample
    assert ours.has_enumerate_support == ref.has_enumerate_support
    assert tuple(ours.sample().shape) == tuple(ref.sample().shape)
    assert tuple(ours.sample((3, 4)).shape) == tuple(ref.sample((3, 4)).shape)
    expanded, expanded_ref = ours.expand((2,) + tuple(ours.batch_shape)), ref.expand((2,) + tuple(ref.batch_shape))
    assert tuple(expanded.batch_shape) == tuple(expanded_ref.batch_shape)
    assert tuple(expanded.sample((3,)).shape) == tuple(expanded_ref.sample((3,)).shape)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_log_prob_moments_entropy(case):
    ours, ref, _, _ = _both(case)
    value, value_ref = case.value(torsh, ref), case.value(torch_ref, ref)
    assert_close(ours.log_prob(value), ref.log_prob(value_ref))
    for name in ("mean", "variance", "stddev", "mode"):
        expected = _torch_has(lambda: getattr(ref, name))
        if expected is not None:
            assert_close(getattr(ours, name), expected, msg=f"{name}: ")
    expected = _torch_has(ref.entropy)
    if expected is not None:
        assert_close(ours.entropy(), expected, rtol=1e-6, atol=1e-6)
        assert_close(ours.perplexity(), ref.perplexity(), rtol=1e-6, atol=1e-6)
    if ref.has_enumerate_support:
        for expand in (True, False):
            expected = _torch_has(lambda: ref.enumerate_support(expand))
            if expected is None:
                with pytest.raises(NotImplementedError):
                    ours.enumerate_support(expand)
            else:
                assert_close(ours.enumerate_support(expand), expected)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_cdf_icdf(case):
    ours, ref, _, _ = _both(case)
    value_ref = case.value(torch_ref, ref)
    expected = _torch_has(lambda: ref.cdf(value_ref))
    if expected is None:
        with pytest.raises(NotImplementedError):
            ours.cdf(case.value(torsh, ref))
        return
    assert_close(ours.cdf(case.value(torsh, ref)), expected)
    q = np.broadcast_to(np.array([0.1, 0.5, 0.9]).reshape((3,) + (1,) * len(ref.batch_shape)),
                        (3,) + tuple(ref.batch_shape))
    expected = _torch_has(lambda: ref.icdf(torch_ref.tensor(q)))
    if expected is not None:
        assert_close(ours.icdf(torsh.tensor(q)), expected)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_log_prob_gradients(case):
    """d(sum(w * log_prob(value)))/d(params) and the same for entropy, against PyTorch."""
    ours, ref, our_params, ref_params = _both(case, requires_grad=True)
    value, value_ref = case.value(torsh, ref), case.value(torch_ref, ref)
    outputs = [(ours.log_prob(value), ref.log_prob(value_ref))]
    entropy_ref = _torch_has(ref.entropy)
    if entropy_ref is not None:
        outputs.append((ours.entropy(), entropy_ref))
    for k, (out, out_ref) in enumerate(outputs):
        w = np.random.default_rng(k).uniform(0.5, 1.5, tuple(out_ref.shape))
        wanted = [i for i, p in enumerate(ref_params) if p.requires_grad]
        grads = torsh.autograd.grad((out * torsh.tensor(w)).sum(), [our_params[i] for i in wanted], retain_graph=True,
                                    allow_unused=True)
        grads_ref = torch_ref.autograd.grad((out_ref * torch_ref.tensor(w)).sum(), [ref_params[i] for i in wanted],
                                            retain_graph=True,
                                            allow_unused=True)
        for g, g_ref in zip(grads, grads_ref):
            if g_ref is None:
                assert g is None or not np.any(g.numpy())
            else:
                assert_close(g, g_ref, rtol=1e-6, atol=1e-6)


# -- sampling statistics ------------------------------------------------------------------------------
MOMENT_CASES = [c for c in CASES if c.name not in ("Cauchy", "HalfCauchy")]  # Cauchy has no mean or variance


@pytest.mark.parametrize("case", MOMENT_CASES, ids=repr)
def test_sample_mean_and_variance(case):
    """Sample mean and variance within a few standard errors of the exact moments (fixed seed)."""
    torsh.manual_seed(0)
    ours, ref, _, _ = _both(case)
    n = 20000
    samples = ours.sample((n,)).numpy().astype(np.float64)
    mean = _torch_has(lambda: ref.mean)
    var = _torch_has(lambda: ref.variance)
    if mean is None or var is None or not np.all(np.isfinite(mean.numpy())):
        return
    mean, var = mean.numpy(), var.numpy()
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(samples.mean(0) - mean) <= 5 * se_mean + 1e-12), (samples.mean(0), mean)
    if np.all(np.isfinite(var)):
        fourth = ((samples - mean) ** 4).mean(0)  # standard error of the sample variance
        se_var = np.sqrt(np.maximum(fourth - var ** 2, 0) / n)
        assert np.all(np.abs(samples.var(0) - var) <= 5 * se_var + 1e-9), (samples.var(0), var)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("Cauchy", "HalfCauchy", "Laplace", "Gumbel")], ids=repr)
def test_sample_quantiles(case):
    """Empirical CDF at the exact quartiles (heavy-tailed families): within 5 standard errors."""
    torsh.manual_seed(1)
    ours, ref, _, _ = _both(case)
    n = 20000
    samples = ours.sample((n,)).numpy()
    for q in (0.25, 0.5, 0.75):
        x = ref.icdf(torch_ref.full(tuple(ref.batch_shape), q, dtype=torch_ref.float64)).numpy()
        frac = (samples <= x).mean(0)
        assert np.all(np.abs(frac - q) <= 5 * math.sqrt(q * (1 - q) / n))


def test_categorical_sample_frequencies():
    torsh.manual_seed(2)
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    samples = torsh.distributions.Categorical(torsh.tensor(probs)).sample((40000,)).numpy()
    assert samples.dtype == np.int64
    freq = np.bincount(samples, minlength=4) / 40000
    assert np.all(np.abs(freq - probs) <= 5 * np.sqrt(probs * (1 - probs) / 40000))


# -- reparameterised gradients ----------------------------------------------------------------------
@pytest.mark.parametrize("family", ["Normal", "Laplace", "Exponential", "Uniform", "Gumbel", "LogNormal", "Cauchy"])
def test_rsample_is_a_differentiable_function_of_the_parameters(family):
    """rsample = loc + scale * eps (or its transform): d(sum sample)/d(param) is the exact derivative of
    the sample as a function of the parameters, which the drawn sample itself tells us."""
    D_ = torsh.distributions
    loc = torsh.tensor([0.3, -0.7], dtype=torsh.float64, requires_grad=True)
    scale = torsh.tensor([1.5, 0.5], dtype=torsh.float64, requires_grad=True)
    dist = {"Normal": lambda: D_.Normal(loc, scale), "Laplace": lambda: D_.Laplace(loc, scale),
            "Cauchy": lambda: D_.Cauchy(loc, scale), "Gumbel": lambda: D_.Gumbel(loc, scale),
            "Exponential": lambda: D_.Exponential(scale), "Uniform": lambda: D_.Uniform(loc, loc + scale),
            "LogNormal": lambda: D_.LogNormal(loc, scale)}[family]()
    torsh.manual_seed(3)
    x = dist.rsample((1000,))
    g_loc, g_scale = torsh.autograd.grad(x.sum(), [loc, scale], allow_unused=True)
    xs, lo, sc = x.detach().numpy(), loc.detach().numpy(), scale.detach().numpy()
    if family in ("Normal", "Laplace", "Cauchy", "Gumbel"):  # x = loc + scale * eps
        np.testing.assert_allclose(g_loc.numpy(), np.full(2, 1000.0))
        np.testing.assert_allclose(g_scale.numpy(), ((xs - lo) / sc).sum(0), rtol=1e-10)
    elif family == "Exponential":  # x = eps / rate
        np.testing.assert_allclose(g_scale.numpy(), (-xs / sc).sum(0), rtol=1e-10)
    elif family == "Uniform":  # x = low + u * (high - low), high = low + scale
        np.testing.assert_allclose(g_loc.numpy(), np.full(2, 1000.0))
        np.testing.assert_allclose(g_scale.numpy(), ((xs - lo) / sc).sum(0), rtol=1e-10)
    else:  # LogNormal: x = exp(loc + scale * eps)
        np.testing.assert_allclose(g_loc.numpy(), xs.sum(0), rtol=1e-10)
        np.testing.assert_allclose(g_scale.numpy(), (xs * (np.log(xs) - lo) / sc).sum(0), rtol=1e-10)


def test_mvn_rsample_gradient_is_the_noise():
    D_ = torsh.distributions
    loc = torsh.zeros(3, dtype=torsh.float64, requires_grad=True)
    L = torsh.tensor(_lower_cholesky((3, 3), 5)).requires_grad_(True)
    torsh.manual_seed(4)
    x = D_.MultivariateNormal(loc, scale_tril=L).rsample((50,))
    (g_L,) = torsh.autograd.grad(x.sum(), [L])
    eps = np.linalg.solve(L.detach().numpy(), x.detach().numpy().T).T  # x = L eps
    expected = np.ones((3, 1)) * eps.sum(0)[None, :]  # d sum(L eps) / dL_ij = sum eps_j (as PyTorch: all i, j)
    np.testing.assert_allclose(g_L.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_standard_gamma_grad_matches_pytorch():
    """The implicit reparameterisation gradient dx/dalpha at given (alpha, x) against PyTorch's."""
    from torsh.distributions._extra_ops import standard_gamma_grad
    alpha = np.array([0.3, 0.8, 1.0, 2.5, 7.0, 30.0, 0.3, 2.5, 7.0])
    x = np.array([0.05, 0.4, 1.0, 2.0, 9.0, 28.0, 1.5, 0.5, 3.0])
    expected = torch_ref._standard_gamma_grad(torch_ref.tensor(alpha), torch_ref.tensor(x)).numpy()
    np.testing.assert_allclose(standard_gamma_grad(alpha, x), expected, rtol=2e-3)


@pytest.mark.parametrize("family", ["Gamma", "Beta", "Dirichlet", "Chi2", "StudentT"])
def test_rsample_gradient_statistics(family):
    """Mean of d(sample)/d(param) over many draws = d E[sample] / d(param) (analytic), within 5 s.e."""
    D_ = torsh.distributions
    torsh.manual_seed(5)
    n = 20000
    a = torsh.tensor([0.7, 2.0, 5.0], dtype=torsh.float64, requires_grad=True)
    b = torsh.tensor([1.5, 0.6, 3.0], dtype=torsh.float64, requires_grad=True)
    if family == "Gamma":  # E[x] = a / b
        x = D_.Gamma(a, b).rsample((n,))
        per_draw = [torsh.autograd.grad(x[:, i].sum(), [a, b], retain_graph=True) for i in range(3)]
        expected_a, expected_b = 1 / b.detach().numpy(), -a.detach().numpy() / b.detach().numpy() ** 2
    elif family == "Chi2":  # E[x] = df
        x = D_.Chi2(a).rsample((n,))
        per_draw = [torsh.autograd.grad(x[:, i].sum(), [a], retain_graph=True) + (None,) for i in range(3)]
        expected_a, expected_b = np.ones(3), None
    elif family == "StudentT":  # E[x] = loc for df > 1: d/dloc = 1
        x = D_.StudentT(a + 2, b).rsample((n,))
        per_draw = [torsh.autograd.grad(x[:, i].sum(), [a, b], retain_graph=True) for i in range(3)]
        expected_a, expected_b = np.zeros(3), np.ones(3)
    else:  # Beta / Dirichlet first coordinate: E[x] = a / (a + b)
        dist = D_.Beta(a, b) if family == "Beta" else D_.Dirichlet(torsh.stack([a, b], -1))
        x = dist.rsample((n,))
        x = x if family == "Beta" else x[..., 0]
        per_draw = [torsh.autograd.grad(x[:, i].sum(), [a, b], retain_graph=True) for i in range(3)]
        an, bn = a.detach().numpy(), b.detach().numpy()
        expected_a, expected_b = bn / (an + bn) ** 2, -an / (an + bn) ** 2
    got_a = np.array([g[0].numpy()[i] for i, g in enumerate(per_draw)]) / n
    # the standard error of a mean of per-draw gradients: estimated from the samples' spread
    spread = x.detach().numpy().std(0) / np.sqrt(n)
    assert np.all(np.abs(got_a - expected_a) <= 5 * spread * np.maximum(1, np.abs(expected_a)) + 1e-3), \
        (got_a, expected_a)
    if expected_b is not None:
        got_b = np.array([g[1].numpy()[i] for i, g in enumerate(per_draw)]) / n
        assert np.all(np.abs(got_b - expected_b) <= 5 * spread * np.maximum(1, np.abs(expected_b)) + 1e-3), \
            (got_b, expected_b)


# -- gradcheck --------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["Normal", "Gamma", "Beta", "MultivariateNormal", "StudentT", "Dirichlet",
                                    "Categorical", "LowRankMultivariateNormal"])
def test_log_prob_gradcheck(family):
    D_ = torsh.distributions
    t = lambda a: torsh.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)  # noqa: E731
    value = {"Normal": [0.3, -1.0], "Gamma": [0.5, 2.0], "Beta": [0.3, 0.8], "StudentT": [0.3, -1.0],
             "MultivariateNormal": [[0.3, -1.0, 0.5]], "Dirichlet": [[0.2, 0.3, 0.5]], "Categorical": [0, 2],
             "LowRankMultivariateNormal": [[0.3, -1.0, 0.5]]}[family]
    value = torsh.tensor(value, dtype=torsh.int64 if family == "Categorical" else torsh.float64)
    builders = {
        "Normal": (lambda m, s: D_.Normal(m, s), [t([0.1, 0.2]), t([1.2, 0.7])]),
        "Gamma": (lambda a, r: D_.Gamma(a, r), [t([0.8, 2.0]), t([1.5, 0.5])]),
        "Beta": (lambda a, b: D_.Beta(a, b), [t([0.8, 2.0]), t([1.5, 0.5])]),
        "StudentT": (lambda df, m, s: D_.StudentT(df, m, s), [t([3.0, 5.0]), t([0.1, 0.2]), t([1.2, 0.7])]),
        "MultivariateNormal": (lambda m, L: D_.MultivariateNormal(m, scale_tril=L.tril()),
                               [t([0.1, 0.2, 0.3]), t(_lower_cholesky((3, 3), 6))]),
        "Dirichlet": (lambda a: D_.Dirichlet(a), [t([0.8, 2.0, 1.3])]),
        "Categorical": (lambda lg: D_.Categorical(logits=lg), [t([[0.1, 0.2, -0.3], [1.0, 0.0, 0.5]])]),
        "LowRankMultivariateNormal": (lambda m, W, d: D_.LowRankMultivariateNormal(m, W, d),
                                      [t([0.1, 0.2, 0.3]), t(_real((3, 2), 7)), t([1.0, 0.5, 2.0])]),
    }
    build, params = builders[family]
    assert torsh.autograd.gradcheck(lambda *ps: build(*ps).log_prob(value), params)


# -- validation -------------------------------------------------------------------------------------
def _error_message(fn):
    try:
        fn()
    except ValueError as e:
        return str(e)
    pytest.fail("no ValueError raised")


@pytest.mark.parametrize("build", [
    lambda lib: lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda lib: lib.distributions.Normal(lib.tensor([0.0, float("nan")]), lib.tensor([1.0, 1.0])),
    lambda lib: lib.distributions.Categorical(probs=lib.tensor([0.5, -0.2])),
    lambda lib: lib.distributions.Bernoulli(probs=lib.tensor([0.5, 1.2])),
    lambda lib: lib.distributions.Uniform(lib.tensor([0.0, 2.0]), lib.tensor([1.0, 1.0])),
    lambda lib: lib.distributions.Exponential(lib.tensor([0.0])),
    lambda lib: lib.distributions.Gamma(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.Dirichlet(lib.tensor([1.0, 0.0])),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.distributions.Normal(0.0, 1.0).log_prob(lib.tensor([float("nan")])),
    lambda lib: lib.distributions.Exponential(lib.tensor([1.0])).log_prob(lib.tensor([-1.0])),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(3)).log_prob(lib.tensor([3])),
    lambda lib: lib.distributions.Normal(lib.zeros(3), 1.0).log_prob(lib.zeros(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(3), lib.eye(3)).log_prob(lib.zeros(2)),
    lambda lib: lib.distributions.Categorical(probs=lib.tensor(0.5)),
    lambda lib: lib.distributions.Normal(0.0, 1.0).log_prob(0.5),
    lambda lib: lib.distributions.Bernoulli(),
    lambda lib: lib.distributions.Geometric(lib.tensor([0.0, 0.5])),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Categorical(logits=lib.zeros(3)),
                                                    lib.distributions.Normal(lib.zeros(2), 1.0)),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Normal(0.0, 1.0),
                                                    lib.distributions.Normal(lib.zeros(2), 1.0)),
])
def test_validation_errors_match_pytorch(build):
    """Same exception type and the same message up to the offending values (tensor printing is not
    this package's) and the package name in reprs."""
    expected = _error_message(lambda: build(torch_ref)).split("\n")[0]
    ours = _error_message(lambda: build(torsh)).replace(PKG, "torch")
    assert ours.split("\n")[0] == expected
    if "invalid values" in expected:
        assert ours.split("\n")[1].startswith("tensor(")


def test_validate_args_switches():
    D_ = torsh.distributions
    bad = torsh.tensor([-1.0])
    D_.Normal(0.0, bad, validate_args=False)  # no error
    with pytest.raises(ValueError):
        D_.Normal(0.0, bad, validate_args=True)
    try:
        D_.Distribution.set_default_validate_args(False)
        D_.Normal(0.0, bad)
        D_.Exponential(torsh.tensor([1.0])).log_prob(torsh.tensor([-1.0]))
    finally:
        D_.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D_.Normal(0.0, bad)
    check_same_error(lambda lib: lib.distributions.Distribution.set_default_validate_args(2))


def test_sample_n_warns_and_samples():
    with pytest.warns(FutureWarning, match="sample_n"):
        s = torsh.distributions.Normal(torsh.zeros(2), 1.0).sample_n(5)
    assert tuple(s.shape) == (5, 2)


# -- constraints, utils, transforms -----------------------------------------------------------------
CONSTRAINTS = ["boolean", "corr_cholesky", "nonnegative", "nonnegative_integer", "one_hot", "positive",
               "positive_definite", "positive_integer", "positive_semidefinite", "real", "real_vector", "simplex",
               "square", "symmetric", "unit_interval", "lower_cholesky", "lower_triangular"]


@pytest.mark.parametrize("name", CONSTRAINTS)
def test_constraint_checks_and_reprs(name):
    ours, ref = getattr(torsh.distributions.constraints, name), getattr(torch_ref.distributions.constraints, name)
    assert repr(ours) == repr(ref)
    assert ours.event_dim == ref.event_dim and ours.is_discrete == ref.is_discrete
    rng = np.random.default_rng(0)
    candidates = [rng.normal(size=(4, 3, 3)), np.abs(rng.normal(size=(4, 3, 3))), _spd((4, 3, 3), 1),
                  _lower_cholesky((4, 3, 3), 2), np.eye(3)[None].repeat(4, 0), _simplex((4, 3, 3), 3),
                  rng.integers(0, 3, (4, 3, 3)).astype(np.float64), np.linalg.cholesky(np.corrcoef(rng.normal(size=(3, 5))))[None]]
    for c in candidates:
        assert_close(ours.check(torsh.tensor(c)), ref.check(torch_ref.tensor(c)))


def test_parameterised_constraints():
    C, R = torsh.distributions.constraints, torch_ref.distributions.constraints
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
    for build in (lambda c: c.interval(0.0, 1.0), lambda c: c.half_open_interval(0.0, 1.0),
                  lambda c: c.greater_than(0.5), lambda c: c.greater_than_eq(0.5), lambda c: c.less_than(1.0),
                  lambda c: c.integer_interval(0, 2), lambda c: c.independent(c.positive, 1),
                  lambda c: c.cat([c.positive, c.real], 0, [3, 3]), lambda c: c.stack([c.positive, c.real], 0)):
        ours, ref = build(C), build(R)
        assert repr(ours) == repr(ref)
        arg = x.reshape(2, 3) if "Stack" in repr(ref) else x
        assert_close(ours.check(torsh.tensor(arg)), ref.check(torch_ref.tensor(arg)))
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    assert C.is_dependent(torsh.distributions.Uniform.support)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        C.dependent.check(torsh.zeros(1))


def test_utils():
    U, R = torsh.distributions.utils, torch_ref.distributions.utils
    p = _simplex((2, 3), 4)
    assert_close(U.probs_to_logits(torsh.tensor(p)), R.probs_to_logits(torch_ref.tensor(p)))
    assert_close(U.probs_to_logits(torsh.tensor(p), True), R.probs_to_logits(torch_ref.tensor(p), True))
    x = _real((2, 3), 5)
    assert_close(U.logits_to_probs(torsh.tensor(x)), R.logits_to_probs(torch_ref.tensor(x)))
    assert_close(U.logits_to_probs(torsh.tensor(x), True), R.logits_to_probs(torch_ref.tensor(x), True))
    assert_close(U.clamp_probs(torsh.tensor([0.0, 1.0])), R.clamp_probs(torch_ref.tensor([0.0, 1.0])))
    ours = U.broadcast_all(torsh.tensor([[1.0], [2.0]], dtype=torsh.float64), 3.0, torsh.zeros(3, dtype=torsh.float64))
    ref = R.broadcast_all(torch_ref.tensor([[1.0], [2.0]], dtype=torch_ref.float64), 3.0, torch_ref.zeros(3, dtype=torch_ref.float64))
    for a, b in zip(ours, ref):
        assert_close(a, b)
    assert_close(U.broadcast_all(1.0, 2)[0], R.broadcast_all(1.0, 2)[0])
    check_same_error(lambda lib: lib.distributions.utils.broadcast_all(1.0, "a"))
    m = _real((2, 4, 4), 6)
    for diag in (0, -1):
        vec = U.tril_matrix_to_vec(torsh.tensor(m), diag)
        assert_close(vec, R.tril_matrix_to_vec(torch_ref.tensor(m), diag))
        assert_close(U.vec_to_tril_matrix(vec, diag), R.vec_to_tril_matrix(torch_ref.tensor(vec.numpy()), diag))

    class Lazy:
        calls = 0

        @U.lazy_property
        def value(self):
            Lazy.calls += 1
            return 3
    obj = Lazy()
    assert obj.value == 3 and obj.value == 3 and Lazy.calls == 1


TRANSFORMS = {
    "Exp": (lambda T: T.ExpTransform(), lambda s: _real(s, 1)),
    "Affine": (lambda T: T.AffineTransform(1.5, -2.0), lambda s: _real(s, 2)),
    "Sigmoid": (lambda T: T.SigmoidTransform(), lambda s: _real(s, 3)),
    "Tanh": (lambda T: T.TanhTransform(), lambda s: _real(s, 4)),
    "Softplus": (lambda T: T.SoftplusTransform(), lambda s: _real(s, 5)),
    "Power": (lambda T: T.PowerTransform(2.5), lambda s: _pos(s, 6)),
    "Abs": (lambda T: T.AbsTransform(), lambda s: _real(s, 7)),
    "Softmax": (lambda T: T.SoftmaxTransform(), lambda s: _real(s, 8)),
    "StickBreaking": (lambda T: T.StickBreakingTransform(), lambda s: _real(s, 9)),
    "LowerCholesky": (lambda T: T.LowerCholeskyTransform(), lambda s: _real(s + (s[-1],), 10)),
    "PositiveDefinite": (lambda T: T.PositiveDefiniteTransform(), lambda s: _real(s + (s[-1],), 11)),
    "CorrCholesky": (lambda T: T.CorrCholeskyTransform(), lambda s: _real(s[:-1] + (6,), 12)),
    "Compose": (lambda T: T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform()]), lambda s: _real(s, 13)),
    "Inverse": (lambda T: T.ExpTransform().inv, lambda s: _pos(s, 14)),
    "Independent": (lambda T: T.IndependentTransform(T.SigmoidTransform(), 1), lambda s: _real(s, 15)),
    "Reshape": (lambda T: T.ReshapeTransform((3,), (3, 1)), lambda s: _real(s, 16)),
    "Cat": (lambda T: T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0)], -1, [1, 2]),
            lambda s: _real(s, 17)),
    "Stack": (lambda T: T.StackTransform([T.ExpTransform(), T.TanhTransform(), T.SigmoidTransform()], -1),
              lambda s: _real(s, 18)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms(name):
    build, make_x = TRANSFORMS[name]
    ours, ref = build(torsh.distributions.transforms), build(torch_ref.distributions.transforms)
    x = make_x((2, 3))
    y, y_ref = ours(torsh.tensor(x)), ref(torch_ref.tensor(x))
    assert_close(y, y_ref)
    assert_close(ours.inv(y), ref.inv(y_ref))
    expected = _torch_has(lambda: ref.log_abs_det_jacobian(torch_ref.tensor(x), y_ref))
    if expected is None:
        with pytest.raises(NotImplementedError):
            ours.log_abs_det_jacobian(torsh.tensor(x), y)
    else:
        assert_close(ours.log_abs_det_jacobian(torsh.tensor(x), y), expected)
    assert tuple(ours.forward_shape((2, 3) if name not in ("LowerCholesky", "PositiveDefinite", "CorrCholesky")
                                    else x.shape)) == tuple(ref.forward_shape((2, 3) if name not in (
                                        "LowerCholesky", "PositiveDefinite", "CorrCholesky") else x.shape))
    assert repr(ours.domain) == repr(ref.domain) and repr(ours.codomain) == repr(ref.codomain)
    assert ours.bijective == ref.bijective
    assert (ours == build(torsh.distributions.transforms)) == (ref == build(torch_ref.distributions.transforms))


def test_transform_cache_and_sign():
    T = torsh.distributions.transforms
    t = T.ExpTransform(cache_size=1)
    x = torsh.tensor([0.5])
    y = t(x)
    assert t.inv(y) is x and t(x) is y
    assert T.AffineTransform(0.0, -2.0).sign == -1
    assert T.ComposeTransform([T.AffineTransform(0.0, -2.0), T.ExpTransform()]).sign == -1
    check_same_error(lambda lib: lib.distributions.transforms.ExpTransform(cache_size=2))


def test_transformed_distribution_matches_pytorch():
    def build(lib):
        T = lib.distributions.transforms
        base = lib.distributions.Normal(lib.tensor(_real((2, 3), 1)), lib.tensor(_pos((2, 3), 2)))
        return lib.distributions.TransformedDistribution(base, [T.AffineTransform(1.0, -2.0), T.SigmoidTransform()])
    ours, ref = build(torsh), build(torch_ref)
    v = _pos((4, 2, 3), 3, 0.05, 0.95)
    assert_close(ours.log_prob(torsh.tensor(v)), ref.log_prob(torch_ref.tensor(v)))
    assert_close(ours.cdf(torsh.tensor(v)), ref.cdf(torch_ref.tensor(v)))
    assert_close(ours.icdf(torsh.tensor(v)), ref.icdf(torch_ref.tensor(v)))
    assert tuple(ours.sample((5,)).shape) == (5, 2, 3)

    def stick(lib):
        base = lib.distributions.Normal(lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64))
        return lib.distributions.TransformedDistribution(base, lib.distributions.transforms.StickBreakingTransform())
    ours, ref = stick(torsh), stick(torch_ref)
    assert tuple(ours.event_shape) == tuple(ref.event_shape) == (4,)
    v = _simplex((2, 4), 4)
    assert_close(ours.log_prob(torsh.tensor(v)), ref.log_prob(torch_ref.tensor(v)))


# -- KL divergence ------------------------------------------------------------------------------------
KL_PAIRS = [
    ("Normal", "Normal"), ("Categorical_probs", "Categorical_probs"), ("Categorical_logits", "Categorical_logits"), ("Bernoulli_probs", "Bernoulli_probs"),
    ("MultivariateNormal_cov", "MultivariateNormal_tril"), ("Uniform", "Uniform"), ("Exponential", "Exponential"),
    ("Independent_Normal", "Independent_Normal"), ("Laplace", "Laplace"), ("Gumbel", "Gumbel"),
    ("OneHotCategorical", "OneHotCategorical"), ("LowRankMultivariateNormal", "LowRankMultivariateNormal"),
    ("LowRankMultivariateNormal", "MultivariateNormal_prec"), ("MultivariateNormal_cov", "LowRankMultivariateNormal"),
    ("LogNormal", "LogNormal"), ("Normal", "Laplace"), ("Normal", "Gumbel"), ("Uniform", "Normal"),
    ("Exponential", "Normal"), ("Beta", "Beta"), ("Gamma", "Gamma"), ("Dirichlet", "Dirichlet"),
    ("Poisson", "Poisson"), ("Binomial", "Binomial"), ("Chi2", "Chi2"), ("Geometric", "Geometric"),
    ("HalfNormal", "HalfNormal"),
]
_CASE = {c.name: c for c in CASES}


def _other_value(case, i, p):
    """Parameter ``i`` of ``case`` moved inside its constraint, so KL(p || q) is not 0."""
    if i in case.int_params:
        return p
    if p.ndim >= 2 and p.shape[-1] == p.shape[-2] and np.allclose(np.triu(p, 1), 0):
        return p * 1.3  # a lower Cholesky factor stays one
    if "probs" in case.name or case.name in ("OneHotCategorical", "Multinomial", "Binomial"):
        return np.roll(p, 1, -1) if p.ndim and case.name != "Binomial" and "Bernoulli" not in case.name \
            else 0.7 * p + 0.1
    if case.name == "Uniform":  # q's support must cover p's for a finite KL
        return p - 0.5 if i == 0 else p + 1.0
    return p * 1.3 + 0.1


def _second(case):
    params = [_other_value(case, i, p) for i, p in enumerate(case.params)]
    return Case(case.name, case.build, params, case.values, case.int_params)


@pytest.mark.parametrize("pair", KL_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_kl_divergence_matches_pytorch(pair):
    p_case, q_case = _CASE[pair[0]], _second(_CASE[pair[1]])
    if pair[0] == "Exponential" and pair[1] == "Normal":
        p_case = Case("Exponential", p_case.build, [_pos((3,), 16)], p_case.values)
        q_case = _second(_CASE["Normal"])
    p, p_params = p_case.make(torsh, True)
    q, _ = q_case.make(torsh)
    p_ref, p_ref_params = p_case.make(torch_ref, True)
    q_ref, _ = q_case.make(torch_ref)
    kl, kl_ref = torsh.distributions.kl_divergence(p, q), torch_ref.distributions.kl_divergence(p_ref, q_ref)
    assert_close(kl, kl_ref, rtol=1e-6, atol=1e-6)
    wanted = [i for i, t in enumerate(p_ref_params) if t.requires_grad]
    grads = torsh.autograd.grad(kl.sum(), [p_params[i] for i in wanted], allow_unused=True)
    grads_ref = torch_ref.autograd.grad(kl_ref.sum(), [p_ref_params[i] for i in wanted], allow_unused=True)
    for g, g_ref in zip(grads, grads_ref):
        if g_ref is not None:
            assert_close(g, g_ref, rtol=1e-5, atol=1e-6)


def test_kl_infinite_and_unregistered():
    D_, R = torsh.distributions, torch_ref.distributions
    for lib in (torsh, torch_ref):  # q's support does not cover p's: +inf
        kl = lib.distributions.kl_divergence(lib.distributions.Uniform(0.0, 2.0), lib.distributions.Uniform(0.5, 1.0))
        assert math.isinf(float(kl))
    kl = D_.kl_divergence(D_.Categorical(torsh.tensor([0.5, 0.5])), D_.Categorical(torsh.tensor([1.0, 0.0])))
    assert math.isinf(float(kl))
    check_same_error(lambda lib: lib.distributions.kl_divergence(lib.distributions.Normal(0.0, 1.0),
                                                                 lib.distributions.Categorical(lib.ones(2))))
    check_same_error(lambda lib: lib.distributions.kl_divergence(lib.distributions.Cauchy(0.0, 1.0),
                                                                 lib.distributions.Poisson(1.0)))
    assert R is not None


def test_register_kl_dispatch_and_memo():
    D_ = torsh.distributions

    class MyNormal(D_.Normal):
        pass

    # a subclass uses its parent's registration until it gets its own
    p, q = MyNormal(0.0, 1.0), D_.Normal(1.0, 1.0)
    assert float(D_.kl_divergence(p, q)) == pytest.approx(0.5)

    @D_.register_kl(MyNormal, D_.Normal)
    def _kl_mine(p, q):
        return torsh.tensor(42.0)
    try:
        assert float(D_.kl_divergence(p, q)) == 42.0
        assert float(D_.kl_divergence(q, p)) == pytest.approx(0.5)
    finally:
        from torsh.distributions import kl
        del kl._KL_REGISTRY[MyNormal, D_.Normal]
        kl._KL_MEMOIZE.clear()


# -- REINFORCE ----------------------------------------------------------------------------------------
def test_reinforce_policy_gradient_matches_pytorch():
    """Categorical over a policy network's logits: -log_prob(action) * reward, backward, same weights."""
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(8, 4)) * 0.5, rng.normal(size=8) * 0.1
    w2, b2 = rng.normal(size=(3, 8)) * 0.5, rng.normal(size=3) * 0.1
    states = rng.normal(size=(6, 4))
    actions = np.array([0, 2, 1, 1, 0, 2])
    rewards = rng.normal(size=6)

    def run(lib):
        net = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3)).double()
        with lib.no_grad():
            for param, value in zip(net.parameters(), (w1, b1, w2, b2)):
                param.copy_(lib.tensor(value))
        policy = lib.distributions.Categorical(logits=net(lib.tensor(states)))
        loss = (-policy.log_prob(lib.tensor(actions)) * lib.tensor(rewards)).mean()
        loss = loss - 0.01 * policy.entropy().mean()  # the usual entropy bonus
        loss.backward()
        return loss, [p.grad for p in net.parameters()], policy.sample().shape
    loss, grads, shape = run(torsh)
    loss_ref, grads_ref, shape_ref = run(torch_ref)
    assert_close(loss, loss_ref)
    for g, g_ref in zip(grads, grads_ref):
        assert_close(g, g_ref)
    assert tuple(shape) == tuple(shape_ref) == (6,)


def test_import_paths():
    from torsh.distributions import Categorical, Normal  # noqa: F401
    from torsh.distributions.normal import Normal as N2
    from torsh.distributions.constraints import positive  # noqa: F401
    assert N2 is Normal
    assert set(torch_ref.distributions.transforms.__all__) <= set(torsh.distributions.transforms.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torsh.distributions.Normal(torsh.zeros(2), torsh.ones(2)).log_prob(torsh.zeros(2))
