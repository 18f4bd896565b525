"""nn.utils (clipping, vector conversion, weight/spectral norm, parametrize) and nn.init."""
import math

import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, check_same_error, torch_ref as torch
from test_nn_common import build_pair, numpy_state, run_and_compare


def _grads_pair(norm_type):
    ours, ref = build_pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Linear(5, 2)))
    x = np.random.default_rng(0).normal(size=(3, 4)) * 10
    ours(torsh.tensor(x)).pow(2).sum().backward()
    ref(torch.tensor(x)).pow(2).sum().backward()
    return ours, ref


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_clip_grad_norm_matches_torch(norm_type):
    ours, ref = _grads_pair(norm_type)
    no = nn.utils.clip_grad_norm_(ours.parameters(), 0.5, norm_type)
    nr = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5, norm_type)
    assert_close(no, nr, rtol=1e-6)
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert_close(a.grad, b.grad, rtol=1e-6)


def test_clip_grad_value_and_nonfinite():
    ours, ref = _grads_pair(2.0)
    nn.utils.clip_grad_value_(ours.parameters(), 0.1)
    torch.nn.utils.clip_grad_value_(ref.parameters(), 0.1)
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert_close(a.grad, b.grad)
    p = nn.Parameter(torsh.ones(2))
    p.grad = torsh.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_parameters_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(vec.shape) == (11,)
    nn.utils.vector_to_parameters(torsh.arange(11.0), m.parameters())
    assert_close(m[0].weight, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert_close(m[1].bias, np.array([10.0], dtype=np.float32))


def test_weight_norm_matches_torch():
    def make(lib):
        return lib.nn.utils.weight_norm(lib.nn.Linear(4, 3))
    ours, ref = build_pair(make)
    assert list(ours.state_dict()) == ["bias", "weight_g", "weight_v"]
    run_and_compare(ours, ref, [np.random.default_rng(0).normal(size=(2, 4))])
    conv = lambda lib: lib.nn.utils.weight_norm(lib.nn.Conv2d(2, 3, 3), dim=None)  # noqa: E731
    ours, ref = build_pair(conv)
    run_and_compare(ours, ref, [np.random.default_rng(1).normal(size=(1, 2, 5, 5))])
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["bias", "weight"]
    run_and_compare(ours, ref, [np.random.default_rng(1).normal(size=(1, 2, 5, 5))])


def test_spectral_norm_matches_torch():
    def make(lib):
        return lib.nn.utils.spectral_norm(lib.nn.Linear(5, 4))
    ours, ref = build_pair(make)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = np.random.default_rng(0).normal(size=(3, 5))
    for train in (True, True, False):
        run_and_compare(ours, ref, [x], train=train)


def test_parametrizations_weight_norm_and_spectral_norm():
    ours, ref = build_pair(lambda lib: lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(4, 3)))
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert type(ours).__name__ == "ParametrizedLinear"
    run_and_compare(ours, ref, [np.random.default_rng(0).normal(size=(2, 4))])
    ours, ref = build_pair(lambda lib: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(5, 4)))
    assert list(ours.state_dict()) == list(ref.state_dict())
    run_and_compare(ours, ref, [np.random.default_rng(0).normal(size=(2, 5))], train=True)


