"""torch.cond / torch.while_loop (eager), torch.func.functionalize and replace_all_batch_norm_modules_, against
PyTorch: results, gradients and argument errors."""
import numpy as np
import pytest
import torch

import torsh


def _pair(array, requires_grad=False):
    return (torsh.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad))


def _errors(ours, ref):
    """Both raise: the same exception type and message."""
    with pytest.raises(Exception) as ours_err:
        ours()
    with pytest.raises(Exception) as ref_err:
        ref()
    assert type(ours_err.value).__name__ == type(ref_err.value).__name__
    assert str(ours_err.value).replace("torsh", "torch") == str(ref_err.value)


@pytest.mark.parametrize("pred", [True, False, 0, 1.0])
def test_cond_python_predicate(pred):
    x, xr = _pair(np.arange(3.0))
    np.testing.assert_allclose(torsh.cond(pred, lambda a: a.cos(), lambda a: a.sin(), (x,)).numpy(),
                               torch.cond(pred, lambda a: a.cos(), lambda a: a.sin(), (xr,)).numpy())


def test_cond_tensor_predicate_and_gradient():
    data = np.random.default_rng(0).standard_normal((2, 3))
    for positive in (True, False):
        x, xr = _pair(data if positive else -np.abs(data) - 1, requires_grad=True)

        def true_fn(a, b):
            return (a * b).exp()

        def false_fn(a, b):
            return a.sin() + b

        ours = torsh.cond(x.sum() > 0, true_fn, false_fn, (x, x * 2))
        ref = torch.cond(xr.sum() > 0, true_fn, false_fn, (xr, xr * 2))
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
        ours.sum().backward(), ref.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-12)
    x = torsh.tensor(data, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a: torsh.cond(a.sum() > 0, true_fn, false_fn, (a, a)), (x,))


def test_cond_nested_operands_and_default():
    x, xr = _pair(np.ones(2))
    ours = torsh.cond(torsh.tensor(True), lambda d: d["a"] + 1, lambda d: d["a"] - 1, ({"a": x},))
    np.testing.assert_array_equal(ours.numpy(), (xr + 1).numpy())
    assert torsh.cond(torsh.tensor([False]), lambda: torsh.ones(1), lambda: torsh.zeros(1)).item() == 0


def test_cond_errors():
    for pred, pred_r, ops, ops_r in [
        (torsh.ones(2) > 0, torch.ones(2) > 0, (torsh.ones(1),), (torch.ones(1),)),
        ("a", "a", (torsh.ones(1),), (torch.ones(1),)),
        (torsh.tensor(True), torch.tensor(True), (1,), (1,)),
        (torsh.tensor(True), torch.tensor(True), [torsh.ones(1), 2.0], [torch.ones(1), 2.0]),
    ]:
        _errors(lambda: torsh.cond(pred, lambda *a: a, lambda *a: a, ops),
                lambda: torch.cond(pred_r, lambda *a: a, lambda *a: a, ops_r))
    _errors(lambda: torsh.cond(torsh.tensor(True), 1, lambda x: x, (torsh.ones(1),)),
            lambda: torch.cond(torch.tensor(True), 1, lambda x: x, (torch.ones(1),)))
    _errors(lambda: torsh.cond(True, 1, lambda x: x, (torsh.ones(1),)),
            lambda: torch.cond(True, 1, lambda x: x, (torch.ones(1),)))
    # a lone tensor is not an operand tuple
    with pytest.raises(RuntimeError, match="Expect operands to be a tuple"):
        torsh.cond(torsh.tensor(True), lambda x: x, lambda x: x, torsh.ones(1))


def test_while_loop_matches_torch():
    x, xr = _pair(np.linspace(0.1, 0.5, 4))

    def cond_fn(i, a):
        return i < 5

    def body_fn(i, a):
        return i + 1, a.sin() * 2

    ours = torsh.while_loop(cond_fn, body_fn, (torsh.tensor(0), x))
    ref = torch.while_loop(cond_fn, body_fn, (torch.tensor(0), xr))
    assert isinstance(ours, tuple) and len(ours) == 2
    assert ours[0].item() == ref[0].item() == 5
    np.testing.assert_allclose(ours[1].numpy(), ref[1].numpy(), rtol=1e-12)


def test_while_loop_that_never_runs_returns_clones():
    x = torsh.ones(2)
    out = torsh.while_loop(lambda a: a.sum() < 0, lambda a: (a + 1,), [x])
    assert isinstance(out, tuple) and out[0] is not x
    np.testing.assert_array_equal(out[0].numpy(), x.numpy())


def test_while_loop_gradient():
    x = torsh.tensor([0.3, -0.2], dtype=torsh.float64, requires_grad=True)

    def run(a):
        return torsh.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * v + 0.5), (torsh.tensor(0), a))[1]

    assert torsh.autograd.gradcheck(run, (x,))


def test_while_loop_errors():
    _errors(lambda: torsh.while_loop(1, lambda x: (x,), (torsh.zeros(1),)),
            lambda: torch.while_loop(1, lambda x: (x,), (torch.zeros(1),)))
    with pytest.raises(AssertionError, match=r"can only be of .* but got \(<class 'float'>,\)"):
        torsh.while_loop(lambda x: x < 3, lambda x: (x + 1,), (1.5,))
    with pytest.raises(RuntimeError, match="cond_fn must return a boolean scalar tensor or a boolean but got"):
        torsh.while_loop(lambda x: x, lambda x: (x + 1,), (torsh.zeros(2),))
    with pytest.raises(AssertionError, match="body_fn should return the same number of elements as carried_inputs, "
                                             "got 1 vs 2"):
        torsh.while_loop(lambda i, x: i < 2, lambda i, x: (i + 1,), (torsh.tensor(0), torsh.zeros(1)))


def test_functionalize_computes_the_same_and_keeps_input_mutations():
    def f(a):
        b = a.clone()
        b.view(-1).add_(1)
        a.mul_(2)
        return b * a

    x, xr = _pair(np.arange(6.0).reshape(2, 3))
    ours = torsh.func.functionalize(f)(x)
    ref = torch.func.functionalize(f)(xr)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    np.testing.assert_array_equal(x.numpy(), xr.numpy())
    ours = torsh.func.functionalize(f, remove="mutations_and_views")(torsh.ones(2))
    np.testing.assert_array_equal(ours.numpy(), torch.func.functionalize(f, remove="mutations_and_views")(
        torch.ones(2)).numpy())
    assert torsh.func.functionalize(f).__name__ == "f"
    _errors(lambda: torsh.func.functionalize(f, remove="views"), lambda: torch.func.functionalize(f, remove="views"))


def test_replace_all_batch_norm_modules():
    def model(nn):
        return nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 3), nn.Sequential(nn.BatchNorm2d(2)))

    ours, ref = model(torsh.nn), model(torch.nn)
    assert torsh.func.replace_all_batch_norm_modules_(ours) is ours
    torch.func.replace_all_batch_norm_modules_(ref)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    bn = ours[0]
    assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    ours.eval(), ref.eval()  # without running stats, eval normalizes with the batch's statistics
    np.testing.assert_allclose(ours[0](torsh.from_numpy(x)).detach().numpy(),
                               ref[0](torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert torsh.func.replace_all_batch_norm_modules_(torsh.nn.BatchNorm1d(2)).track_running_stats is False
