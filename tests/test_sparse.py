"""torsh.sparse against PyTorch 2.13: COO/CSR construction, coalescing, conversions, printing, products,
reductions, arithmetic, autograd (sparse gradients for sparse operands), gradcheck and errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import torsh
from helpers import PKG, assert_close, check_same_error, needs_torch, torch_ref

pytestmark = [needs_torch, pytest.mark.filterwarnings("ignore::UserWarning")]
LIBS = pytest.mark.parametrize("lib", ["torsh", "torch"], indirect=False)

IDX = [[1, 0, 1, 2], [2, 0, 2, 1]]  # (1, 2) twice: uncoalesced, out of order
VALS = [3.0, 4.0, 5.0, -1.5]


def both(fn):
    """fn(lib) for torsh and torch (PyTorch's sparse warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(torsh), fn(torch_ref)


def assert_same_sparse(ours, ref):
    """Layout, size, nnz, coalesced flag, and the parts (dtype and values) as PyTorch."""
    assert repr(ours.layout).split(".")[1] == repr(ref.layout).split(".")[1]
    assert tuple(ours.shape) == tuple(ref.shape)
    assert ours._nnz() == ref._nnz()
    assert ours.is_sparse == ref.is_sparse and ours.is_sparse_csr == ref.is_sparse_csr
    if ref.layout == torch_ref.sparse_coo:
        assert ours.is_coalesced() == ref.is_coalesced()
        assert ours.sparse_dim() == ref.sparse_dim() and ours.dense_dim() == ref.dense_dim()
        assert_close(ours._indices(), ref._indices())
        assert_close(ours._values().detach(), ref._values().detach())
    else:
        assert_close(ours.crow_indices(), ref.crow_indices())
        assert_close(ours.col_indices(), ref.col_indices())
        assert_close(ours.values().detach(), ref.values().detach())
    assert_close(ours.detach().to_dense(), ref.detach().to_dense())


def same_repr(ours, ref):
    assert repr(ours).replace(f"{PKG}.", "torch.") == repr(ref)


def coo(lib, idx=IDX, vals=VALS, size=(3, 3), **kw):
    return lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor(vals), size, **kw)


# ---------------------------------------------------------------------------------------------- construction
@pytest.mark.parametrize("make", [
    lambda lib: coo(lib),
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor(VALS)),
    lambda lib: lib.sparse_coo_tensor([[1], [0]], [2.], (2, 2)),                 # one entry: coalesced
    lambda lib: lib.sparse_coo_tensor([[1, 0], [0, 0]], [1., 2.], (2, 2), is_coalesced=True),
    lambda lib: lib.sparse_coo_tensor(IDX, VALS, (3, 4)),
    lambda lib: lib.sparse_coo_tensor([[0, 1], [1, 0]], [1, 2], (2, 2)),          # int64 values
    lambda lib: lib.sparse_coo_tensor([[0, 1], [1, 0]], [1, 2], (2, 2), dtype=lib.float64),
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX).float(), VALS, (3, 3)),     # indices cast to int64
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX).int(), lib.tensor(VALS, dtype=lib.float64), (3, 3)),
    lambda lib: lib.sparse_coo_tensor(lib.tensor([[0, 2, 0]]), lib.arange(6.).reshape(3, 2)),   # hybrid
    lambda lib: lib.sparse_coo_tensor(lib.tensor([[0, 2, 0]]), lib.arange(6.).reshape(3, 2), (4, 2)),
    lambda lib: lib.sparse_coo_tensor(lib.zeros(2, 0, dtype=lib.long), lib.zeros(0), (2, 3)),
    lambda lib: coo(lib, requires_grad=True),
])
def test_coo_construction(make):
    ours, ref = both(make)
    assert_same_sparse(ours, ref)
    assert ours.dtype.name == str(ref.dtype).split(".")[1]
    assert ours.requires_grad == ref.requires_grad and ours.is_leaf == ref.is_leaf
    assert ours.layout is torsh.sparse_coo and ours.is_sparse and not ours.is_sparse_csr
    same_repr(ours, ref)


