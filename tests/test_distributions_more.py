"""torsh.distributions, the second half: the relaxed, heavy-tailed, circular and matrix families, the
constraint registry (biject_to / transform_to) and the cross-family KL pairs, against PyTorch 2.13.

The per-family checks are the ones of ``test_distributions.py`` (its ``Case`` tables and check functions),
run over this file's cases; families without closed-form moments get two-sample tests instead.
"""
import math

import numpy as np
import pytest

import torsh
import test_distributions as base
from helpers import PKG, assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch

Case, D, _pos, _real, _sample_np = base.Case, base.D, base._pos, base._real, base._sample_np
_simplex, _spd, _lower_cholesky = base._simplex, base._spd, base._lower_cholesky

class Case32(Case):
    """A case built in float32: PyTorch 2.13's GeneralizedPareto compares its parameters with a float32
    zero (torch.isclose) and so refuses float64 ones."""

    def make(self, lib, requires_grad=False):
        dist, tensors = super().make(lib, requires_grad)
        tensors = [t.detach().float().requires_grad_(t.requires_grad) for t in tensors]
        return self.build(lib, *tensors), tensors


CASES = [
    Case("RelaxedBernoulli", lambda lib, t, p: D(lib).RelaxedBernoulli(t, probs=p),
         [np.array(0.7), _pos((2, 3), 60, 0.1, 0.9)], _sample_np),
    Case("RelaxedBernoulli_logits", lambda lib, t, lg: D(lib).RelaxedBernoulli(t, logits=lg),
         [_pos((3,), 61, 0.3, 1.5), _real((3,), 62)], _sample_np),
    Case("LogitRelaxedBernoulli", lambda lib, t, p: D(lib).relaxed_bernoulli.LogitRelaxedBernoulli(t, probs=p),
         [np.array(0.5), _pos((4,), 63, 0.1, 0.9)], _sample_np),
    Case("RelaxedOneHotCategorical", lambda lib, t, p: D(lib).RelaxedOneHotCategorical(t, probs=p),
         [np.array(0.8), _simplex((2, 3), 64)], _sample_np),
    Case("RelaxedOneHotCategorical_logits", lambda lib, t, lg: D(lib).RelaxedOneHotCategorical(t, logits=lg),
         [np.array(1.3), _real((4,), 65)], _sample_np),
    Case("ExpRelaxedCategorical", lambda lib, t, lg: D(lib).relaxed_categorical.ExpRelaxedCategorical(t, logits=lg),
         [np.array(0.6), _real((2, 3), 66)], _sample_np),
    Case("Weibull", lambda lib, s, c: D(lib).Weibull(s, c), [_pos((3,), 67), _pos((2, 3), 68, 0.8, 3.0)], _sample_np),
    Case("Pareto", lambda lib, s, a: D(lib).Pareto(s, a), [_pos((3,), 69), _pos((2, 3), 70, 2.5, 5.0)], _sample_np),
    Case("VonMises", lambda lib, m, k: D(lib).VonMises(m, k), [_real((3,), 71), _pos((2, 3), 72, 0.3, 6.0)],
         _sample_np),
    Case("ContinuousBernoulli", lambda lib, p: D(lib).ContinuousBernoulli(probs=p),
         [np.array([0.1, 0.4995, 0.5002, 0.7, 0.95])], _sample_np),
    Case("ContinuousBernoulli_logits", lambda lib, lg: D(lib).ContinuousBernoulli(logits=lg),
         [_real((2, 3), 73)], _sample_np),
    Case("FisherSnedecor", lambda lib, a, b: D(lib).FisherSnedecor(a, b),
         [_pos((3,), 74, 1.0, 6.0), _pos((2, 3), 75, 5.0, 10.0)], _sample_np),
    Case("Kumaraswamy", lambda lib, a, b: D(lib).Kumaraswamy(a, b), [_pos((3,), 76, 0.5, 3.0),
                                                                     _pos((2, 3), 77, 0.5, 3.0)], _sample_np),
    Case("NegativeBinomial", lambda lib, n, p: D(lib).NegativeBinomial(n, probs=p),
         [_pos((3,), 78, 1.0, 6.0), _pos((3,), 79, 0.1, 0.8)], _sample_np),
    Case("NegativeBinomial_logits", lambda lib, n, lg: D(lib).NegativeBinomial(n, logits=lg),
         [_pos((2, 1), 80, 1.0, 6.0), _real((3,), 81)], _sample_np),
    Case("InverseGamma", lambda lib, a, r: D(lib).InverseGamma(a, r), [_pos((3,), 82, 2.5, 5.0), _pos((2, 3), 83)],
         _sample_np),
    Case32("GeneralizedPareto", lambda lib, m, s, c: D(lib).GeneralizedPareto(m, s, c),
         [_real((3,), 84), _pos((3,), 85), np.array([-0.2, 0.0, 0.3])], _sample_np),
    Case("LogisticNormal", lambda lib, m, s: D(lib).LogisticNormal(m, s), [_real((2, 3), 86), _pos((3,), 87)],
         _sample_np),
    Case("LKJCholesky", lambda lib, c: D(lib).LKJCholesky(3, c), [_pos((2,), 88, 0.5, 3.0)], _sample_np),
    Case("LKJCholesky_dim2", lambda lib, c: D(lib).LKJCholesky(2, c), [np.array(1.5)], _sample_np),
    Case("Wishart_cov", lambda lib, df, c: D(lib).Wishart(df, covariance_matrix=c),
         [_pos((2,), 89, 4.0, 7.0), _spd((3, 3), 90)], _sample_np),
    Case("Wishart_tril", lambda lib, df, L: D(lib).Wishart(df, scale_tril=L.tril()),
         [np.array(5.5), _lower_cholesky((2, 3, 3), 91)], _sample_np),
    Case("Wishart_prec", lambda lib, df, P: D(lib).Wishart(df, precision_matrix=P),
         [np.array(4.5), _spd((2, 2), 92)], _sample_np),
]
_CASE = {c.name: c for c in CASES}
_ids = repr


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_shapes_and_repr(case):
    base.test_shapes_and_repr(case)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_log_prob_moments_entropy(case):
    base.test_log_prob_moments_entropy(case)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_cdf_icdf(case):
    base.test_cdf_icdf(case)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_log_prob_gradients(case):
    base.test_log_prob_gradients(case)


