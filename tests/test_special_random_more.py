"""torch.igamma / igammac (+ Tensor methods, in-place), frexp, poisson, binomial, Tensor.hardshrink / prelu:
values, dtypes, gradients and errors against PyTorch 2.13 (samplers: moments and seeding, not PyTorch's bits)."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, pair, torch_ref

pytestmark = needs_torch


# -- igamma / igammac -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["igamma", "igammac"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_igamma_values_and_methods(name, dtype):
    a = make_array((3, 1), "float64", low=0.5, high=4.0, seed=1)
    x = make_array((4,), "float64", low=0.1, high=5.0, seed=2)
    (ta, ra), (tx, rx) = pair(a, dtype), pair(x, dtype)
    assert_close(getattr(torsh, name)(ta, tx), getattr(torch_ref, name)(ra, rx), rtol=2e-3 if dtype == "float16" else None)
    assert_close(getattr(ta, name)(tx), getattr(ra, name)(rx), rtol=2e-3 if dtype == "float16" else None)
    ta2, ra2 = pair(np.broadcast_to(a, (3, 4)), dtype)
    assert getattr(ta2, name + "_")(tx) is ta2
    getattr(ra2, name + "_")(rx)
    assert_close(ta2, ra2, rtol=2e-3 if dtype == "float16" else None)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_igamma_gradient_in_x(name):
    a = make_array((5,), "float64", low=0.5, high=3.0, seed=3)
    x = make_array((5,), "float64", low=0.2, high=4.0, seed=4)
    grads = []
    for lib in (torsh, torch_ref):
        xs = lib.tensor(x, requires_grad=True)
        out = getattr(lib, name)(lib.tensor(a), xs)
        assert out.grad_fn.name() == ("IgammaBackward0" if name == "igamma" else "IgammacBackward0")
        (g,) = lib.autograd.grad(out.sum(), xs)
        grads.append(g)
    assert_close(*grads)
    xt = torsh.tensor(x, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: getattr(torsh, name)(torsh.tensor(a), t), (xt,))
    check_same_error(lambda lib: getattr(lib, name)(lib.tensor(a, requires_grad=True), lib.tensor(x)).sum().backward())


def test_igamma_errors():
    check_same_error(lambda lib: lib.igamma(lib.tensor([1, 2]), lib.tensor([1, 2])))
    check_same_error(lambda lib: lib.igammac(lib.tensor([1, 2]), lib.tensor([1, 2])))
    check_same_error(lambda lib: lib.igamma(lib.tensor([1.0]), 2.0))
    check_same_error(lambda lib: lib.igamma(lib.ones(2, 2), lib.ones(3)))
    check_same_error(lambda lib: lib.tensor([1, 2]).igamma_(lib.tensor([1.0, 2.0])))
    check_same_error(lambda lib: lib.special.gammainc(lib.tensor([1.0]), 2.0))


# -- frexp ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_frexp(dtype):
    values = np.array([0.0, -0.0, 1.0, 3.5, -0.75, 1e-30, 6e4, np.inf, -np.inf, np.nan])
    ours, ref = pair(values, dtype)
    o, r = torsh.frexp(ours), torch_ref.frexp(ref)
    assert type(o).__name__ == "frexp" and o._fields == ("mantissa", "exponent")
    assert_close(o.mantissa, r.mantissa)
    assert_close(o.exponent, r.exponent)
    assert_close(ours.frexp().exponent, ref.frexp().exponent)


def test_frexp_gradient_out_and_errors():
    x = make_array((4,), "float64", seed=5)
    grads = []
    for lib in (torsh, torch_ref):
        t = lib.tensor(x, requires_grad=True)
        m, e = lib.frexp(t)
        assert not e.requires_grad and m.grad_fn.name() == "FrexpBackward0"
        grads.append(lib.autograd.grad((m * lib.tensor(x)).sum(), t)[0])
    assert_close(*grads)
    out = (torsh.empty(0), torsh.empty(0, dtype=torsh.int32))
    torsh.frexp(torsh.tensor([8.0]), out=out)
    assert float(out[0]) == 0.5 and int(out[1]) == 4
    check_same_error(lambda lib: lib.frexp(lib.tensor([1, 2])))
    check_same_error(lambda lib: lib.frexp(lib.tensor([1j])))


# -- poisson, binomial ------------------------------------------------------------------------------------------
def test_poisson_moments_dtype_seed_and_gradient():
    rates = torsh.tensor([0.0, 0.5, 4.0, 30.0]).expand(20000, 4).contiguous()
    torsh.manual_seed(3)
    draws = torsh.poisson(rates)
    assert draws.dtype == torsh.float32 and draws.shape == rates.shape
    np.testing.assert_allclose(draws.mean(0).numpy(), [0.0, 0.5, 4.0, 30.0], rtol=0.03, atol=0.02)
    np.testing.assert_allclose(draws.var(0).numpy(), [0.0, 0.5, 4.0, 30.0], rtol=0.06, atol=0.02)
    torsh.manual_seed(3)
    assert torsh.equal(torsh.poisson(rates), draws)
    g = torsh.Generator().manual_seed(7)
    first = torsh.poisson(rates[:5], generator=g)
    assert torsh.equal(first, torsh.poisson(rates[:5], generator=torsh.Generator().manual_seed(7)))
    assert torsh.poisson(torsh.tensor([1.0], dtype=torsh.float64)).dtype == torsh.float64
    r = torsh.tensor([1.0, 2.0], requires_grad=True)
    out = torsh.poisson(r)
    assert out.grad_fn.name() == torch_ref.poisson(torch_ref.tensor([1.0], requires_grad=True)).grad_fn.name()
    out.sum().backward()
    assert_close(r.grad, torch_ref.zeros(2))


def test_poisson_errors():
    check_same_error(lambda lib: lib.poisson(lib.tensor([-1.0])))
    check_same_error(lambda lib: lib.poisson(lib.tensor([float("nan")])))
    check_same_error(lambda lib: lib.poisson(lib.tensor([1, 2])))


def test_binomial_moments_broadcast_and_errors():
    count = torsh.tensor([[5.0], [40.0]])
    prob = torsh.tensor([0.1, 0.5, 0.9])
    torsh.manual_seed(0)
    draws = torsh.stack([torsh.binomial(count, prob) for _ in range(4000)])
    assert draws.dtype == torsh.float32 and draws.shape == (4000, 2, 3)
    expected = (count * prob).numpy()
    np.testing.assert_allclose(draws.mean(0).numpy(), expected, rtol=0.05, atol=0.05)
    assert float(draws.max()) <= 40 and float(draws.min()) >= 0
    check_same_error(lambda lib: lib.binomial(lib.tensor([5.0, 10.0]), lib.tensor([0.3, 0.5], dtype=lib.float64)))
    check_same_error(lambda lib: lib.binomial(lib.tensor([5, 10]), lib.tensor([0.3, 0.5])))
    check_same_error(lambda lib: lib.binomial(lib.tensor([5.0, 10.0]), lib.tensor([0.5, 0.5, 0.5])))
    check_same_error(lambda lib: lib.binomial(lib.tensor([5.0]), lib.tensor([0.5], requires_grad=True)).backward())
    assert torsh.binomial(torsh.tensor([5.0]), torsh.tensor([0.5], requires_grad=True)).grad_fn.name() == \
        torch_ref.binomial(torch_ref.tensor([5.0]), torch_ref.tensor([0.5], requires_grad=True)).grad_fn.name()


def test_distributions_sample_through_the_shared_samplers():
    torsh.manual_seed(1)
    counts = torsh.distributions.Poisson(torsh.tensor([3.0])).sample((5000,))
    assert abs(float(counts.mean()) - 3.0) < 0.15
    torsh.manual_seed(1)
    assert torsh.equal(torsh.distributions.Poisson(torsh.tensor([3.0])).sample((5000,)), counts)
    draws = torsh.distributions.Binomial(10, torsh.tensor([0.3])).sample((5000,))
    assert abs(float(draws.mean()) - 3.0) < 0.15


# -- Tensor.hardshrink, Tensor.prelu -----------------------------------------------------------------------------
def test_hardshrink_and_prelu_methods():
    x = make_array((2, 3, 4), "float64", seed=6)
    for lambd in (0.5, 0.3, 1.5):
        (o, r) = pair(x)
        assert_close(o.hardshrink(lambd), r.hardshrink(lambd))
    assert_close(pair(x)[0].hardshrink(), pair(x)[1].hardshrink())
    for w in (np.array([0.1, -0.2, 0.3]), np.array(0.25), np.array([0.4])):
        (xo, xr), (wo, wr) = pair(x, requires_grad=True), pair(w, requires_grad=True)
        yo, yr = xo.prelu(wo), xr.prelu(wr)
        assert_close(yo, yr)
        go = torsh.autograd.grad((yo * torsh.tensor(x)).sum(), (xo, wo))
        gr = torch_ref.autograd.grad((yr * torch_ref.tensor(x)).sum(), (xr, wr))
        assert_close(go[0], gr[0])
        assert_close(go[1], gr[1])
    check_same_error(lambda lib: lib.ones(2, 3).prelu(lib.tensor([0.1, 0.2])))
    check_same_error(lambda lib: lib.ones(3).prelu(lib.tensor([0.1, 0.2, 0.3])))
    check_same_error(lambda lib: lib.ones(2, 3).prelu(lib.ones(1, 3)))
    check_same_error(lambda lib: lib.ones(2, 3).long().prelu(lib.tensor([1, 2, 3])))
    check_same_error(lambda lib: lib.ones(2, 3).prelu(lib.ones(3, dtype=lib.float64)))
    check_same_error(lambda lib: lib.ones(3, dtype=lib.int64).hardshrink())