@pytest.mark.parametrize("make", [
    lambda lib: coo(lib).coalesce(),
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor(VALS)).coalesce(),
    lambda lib: lib.sparse_coo_tensor([[2, 2, 0, 2], [1, 1, 0, 1], [0, 0, 1, 0]], [1., 2., 3., 4.]).coalesce(),
    lambda lib: lib.sparse_coo_tensor(lib.tensor([[2, 0, 2]]), lib.arange(6.).reshape(3, 2)).coalesce(),
    lambda lib: lib.sparse_coo_tensor([[0, 0], [1, 1]], [True, False], (2, 2)).coalesce(),
    lambda lib: coo(lib).coalesce().coalesce(),
])
def test_coalesce_sorts_and_sums_duplicates(make):
    ours, ref = both(make)
    assert ours.is_coalesced()
    assert_same_sparse(ours, ref)
    assert_close(ours.indices(), ref.indices())
    assert_close(ours.values(), ref.values())
    same_repr(ours, ref)


def test_shape_and_metadata():
    ours, ref = both(lambda lib: coo(lib))
    assert ours.shape == tuple(ref.shape) and ours.size(1) == ref.size(1)
    assert ours.dim() == ref.dim() and ours.ndim == ref.ndim and ours.numel() == ref.numel()
    assert str(ours.device) == str(ref.device)
    assert ours.is_contiguous() == ref.is_contiguous()


# ---------------------------------------------------------------------------------------------- conversions
DENSE = [[0., 1.5, 0.], [2., 0., 0.], [0., 0., -3.]]


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor(DENSE).to_sparse(),
    lambda lib: lib.tensor([[1, 0], [0, 3]]).to_sparse(),
    lambda lib: lib.zeros(2, 3).to_sparse(),
    lambda lib: lib.tensor(DENSE).to_sparse(1),
    lambda lib: lib.arange(24.).reshape(2, 3, 4).mul(lib.arange(24.).reshape(2, 3, 4) % 3 == 0).to_sparse(2),
    lambda lib: lib.tensor(DENSE).to_sparse().to_sparse(),
    lambda lib: coo(lib).to_sparse(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().to_sparse(),
    lambda lib: lib.tensor(DENSE).to_sparse(layout=lib.sparse_csr),
])
def test_to_sparse(make):
    ours, ref = both(make)
    assert_same_sparse(ours, ref)
    same_repr(ours, ref)


@pytest.mark.parametrize("make", [
    lambda lib: coo(lib).to_dense(),
    lambda lib: coo(lib, size=(3, 5)).to_dense(),
    lambda lib: lib.sparse_coo_tensor(lib.tensor([[0, 2, 0]]), lib.arange(6.).reshape(3, 2)).to_dense(),
    lambda lib: lib.tensor(DENSE).to_sparse().to_dense(),
    lambda lib: lib.tensor(DENSE).to_dense(),
])
def test_to_dense(make):
    ours, ref = both(make)
    assert_close(ours, ref)


@pytest.mark.parametrize("make", [
    lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 1, 3]), lib.tensor([1, 0, 2]), lib.tensor([1., 2., 3.])),
    lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 1, 2]), lib.tensor([1, 0]), lib.tensor([1., 2.]), (2, 4)),
    lambda lib: lib.sparse_csr_tensor([0, 2, 2], [0, 3], [7, 8], (2, 4)),
    lambda lib: lib.tensor(DENSE).to_sparse_csr(),
    lambda lib: lib.tensor([[1, 2], [0, 3]]).to_sparse_csr(),
    lambda lib: coo(lib).to_sparse_csr(),
    lambda lib: coo(lib).coalesce().to_sparse_csr(),
    lambda lib: lib.zeros(2, 3).to_sparse_csr(),
])
def test_csr(make):
    ours, ref = both(make)
    assert ours.layout is torsh.sparse_csr and ours.is_sparse_csr and not ours.is_sparse
    assert_same_sparse(ours, ref)
    same_repr(ours, ref)


