"""The per-step fast paths (issue 20): the backward engine's loop, view shape inference, Node release flags.

Each behaviour is checked against PyTorch: gradients, the order hooks run in, error types and wording.
"""
import warnings

import pytest
import torch

import torsh
from torsh.autograd.graph import Node


def _outcome(fn):
    try:
        return ("ok", tuple(fn().shape))
    except Exception as e:  # the type and wording must match PyTorch's
        return (type(e).__name__, str(e))


@pytest.mark.parametrize("numel, shape", [
    (6, (2, -1)), (6, (-1, 3)), (6, (2, 3)), (0, (-1,)), (0, (0, 5)), (0, (0, -1)), (0, (-1, 0, 2)), (4, (0, -1)),
    (4, (2, -2)), (4, (-1, -1)), (4, (3,)), (5, (2, -1)), (24, (2, -1, 4)), (1, ()), (1, (-1,)), (6, (-3, 2)),
])
@pytest.mark.parametrize("method", ["reshape", "view"])
def test_shape_inference_matches_pytorch(numel, shape, method):
    expected = _outcome(lambda: getattr(torch.zeros(numel), method)(shape))
    assert _outcome(lambda: getattr(torsh.zeros(numel), method)(shape)) == expected
    assert _outcome(lambda: getattr(torsh.zeros(numel), method)(*shape)) == expected if shape else True


def _mlp_step(lib, order):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(5, 4), lib.nn.ReLU(), lib.nn.Linear(4, 3))
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: order.append(name))
    x = lib.ones(2, 5)
    loss = model(x).pow(2).sum()
    loss.backward()
    return model, loss


def test_leaf_accumulation_order_and_grads_match_pytorch():
    ours, theirs = [], []
    model, loss = _mlp_step(torsh, ours)
    ref_model, ref_loss = _mlp_step(torch, theirs)
    assert ours == theirs  # ready AccumulateGrad nodes run first, in PyTorch's order
    for p, q in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(torch.from_numpy(p.grad.numpy()), q.grad)


def test_second_backward_error_matches_pytorch():
    messages = []
    for lib in (torsh, torch):
        x = lib.ones(3, requires_grad=True)
        y = (x * x).sum()
        y.backward()
        with pytest.raises(RuntimeError) as info:
            y.backward()
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_retain_graph_keeps_saved_tensors():
    x = torsh.tensor([1.0, 2.0], dtype=torsh.float64, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    xt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    yt = (xt.exp() * xt).sum()
    yt.backward(retain_graph=True)
    yt.backward()
    assert x.grad.tolist() == pytest.approx(xt.grad.tolist())


def test_anomaly_nan_check_matches_pytorch():
    messages = []
    for lib in (torsh, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # anomaly mode's own warning, NumPy's invalid-value warning
            with lib.autograd.detect_anomaly(), pytest.raises(RuntimeError) as info:
                (x.sqrt() * 0).sum().backward()
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def _bad_function(lib):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g.sum()  # the second has the wrong shape
    return Bad


def test_wrong_gradient_shape_names_its_input():
    messages = []
    for lib in (torsh, torch):
        a = lib.ones(3, requires_grad=True)
        b = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            _bad_function(lib).apply(a, b).sum().backward()
        messages.append(str(info.value))
    assert messages[0].split(" - ")[1:] == messages[1].split(" - ")[1:]  # "got [] but expected ... [3]"
    assert "index 1" in messages[0] and "index 1" in messages[1]


def test_custom_release_flag_follows_subclasses():
    class Plain(Node):
        pass

    class Holding(Node):
        def _on_release(self):
            self.extra = None

    class Inherits(Holding):
        pass

    assert Node._custom_release is False and Plain._custom_release is False
    assert Holding._custom_release is True and Inherits._custom_release is True


def test_grad_with_hooks_and_inputs_matches_pytorch():
    results = []
    for lib in (torsh, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * w
        h.register_hook(lambda g: g * 2)
        out = (h.tanh() + h * x).sum()
        gx, = lib.autograd.grad(out, (x,), retain_graph=True)
        out.backward(inputs=[w])
        results.append((gx.tolist(), w.grad.tolist(), x.grad))
    assert results[0][0] == pytest.approx(results[1][0])
    assert results[0][1] == pytest.approx(results[1][1])
    assert results[0][2] is None and results[1][2] is None


@pytest.mark.parametrize("amsgrad, optimizer", [(False, "Adam"), (True, "Adam"), (False, "AdamW")])
def test_adam_scalars_shared_across_a_group_match_pytorch(amsgrad, optimizer):
    """Adam computes its step's scalars once per (step, dtype) of a group: parameters at other step counts (one
    skipped a step for lack of a gradient) or of another dtype must still get their own."""
    values = []
    for lib in (torsh, torch):
        a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = lib.tensor([0.5, 0.25], dtype=lib.float64, requires_grad=True)
        c = lib.tensor([[2.0, -1.0]], requires_grad=True)
        opt = getattr(lib.optim, optimizer)([a, c, b], lr=0.1, amsgrad=amsgrad, weight_decay=0.01)
        for i in range(4):
            opt.zero_grad()
            loss = (a * a).sum() + (b ** 3).sum() * 2
            if i % 2 == 0:  # c has no gradient on odd steps: its step count falls behind a's and b's
                loss = loss + (c * c * 3).sum()
            loss.backward()
            opt.step()
        values.append([t.detach().reshape(-1).tolist() for t in (a, b, c)])
    for ours, theirs in zip(*values):
        assert ours == pytest.approx(theirs, rel=1e-6)


def test_step_bytecodes_counts_a_workload_by_file():
    """benchmarks/step_bytecodes.py counts one call of a workload row; the backward engine shows up in W1.2's."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    from step_bytecodes import count_row, per_file
    total, counts = count_row(torsh, "W1.2", steps=1, warmup=1)
    files = per_file(counts)
    assert total == sum(counts.values()) > 0
    assert any(name.endswith(os.path.join("autograd", "engine.py")) and n > 0 for name, n in files.items())