def test_register_and_remove_parametrization():
    class Symmetric(nn.Module):
        def forward(self, X):
            return (X + X.t()) * 0.5

    class Scale(nn.Module):
        def forward(self, X):
            return X * 3

        def right_inverse(self, X):
            return X / 3

    m = nn.Linear(3, 3)
    w0 = m.weight.detach().clone()
    nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
    assert nn.utils.parametrize.is_parametrized(m, "weight")
    w = m.weight
    assert np.allclose(w.detach().numpy(), w.detach().numpy().T)
    nn.utils.parametrize.register_parametrization(m, "weight", Scale())
    assert_close(m.weight, (w * 3).detach().numpy())
    m(torsh.randn(2, 3)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None
    with nn.utils.parametrize.cached():
        assert m.weight is m.weight
    m.weight = torsh.eye(3)
    assert_close(m.parametrizations.weight.original, (np.eye(3) / 3).astype(np.float32))
    nn.utils.parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    assert list(m.state_dict()) == ["bias", "weight"]
    assert_close(m.weight, np.eye(3, dtype=np.float32))


# -- nn.init ------------------------------------------------------------------------------

def test_calculate_gain_and_fans_match_torch():
    for nl, p in [("linear", None), ("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("selu", None),
                  ("sigmoid", None), ("conv2d", None)]:
        assert nn.init.calculate_gain(nl, p) == torch.nn.init.calculate_gain(nl, p)
    for shape in [(3, 4), (6, 3, 5, 5), (2, 4, 3)]:
        assert nn.init._calculate_fan_in_and_fan_out(torsh.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    check_same_error(lambda lib: lib.nn.init.calculate_gain("nope"))
    check_same_error(lambda lib: lib.nn.init.kaiming_uniform_(lib.empty(3, 4), mode="fan_x"))


@pytest.mark.parametrize("name,kwargs,expected_std", [
    ("xavier_uniform_", {"gain": 2.0}, 2.0 * math.sqrt(2.0 / (400 + 300))),
    ("xavier_normal_", {}, math.sqrt(2.0 / (400 + 300))),
    ("kaiming_uniform_", {"nonlinearity": "relu"}, math.sqrt(2.0) / math.sqrt(400)),
    ("kaiming_normal_", {"mode": "fan_out", "a": 0.1}, math.sqrt(2.0 / 1.01) / math.sqrt(300)),
    ("normal_", {"std": 0.3}, 0.3),
    ("uniform_", {"a": -1.0, "b": 1.0}, 1 / math.sqrt(3)),
])
def test_random_init_distributions(name, kwargs, expected_std):
    torsh.manual_seed(0)
    w = torsh.empty(300, 400)
    getattr(nn.init, name)(w, **kwargs)
    assert abs(w.numpy().std() - expected_std) < 0.02 * expected_std
    assert abs(w.numpy().mean()) < 0.02 * expected_std + 1e-3


def test_deterministic_inits_match_torch():
    for name, shape, args in [("eye_", (3, 5), ()), ("dirac_", (4, 2, 3, 3), ()), ("dirac_", (6, 2, 3), (2,)),
                              ("constant_", (2, 3), (0.7,)), ("ones_", (2, 2), ()), ("zeros_", (2, 2), ())]:
        a, b = torsh.empty(*shape), torch.empty(*shape)
        getattr(nn.init, name)(a, *args)
        getattr(torch.nn.init, name)(b, *args)
        assert_close(a, b)


def test_orthogonal_trunc_normal_sparse():
    w = torsh.empty(4, 6)
    nn.init.orthogonal_(w, gain=2.0)
    assert np.allclose(w.numpy() @ w.numpy().T, 4 * np.eye(4), atol=1e-5)
    t = torsh.empty(10000)
    nn.init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    assert t.numpy().min() >= -1.0 and t.numpy().max() <= 1.5 and abs(t.numpy().mean() - 0.36) < 0.03
    s = torsh.empty(10, 8)
    nn.init.sparse_(s, 0.3)
    assert np.all((s.numpy() == 0).sum(0) >= 3)


def test_init_does_not_record_graph_and_bumps_version():
    p = nn.Parameter(torsh.zeros(3, 3))
    v = p._version
    nn.init.normal_(p)
    assert p.grad_fn is None and p.requires_grad and p._version > v


def test_default_layer_initialisation_distributions():
    torsh.manual_seed(0)
    emb = nn.Embedding(300, 200).weight.detach().numpy()
    assert abs(emb.std() - 1.0) < 0.02 and abs(emb.mean()) < 0.02
    lstm = nn.LSTM(50, 100)
    bound = 1 / math.sqrt(100)
    for p in lstm.parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and abs(a.std() - bound / math.sqrt(3)) < 0.1 * bound
    mha = nn.MultiheadAttention(64, 4)
    w = mha.in_proj_weight.detach().numpy()
    limit = math.sqrt(6 / (64 + 3 * 64))
    assert np.abs(w).max() <= limit and abs(w.std() - limit / math.sqrt(3)) < 0.05 * limit
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    bn = nn.BatchNorm2d(4)
    assert np.all(bn.weight.detach().numpy() == 1) and np.all(bn.bias.detach().numpy() == 0)
    convt = nn.ConvTranspose2d(4, 6, 3)  # fan_in from weight dim 1 (out_channels / groups) * k * k
    b = 1 / math.sqrt(6 * 9)
    assert np.abs(convt.weight.detach().numpy()).max() <= b


def test_lazy_batchnorm_and_lazy_conv_transpose():
    bn = nn.LazyBatchNorm2d()
    out = bn(torsh.randn(4, 3, 2, 2))
    assert type(bn) is nn.BatchNorm2d and bn.num_features == 3 and tuple(bn.running_mean.shape) == (3,)
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm2d(3).state_dict())
    assert abs(float(out.mean())) < 1e-5
    ct = nn.LazyConvTranspose2d(5, 3, stride=2)
    y = ct(torsh.randn(1, 2, 4, 4))
    assert type(ct) is nn.ConvTranspose2d and tuple(ct.weight.shape) == (2, 5, 3, 3) and tuple(y.shape) == (1, 5, 9, 9)


def test_fuse_conv_bn_and_linear_bn_eval():
    def make(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(2, 3, 3), lib.nn.BatchNorm2d(3))
    ours, ref = build_pair(make, dtype="float64")
    from test_nn_layers import _randomize_affine
    _randomize_affine(ours, ref)
    ours.eval()
    x = np.random.default_rng(0).normal(size=(2, 2, 5, 5))
    fused = nn.utils.fuse_conv_bn_eval(ours[0], ours[1])
    assert_close(fused(torsh.tensor(x)), ours(torsh.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
    lin, bn = nn.Linear(3, 4).double().eval(), nn.BatchNorm1d(4).double().eval()
    bn.running_mean.fill_(0.3)
    xl = torsh.tensor(np.random.default_rng(1).normal(size=(5, 3)))
    assert_close(nn.utils.fuse_linear_bn_eval(lin, bn)(xl), bn(lin(xl)).detach().numpy(), rtol=1e-10, atol=1e-10)


def test_gumbel_softmax_pdist_lazy_instance_norm():
    logits = torsh.randn(6, 5, requires_grad=True)
    soft = nn.functional.gumbel_softmax(logits, tau=0.5)
    assert np.allclose(soft.detach().numpy().sum(1), 1)
    hard = nn.functional.gumbel_softmax(logits, hard=True)
    assert np.all(hard.detach().numpy().sum(1) == 1) and set(np.unique(hard.detach().numpy())) <= {0.0, 1.0}
    hard.sum().backward()
    assert logits.grad is not None
    x = np.random.default_rng(0).normal(size=(5, 3))
    for p in (2, 1):
        xo, xr = torsh.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        do, dr = nn.functional.pdist(xo, p), torch.nn.functional.pdist(xr, p)
        assert_close(do, dr.detach())
        do.sum().backward()
        dr.sum().backward()
        assert_close(xo.grad, xr.grad)
    lazy = nn.LazyInstanceNorm2d(affine=True)
    lazy(torsh.randn(3, 4, 4))
    assert type(lazy) is nn.InstanceNorm2d and lazy.num_features == 3 and tuple(lazy.weight.shape) == (3,)


def test_functional_call_matches_torch_and_restores():
    ours, ref = build_pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4)))
    new = {"0.weight": np.random.default_rng(0).normal(size=(4, 3)), "1.running_mean": np.ones(4)}
    x = np.random.default_rng(1).normal(size=(5, 3))
    for train in (True, False):
        ours.train(train)
        ref.train(train)
        wo = {k: torsh.tensor(v, requires_grad=k.endswith("weight")) for k, v in new.items()}
        wr = {k: torch.tensor(v, requires_grad=k.endswith("weight")) for k, v in new.items()}
        out_o = nn.utils.stateless.functional_call(ours, wo, (torsh.tensor(x),))
        out_r = torch.nn.utils.stateless.functional_call(ref, wr, (torch.tensor(x),))
        assert_close(out_o, out_r.detach())
        out_o.sum().backward()
        out_r.sum().backward()
        assert_close(wo["0.weight"].grad, wr["0.weight"].grad)
    assert isinstance(ours[0].weight, nn.Parameter) and ours[0].weight.shape == (4, 3)
    assert not np.allclose(ours[0].weight.detach().numpy(), new["0.weight"])


def _seeded(lib, make, seed=0):
    lib.manual_seed(seed)
    return make(lib)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_parametrizations_orthogonal_matches_torch(shape, orthogonal_map, use_trivialization):
    """Seeded alike, both libraries start from the same Linear weight, so the orthogonalised weight, the
    parametrization's state and the gradients through it must agree (matrix_exp / cayley without the trivialization
    cannot take the weight as initial value: their right_inverse's NotImplementedError is passed over)."""
    def make(lib):
        return lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(shape[1], shape[0]).double(), "weight",
                                                        orthogonal_map, use_trivialization=use_trivialization)
    ours, ref = _seeded(torsh, make), _seeded(torch, make)
    assert type(ours).__name__ == type(ref).__name__ == "ParametrizedLinear"
    assert list(ours.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert_close(ours.state_dict()[key], value, rtol=1e-6, atol=1e-9)
    weight = ours.weight
    assert_close(weight, ref.weight, rtol=1e-6, atol=1e-9)
    tall = weight if shape[0] >= shape[1] else weight.mT
    assert_close(tall.mT @ tall, np.eye(min(shape)), atol=1e-9)
    run_and_compare(ours, ref, [np.random.default_rng(0).normal(size=(2, shape[1]))])


def test_parametrizations_orthogonal_errors_match_torch():
    orthogonal = lambda lib, m, *a, **k: lib.nn.utils.parametrizations.orthogonal(m(lib), *a, **k)  # noqa: E731
    check_same_error(lambda lib: orthogonal(lib, lambda l: l.nn.Linear(3, 3), "bias"))
    check_same_error(lambda lib: orthogonal(lib, lambda l: l.nn.Linear(3, 3), "nothing"))
    check_same_error(lambda lib: orthogonal(lib, lambda l: l.nn.Linear(3, 3), orthogonal_map="qr"))
    # assigning a weight of the wrong shape goes through right_inverse's check
    check_same_error(lambda lib: setattr(orthogonal(lib, lambda l: l.nn.Linear(3, 3)), "weight", lib.eye(2)),
                     exact=False, fallback_msg="Expected a matrix or batch of matrices of shape")  # then a Size


def test_parametrizations_spectral_norm_draws_torch_random_stream():
    """Its power method starts from new_empty(n).normal_() vectors: a seeded program keeps PyTorch's stream."""
    make = lambda lib: lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(5, 4))  # noqa: E731
    ours, ref = _seeded(torsh, make), _seeded(torch, make)
    for key in ("parametrizations.weight.0._u", "parametrizations.weight.0._v"):
        assert_close(ours.state_dict()[key], ref.state_dict()[key], rtol=1e-5, atol=1e-6)
    assert_close(torsh.rand(3), torch.rand(3))


def test_old_weight_norm_warns_deprecation_as_torch():
    with pytest.warns(FutureWarning) as ours:
        nn.utils.weight_norm(nn.Linear(2, 2))
    with pytest.warns(FutureWarning) as ref:
        torch.nn.utils.weight_norm(torch.nn.Linear(2, 2))
    assert [str(w.message) for w in ours] == [str(w.message) for w in ref]