def test_csr_ops():
    for fn in (lambda lib: lib.tensor(DENSE).to_sparse_csr() @ lib.ones(3, 2),
               lambda lib: lib.sparse.mm(lib.tensor(DENSE).to_sparse_csr(), lib.arange(6.).reshape(3, 2)),
               lambda lib: lib.tensor(DENSE).to_sparse_csr().sum()):
        ours, ref = both(fn)
        assert_close(ours, ref)
    for fn in (lambda lib: lib.tensor(DENSE).to_sparse_csr() * 2,
               lambda lib: lib.tensor(DENSE).to_sparse_csr() + lib.tensor(DENSE).t().contiguous().to_sparse_csr(),
               lambda lib: lib.tensor(DENSE).to_sparse_csr().abs(),
               lambda lib: lib.tensor(DENSE).to_sparse_csr().double()):
        ours, ref = both(fn)
        assert_same_sparse(ours, ref)


# ---------------------------------------------------------------------------------------------- products
MATS = [lambda lib: coo(lib), lambda lib: coo(lib).coalesce(), lambda lib: lib.tensor(DENSE).to_sparse()]


@pytest.mark.parametrize("make", MATS)
@pytest.mark.parametrize("product", [
    lambda lib, s, d: lib.sparse.mm(s, d),
    lambda lib, s, d: lib.mm(s, d),
    lambda lib, s, d: lib.matmul(s, d),
    lambda lib, s, d: s @ d,
    lambda lib, s, d: s.mm(d),
    lambda lib, s, d: s @ d[:, 0],
    lambda lib, s, d: lib.sparse.mm(d.t(), s),
    lambda lib, s, d: lib.sparse.addmm(lib.ones(3, 2), s, d, beta=0.5, alpha=2.0),
])
def test_products(make, product):
    ours, ref = both(lambda lib: product(lib, make(lib), lib.arange(6.).reshape(3, 2) - 2))
    assert ours.layout is torsh.strided
    assert_close(ours, ref)


def test_dense_plus_sparse_is_dense():
    ours, ref = both(lambda lib: lib.ones(3, 3) + coo(lib))
    assert ours.layout is torsh.strided
    assert_close(ours, ref)


# ---------------------------------------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("fn", [
    lambda lib: coo(lib) + coo(lib),
    lambda lib: coo(lib) + coo(lib).coalesce(),
    lambda lib: coo(lib).coalesce() + coo(lib),
    lambda lib: coo(lib).coalesce() + lib.sparse_coo_tensor([[0, 2], [1, 2]], [7., 8.], (3, 3)).coalesce(),
    lambda lib: coo(lib) + lib.sparse_coo_tensor(lib.zeros(2, 0, dtype=lib.long), lib.zeros(0), (3, 3)),
    lambda lib: coo(lib) - coo(lib).coalesce(),
    lambda lib: coo(lib).add(coo(lib), alpha=3),
    lambda lib: coo(lib) * 2,
    lambda lib: 2.5 * coo(lib),
    lambda lib: coo(lib).coalesce() * 2,
    lambda lib: coo(lib) / 4,
    lambda lib: coo(lib) * lib.tensor(3.),
    lambda lib: -coo(lib),
    lambda lib: coo(lib).coalesce() * coo(lib).coalesce(),
    lambda lib: coo(lib).t(),
    lambda lib: coo(lib).coalesce().transpose(0, 1),
    lambda lib: coo(lib).detach(),
    lambda lib: coo(lib).clone(),
    lambda lib: coo(lib).double(),
    lambda lib: coo(lib).to(lib.float64),
    lambda lib: coo(lib).pow(2),
])
def test_arithmetic(fn):
    ours, ref = both(fn)
    assert_same_sparse(ours, ref)


@pytest.mark.parametrize("name", ["neg", "abs", "sqrt", "sin", "tan", "tanh", "relu", "sign", "square", "expm1",
                                  "log1p", "trunc", "floor", "ceil", "asin", "atan", "sinh", "asinh", "atanh", "sgn"])
def test_zero_preserving_unary(name):
    vals = [0.3, -0.4, 0.5, 0.25]
    ours, ref = both(lambda lib: getattr(coo(lib, vals=vals), name)())
    assert_same_sparse(ours, ref)


