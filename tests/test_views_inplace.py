"""Views, storage sharing, version counters and in-place autograd (issue "Foundation", part 5)."""

import numpy as np
import pytest

import torsh
from helpers import (assert_close, check_same_error, from_array, make_array, torch_ref)


def leaf(lib, shape=(3, 4), seed=0):
    return from_array(lib, make_array(shape, "float64", seed=seed), "float64", requires_grad=True)


def base_tensor(lib):
    return lib.arange(24.0).reshape(2, 3, 4).clone()


# ============================================================================ views share storage

VIEW_FNS = [
    ("view", lambda t: t.view(6, 4)),
    ("view_flat", lambda t: t.view(-1)),
    ("view_as", lambda t: t.view_as(t.reshape(4, 6).clone())),
    ("transpose", lambda t: t.transpose(0, 2)),
    ("t_of_2d", lambda t: t[0].t()),
    ("mT", lambda t: t.mT),
    ("permute", lambda t: t.permute(1, 2, 0)),
    ("slice", lambda t: t[:, 1:]),
    ("slice_step", lambda t: t[..., ::2]),
    ("select", lambda t: t[1]),
    ("select_last_dim", lambda t: t[:, :, -1]),
    ("none_index", lambda t: t[None, 0]),
    ("unsqueeze", lambda t: t.unsqueeze(1)),
    ("squeeze", lambda t: t[:, :1].squeeze(1)),
    ("narrow", lambda t: t.narrow(2, 1, 2)),
    ("detach", lambda t: t.detach()),
    ("split_piece", lambda t: t.split(2, dim=2)[1]),
    ("chunk_piece", lambda t: t.chunk(3, dim=1)[2]),
    ("unbind_piece", lambda t: t.unbind(1)[0]),
]


@pytest.mark.parametrize("name,fn", VIEW_FNS, ids=[c[0] for c in VIEW_FNS])
def test_view_shares_storage_both_ways(name, fn):
    def scenario(lib):
        base = base_tensor(lib)
        v = fn(base)
        before = v.clone()
        base.add_(100)                      # write through the base ...
        seen = v.clone()
        v.mul_(-1)                          # ... and through the view
        return base, v, before, seen, fn(base)

    base, v, before, seen, fresh = scenario(torsh)
    assert_close(seen, before + 100)        # base write visible in the view
    assert_close(fresh, v)                  # view write visible in the base
    assert_close(v, -seen)
    assert v._version == base._version      # views share the version counter
    if torch_ref is not None:
        assert_close(base, scenario(torch_ref)[0])


def test_expand_is_a_view():
    base = torsh.zeros(3, 1)
    v = base.expand(3, 4)
    base.add_(torsh.tensor([[1.0], [2.0], [3.0]]))
    assert v.tolist() == [[1.0] * 4, [2.0] * 4, [3.0] * 4]
    assert v.stride() == (1, 0)


def test_write_into_expanded_view_raises():
    check_same_error(lambda lib: lib.zeros(3, 1).expand(3, 4).mul_(2), RuntimeError,
                     "unsupported operation: more than one element of the written-to tensor "
                     "refers to a single memory location")


COPY_FNS = [
    ("list_index", lambda lib, t: t[[0, 1]]),
    ("tensor_index", lambda lib, t: t[lib.tensor([1])]),
    ("bool_mask", lambda lib, t: t[t > 5]),
    ("clone", lambda lib, t: t.clone()),
    ("contiguous_of_transpose", lambda lib, t: t.transpose(0, 1).contiguous()),
]


@pytest.mark.parametrize("name,fn", COPY_FNS, ids=[c[0] for c in COPY_FNS])
def test_copies_do_not_share_storage(name, fn):
    """Advanced indexing and clone always copy (PyTorch "Tensor Views" documentation)."""
    base = base_tensor(torsh)
    c = fn(torsh, base)
    before = base.clone()
    c.add_(1000)
    assert_close(base, before)


def test_contiguous_of_contiguous_returns_self():
    t = torsh.ones(2, 3)
    assert t.contiguous() is t


def test_view_of_non_contiguous_requires_reshape():
    check_same_error(lambda lib: lib.zeros(2, 3).t().view(6), RuntimeError,
                     "view size is not compatible with input tensor's size and stride")


# ============================================================================ version counter

INPLACE_OPS = [
    ("add_", lambda lib, t: t.add_(1)),
    ("sub_", lambda lib, t: t.sub_(1)),
    ("mul_", lambda lib, t: t.mul_(2)),
    ("div_", lambda lib, t: t.div_(2)),
    ("zero_", lambda lib, t: t.zero_()),
    ("fill_", lambda lib, t: t.fill_(1)),
    ("copy_", lambda lib, t: t.copy_(lib.ones(3, dtype=t.dtype))),
    ("clamp_", lambda lib, t: t.clamp_(0, 1)),
    ("iadd", lambda lib, t: t.__iadd__(1)),
    ("imul", lambda lib, t: t.__imul__(2)),
    ("setitem_int", lambda lib, t: t.__setitem__(0, 1.0)),
    ("setitem_slice", lambda lib, t: t.__setitem__(slice(1, None), 2.0)),
    ("setitem_mask", lambda lib, t: t.__setitem__(t > -100, 1.0)),
    ("setitem_index", lambda lib, t: t.__setitem__(lib.tensor([0, 2]), 3.0)),
]