MOMENT_CASES = [c for c in CASES if c.name.split("_")[0] in (
    "Weibull", "Pareto", "ContinuousBernoulli", "FisherSnedecor", "Kumaraswamy", "NegativeBinomial", "InverseGamma",
    "GeneralizedPareto", "Wishart")]


@pytest.mark.parametrize("case", MOMENT_CASES, ids=_ids)
def test_sample_mean_and_variance(case):
    if case.name == "FisherSnedecor":  # the variance's standard error needs finite 8th moments: df2 > 8
        case = Case(case.name, case.build, [case.params[0], case.params[1] + 6.0], case.values)
    base.test_sample_mean_and_variance(case)


# families whose moments PyTorch does not give in closed form (or, for VonMises, gives circular ones):
# a two-sample Kolmogorov-Smirnov test of one coordinate against PyTorch's own sampler
def _coordinate(name, samples):
    if name.startswith("LKJCholesky"):
        return samples[..., 1, 0]
    if "Categorical" in name:
        return samples[..., 0]
    return samples


KS_CASES = [c for c in CASES if c.name.split("_")[0] in (
    "RelaxedBernoulli", "LogitRelaxedBernoulli", "RelaxedOneHotCategorical", "ExpRelaxedCategorical", "VonMises",
    "LKJCholesky", "LogisticNormal")]


@pytest.mark.parametrize("case", KS_CASES, ids=_ids)
def test_samples_match_pytorch_distribution(case):
    n = 4000
    torsh.manual_seed(7)
    torch_ref.manual_seed(7)
    ours, ref, _, _ = base._both(case)
    x = _coordinate(case.name, ours.sample((n,)).numpy()).reshape(n, -1)
    y = _coordinate(case.name, ref.sample((n,)).numpy()).reshape(n, -1)
    critical = 1.95 * math.sqrt(2 / n)  # alpha = 0.001 for each coordinate
    for j in range(x.shape[1]):
        grid = np.sort(np.concatenate([x[:, j], y[:, j]]))
        ecdf_x = np.searchsorted(np.sort(x[:, j]), grid, side="right") / n
        ecdf_y = np.searchsorted(np.sort(y[:, j]), grid, side="right") / n
        assert np.max(np.abs(ecdf_x - ecdf_y)) < critical, j


