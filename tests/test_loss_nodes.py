"""Pointwise losses recorded as PyTorch's one node (MseLossBackward0, SmoothL1LossBackward0, HuberLossBackward0,
BinaryCrossEntropyWithLogitsBackward0): the grad_fn a tutorial prints, first and second derivatives against
PyTorch, float64 gradcheck / gradgradcheck, forward-mode AD; and the per-element ``weight`` of mse/l1/huber_loss
as PyTorch composes it ('mean' over the weights' sum for mse and l1)."""
import numpy as np
import pytest

import torsh
import torsh.autograd.forward_ad as fwAD

from helpers import check_same_error, needs_torch, torch_ref

CASES = [("mse_loss", {}), ("smooth_l1_loss", {"beta": 0.7}), ("huber_loss", {"delta": 0.5}),
         ("binary_cross_entropy_with_logits", {}),
         ("binary_cross_entropy_with_logits", {"pos_weight": [1.0, 2.0, 3.0]}),
         ("binary_cross_entropy_with_logits", {"weight": [0.5, 1.0, 2.0], "pos_weight": [1.0, 2.0, 3.0]})]
IDS = [f"{name}-{'-'.join(kw) or 'plain'}" for name, kw in CASES]


def _grads(lib, name, kw, reduction, target_grad):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = lib.tensor(rng.random((4, 3)), requires_grad=target_grad)
    kw = {k: lib.tensor(v, dtype=lib.float64) for k, v in kw.items()}
    out = getattr(lib.nn.functional, name)(x, t, reduction=reduction, **kw)
    wrt = (x, t) if target_grad else (x,)
    first = lib.autograd.grad(out.sum(), wrt, create_graph=True)
    second = lib.autograd.grad(sum(g.sum() for g in first), x)[0]
    return out.grad_fn.name(), [a.detach().numpy() for a in (out, *first, second)]


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_grad", [True, False])
@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_node_name_and_derivatives_match_pytorch(name, kw, reduction, target_grad):
    torsh_name, got = _grads(torsh, name, kw, reduction, target_grad)
    torch_name, want = _grads(torch_ref, name, kw, reduction, target_grad)
    assert torsh_name == torch_name
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck(name, kw):
    rng = np.random.default_rng(1)
    x = torsh.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    t = torsh.tensor(rng.random((3, 3)), requires_grad=True)
    kw = {k: torsh.tensor(v, dtype=torsh.float64) for k, v in kw.items()}
    loss = lambda x, t: getattr(torsh.nn.functional, name)(x, t, **kw)  # noqa: E731
    assert torsh.autograd.gradcheck(loss, (x, t))
    assert torsh.autograd.gradgradcheck(loss, (x, t))


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_forward_mode_matches_the_reverse_mode_gradient(name, kw):
    rng = np.random.default_rng(2)
    x, t, v = (torsh.tensor(a) for a in (rng.standard_normal((4, 3)), rng.random((4, 3)), rng.standard_normal((4, 3))))
    kw = {k: torsh.tensor(val, dtype=torsh.float64) for k, val in kw.items()}
    loss = getattr(torsh.nn.functional, name)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(loss(fwAD.make_dual(x, v), t, **kw)).tangent
    x.requires_grad_()
    (grad,) = torsh.autograd.grad(loss(x, t, **kw), x)
    assert float(tangent) == pytest.approx(float((grad * v).sum()), rel=1e-12)


def test_no_node_when_nothing_needs_a_gradient():
    loss = torsh.nn.functional.mse_loss(torsh.randn(3), torsh.randn(3))
    assert loss.grad_fn is None and not loss.requires_grad


def test_a_broadcast_target_goes_through_expand_as_in_pytorch():
    x = torsh.randn(4, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="Using a target size"):
        loss = torsh.nn.functional.mse_loss(x, torsh.randn(2, 4, 3))
    assert loss.grad_fn.name() == "MseLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "ExpandBackward0"


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_per_element_weight_as_pytorch(name, reduction):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.random((4, 3))]
    results = []
    for lib in (torsh, torch_ref):
        x, t, w = (lib.tensor(a) for a in arrays)
        x.requires_grad_()
        out = getattr(lib.nn.functional, name)(x, t, weight=w, reduction=reduction)
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), out.grad_fn.name()))
    (got, got_grad, got_node), (want, want_grad, want_node) = results
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12)
    assert got_node == want_node


@needs_torch
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_a_weight_of_another_size_is_refused_as_in_pytorch(name):
    check_same_error(lambda lib: getattr(lib.nn.functional, name)(lib.ones(4, 3), lib.zeros(4, 3), weight=lib.ones(3)))


@pytest.mark.parametrize("name", ["mse_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
def test_no_broadcast_warning_under_vmap_and_hessian_when_the_logical_shapes_agree(name, recwarn):
    target = torsh.rand(3)
    loss = lambda a: getattr(torsh.nn.functional, name)(a, target)  # noqa: E731 (looked up under the transform)
    per_sample = torsh.func.vmap(loss)(torsh.randn(2, 3))
    second = torsh.func.hessian(loss)(torsh.randn(3))
    assert tuple(per_sample.shape) == (2,) and tuple(second.shape) == (3, 3)
    assert not [w for w in recwarn if "Using a target size" in str(w.message)]


@needs_torch
@pytest.mark.parametrize("name", ["mse_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits"])
def test_vmap_over_one_operand_with_the_other_shared_as_pytorch(name):
    rng = np.random.default_rng(4)
    batch, shared = rng.standard_normal((4, 3)), rng.random(3)
    results = []
    for lib in (torsh, torch_ref):
        fixed = lib.tensor(shared)
        over_input = lib.func.vmap(lambda x: getattr(lib.nn.functional, name)(x, fixed))(lib.tensor(batch))
        over_target = lib.func.vmap(lambda t: getattr(lib.nn.functional, name)(fixed, t.sigmoid()))(lib.tensor(batch))
        results.append((over_input.numpy(), over_target.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)