@pytest.mark.parametrize("name,op", INPLACE_OPS, ids=[c[0] for c in INPLACE_OPS])
def test_version_counter_increments(name, op):
    def delta(lib):
        t = lib.zeros(3)
        v0 = t._version
        op(lib, t)
        return t._version - v0

    ours = delta(torsh)
    assert ours >= 1
    if torch_ref is not None:
        assert ours == delta(torch_ref)


def test_out_of_place_ops_do_not_bump_version():
    t = torsh.zeros(3)
    v0 = t._version
    t + 1
    t.clone()
    t.view(3, 1)
    t.sum()
    assert t._version == v0


def test_inplace_through_view_bumps_base_version():
    base = torsh.zeros(2, 3)
    v = base[0]
    v0 = base._version
    v.add_(1)
    assert base._version > v0
    assert base._version == v._version


@pytest.mark.parametrize("name,op", INPLACE_OPS, ids=[c[0] for c in INPLACE_OPS])
def test_inplace_on_leaf_requiring_grad_raises(name, op):
    # PyTorch says "a view of a leaf Variable ..." for basic-index setitem (a view + copy_);
    # the part that matters is common to both wordings
    check_same_error(lambda lib: op(lib, lib.zeros(3, requires_grad=True)), RuntimeError,
                     "leaf Variable that requires grad is being used in an in-place operation.",
                     exact=False)


def test_inplace_on_view_of_leaf_raises():
    check_same_error(lambda lib: lib.zeros(3, requires_grad=True)[0].mul_(2), RuntimeError,
                     "a view of a leaf Variable that requires grad is being used in an in-place "
                     "operation.")


def test_inplace_on_leaf_allowed_under_no_grad():
    w = torsh.ones(3, requires_grad=True)
    with torsh.no_grad():
        w.mul_(3)
        w[0] = 0.0
    assert w.tolist() == [0.0, 3.0, 3.0]
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


# ============================================================================ saved tensors modified

SAVED_MODIFIED = [
    ("exp_output", lambda lib, x: _modify(x.clone().exp(), lambda z: z.add_(1))),
    ("sigmoid_output", lambda lib, x: _modify(x.clone().sigmoid(), lambda z: z.mul_(2))),
    ("tanh_output_view", lambda lib, x: _modify(x.clone().tanh(), lambda z: z[0].fill_(0))),
    ("mul_input", lambda lib, x: _modify_input(x, lambda y: y * y, lambda y: y.mul_(2))),
    ("sin_input", lambda lib, x: _modify_input(x, lambda y: y.sin(), lambda y: y.zero_())),
    ("pow_input_setitem", lambda lib, x: _modify_input(x, lambda y: y ** 2,
                                                       lambda y: y.__setitem__(0, 1.0))),
    ("mm_input", lambda lib, x: _modify_input(x, lambda y: y @ y.t(), lambda y: y.add_(1))),
    ("detached_alias", lambda lib, x: _modify(x.exp(), lambda z: z.detach().zero_())),
]


def _modify(z, mutate):
    mutate(z)
    return z


def _modify_input(x, f, mutate):
    y = x.clone()
    z = f(y)
    mutate(y)
    return z


@pytest.mark.parametrize("name,scenario", SAVED_MODIFIED, ids=[c[0] for c in SAVED_MODIFIED])
def test_modified_saved_tensor_raises_at_backward(name, scenario):
    def fn(lib):
        x = leaf(lib)
        z = scenario(lib, x)       # building the graph and mutating must not raise ...
        z.sum().backward()         # ... backward must

    # the rest of PyTorch's message names its internal nodes (Exp, AsStrided, CopySlices ...)
    check_same_error(fn, RuntimeError,
                     "one of the variables needed for gradient computation has been modified "
                     "by an inplace operation", exact=False)


@pytest.mark.parametrize("name,f", [("add", lambda y: y + 1), ("neg", lambda y: -y),
                                    ("sum", lambda y: y.sum())])
def test_modifying_unsaved_input_is_fine(name, f):
    def scenario(lib):
        x = leaf(lib)
        y = x.clone()
        z = f(y)
        y.mul_(2)
        (z * z).sum().backward()
        return x.grad

    ours = scenario(torsh)
    if torch_ref is not None:
        assert_close(ours, scenario(torch_ref))
    else:
        x = make_array((3, 4))
        expected = {"add": 2 * (x + 1), "neg": 2 * x, "sum": np.full(x.shape, 2 * x.sum())}[name]
        assert_close(ours, expected)


