"""Selection ops' grad_fn names and gradients as PyTorch's (SortBackward0, TopkBackward0, KthvalueBackward0,
MedianBackward1, NanmedianBackward1, ModeBackward0), float64 gradcheck; take_along_dim's negative indices."""
import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

CALLS = {
    "sort": lambda lib, x: lib.sort(x, 1, True),
    "topk": lambda lib, x: lib.topk(x, 2, 0),
    "kthvalue": lambda lib, x: lib.kthvalue(x, 2, 1, keepdim=True),
    "median": lambda lib, x: lib.median(x, 1),
    "nanmedian": lambda lib, x: lib.nanmedian(x, 0, keepdim=True),
    "mode": lambda lib, x: lib.mode(x, 1),
}
DATA = np.array([[3.0, 1, 2, 5], [0.5, -1, 4, 2], [7, 6, -3, 1]])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_grad_fn_and_gradient(name):
    results = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(DATA, requires_grad=True)
        values = CALLS[name](lib, x)[0]
        weights = lib.arange(values.numel(), dtype=lib.float64).reshape(values.shape)
        (values * weights).sum().backward()
        results.append((values.grad_fn.name(), values.detach().numpy(), x.grad.numpy()))
    (tn, tv, tg), (sn, sv, sg) = results
    assert sn == tn
    np.testing.assert_allclose(sv, tv)
    np.testing.assert_allclose(sg, tg)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_gradcheck(name):
    x = torsh.tensor(DATA, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: CALLS[name](torsh, t)[0], (x,))


def test_take_along_dim_negative_indices_and_broadcasting():
    idx = np.array([[-1, -4], [0, 1], [3, -2]])
    out = []
    for lib in (torch_ref, torsh):
        x = lib.tensor(DATA, requires_grad=True)
        r = lib.take_along_dim(x, lib.tensor(idx), 1)
        r2 = lib.take_along_dim(x.unsqueeze(0), lib.tensor([[[-1]]]), 2)  # broadcast over the other dims
        (r.sum() + 2 * r2.sum()).backward()
        out.append((r.detach().numpy(), r2.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a)
    x = torsh.tensor(DATA, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: torsh.take_along_dim(t, torsh.tensor(idx), 1), (x,))


@pytest.mark.parametrize("with_weight", [False, True])
def test_histogram_records_a_refusing_node(with_weight):
    results = []
    for lib in (torch_ref, torsh):
        x = lib.arange(5.0, requires_grad=not with_weight)
        w = lib.ones(5, requires_grad=True) if with_weight else None
        h = lib.histogram(x, 2, weight=w)
        with pytest.raises(RuntimeError) as info:
            h.hist.sum().backward()
        results.append((h.hist.grad_fn.name(), h.hist.requires_grad, h.bin_edges.requires_grad, h.hist.tolist(),
                        str(info.value)))
    assert results[1] == results[0]
