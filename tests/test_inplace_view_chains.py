"""In-place ops on a view of a view (CopySlices), then backward through other views, against PyTorch 2.13.

The base's new history replays the inner view's chain of view functions on the gradient laid out
like the base, so a chain that worked on the base (``view(6, 4)[0]``) works on a gradient that
arrives transposed from another view of the base. grad_fn names of views re-derived after the
in-place op are those of PyTorch's view-replay mode (PyTorch's default shows AsStridedBackward0).
"""
import contextlib

import numpy as np
import pytest

import torsh
from helpers import check_same_error, from_array, make_array, needs_torch, torch_ref

pytestmark = needs_torch

# the inner view of b (shape (2, 3, 4)) written in place
CHAINS = {
    "view_then_select": lambda b: b.view(6, 4)[0],
    "slice_of_transpose": lambda b: b.transpose(1, 2)[:, 1:3],
    "narrow_of_unsqueeze": lambda b: b.unsqueeze(0).narrow(3, 1, 2),
    "select_of_select": lambda b: b.select(0, 1).select(0, 2),
    "diagonal_of_select": lambda b: b[1].diagonal(),
    "diagonal_offset_of_transpose": lambda b: b.transpose(0, 2).diagonal(1, 0, 1),
    # (select spelled out: torsh names b[:, 0] SliceBackward0 where PyTorch shows SelectBackward0)
    "permute_then_slice_select": lambda b: b.permute(2, 0, 1)[1:3].select(2, 0),
    "strided_slice_of_view": lambda b: b.view(2, 12)[:, ::3],
    "t_of_select": lambda b: b[:, 1].t(),
    "view_of_flat_slice": lambda b: b.flatten()[2:10].view(2, 4),
    "unflatten_then_index": lambda b: b.unflatten(2, (2, 2))[..., 1],
    "element_of_flat_view": lambda b: b.view(-1)[5],
    "squeeze_of_narrow": lambda b: b.narrow(0, 1, 1).squeeze(0)[::2],
    "select_of_movedim": lambda b: b.movedim(0, 2)[1],
    "select_of_swapaxes_of_view": lambda b: b.view(2, 3, 2, 2).swapaxes(1, 3).select(1, 0),
}

# the in-place op on the inner view v; ``other`` is a leaf requiring grad shaped like v
OPS = {
    "mul_": lambda lib, v, other: v.mul_(3),
    "add_other": lambda lib, v, other: v.add_(other),
    "sigmoid_": lambda lib, v, other: v.sigmoid_(),
    "copy_other": lambda lib, v, other: v.copy_(other),
    "leaky_relu_": lambda lib, v, other: lib.nn.functional.leaky_relu_(v, 0.3),
    "elu_": lambda lib, v, other: lib.nn.functional.elu(v, inplace=True),
}


@contextlib.contextmanager
def _view_replay(lib):
    """PyTorch's view-replay mode (whose grad_fn names torsh shows); nothing to do for torsh."""
    if lib is torsh:
        yield
        return
    before = torch_ref._C._is_view_replay_enabled()
    torch_ref._C._set_view_replay_enabled(True)
    try:
        yield
    finally:
        torch_ref._C._set_view_replay_enabled(before)


def _weights(lib, t, seed):
    return from_array(lib, make_array(tuple(t.shape), seed=seed))