# ============================================================================ autograd through in-place

def _s_mul_row(lib, x, w):
    y = x.clone()
    y[0].mul_(2)
    return y


def _s_setitem_zero_column(lib, x, w):
    y = x.clone()
    y[:, 1] = 0
    return y


def _s_setitem_from_other_leaf(lib, x, w):
    y = x.clone()
    y[1:3] = w[0] * 3
    return y


def _s_transpose_exp_(lib, x, w):
    y = x.clone()
    y.t().exp_()
    return y


def _s_flat_view_add_(lib, x, w):
    y = x.clone()
    y.view(-1).add_(w.view(-1))
    return y ** 2


def _s_unsqueeze_mul_(lib, x, w):
    y = x * 1
    y.unsqueeze(0).mul_(3)
    return y.sin()


def _s_slice_sin_(lib, x, w):
    y = x * 1
    y[1:].sin_()
    return y


def _s_base_modified_after_view(lib, x, w):
    y = x.clone()
    v = y[0]
    y.mul_(2)                 # the view must see this and its graph must know
    return v * w[0]


def _s_chain_of_inplace(lib, x, w):
    y = x.clone()
    y.mul_(w)
    y.add_(1)
    y.div_(2)
    y.sin_()
    y.exp_()      # saves its result: nothing may modify y after this
    return y


def _s_iadd_on_non_grad_tensor(lib, x, w):
    a = lib.zeros(3, 4, dtype=lib.float64)
    a += x * w            # a starts without grad and ends up in the graph
    return a


def _s_masked_fill_like_setitem(lib, x, w):
    y = x.clone()
    y[y > 0] = 0.0
    return y * w


def _s_docs_example(lib, x, w):
    # PyTorch "Autograd mechanics": in-place on a view of a non-leaf, then use the base
    base = x.clone()
    view = base[:, :2]
    view.mul_(w[:, :2])
    return base.tanh()


def _s_clamp_on_view(lib, x, w):
    y = x * w
    y[:2].clamp_(-0.5, 0.5)
    return y


INPLACE_GRAD_SCENARIOS = [
    _s_mul_row, _s_setitem_zero_column, _s_setitem_from_other_leaf, _s_transpose_exp_,
    _s_flat_view_add_, _s_unsqueeze_mul_, _s_slice_sin_, _s_base_modified_after_view,
    _s_chain_of_inplace, _s_iadd_on_non_grad_tensor, _s_masked_fill_like_setitem,
    _s_docs_example, _s_clamp_on_view,
]


def _run_inplace_scenario(lib, scenario):
    x = leaf(lib, seed=1)
    w = leaf(lib, seed=2)
    out = scenario(lib, x, w)
    wsum = from_array(lib, make_array(tuple(out.shape), "float64", seed=9))
    (out * wsum).sum().backward()
    return out.detach(), x.grad, w.grad


@pytest.mark.parametrize("scenario", INPLACE_GRAD_SCENARIOS,
                         ids=[f.__name__[3:] for f in INPLACE_GRAD_SCENARIOS])
def test_gradients_through_inplace_on_views(scenario):
    ours = _run_inplace_scenario(torsh, scenario)
    if torch_ref is None:
        pytest.skip("needs torch for the reference gradients")
    ref = _run_inplace_scenario(torch_ref, scenario)
    for name, o, r in zip(("output", "x.grad", "w.grad"), ours, ref):
        if r is None:
            assert o is None, f"{name}: torch gives None"
        else:
            assert o is not None, f"{name}: torsh gives None"
            assert_close(o, r, msg=f"{name}: ")


@pytest.mark.parametrize("scenario", [_s_mul_row, _s_transpose_exp_, _s_base_modified_after_view,
                                      _s_docs_example],
                         ids=["mul_row", "transpose_exp_", "base_modified_after_view", "docs"])
def test_inplace_on_views_gradcheck(scenario):
    x = leaf(torsh, seed=1)
    w = leaf(torsh, seed=2)
    assert torsh.autograd.gradcheck(lambda a, b: scenario(torsh, a, b), (x, w)) is True


def test_mul_row_gradient_literal():
    x = torsh.ones(2, 3, requires_grad=True)
    y = x.clone()
    y[0].mul_(2)
    y.sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]


def test_grad_fn_of_base_after_inplace_on_view():
    def name(lib):
        y = leaf(lib).clone()
        y[0].mul_(2)
        return type(y.grad_fn).__name__

    assert name(torsh) == (name(torch_ref) if torch_ref is not None else "CopySlices")


def test_inplace_with_grad_operand_makes_tensor_require_grad():
    x = torsh.ones(3, requires_grad=True)
    a = torsh.zeros(3)
    a.add_(x)
    assert a.requires_grad and not a.is_leaf
    assert type(a.grad_fn).__name__ == "AddBackward0"
    (a * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