# ---------------------------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("fn", [
    lambda lib: lib.sparse.sum(coo(lib)),
    lambda lib: lib.sparse.sum(coo(lib), dim=(0, 1)),
    lambda lib: coo(lib).sum(),
    lambda lib: lib.sparse.sum(lib.sparse_coo_tensor(lib.tensor([[0, 2, 0]]), lib.arange(6.).reshape(3, 2)), 0),
    lambda lib: lib.sparse.sum(coo(lib), dtype=lib.float64),
])
def test_sparse_sum_dense_results(fn):
    ours, ref = both(fn)
    assert_close(ours, ref)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sparse_sum_over_a_dim(dim):
    ours, ref = both(lambda lib: lib.sparse.sum(coo(lib), dim))
    assert_same_sparse(ours, ref)


@pytest.mark.parametrize("dim", [0, 1])
def test_sparse_softmax(dim):
    ours, ref = both(lambda lib: lib.sparse.softmax(coo(lib), dim))
    assert_same_sparse(ours, ref)


# ---------------------------------------------------------------------------------------------- autograd
def _grads(lib, product, leaf_sparse):
    d = (lib.arange(6., dtype=lib.float64).reshape(3, 2) - 2).requires_grad_()
    if leaf_sparse:
        s = coo(lib, vals=[3., 4., 5., -1.5], size=(3, 3), dtype=lib.float64, requires_grad=True)
        product(lib, s, d).pow(2).sum().backward()
        return s.grad, d.grad
    v = lib.tensor(VALS, dtype=lib.float64, requires_grad=True)
    s = lib.sparse_coo_tensor(lib.tensor(IDX), v, (3, 3))
    assert s.grad_fn.name() == "SparseCooTensorWithDimsAndTensorsBackward0"
    out = product(lib, s, d)
    out.pow(2).sum().backward()
    return v.grad, d.grad, out.grad_fn.name()


PRODUCTS = [lambda lib, s, d: lib.sparse.mm(s, d), lambda lib, s, d: lib.mm(s, d), lambda lib, s, d: s @ d,
            lambda lib, s, d: lib.sparse.mm(s.coalesce(), d), lambda lib, s, d: lib.sparse.mm(d.t(), s.t()).t()]


@pytest.mark.parametrize("product", PRODUCTS)
def test_grads_reach_values_and_dense_operand(product):
    (gv, gd, name), (rv, rd, ref_name) = both(lambda lib: _grads(lib, product, False))
    assert name == ref_name
    assert_close(gv, rv)
    assert_close(gd, rd)


@pytest.mark.parametrize("product", PRODUCTS[:3])
def test_sparse_leaf_grad_layout(product):
    """torch.sparse.mm gives a sparse leaf a sparse (coalesced, its pattern) gradient; torch.mm a dense one."""
    (gs, gd), (rs, rd) = both(lambda lib: _grads(lib, product, True))
    assert_close(gd, rd)
    if rs.layout == torch_ref.sparse_coo:
        assert_same_sparse(gs, rs)
    else:
        assert gs.layout is torsh.strided
        assert_close(gs, rs)


@pytest.mark.parametrize("fn", [
    lambda lib, x: x.to_sparse().to_dense() * lib.arange(4., dtype=lib.float64).reshape(2, 2),
    lambda lib, x: lib.sparse.sum(x.to_sparse()),
    lambda lib, x: lib.sparse.sum(x.to_sparse(), 1).to_dense() * lib.tensor([1., 3.], dtype=lib.float64),
    lambda lib, x: (x.to_sparse() * 3).to_dense(),
    lambda lib, x: (x.to_sparse() + x.to_sparse() * 2).to_dense(),
    lambda lib, x: x.to_sparse().coalesce().to_dense(),
    lambda lib, x: lib.sparse.mm(x.to_sparse(), lib.ones(2, 3, dtype=lib.float64)),
])
def test_grads_through_conversions(fn):
    def run(lib):
        x = lib.tensor([[0., 1.5], [2., -1.]], dtype=lib.float64, requires_grad=True)
        out = fn(lib, x)
        (out * lib.arange(1., out.numel() + 1, dtype=lib.float64).reshape(out.shape)).sum().backward()
        return x.grad
    ours, ref = both(run)
    assert_close(ours, ref)


