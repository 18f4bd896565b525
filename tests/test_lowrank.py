"""torch.svd_lowrank / torch.pca_lowrank against PyTorch: same random draws (torsh's randn stream is PyTorch's),
so the same singular values, and the same factors up to each column's sign (LAPACK builds differ in signs);
float64 gradcheck through the factors."""
import numpy as np
import pytest
import torch

import torsh


def _both(name, a, seed=0, **kwargs):
    torsh.manual_seed(seed), torch.manual_seed(seed)
    return getattr(torsh, name)(torsh.tensor(a), **kwargs), getattr(torch, name)(torch.tensor(a), **kwargs)


def _same_up_to_column_sign(ours, ref, tol=1e-9):
    ours, ref = ours.numpy(), ref.numpy()
    assert ours.shape == ref.shape
    signs = np.sign(np.sum(ours * ref, axis=-2, keepdims=True))
    np.testing.assert_allclose(ours * signs, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["svd_lowrank", "pca_lowrank"])
@pytest.mark.parametrize("shape", [(20, 12), (12, 20), (3, 15, 9)])
def test_factors_match_torch(name, shape):
    a = np.random.default_rng(1).standard_normal(shape)
    (U, S, V), (Ur, Sr, Vr) = _both(name, a, q=4)
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-10)
    _same_up_to_column_sign(U, Ur)
    _same_up_to_column_sign(V, Vr)


def test_defaults_niter_and_float32():
    a = np.random.default_rng(2).standard_normal((30, 10)).astype(np.float32)
    (U, S, V), (Ur, Sr, Vr) = _both("svd_lowrank", a)  # q=6, niter=2
    assert U.shape == (30, 6) and V.shape == (10, 6) and S.dtype == torsh.float32
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-4)
    (U, S, V), (Ur, Sr, Vr) = _both("svd_lowrank", a.astype(np.float64), q=3, niter=0)
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-10)
    (U, S, V), (Ur, Sr, Vr) = _both("pca_lowrank", a.astype(np.float64), center=False)
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-10)


def test_svd_lowrank_with_M():
    rng = np.random.default_rng(3)
    a, m = rng.standard_normal((12, 8)), rng.standard_normal((1, 8))
    torsh.manual_seed(0), torch.manual_seed(0)
    S = torsh.svd_lowrank(torsh.tensor(a), q=5, M=torsh.tensor(m))[1]
    Sr = torch.svd_lowrank(torch.tensor(a), q=5, M=torch.tensor(m))[1]
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-10)


def test_pca_lowrank_of_a_sparse_matrix():
    a = np.random.default_rng(4).standard_normal((10, 6)) * (np.random.default_rng(5).random((10, 6)) < 0.5)
    torsh.manual_seed(0), torch.manual_seed(0)
    S = torsh.pca_lowrank(torsh.tensor(a).to_sparse(), q=3)[1]
    Sr = torch.pca_lowrank(torch.tensor(a).to_sparse(), q=3)[1]
    np.testing.assert_allclose(S.numpy(), Sr.numpy(), rtol=1e-8)


def test_pca_lowrank_errors():
    for kwargs in ({"q": 7}, {"q": -1}, {"niter": -1}):
        msgs = []
        for lib in (torsh, torch):
            with pytest.raises(ValueError) as err:
                lib.pca_lowrank(lib.ones(6, 5), **kwargs)
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]


def test_gradients():
    a = np.random.default_rng(6).standard_normal((7, 5))
    x = torsh.tensor(a, requires_grad=True)
    xr = torch.tensor(a, requires_grad=True)

    def f(lib, t):
        lib.manual_seed(0)
        U, S, V = lib.svd_lowrank(t, q=3)
        return (U * S) @ V.mT  # sign-free: the rank-3 reconstruction

    assert torsh.autograd.gradcheck(lambda t: f(torsh, t), (x,))
    f(torsh, x).pow(2).sum().backward()
    f(torch, xr).pow(2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-8, atol=1e-10)

    def pca_values(t):
        torsh.manual_seed(0)
        return torsh.pca_lowrank(t, q=2)[1]

    assert torsh.autograd.gradcheck(pca_values, (torsh.tensor(a, requires_grad=True),))


