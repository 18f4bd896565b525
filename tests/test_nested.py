"""torch.nested (the basic subset torsh implements) against PyTorch: construction, padding, unbind, the
elementwise / softmax / transpose / matmul ops mapped over components, gradients through to_padded_tensor, and
PyTorch's errors for what nested tensors do not support."""
import warnings

import numpy as np
import pytest
import torch

import torsh
import torsh.nested

warnings.filterwarnings("ignore", message=".*nested tensors is in prototype stage.*")

A = np.arange(6.0, dtype=np.float32).reshape(2, 3)
B = np.arange(3.0, dtype=np.float32).reshape(1, 3) - 1


def _both(**kwargs):
    ref = torch.nested.nested_tensor([torch.tensor(A), torch.tensor(B)], **kwargs)
    mine = torsh.nested.nested_tensor([torsh.tensor(A), torsh.tensor(B)], **kwargs)
    return ref, mine


def _same(ref, mine):
    assert mine.is_nested == ref.is_nested
    if ref.is_nested:
        assert len(mine.unbind()) == len(ref.unbind())
        for a, b in zip(mine.unbind(), ref.unbind()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)


def _same_error(f_ref, f_mine):
    with pytest.raises(Exception) as expected:
        f_ref()
    with pytest.raises(type(expected.value)) as got:
        f_mine()
    first = str(expected.value).split(" If you are a Facebook")[0]
    assert str(got.value) == first


def test_construction_and_properties():
    ref, mine = _both()
    assert str(mine.layout).split(".")[-1] == str(ref.layout).split(".")[-1] == "strided"
    assert (mine.dim(), mine.size(0), mine.size(2), mine.size(-1), mine.numel()) == \
        (ref.dim(), ref.size(0), ref.size(2), ref.size(-1), ref.numel())
    assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert isinstance(mine, torsh.Tensor) and mine.is_nested and not mine.requires_grad
    assert repr(mine) == repr(ref)
    ref64 = torch.nested.nested_tensor([torch.tensor(A)], dtype=torch.float64)
    mine64 = torsh.nested.nested_tensor([torsh.tensor(A)], dtype=torsh.float64)
    assert mine64.dtype == torsh.float64 and ref64[0].dtype == torch.float64
    jagged = torsh.nested.nested_tensor([torsh.tensor(A), torsh.tensor(B)], layout=torsh.jagged)
    assert jagged.layout == torsh.jagged


def test_nested_tensor_copies_and_as_nested_tensor_keeps_history():
    a = torsh.tensor(A, requires_grad=True)
    nt = torsh.nested.nested_tensor([a, torsh.tensor(B)])
    assert nt[0] is not a and not nt.requires_grad
    nt2 = torsh.nested.as_nested_tensor([a * 2, torsh.tensor(B)])
    nt2.to_padded_tensor(0.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 3), 2.0))


@pytest.mark.parametrize("output_size", [None, (2, 3, 4), (3, 4, 5)])
@pytest.mark.parametrize("padding", [0.0, -1.0])
def test_to_padded_tensor(padding, output_size):
    ref, mine = _both()
    _same(torch.nested.to_padded_tensor(ref, padding, output_size),
          torsh.nested.to_padded_tensor(mine, padding, output_size))
    _same(ref.to_padded_tensor(padding), mine.to_padded_tensor(padding))


def test_to_padded_tensor_errors():
    ref, mine = _both()
    _same_error(lambda: torch.nested.to_padded_tensor(ref, 0.0, (1, 3, 3)),
                lambda: torsh.nested.to_padded_tensor(mine, 0.0, (1, 3, 3)))
    _same_error(lambda: ref.to_padded_tensor(0.0, (2, 3)), lambda: mine.to_padded_tensor(0.0, (2, 3)))
    _same_error(lambda: torch.nested.to_padded_tensor(torch.tensor(A), 0.0),
                lambda: torsh.nested.to_padded_tensor(torsh.tensor(A), 0.0))


