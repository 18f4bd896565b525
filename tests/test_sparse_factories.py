"""torch.sparse.spdiags and torch.sparse.sampled_addmm against PyTorch."""
import numpy as np
import pytest
import torch

import torsh


def _dense(t):
    return t.to_dense().numpy()


@pytest.mark.parametrize("layout", [None, "sparse_coo", "sparse_csr"])
@pytest.mark.parametrize("shape,offsets,diag_shape", [((3, 3), [0, -1], (2, 3)), ((3, 4), [0, 1], (2, 3)),
                                                      ((4, 3), [-2, 1, -1], (3, 4)), ((3, 5), [0, 2, -1], (3, 5)), ((3, 3), [0, -1], (2, 2)),
                                                      ((3, 3), [1], (3,))])
def test_spdiags_matches_torch(shape, offsets, diag_shape, layout):
    diag = np.arange(1.0, 1 + np.prod(diag_shape)).reshape(diag_shape)
    kw_t = {} if layout is None else {"layout": getattr(torsh, layout)}
    kw_r = {} if layout is None else {"layout": getattr(torch, layout)}
    ours = torsh.sparse.spdiags(torsh.tensor(diag), torsh.tensor(offsets), shape, **kw_t)
    ref = torch.sparse.spdiags(torch.tensor(diag), torch.tensor(offsets), shape, **kw_r)
    assert str(ours.layout).split(".")[1] == str(ref.layout).split(".")[1]
    np.testing.assert_array_equal(_dense(ours), _dense(ref))
    if ref.layout == torch.sparse_coo:
        np.testing.assert_array_equal(ours._indices().numpy(), ref._indices().numpy())
    else:
        np.testing.assert_array_equal(ours.crow_indices().numpy(), ref.crow_indices().numpy())
        np.testing.assert_array_equal(ours.col_indices().numpy(), ref.col_indices().numpy())


def test_spdiags_errors_match_torch():
    d = np.arange(6.0).reshape(2, 3)
    cases = [(np.ones((2, 2, 2)), [0, 1], (3, 3), {}), (d, [[0, 1]], (3, 3), {}), (d, [0, 1], (3, 3, 3), {}),
             (d, [0.0, 1.0], (3, 3), {}), (d, [0, 0], (3, 3), {}), (d, [0], (3, 3), {}),
             (d, [0, 1], (3, 3), {"layout": "strided"})]
    for diag, offsets, shape, kw in cases:
        msgs = []
        for lib in (torsh, torch):
            kwargs = {k: getattr(lib, v) for k, v in kw.items()}
            with pytest.raises(RuntimeError) as err:
                lib.sparse.spdiags(lib.tensor(diag), lib.tensor(offsets), shape, **kwargs)
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sampled_addmm_matches_torch(dtype):
    rng = np.random.default_rng(0)
    pattern = np.array([[1.0, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 4]], dtype=dtype)
    m1, m2 = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)
    ours = torsh.sparse.sampled_addmm(torsh.tensor(pattern).to_sparse_csr(), torsh.tensor(m1), torsh.tensor(m2),
                                      beta=0.5, alpha=2.0)
    ref = torch.sparse.sampled_addmm(torch.tensor(pattern).to_sparse_csr(), torch.tensor(m1), torch.tensor(m2),
                                     beta=0.5, alpha=2.0)
    assert ours.layout == torsh.sparse_csr and str(ours.dtype) == str(ref.dtype).replace("torch", "torsh")
    np.testing.assert_array_equal(ours.crow_indices().numpy(), ref.crow_indices().numpy())
    np.testing.assert_array_equal(ours.col_indices().numpy(), ref.col_indices().numpy())
    np.testing.assert_allclose(ours.values().numpy(), ref.values().numpy(), rtol=1e-5)


def test_sampled_addmm_errors_match_torch():
    cases = [("eye3csr", (3, 3, "int64"), (3, 3, "int64")), ("eye2csr", (3, 3), (3, 3)), ("eye3csr", (3,), (3, 3)),
             ("eye3csr", (3, 3, "float64"), (3, 3, "float64")), ("eye3csr", (3, 4), (3, 3))]
    for inp, s1, s2 in cases:
        msgs = []
        for lib in (torsh, torch):
            n = 3 if inp == "eye3csr" else 2
            x = lib.eye(n).to_sparse_csr()

            def mat(s):
                dt = getattr(lib, s[-1]) if isinstance(s[-1], str) else lib.float32
                dims = s[:-1] if isinstance(s[-1], str) else s
                return lib.ones(*dims, dtype=dt)

            with pytest.raises(RuntimeError) as err:
                lib.sparse.sampled_addmm(x, mat(s1), mat(s2))
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]
    with pytest.raises(NotImplementedError, match="Could not run 'aten::sparse_sampled_addmm' with arguments from "
                                                  "the 'SparseCPU' backend"):
        torsh.sparse.sampled_addmm(torsh.eye(3).to_sparse(), torsh.ones(3, 3), torsh.ones(3, 3))


def test_sampled_addmm_refuses_inputs_requiring_grad():
    x = torsh.eye(3).to_sparse_csr()
    with pytest.raises(NotImplementedError, match="no backward"):
        torsh.sparse.sampled_addmm(x, torsh.ones(3, 3, requires_grad=True), torsh.ones(3, 3))
    with torsh.no_grad():
        out = torsh.sparse.sampled_addmm(x, torsh.ones(3, 3, requires_grad=True), torsh.ones(3, 3))
    np.testing.assert_array_equal(out.values().numpy(), [4.0, 4.0, 4.0])