# -- torch.lobpcg -----------------------------------------------------------------------------------------------
def _spd(n, seed, shift):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + shift * np.eye(n)


@pytest.mark.parametrize("kwargs", [{"k": 2}, {"k": 3, "largest": False}, {"k": 2, "method": "basic"},
                                    {"k": 2, "niter": 3}, {"k": 1, "n": 2}, {"k": 2, "tol": 1e-4}])
def test_lobpcg_matches_torch(kwargs):
    A = _spd(20, 0, 1.0)
    torsh.manual_seed(0), torch.manual_seed(0)
    E, X = torsh.lobpcg(torsh.tensor(A), **kwargs)
    Er, Xr = torch.lobpcg(torch.tensor(A), **kwargs)
    np.testing.assert_allclose(E.numpy(), Er.numpy(), rtol=1e-9)
    _same_up_to_column_sign(X, Xr, tol=1e-7)


def test_lobpcg_generalized_batched_and_given_X():
    A, B = _spd(18, 1, 1.0), _spd(18, 2, 18.0)
    torsh.manual_seed(0), torch.manual_seed(0)
    E = torsh.lobpcg(torsh.tensor(A), k=2, B=torsh.tensor(B))[0]
    Er = torch.lobpcg(torch.tensor(A), k=2, B=torch.tensor(B))[0]
    np.testing.assert_allclose(E.numpy(), Er.numpy(), rtol=1e-9)
    stack = np.stack([A, _spd(18, 3, 2.0)])
    X0 = np.random.default_rng(4).standard_normal((2, 18, 3))
    E, X = torsh.lobpcg(torsh.tensor(stack), X=torsh.tensor(X0))
    Er, Xr = torch.lobpcg(torch.tensor(stack), X=torch.tensor(X0))
    assert E.shape == (2, 3) and X.shape == (2, 18, 3)
    np.testing.assert_allclose(E.numpy(), Er.numpy(), rtol=1e-9)


def test_lobpcg_errors_match_torch():
    for args, kwargs in [((np.eye(5),), {"k": 2}), ((np.ones((4, 5)),), {}), ((np.eye(9),), {"B": np.eye(8)})]:
        outcomes = []
        for lib in (torsh, torch):
            kw = {key: lib.tensor(v) if isinstance(v, np.ndarray) else v for key, v in kwargs.items()}
            with pytest.raises((ValueError, AssertionError)) as err:
                lib.lobpcg(lib.tensor(args[0]), **kw)
            outcomes.append((type(err.value), str(err.value).replace("torsh.Size", "torch.Size")))
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_gradients_match_torch(largest):
    A = _spd(15, 5, 1.0)
    w = np.random.default_rng(6).standard_normal((15, 2))
    x, xr = torsh.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    torsh.manual_seed(0), torch.manual_seed(0)
    E, V = torsh.lobpcg(x, k=2, largest=largest)
    Er, Vr = torch.lobpcg(xr, k=2, largest=largest)
    signs = np.sign((V.detach().numpy() * Vr.detach().numpy()).sum(0))
    ((E * torsh.tensor([1.0, 2.0], dtype=torsh.float64)).sum() + (V * torsh.tensor(w * signs)).sum()).backward()
    ((Er * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum() + (Vr * torch.tensor(w)).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_lobpcg_gradcheck_and_B_backward_error():
    A = torsh.tensor(_spd(4, 7, 1.0), requires_grad=True)

    def f(a):
        torsh.manual_seed(0)
        E, V = torsh.lobpcg(a, k=1, tol=1e-11)
        return E, V @ V.mT  # the eigenspace's projector: sign-free
    assert torsh.autograd.gradcheck(f, (A,), atol=1e-5)
    B = torsh.tensor(_spd(4, 8, 4.0))
    E = torsh.lobpcg(A, k=1, B=B)[0]
    with pytest.raises(ValueError, match=r"lobpcg.backward does not support backward with B != I yet."):
        E.sum().backward()