def test_von_mises_samples_stay_on_the_circle_and_center_on_loc():
    torsh.manual_seed(8)
    loc = torsh.tensor([3.0, -2.5, 0.2], dtype=torsh.float64)
    kappa = torsh.tensor([50.0, 10.0, 1e-6], dtype=torsh.float32)
    x = D(torsh).VonMises(loc, kappa.double()).sample((5000,)).numpy()
    assert np.all((x >= -math.pi) & (x < math.pi))
    circular_mean = np.angle(np.exp(1j * x).mean(0))
    np.testing.assert_allclose(circular_mean[:2], [3.0, -2.5], atol=0.05)
    assert D(torsh).VonMises(loc.float(), kappa).sample().dtype == torsh.float32


@pytest.mark.parametrize("family", ["RelaxedBernoulli", "RelaxedOneHotCategorical", "ContinuousBernoulli", "Weibull",
                                    "Kumaraswamy", "InverseGamma", "GeneralizedPareto", "LogisticNormal",
                                    "FisherSnedecor", "Pareto"])
def test_rsample_is_differentiable(family):
    """d(sum rsample)/d(params) exists and is finite: the sample is a function of the parameters."""
    case = next(c for c in CASES if c.name == family)
    ours, params = case.make(torsh, requires_grad=True)
    assert ours.has_rsample
    torsh.manual_seed(9)
    x = ours.rsample((50,))
    grads = torsh.autograd.grad(x.sum(), params, allow_unused=True)
    assert any(g is not None for g in grads)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads if g is not None)


def test_weibull_rsample_gradient_is_exact():
    """x = scale * E^(1/k): dx/dscale = x / scale (E is recovered from x)."""
    scale = torsh.tensor([1.5, 0.5], dtype=torsh.float64, requires_grad=True)
    k = torsh.tensor([2.0, 0.7], dtype=torsh.float64, requires_grad=True)
    torsh.manual_seed(10)
    x = D(torsh).Weibull(scale, k).rsample((100,))
    g_scale, g_k = torsh.autograd.grad(x.sum(), [scale, k])
    xs, sc, kn = x.detach().numpy(), scale.detach().numpy(), k.detach().numpy()
    np.testing.assert_allclose(g_scale.numpy(), (xs / sc).sum(0), rtol=1e-10)
    np.testing.assert_allclose(g_k.numpy(), (-xs * np.log(xs / sc) / kn).sum(0), rtol=1e-8)


def test_generalized_pareto_log_cdf_and_survival():
    case = _CASE["GeneralizedPareto"]
    ours, ref, _, _ = base._both(case)
    v, v_ref = case.value(torsh, ref), case.value(torch_ref, ref)
    assert_close(ours.log_survival_function(v), ref.log_survival_function(v_ref))
    assert_close(ours.log_cdf(v), ref.log_cdf(v_ref))
    assert repr(ours.support) .replace(PKG, "torch").split("(")[0] == repr(ref.support).split("(")[0]
    assert_close(ours.support.upper_bound, ref.support.upper_bound)


def test_continuous_bernoulli_log_normalizer_matches_pytorch():
    x = np.array([-3.0, -0.0005, 0.0, 0.0007, 0.2, 4.0])
    ours = D(torsh).ContinuousBernoulli(probs=torsh.tensor([0.3]))._log_normalizer(torsh.tensor(x))
    ref = D(torch_ref).ContinuousBernoulli(probs=torch_ref.tensor([0.3]))._log_normalizer(torch_ref.tensor(x))
    assert_close(ours, ref)


