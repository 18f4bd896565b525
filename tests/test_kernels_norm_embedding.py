"""batch_norm, group_norm (``norm`` kernel family) and embedding backward (``embedding`` family)
against PyTorch, on the compiled variants and on NumPy: forward, backward, running statistics,
odd and non-contiguous layouts, and float64 gradcheck / gradgradcheck (create_graph keeps the
torsh-ops formula, so double backward stays exact)."""
import numpy as np
import pytest
import torch

import torsh
import torsh.nn.functional as F
from torsh.backend import dispatch
from helpers import VARIANTS, forced_variant

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-11)}
OPS = ("batch_norm", "batch_norm_backward", "batch_norm_eval", "group_norm", "group_norm_backward",
       "embedding_backward")


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Force every op of this file onto one variant; yields the variant name the records must show."""
    with forced_variant(OPS, request.param) as recorded:
        yield recorded


def _close(ours, ref, dtype):
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **TOL[dtype])


def _variants_of(records, op):
    return {r.variant for r in records if r.op == op}


def _params(rng, c, dtype, affine):
    if not affine:
        return (None, None), (None, None)
    w = rng.standard_normal(c).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    return ((torsh.tensor(w, requires_grad=True), torsh.tensor(b, requires_grad=True)),
            (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)))


SHAPES = [(8, 5), (4, 6, 7), (3, 6, 5, 3), (2, 3, 4, 5, 3), (33, 7, 1, 9)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_matches_torch(shape, affine, dtype, variant):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 3 + 1.5).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    (w, b), (wr, br) = _params(rng, c, dtype, affine)
    x, xr = torsh.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    rm, rv = torsh.zeros(c, dtype=x.dtype), torsh.ones(c, dtype=x.dtype)
    rmr, rvr = torch.zeros(c, dtype=xr.dtype), torch.ones(c, dtype=xr.dtype)
    with dispatch.record() as records:
        y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-4)
        y.backward(torsh.tensor(grad))
    yr = torch.nn.functional.batch_norm(xr, rmr, rvr, wr, br, training=True, momentum=0.2, eps=1e-4)
    yr.backward(torch.tensor(grad))
    assert y.grad_fn.name() == yr.grad_fn.name()
    for ours, ref in ((y, yr), (x.grad, xr.grad), (rm, rmr), (rv, rvr)):
        _close(ours, ref, dtype)
    if affine:
        _close(w.grad, wr.grad, dtype)
        _close(b.grad, br.grad, dtype)
    assert _variants_of(records, "batch_norm") == _variants_of(records, "batch_norm_backward") == {variant}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4, 6, 7), (3, 6, 5, 3), (8, 5)])
def test_batch_norm_eval_matches_torch(shape, affine, dtype, variant):
    rng = np.random.default_rng(1)
    arr = rng.standard_normal(shape).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    mean = rng.standard_normal(c).astype(dtype)
    var = rng.uniform(0.5, 2, c).astype(dtype)
    (w, b), (wr, br) = _params(rng, c, dtype, affine)
    x, xr = torsh.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    with dispatch.record() as records:
        y = F.batch_norm(x, torsh.tensor(mean), torsh.tensor(var), w, b, training=False)
        y.backward(torsh.tensor(grad))
    yr = torch.nn.functional.batch_norm(xr, torch.tensor(mean), torch.tensor(var), wr, br, training=False)
    yr.backward(torch.tensor(grad))
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    if affine:
        _close(w.grad, wr.grad, dtype)
        _close(b.grad, br.grad, dtype)
    # (N, C) input has no spatial rows for the kernel: NumPy runs it, and the record says why
    assert _variants_of(records, "batch_norm_eval") == ({"numpy"} if len(shape) == 2 else {variant})


@pytest.mark.parametrize("module", ["BatchNorm1d", "BatchNorm2d"])
def test_batch_norm_module_running_stats_after_steps_match_torch(module, variant):
    rng = np.random.default_rng(2)
    shape = (6, 5, 7) if module == "BatchNorm1d" else (4, 5, 3, 6)
    ours, ref = getattr(torsh.nn, module)(5, momentum=0.3), getattr(torch.nn, module)(5, momentum=0.3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(rng.standard_normal(5).astype(np.float32)))
        ref.bias.copy_(torch.tensor(rng.standard_normal(5).astype(np.float32)))
    ours.load_state_dict({k: torsh.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    for step in range(4):
        arr = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        y, yr = ours(torsh.tensor(arr)), ref(torch.tensor(arr))
        _close(y, yr, np.float32)
        (y * y).sum().backward()
        (yr * yr).sum().backward()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(ref, name).numpy(), rtol=1e-5, atol=1e-6)
    _close(ours.weight.grad, ref.weight.grad, np.float32)
    _close(ours.bias.grad, ref.bias.grad, np.float32)
    ours.eval(), ref.eval()
    arr = rng.standard_normal(shape).astype(np.float32)
    _close(ours(torsh.tensor(arr)), ref(torch.tensor(arr)), np.float32)


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_non_contiguous_input_and_grad_run_on_numpy_and_match_torch(norm, variant):
    rng = np.random.default_rng(3)
    arr = rng.standard_normal((5, 4, 6, 3)).astype(np.float32)
    garr = rng.standard_normal((6, 4, 5, 3)).astype(np.float32)
    x, xr = torsh.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    xp, xpr = x.permute(2, 1, 0, 3), xr.permute(2, 1, 0, 3)  # (6, 4, 5, 3), channels 4
    g, gr = torsh.tensor(garr).permute(0, 1, 3, 2), torch.tensor(garr).permute(0, 1, 3, 2)
    if norm == "batch":
        y = F.batch_norm(xp.permute(0, 1, 3, 2), None, None, training=True)
        yr = torch.nn.functional.batch_norm(xpr.permute(0, 1, 3, 2), None, None, training=True)
    else:
        y = F.group_norm(xp.permute(0, 1, 3, 2), 2)
        yr = torch.nn.functional.group_norm(xpr.permute(0, 1, 3, 2), 2)
    with dispatch.record() as records:
        y2 = F.batch_norm(xp, None, None, training=True) if norm == "batch" else F.group_norm(xp, 2)
    assert {r.variant for r in records} == {"numpy"} and "contiguous" in records[0].reason
    y.backward(g)
    yr.backward(gr)
    _close(y, yr, np.float32)
    _close(x.grad, xr.grad, np.float32)
    ref2 = (torch.nn.functional.batch_norm(xpr, None, None, training=True) if norm == "batch"
            else torch.nn.functional.group_norm(xpr, 2))
    _close(y2, ref2, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,groups", [((3, 6, 5, 3), 3), ((2, 8, 11), 4), ((4, 6), 2), ((5, 10, 3, 3), 1),
                                          ((2, 7, 4, 4), 7)])
def test_group_norm_matches_torch(shape, groups, affine, dtype, variant):
    rng = np.random.default_rng(4)
    arr = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    (w, b), (wr, br) = _params(rng, shape[1], dtype, affine)
    x, xr = torsh.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    with dispatch.record() as records:
        y = F.group_norm(x, groups, w, b, eps=1e-4)
        y.backward(torsh.tensor(grad))
    yr = torch.nn.functional.group_norm(xr, groups, wr, br, eps=1e-4)
    yr.backward(torch.tensor(grad))
    assert y.grad_fn.name() == yr.grad_fn.name()
    _close(y, yr, dtype)
    _close(x.grad, xr.grad, dtype)
    if affine:
        _close(w.grad, wr.grad, dtype)
        _close(b.grad, br.grad, dtype)
    assert _variants_of(records, "group_norm") == _variants_of(records, "group_norm_backward") == {variant}


def test_group_norm_module_matches_torch(variant):
    rng = np.random.default_rng(5)
    ours, ref = torsh.nn.GroupNorm(4, 8), torch.nn.GroupNorm(4, 8)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(rng.standard_normal(8).astype(np.float32)))
    ours.load_state_dict({k: torsh.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    arr = rng.standard_normal((3, 8, 5, 5)).astype(np.float32)
    y, yr = ours(torsh.tensor(arr)), ref(torch.tensor(arr))
    _close(y, yr, np.float32)
    y.sum().backward()
    yr.sum().backward()
    _close(ours.weight.grad, ref.weight.grad, np.float32)
    _close(ours.bias.grad, ref.bias.grad, np.float32)


@pytest.mark.parametrize("affine", [True, False])
def test_norms_gradcheck_and_gradgradcheck(affine, variant):
    rng = np.random.default_rng(6)
    x = torsh.tensor(rng.standard_normal((3, 4, 2, 3)), requires_grad=True)
    w = torsh.tensor(rng.standard_normal(4), requires_grad=True)
    b = torsh.tensor(rng.standard_normal(4), requires_grad=True)
    rm, rv = torsh.tensor(rng.standard_normal(4)), torsh.tensor(rng.uniform(0.5, 2, 4))
    fns = [lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
           lambda x, w, b: F.group_norm(x, 2, w, b),
           lambda x, w, b: F.batch_norm(x.reshape(6, 4, 3).sum(2), None, None, w, b, training=True)]
    for fn in fns:
        if affine:
            args = (x, w, b)
            f = fn
        else:
            args = (x,)
            f = lambda x, fn=fn: fn(x, None, None)  # noqa: E731
        assert torsh.autograd.gradcheck(f, args)
        assert torsh.autograd.gradgradcheck(f, args)


def test_norms_of_mixed_dtypes_keep_the_composed_path():
    x = torsh.randn(4, 3, 5, dtype=torsh.float64)
    w = torsh.ones(3)  # float32 weight against float64 input: the composed ops promote
    with dispatch.record() as records:
        y = F.group_norm(x, 3, w)
        z = F.batch_norm(x, None, None, w, training=True)
    assert not [r for r in records if r.op in OPS]
    ref = torch.nn.functional.group_norm(torch.tensor(x.numpy()), 3, torch.ones(3, dtype=torch.float64))
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-6)
    ref = torch.nn.functional.batch_norm(torch.tensor(x.numpy()), None, None, torch.ones(3, dtype=torch.float64),
                                         training=True)
    np.testing.assert_allclose(z.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx,scale", [(None, False), (3, False), (-2, True), (None, True)])
def test_embedding_backward_matches_torch(padding_idx, scale, dtype, variant):
    rng = np.random.default_rng(7)
    weight = rng.standard_normal((20, 37)).astype(dtype)
    idx = rng.integers(0, 20, (6, 9))
    idx[0, :4] = 3  # repeated indices, some of them the padding row
    idx[1, :3] = 18
    grad = rng.standard_normal((6, 9, 37)).astype(dtype)
    w, wr = torsh.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    with dispatch.record() as records:
        y = F.embedding(torsh.tensor(idx), w, padding_idx=padding_idx, scale_grad_by_freq=scale)
        y.backward(torsh.tensor(grad))
    yr = torch.nn.functional.embedding(torch.tensor(idx), wr, padding_idx=padding_idx, scale_grad_by_freq=scale)
    yr.backward(torch.tensor(grad))
    _close(y, yr, dtype)
    _close(w.grad, wr.grad, dtype)
    assert _variants_of(records, "embedding_backward") == {variant}


def test_embedding_backward_non_contiguous_grad_and_int32_indices(variant):
    rng = np.random.default_rng(8)
    weight = rng.standard_normal((11, 6)).astype(np.float32)
    idx = rng.integers(0, 11, (5, 4)).astype(np.int32)
    garr = rng.standard_normal((6, 4, 5)).astype(np.float32)
    w, wr = torsh.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    F.embedding(torsh.tensor(idx), w).backward(torsh.tensor(garr).permute(2, 1, 0))
    torch.nn.functional.embedding(torch.tensor(idx), wr).backward(torch.tensor(garr).permute(2, 1, 0))
    _close(w.grad, wr.grad, np.float32)
    ours, ref = torsh.nn.Embedding(11, 6, padding_idx=0), torch.nn.Embedding(11, 6, padding_idx=0)
    ours.load_state_dict({"weight": torsh.tensor(ref.weight.detach().numpy())})
    ours(torsh.tensor(idx)).pow(2).sum().backward()
    ref(torch.tensor(idx)).pow(2).sum().backward()
    _close(ours.weight.grad, ref.weight.grad, np.float32)


def test_embedding_gradcheck_and_gradgradcheck(variant):
    rng = np.random.default_rng(9)
    idx = torsh.tensor(np.array([[0, 2, 2, 4], [1, 2, 0, 4]]))
    w = torsh.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    fn = lambda w: F.embedding(idx, w) ** 2  # noqa: E731
    assert torsh.autograd.gradcheck(fn, (w,))
    assert torsh.autograd.gradgradcheck(fn, (w,))


@pytest.mark.parametrize("padding_idx,scale", [(2, False), (None, True), (2, True)])
def test_embedding_double_backward_with_options(padding_idx, scale, variant):
    # padding_idx and scale_grad_by_freq are not true derivatives (gradcheck fails in PyTorch too). The weight
    # gradient as a function of the output gradient is checked instead: against PyTorch without scaling, and by
    # gradcheck with it (PyTorch's double backward drops the 1 / count factor; torsh keeps the exact derivative)
    rng = np.random.default_rng(10)
    idx = np.array([[0, 2, 2, 4], [1, 2, 0, 4]])
    weight = rng.standard_normal((5, 3))
    go = rng.standard_normal((2, 4, 3))

    def weight_grad(lib, f, w, g):
        y = f.embedding(lib.tensor(idx), w, padding_idx=padding_idx, scale_grad_by_freq=scale)
        return lib.autograd.grad(y, w, g, create_graph=True)[0]

    w = torsh.tensor(weight, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda g: weight_grad(torsh, F, w, g) ** 2,
                                    (torsh.tensor(go, requires_grad=True),))
    if not scale:
        results = []
        for lib, f in ((torsh, F), (torch, torch.nn.functional)):
            w, g = lib.tensor(weight, requires_grad=True), lib.tensor(go, requires_grad=True)
            gw = weight_grad(lib, f, w, g)
            (gw * gw).sum().backward()
            results.append((gw, g.grad))
        for ours, ref in zip(*results):
            _close(ours, ref, np.float64)