def test_sparse_sum_gives_a_sparse_leaf_a_sparse_grad():
    def run(lib):
        s = coo(lib, dtype=lib.float64, requires_grad=True)
        lib.sparse.sum(s).backward()
        return s.grad
    ours, ref = both(run)
    assert_same_sparse(ours, ref)


def test_grad_accumulates_over_two_backwards():
    def run(lib):
        s = coo(lib, dtype=lib.float64, requires_grad=True)
        d = lib.ones(3, 2, dtype=lib.float64)
        lib.sparse.mm(s, d).sum().backward()
        lib.sparse.mm(s, d * 2).sum().backward()
        return s.grad
    ours, ref = both(run)
    assert_close(ours.to_dense(), ref.to_dense())


def test_gradcheck_sparse_mm_values_and_dense():
    indices = torsh.tensor(IDX)
    v = torsh.tensor(VALS, dtype=torsh.float64, requires_grad=True)
    d = torsh.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda v, d: torsh.sparse.mm(torsh.sparse_coo_tensor(indices, v, (3, 3)), d),
                                    (v, d))
    assert torsh.autograd.gradcheck(lambda v, d: torsh.mm(torsh.sparse_coo_tensor(indices, v, (3, 3)), d), (v, d))
    assert torsh.autograd.gradcheck(lambda v: torsh.sparse.sum(torsh.sparse_coo_tensor(indices, v, (3, 3))), (v,))


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor(VALS), (3,)),
    lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor([1., 2.]), (3, 3)),
    lambda lib: coo(lib) + coo(lib, size=(3, 4)),
    lambda lib: coo(lib) + lib.ones(3, 3),
    lambda lib: coo(lib) + 1,
    lambda lib: lib.sparse.mm(coo(lib), lib.ones(2, 2)),
    lambda lib: lib.sparse.mm(coo(lib), lib.ones(3, 2, dtype=lib.float64)),
    lambda lib: lib.sparse.mm(coo(lib), lib.ones(3, 2, 2)),
    lambda lib: lib.sparse.sum(lib.ones(2)),
    lambda lib: coo(lib).indices(),
    lambda lib: coo(lib).values(),
    lambda lib: coo(lib).crow_indices(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().indices(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().coalesce(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().is_coalesced(),
    lambda lib: lib.ones(2).coalesce(),
    lambda lib: coo(lib).reshape(9),
    lambda lib: coo(lib).flatten(),
    lambda lib: coo(lib).numpy(),
    lambda lib: coo(lib).to_dense(lib.float64),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().numpy(),
])
def test_errors(fn):
    check_same_error(fn)


@pytest.mark.parametrize("fn", [
    lambda lib: coo(lib).exp(), lambda lib: lib.exp(coo(lib)), lambda lib: coo(lib).view(9),
    lambda lib: coo(lib).mean(), lambda lib: coo(lib).max(), lambda lib: coo(lib).sigmoid(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().view(9), lambda lib: lib.tensor(DENSE).to_sparse_csr().max(),
])
def test_dense_only_ops_name_the_op_and_the_sparse_backend(fn):
    """PyTorch's dispatcher error: its first sentence (op and backend) must be torsh's."""
    ref = None
    try:
        fn(torch_ref)
    except NotImplementedError as e:
        ref = str(e).split(" This could be")[0]
    with pytest.raises(NotImplementedError) as ours:
        fn(torsh)
    assert ref is not None and str(ours.value).startswith(ref)


def test_dense_only_op_on_a_large_sparse_tensor_never_runs_on_zeros():
    s = torsh.sparse_coo_tensor(torsh.tensor([[0], [5]]), torsh.tensor([1.]), (2000, 2000))
    with pytest.raises(NotImplementedError):
        torsh.exp(s)
    with pytest.raises(NotImplementedError):
        torsh.sigmoid(s)


# ---------------------------------------------------------------------------------------------- copies
def test_pickle_and_deepcopy_round_trip():
    s = torsh.sparse_coo_tensor(torsh.tensor(IDX), torsh.tensor(VALS), (3, 3), requires_grad=True)
    for copied in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert copied.layout is torsh.sparse_coo and copied.requires_grad and not copied.is_coalesced()
        assert_close(copied._indices(), s._indices().numpy())
        assert_close(copied._values().detach(), s._values().detach().numpy())
    c = torsh.tensor(DENSE).to_sparse_csr()
    assert_close(pickle.loads(pickle.dumps(c)).to_dense(), c.to_dense().numpy())


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("make", [lambda lib: coo(lib), lambda lib: coo(lib).coalesce(),
                                  lambda lib: lib.tensor(DENSE).to_sparse_csr()])
def test_save_load_round_trips_in_pytorch_format(tmp_path, make, weights_only):
    """torsh.save writes PyTorch's sparse record (_rebuild_sparse_tensor of the parts): torsh and torch load each
    other's files."""
    ours, ref = both(make)
    torsh.save({"s": ours}, tmp_path / "torsh.pt")
    torch_ref.save({"s": ref}, tmp_path / "torch.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in (tmp_path / "torsh.pt", tmp_path / "torch.pt"):
            assert_same_sparse(torsh.load(path, weights_only=weights_only)["s"], ref)
            assert_same_sparse(ours, torch_ref.load(path, weights_only=weights_only)["s"])


# ---------------------------------------------------------------------------------------------- programs
def test_legacy_constructor_spmm_and_log_softmax():
    for fn in (lambda lib: lib.spmm(lib.sparse.FloatTensor(lib.tensor(IDX), lib.tensor(VALS), lib.Size([3, 3])),
                                    lib.arange(6.).reshape(3, 2)),
               lambda lib: lib.spmm(lib.tensor(DENSE), lib.ones(3, 2))):
        ours, ref = both(fn)
        assert_close(ours, ref)
    for fn in (lambda lib: lib.sparse.FloatTensor(lib.tensor(IDX), lib.tensor(VALS, dtype=lib.float64)),
               lambda lib: lib.sparse.DoubleTensor(2, 3),
               lambda lib: lib.sparse.log_softmax(coo(lib), 1)):
        ours, ref = both(fn)
        assert_same_sparse(ours, ref)


def _gcn_losses(lib):
    """pygcn's layer (support = x @ W; out = spmm(adj, support) + b) trained a few Adam steps on a ring graph."""
    n, features, classes = 6, 4, 3
    rows = np.arange(n)
    edges = np.concatenate([np.stack([rows, rows]), np.stack([rows, (rows + 1) % n]), np.stack([(rows + 1) % n, rows])], 1)
    values = np.full(edges.shape[1], 1 / 3, dtype=np.float32)
    adj = lib.sparse.FloatTensor(lib.from_numpy(edges), lib.from_numpy(values), lib.Size([n, n]))
    g = np.random.default_rng(0)
    x = lib.from_numpy(g.standard_normal((n, features)).astype(np.float32))
    labels = lib.tensor([0, 1, 2, 0, 1, 2])
    weight = lib.nn.Parameter(lib.from_numpy(g.uniform(-0.5, 0.5, (features, classes)).astype(np.float32)))
    bias = lib.nn.Parameter(lib.zeros(classes))
    optimizer = lib.optim.Adam([weight, bias], lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        out = lib.spmm(adj, lib.mm(x, weight)) + bias
        loss = lib.nn.functional.nll_loss(lib.nn.functional.log_softmax(out, dim=1), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), weight.detach().clone()


def test_gcn_training_steps_match_pytorch():
    (ours, w), (ref, rw) = both(_gcn_losses)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert_close(w, rw)


@pytest.mark.parametrize("fn", [lambda lib, s: lib.clone(s), lambda lib, s: lib.flatten(s),
                                lambda lib, s: s.contiguous(), lambda lib, s: lib.cat([s, s]),
                                lambda lib, s: lib.abs(s), lambda lib, s: lib.where(s > 0, s, s)])
def test_dense_ops_never_compute_on_the_missing_values(fn):
    """A dense op handed a sparse tensor either raises or gives PyTorch's values (never the zeros of a shape)."""
    try:
        ours = fn(torsh, coo(torsh))
    except (NotImplementedError, RuntimeError):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fn(torch_ref, coo(torch_ref))
    assert_close(ours.to_dense() if ours.layout is not torsh.strided else ours, ref.to_dense())