def _run(lib, chain, op):
    """Write into chain(b) in place, then backward through views of the base and of the inner view."""
    with _view_replay(lib):
        a = from_array(lib, make_array((2, 3, 4), seed=1), requires_grad=True)
        b = a.clone()
        earlier = b[0, :, 1:]  # a view taken before the in-place op: its history must follow it
        v = chain(b)
        other = from_array(lib, make_array(tuple(v.shape), seed=2), requires_grad=True)
        op(lib, v, other)
        names = [type(t.grad_fn).__name__ for t in (v, b, earlier, chain(b))]
        flat_t = b.transpose(1, 2).reshape(-1)
        loss = ((flat_t * _weights(lib, flat_t, 3)).sum() + (b[1] * _weights(lib, b[1], 4)).sum()
                + (v * _weights(lib, v, 5)).sum() + (earlier * _weights(lib, earlier, 6)).sum()
                + (chain(b) * _weights(lib, v, 7)).sum())
        loss.backward()
    grads = [g.numpy() for g in (a.grad, other.grad) if g is not None]
    return names, b.detach().numpy(), grads


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("chain", list(CHAINS))
def test_inplace_on_inner_view_then_backward_through_other_views(chain, op):
    names, base, grads = _run(torsh, CHAINS[chain], OPS[op])
    r_names, r_base, r_grads = _run(torch_ref, CHAINS[chain], OPS[op])
    assert names == r_names
    np.testing.assert_allclose(base, r_base, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(r_grads)
    for g, r in zip(grads, r_grads):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_issue_example_view_select_then_transposed_reshape():
    # the reported failure: the replayed view(6, 4) met a transposed gradient ("view size is not compatible")
    def run(lib):
        a = from_array(lib, make_array((2, 3, 4), seed=1), requires_grad=True)
        b = a.clone()
        b.view(6, 4)[0].mul_(3)
        flat = b.transpose(1, 2).reshape(-1)
        (flat * from_array(lib, np.arange(24.0))).sum().backward()
        return a.grad.numpy()

    np.testing.assert_allclose(run(torsh), run(torch_ref), rtol=1e-12)


def test_base_grad_fn_and_fresh_view_grad_fn_in_default_mode():
    # outside view replay PyTorch shows AsStridedBackward0 for views re-derived after the in-place op;
    # the base's CopySlices and a view taken afresh are the same in both modes
    def names(lib):
        b = from_array(lib, make_array((2, 3, 4)), requires_grad=True).clone()
        b.view(6, 4)[0].mul_(3)
        return type(b.grad_fn).__name__, type(b.view(6, 4)[0].grad_fn).__name__

    assert names(torsh) == names(torch_ref) == ("CopySlices", "SelectBackward0")


@pytest.mark.parametrize("chain", ["view_then_select", "slice_of_transpose", "diagonal_offset_of_transpose",
                                   "strided_slice_of_view", "select_of_swapaxes_of_view"])
@pytest.mark.parametrize("op", ["mul_", "sigmoid_", "add_other"])
def test_gradcheck_and_gradgradcheck_through_view_chain(chain, op):
    a = torsh.tensor(make_array((2, 3, 4), seed=1), requires_grad=True)
    other = torsh.tensor(make_array(tuple(CHAINS[chain](a.detach()).shape), seed=2), requires_grad=True)
    w = torsh.tensor(make_array((24,), seed=3))

    def f(a, other):
        b = a.clone()
        OPS[op](torsh, CHAINS[chain](b), other)
        return (b.transpose(1, 2).reshape(-1) * w).sum() + b.sin().sum()

    assert torsh.autograd.gradcheck(f, (a, other))
    assert torsh.autograd.gradgradcheck(f, (a, other))


MULTI_OUTPUT = {
    "split": lambda b: b.split(2, 2)[1],
    "chunk": lambda b: b.chunk(2, 2)[0],
    "split_with_sizes": lambda b: b.split([1, 3], 2)[1],
    "unbind": lambda b: b.unbind(0)[1],
    "transpose_of_split": lambda b: b.split(2, 2)[1].transpose(0, 1),
    "slice_of_unbind": lambda b: b.unbind(1)[2][:, 1:],
}


@pytest.mark.parametrize("case", list(MULTI_OUTPUT))
def test_inplace_on_multi_output_view_is_refused(case):
    def fn(lib):
        b = from_array(lib, make_array((2, 3, 4)), requires_grad=True).clone()
        MULTI_OUTPUT[case](b).mul_(3)

    check_same_error(fn)


@pytest.mark.parametrize("case", list(MULTI_OUTPUT))
def test_inplace_on_multi_output_view_without_grad_is_allowed(case):
    def run(lib, no_grad):
        a = from_array(lib, make_array((2, 3, 4)), requires_grad=no_grad)
        b = a.detach().clone() if not no_grad else a.clone()
        with lib.no_grad() if no_grad else contextlib.nullcontext():
            MULTI_OUTPUT[case](b).mul_(3)
        return b.detach().numpy()

    for no_grad in (False, True):
        np.testing.assert_array_equal(run(torsh, no_grad), run(torch_ref, no_grad))


def test_saved_view_result_modified_later_raises_like_pytorch():
    # sigmoid_ on a view saves that view at its new version: a later write through the base is caught
    def fn(lib):
        b = from_array(lib, make_array((2, 3, 4)), requires_grad=True).clone()
        v = b.view(6, 4)[0]
        v.sigmoid_()
        b.mul_(2)
        v.sum().backward()

    check_same_error(fn, RuntimeError, "one of the variables needed for gradient computation has been modified "
                     "by an inplace operation", exact=False)


def test_non_contiguous_base():
    # a base that is itself transposed in memory (a permuted result that owns its array)
    def run(lib):
        a = from_array(lib, make_array((3, 4, 5), seed=1), requires_grad=True)
        base = (a.permute(2, 0, 1) * 1)  # torsh and PyTorch keep the permuted layout for elementwise results
        base[1].view(12)[2:7].mul_(2)
        (base.reshape(-1) * from_array(lib, np.arange(60.0))).sum().backward()
        return a.grad.numpy()

    np.testing.assert_allclose(run(torsh), run(torch_ref), rtol=1e-12)