def test_wishart_properties_and_singular_free_samples():
    case = _CASE["Wishart_cov"]
    ours, ref, _, _ = base._both(case)
    for name in ("scale_tril", "covariance_matrix", "precision_matrix"):
        assert_close(getattr(ours, name), getattr(ref, name))
    torsh.manual_seed(11)
    s = ours.sample((20,)).numpy()
    assert np.all(np.linalg.eigvalsh(s) > 0)
    with pytest.warns(UserWarning, match="Low df values detected"):
        D(torsh).Wishart(torsh.tensor(2.5), covariance_matrix=torsh.eye(3))


@pytest.mark.parametrize("build", [
    lambda lib: lib.distributions.RelaxedBernoulli(lib.tensor(0.5), probs=lib.tensor([0.5, 1.5])),
    lambda lib: lib.distributions.RelaxedBernoulli(lib.tensor(0.5)),
    lambda lib: lib.distributions.RelaxedOneHotCategorical(lib.tensor(0.5), probs=lib.tensor([0.5, -0.5])),
    lambda lib: lib.distributions.Weibull(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.Pareto(lib.tensor([0.0]), lib.tensor([1.0])),
    lambda lib: lib.distributions.Pareto(lib.tensor([1.0]), lib.tensor([2.0])).log_prob(lib.tensor([0.5])),
    lambda lib: lib.distributions.VonMises(lib.tensor([0.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.ContinuousBernoulli(probs=lib.tensor([0.3])).log_prob(lib.tensor([1.5])),
    lambda lib: lib.distributions.ContinuousBernoulli(),
    lambda lib: lib.distributions.FisherSnedecor(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.Kumaraswamy(lib.tensor([1.0]), lib.tensor([-2.0])),
    lambda lib: lib.distributions.Kumaraswamy(lib.tensor([1.0]), lib.tensor([2.0])).log_prob(lib.tensor([1.5])),
    lambda lib: lib.distributions.NegativeBinomial(lib.tensor([-1.0]), probs=lib.tensor([0.5])),
    lambda lib: lib.distributions.NegativeBinomial(lib.tensor([2.0]), probs=lib.tensor([1.0])),
    lambda lib: lib.distributions.NegativeBinomial(lib.tensor([2.0]), logits=lib.tensor([1.0])).log_prob(
        lib.tensor([0.5])),
    lambda lib: lib.distributions.InverseGamma(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.GeneralizedPareto(lib.tensor([0.0]), lib.tensor([-1.0]), lib.tensor([0.1])),
    lambda lib: lib.distributions.LogisticNormal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 0.0])),
    lambda lib: lib.distributions.LKJCholesky(1),
    lambda lib: lib.distributions.LKJCholesky(3, lib.tensor([-1.0])),
    lambda lib: lib.distributions.LKJCholesky(2, lib.tensor(1.0)).log_prob(lib.tensor([[1.0, 0.0], [1.0, 1.0]])),
    lambda lib: lib.distributions.Wishart(lib.tensor(1.5), covariance_matrix=lib.eye(3)),
    lambda lib: lib.distributions.Wishart(lib.tensor(4.0), covariance_matrix=lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.distributions.Wishart(lib.tensor(4.0), scale_tril=lib.ones(3)),
])
def test_validation_errors_match_pytorch(build):
    base.test_validation_errors_match_pytorch(build)


def test_continuous_bernoulli_checks_probs_before_clamping():
    check_same_error(lambda lib: lib.distributions.ContinuousBernoulli(probs=lib.tensor([1.5]), validate_args=True))


def test_continuous_bernoulli_at_one_half():
    """p = 0.5 exactly (the uniform distribution): values from the Taylor branch."""
    ours = D(torsh).ContinuousBernoulli(probs=torsh.tensor([0.5, 0.5], dtype=torsh.float64))
    ref = D(torch_ref).ContinuousBernoulli(probs=torch_ref.tensor([0.5, 0.5], dtype=torch_ref.float64))
    v = np.array([0.2, 0.9])
    assert_close(ours.log_prob(torsh.tensor(v)), ref.log_prob(torch_ref.tensor(v)))
    assert_close(ours.cdf(torsh.tensor(v)), ref.cdf(torch_ref.tensor(v)))
    for name in ("mean", "variance", "stddev"):
        assert_close(getattr(ours, name), getattr(ref, name))
    assert_close(ours.entropy(), ref.entropy())


def test_wishart_needs_exactly_one_matrix():
    check_same_error(lambda lib: lib.distributions.Wishart(lib.tensor(4.0)))
    check_same_error(lambda lib: lib.distributions.Wishart(lib.tensor(4.0), covariance_matrix=lib.eye(2),
                                                           scale_tril=lib.eye(2)))


# -- constraint_registry ----------------------------------------------------------------------------
REGISTRY_CONSTRAINTS = {
    "real": (lambda C: C.real, (2, 3)),
    "positive": (lambda C: C.positive, (2, 3)),
    "nonnegative": (lambda C: C.nonnegative, (3,)),
    "greater_than": (lambda C: C.greater_than(1.5), (3,)),
    "greater_than_eq": (lambda C: C.greater_than_eq(-0.5), (3,)),
    "less_than": (lambda C: C.less_than(2.0), (3,)),
    "unit_interval": (lambda C: C.unit_interval, (2, 3)),
    "interval": (lambda C: C.interval(-1.0, 3.0), (3,)),
    "half_open_interval": (lambda C: C.half_open_interval(0.5, 1.0), (3,)),
    "simplex": (lambda C: C.simplex, (2, 3)),
    "real_vector": (lambda C: C.real_vector, (2, 3)),
    "independent_positive": (lambda C: C.independent(C.positive, 1), (2, 3)),
    "corr_cholesky": (lambda C: C.corr_cholesky, (2, 3)),
    "lower_cholesky": (lambda C: C.lower_cholesky, (2, 3, 3)),
    "positive_definite": (lambda C: C.positive_definite, (2, 3, 3)),
    "positive_semidefinite": (lambda C: C.positive_semidefinite, (3, 3)),
    "cat": (lambda C: C.cat([C.positive, C.real, C.unit_interval], -1, [1, 2, 1]), (2, 4)),
    "stack": (lambda C: C.stack([C.positive, C.interval(0.0, 2.0)], -1), (3, 2)),
}


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", list(REGISTRY_CONSTRAINTS))
def test_constraint_registry_matches_pytorch(registry, name):
    """The registered transform: its repr, y = t(x) in the constraint, t.inv(y) back to x for bijections,
    and log|det J| as PyTorch computes it; unregistered constraints raise the same error."""
    build, shape = REGISTRY_CONSTRAINTS[name]
    c_ours, c_ref = build(torsh.distributions.constraints), build(torch_ref.distributions.constraints)
    lookup = getattr(torsh.distributions, registry)
    lookup_ref = getattr(torch_ref.distributions, registry)
    try:
        t_ref = lookup_ref(c_ref)
    except NotImplementedError:
        check_same_error(lambda lib: getattr(lib.distributions, registry)(build(lib.distributions.constraints)))
        return
    t = lookup(c_ours)
    assert type(t).__name__ == type(t_ref).__name__
    assert t.bijective == t_ref.bijective
    x = _real(shape, 93)
    y, y_ref = t(torsh.tensor(x)), t_ref(torch_ref.tensor(x))
    assert_close(y, y_ref)
    assert bool(c_ours.check(y).all())
    expected = base._torch_has(lambda: t_ref.log_abs_det_jacobian(torch_ref.tensor(x), y_ref))
    if expected is None:
        with pytest.raises(NotImplementedError):
            t.log_abs_det_jacobian(torsh.tensor(x), y)
    else:
        assert_close(t.log_abs_det_jacobian(torsh.tensor(x), y), expected)
    if registry == "biject_to":
        assert_close(t.inv(y), torsh.tensor(x), rtol=1e-6, atol=1e-8)


def test_constraint_registry_register_and_errors():
    C = torsh.distributions.constraints

    class MyConstraint(C.Constraint):
        pass
    registry = torsh.distributions.constraint_registry.ConstraintRegistry()
    registry.register(MyConstraint, lambda c: torsh.distributions.transforms.ExpTransform())
    assert type(registry(MyConstraint())).__name__ == "ExpTransform"

    @registry.register(C.positive)  # a singleton registers its class
    def _factory(constraint):
        return torsh.distributions.transforms.SoftplusTransform()
    assert type(registry(C.greater_than(0.0))).__name__ == "SoftplusTransform"
    check_same_error(lambda lib: lib.distributions.constraint_registry.ConstraintRegistry().register(3, lambda c: c))
    check_same_error(lambda lib: lib.distributions.biject_to(lib.distributions.constraints.lower_cholesky))
    check_same_error(lambda lib: lib.distributions.transform_to(lib.distributions.constraints.boolean))


# -- KL divergence ------------------------------------------------------------------------------------
_ALL = {**{c.name: c for c in base.CASES}, **_CASE}
_ALL["Uniform_unit"] = Case("Uniform_unit", lambda lib, lo, hi: D(lib).Uniform(lo, hi),
                            [np.array([0.1, 0.2, 0.3]), np.array([0.6, 0.9, 0.8])], _sample_np)
_ALL["Uniform_pos"] = Case("Uniform_pos", lambda lib, lo, hi: D(lib).Uniform(lo, hi),
                           [np.array([1.5, 2.2, 3.0]), np.array([2.6, 2.9, 3.8])], _sample_np)
_ALL["Pareto_heavy"] = Case("Pareto_heavy", lambda lib, s, a: D(lib).Pareto(s, a),
                            [np.array([1.0, 1.0, 2.0]), np.array([0.8, 1.5, 3.0])], _sample_np)
_ALL["Pareto_small"] = Case("Pareto_small", lambda lib, s, a: D(lib).Pareto(s, a),
                            [np.array([0.2, 0.5, 1.0]), np.array([2.0, 1.5, 3.0])], _sample_np)
_ALL["Exponential3"] = Case("Exponential3", lambda lib, r: D(lib).Exponential(r), [_pos((3,), 96)], _sample_np)
_ALL["Gamma3"] = Case("Gamma3", lambda lib, a, r: D(lib).Gamma(a, r), [_pos((3,), 97), _pos((3,), 98)], _sample_np)
_ALL["ContinuousBernoulli3"] = Case("ContinuousBernoulli3", lambda lib, p: D(lib).ContinuousBernoulli(probs=p),
                                    [np.array([0.2, 0.4999, 0.8])], _sample_np)
_ALL["Poisson3"] = Case("Poisson3", lambda lib, r: D(lib).Poisson(r), [_pos((3,), 94)], _sample_np)
_ALL["Bernoulli3"] = Case("Bernoulli3", lambda lib, p: D(lib).Bernoulli(probs=p), [_pos((3,), 95, 0.1, 0.9)],
                          _sample_np)

KL_PAIRS = [
    ("Cauchy", "Cauchy"), ("ContinuousBernoulli3", "ContinuousBernoulli3"), ("ContinuousBernoulli_logits",
                                                                           "ContinuousBernoulli_logits"),
    ("Pareto", "Pareto"), ("Pareto_small", "Pareto"), ("Bernoulli3", "Poisson3"), ("Beta", "ContinuousBernoulli3"),
    ("Beta", "Pareto"), ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"), ("Beta", "Uniform"),
    ("Beta", "Uniform_unit"), ("ContinuousBernoulli3", "Pareto"), ("ContinuousBernoulli3", "Exponential"),
    ("ContinuousBernoulli3", "Normal"), ("ContinuousBernoulli3", "Uniform"), ("ContinuousBernoulli3", "Uniform_unit"),
    ("Exponential", "Beta"), ("Exponential", "ContinuousBernoulli3"), ("Exponential", "Pareto"),
    ("Exponential", "Uniform"), ("Exponential", "Gamma"), ("Exponential", "Gumbel"), ("Gamma", "Beta"),
    ("Gamma", "ContinuousBernoulli3"), ("Gamma", "Pareto"), ("Gamma", "Uniform"), ("Gamma", "Exponential"),
    ("Gamma", "Gumbel"), ("Gamma", "Normal"), ("Gumbel", "Beta"), ("Gumbel", "Exponential"), ("Gumbel", "Normal"),
    ("Gumbel", "Pareto"), ("Laplace", "Beta"), ("Laplace", "Gamma"), ("Laplace", "Normal"), ("Laplace", "Uniform"),
    ("Normal", "Beta"), ("Normal", "ContinuousBernoulli3"), ("Normal", "Exponential"), ("Normal", "Gamma"),
    ("Normal", "Pareto"), ("Normal", "Uniform"), ("Pareto", "Beta"), ("Pareto", "ContinuousBernoulli3"),
    ("Pareto", "Uniform"), ("Pareto", "Exponential"), ("Pareto_heavy", "Exponential3"), ("Pareto", "Gamma"),
    ("Pareto_heavy", "Gamma3"), ("Pareto", "Normal"), ("Pareto_heavy", "Normal"), ("Poisson3", "Bernoulli3"),
    ("Poisson3", "Binomial"), ("Uniform_unit", "Beta"), ("Uniform", "Beta"), ("Uniform_unit", "ContinuousBernoulli3"),
    ("Uniform", "ContinuousBernoulli3"), ("Uniform_pos", "Exponential3"), ("Uniform", "Exponential3"),
    ("Uniform_pos", "Gamma3"), ("Uniform", "Gamma3"), ("Uniform_pos", "Pareto_small"), ("Uniform", "Pareto"),
    ("Uniform", "Gumbel"), ("Independent_Normal", "Independent_Normal"),
]


@pytest.mark.parametrize("pair", KL_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_kl_divergence_matches_pytorch(pair):
    """KL value (finite or +inf, or the same NotImplementedError) and its gradient w.r.t. p's parameters."""
    p_case, q_case = _ALL[pair[0]], _ALL[pair[1]]
    if pair[0] == pair[1]:
        q_case = base._second(q_case)
    p, p_params = p_case.make(torsh, True)
    q, _ = q_case.make(torsh)
    p_ref, p_ref_params = p_case.make(torch_ref, True)
    q_ref, _ = q_case.make(torch_ref)
    try:
        kl_ref = torch_ref.distributions.kl_divergence(p_ref, q_ref)
    except NotImplementedError:
        check_same_error(lambda lib: lib.distributions.kl_divergence(*(
            (p, q) if lib is torsh else (p_ref, q_ref))))
        return
    kl = torsh.distributions.kl_divergence(p, q)
    assert kl.dtype == torsh.float64
    assert_close(kl, kl_ref, rtol=1e-6, atol=1e-6)
    finite = np.isfinite(kl_ref.detach().numpy())
    if not finite.any():
        return
    wanted = [i for i, t in enumerate(p_ref_params) if t.requires_grad]
    w = finite.astype(np.float64)
    grads = torsh.autograd.grad((torsh.where(torsh.tensor(finite), kl, 0.0) * torsh.tensor(w)).sum(),
                                [p_params[i] for i in wanted], allow_unused=True)
    grads_ref = torch_ref.autograd.grad((torch_ref.where(torch_ref.tensor(finite), kl_ref, 0.0)
                                         * torch_ref.tensor(w)).sum(), [p_ref_params[i] for i in wanted],
                                        allow_unused=True)
    for g, g_ref in zip(grads, grads_ref):
        if g_ref is not None:
            assert_close(g, g_ref, rtol=1e-5, atol=1e-6)


def test_every_pytorch_kl_pair_is_registered():
    from torsh.distributions import kl
    ours = {(p.__name__, q.__name__) for p, q in kl._KL_REGISTRY}
    theirs = {(p.__name__, q.__name__) for p, q in torch_ref.distributions.kl._KL_REGISTRY}
    assert theirs <= ours, sorted(theirs - ours)


def test_public_names_match_pytorch():
    assert set(torch_ref.distributions.__all__) == set(torsh.distributions.__all__)
    from torsh.distributions.constraint_registry import biject_to  # noqa: F401
    from torsh.distributions.wishart import Wishart  # noqa: F401
    assert torsh.distributions.utils.finfo(torsh.zeros(1)).eps == torch_ref.finfo(torch_ref.float32).eps