@pytest.mark.parametrize("op", [
    lambda t, lib: t * 2 + 1, lambda t, lib: t - 0.5, lambda t, lib: t / 2, lambda t, lib: t * t,
    lambda t, lib: t + t, lambda t, lib: t.relu(), lambda t, lib: t.sin(), lambda t, lib: t.sqrt(), lambda t, lib: t.tanh(),
    lambda t, lib: t.abs(), lambda t, lib: -t, lambda t, lib: t.softmax(-1), lambda t, lib: t.transpose(1, 2),
    lambda t, lib: t.clone(), lambda t, lib: t.detach(), lambda t, lib: t.matmul(t.transpose(1, 2)),
    lambda t, lib: t.to(lib.float64), lambda t, lib: t[1], lambda t, lib: t.gt(0.5),
    lambda t, lib: t.bmm(t.transpose(1, 2)), lambda t, lib: t.clone().add_(t), lambda t, lib: t + lib.tensor(2.0), lambda t, lib: t.unbind()[0]])
def test_ops_over_components_match_torch(op):
    ref, mine = _both()
    _same(op(ref, torch), op(mine, torsh))


def test_gradients_through_padding_match_torch():
    ref, mine = _both(requires_grad=True)
    weights = np.random.default_rng(0).standard_normal((2, 2, 3)).astype(np.float32)
    (torch.nested.to_padded_tensor(ref.sin() * 3, 0.0) * torch.tensor(weights)).sum().backward()
    (torsh.nested.to_padded_tensor(mine.sin() * 3, 0.0) * torsh.tensor(weights)).sum().backward()
    assert mine.grad.is_nested
    _same(ref.grad, mine.grad)


def test_float64_gradcheck_of_padding():
    def f(a, b):
        nt = torsh.nested.as_nested_tensor([a, b])
        return (nt * nt).to_padded_tensor(0.5)
    a = torsh.randn(2, 3, dtype=torsh.float64, requires_grad=True)
    b = torsh.randn(1, 3, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(f, (a, b))


@pytest.mark.parametrize("case", [
    lambda t, lib: t.size(1), lambda t, lib: t.size(), lambda t, lib: t.shape, lambda t, lib: t.size(3),
    lambda t, lib: t.unbind(1), lambda t, lib: t.softmax(0), lambda t, lib: t.transpose(0, 1),
    lambda t, lib: t.unsqueeze(0), lambda t, lib: t + lib.ones(3), lambda t, lib: t.matmul(lib.ones(3, 2)),
    lambda t, lib: t + lib.nested.nested_tensor([lib.ones(2, 3)]), lambda t, lib: t.sum(),
    lambda t, lib: t.mean(), lambda t, lib: 2 - t, lambda t, lib: bool(t), lambda t, lib: t.item(),
    lambda t, lib: t[0:1], lambda t, lib: t.exp(), lambda t, lib: t.pow(2), lambda t, lib: t.lt(0.5),
    lambda t, lib: t == t,
    lambda t, lib: lib.nested.nested_tensor([lib.ones(2, 3), lib.ones(2)])])
def test_unsupported_raise_as_torch(case):
    ref, mine = _both()
    _same_error(lambda: case(ref, torch), lambda: case(mine, torsh))


def _jagged_pair(shapes):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    ref = torch.nested.nested_tensor([torch.tensor(a) for a in arrays], layout=torch.jagged)
    mine = torsh.nested.nested_tensor([torsh.tensor(a) for a in arrays], layout=torsh.jagged)
    return ref, mine


@pytest.mark.parametrize("shapes", [[(2, 3), (1, 3)], [(2, 3), (2, 4)], [(4, 2), (1, 2), (3, 2)]])
def test_jagged_shape_and_repr_match_torch(shapes):
    ref, mine = _jagged_pair(shapes)
    assert ["j" if str(s).startswith("j") else s for s in mine.shape] == \
        ["j" if str(s).startswith("j") else s for s in ref.shape]
    assert repr(mine).split(", offsets=")[1] == repr(ref).split(", offsets=")[1]
    _same(torch.nested.to_padded_tensor(ref, 0.0), torsh.nested.to_padded_tensor(mine, 0.0))


@pytest.mark.parametrize("op", [lambda t, lib: t.exp(), lambda t, lib: t.sigmoid(), lambda t, lib: t * 2,
                                lambda t, lib: t + lib.ones(3), lambda t, lib: t.sum(), lambda t, lib: t.relu()])
def test_jagged_ops_match_torch(op):
    ref, mine = _jagged_pair([(2, 3), (1, 3)])
    _same(op(ref, torch), op(mine, torsh))
