"""The common torch functions added beside the namespace work (diff, isin, ravel, angle, real/imag, tril_indices,
triu_indices, window functions, nn.functional ops at top level): forward values and gradients against PyTorch
2.13, float64 gradcheck where differentiable, and PyTorch's errors."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, torch_ref, weighted_sum

X = make_array((3, 5), "float64", seed=1)

DIFFERENTIABLE = {
    "diff": lambda lib, x: lib.diff(x),
    "diff_n2_dim0": lambda lib, x: lib.diff(x, n=2, dim=0),
    "diff_prepend_append": lambda lib, x: lib.diff(x, dim=1, prepend=x[:, :1] * 2, append=x[:, -2:]),
    "diff_n_past_length": lambda lib, x: lib.diff(x, n=4, dim=0),
    "method_diff": lambda lib, x: x.diff(dim=0),
    "ravel": lambda lib, x: lib.ravel(x.t()),
    "method_ravel": lambda lib, x: x.ravel() * 3,
    "angle_real": lambda lib, x: lib.angle(x),
    "angle_complex": lambda lib, x: lib.angle(lib.complex(x, x.flip(0))),
    "real_imag": lambda lib, x: lib.real(lib.complex(x, x * 2)) + lib.imag(lib.complex(x, x * 2)),
    "conv2d": lambda lib, x: lib.conv2d(x.reshape(1, 1, 3, 5), x[:2, :2].reshape(1, 1, 2, 2), None, 1, 1),
    "conv1d": lambda lib, x: lib.conv1d(x.reshape(1, 3, 5), x[:, :2].reshape(1, 3, 2)),
    "layer_norm": lambda lib, x: lib.layer_norm(x, (5,), x[0], x[1], 1e-5),
    "group_norm": lambda lib, x: lib.group_norm(x.reshape(1, 3, 5), 3),
    "dropout_eval": lambda lib, x: lib.dropout(x, 0.5, False),
    "max_pool1d": lambda lib, x: lib.max_pool1d(x.reshape(1, 3, 5), 2),
    "avg_pool1d": lambda lib, x: lib.avg_pool1d(x.reshape(1, 3, 5), 2),
    "pixel_shuffle": lambda lib, x: lib.pixel_shuffle(x[:, :4].reshape(1, 4, 3, 1), 2),
    "prelu": lambda lib, x: lib.prelu(x, x[0, :1].abs()),
    "selu_celu": lambda lib, x: lib.selu(x) + lib.celu(x, 0.5),
    "threshold": lambda lib, x: lib.threshold(x, 0.1, -1.0),
    "hardshrink": lambda lib, x: lib.hardshrink(x, 0.5),
    "cosine_similarity": lambda lib, x: lib.cosine_similarity(x, x.flip(1)),
    "pairwise_distance": lambda lib, x: lib.pairwise_distance(x, x.flip(0)),
    "pdist": lambda lib, x: lib.pdist(x),
    "bilinear": lambda lib, x: lib.bilinear(x, x, x[:2, :].reshape(2, 1, 5).expand(2, 5, 5).contiguous()),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_forward_and_backward_match_pytorch(name):
    fn = DIFFERENTIABLE[name]
    ours_x = torsh.tensor(X, requires_grad=True)
    ref_x = torch_ref.tensor(X, requires_grad=True)
    ours, ref = fn(torsh, ours_x), fn(torch_ref, ref_x)
    assert_close(ours, ref)
    if ref.requires_grad:
        weighted_sum(torsh, ours).backward()
        weighted_sum(torch_ref, ref).backward()
        assert_close(ours_x.grad, ref_x.grad)


@pytest.mark.parametrize("name", sorted(n for n in DIFFERENTIABLE if not n.startswith("angle_real")))
def test_gradcheck(name):
    x = torsh.tensor(X, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: DIFFERENTIABLE[name](torsh, t), (x,))


VALUES = {
    "diff_int": lambda lib: lib.diff(lib.tensor([1, 4, 9, 16])),
    "diff_bool": lambda lib: lib.diff(lib.tensor([True, False, False, True])),
    "isin": lambda lib: lib.isin(lib.tensor([[1, 2], [3, 4]]), lib.tensor([2, 3])),
    "isin_invert": lambda lib: lib.isin(lib.tensor([1.0, 2.0, 5.0]), lib.tensor([2.0]), invert=True),
    "isin_scalar_test": lambda lib: lib.isin(lib.tensor([1, 2, 3]), 2),
    "angle_int": lambda lib: lib.angle(lib.tensor([-2, 0, 3])),
    "angle_nan": lambda lib: lib.angle(lib.tensor([float("nan"), -0.5])),
    "tril_indices": lambda lib: lib.tril_indices(4, 3),
    "tril_indices_offset": lambda lib: lib.tril_indices(3, 5, -1),
    "triu_indices": lambda lib: lib.triu_indices(3, 4, 1),
    "triu_indices_int32": lambda lib: lib.triu_indices(3, 3, dtype=lib.int32),
    "triu_indices_empty": lambda lib: lib.triu_indices(0, 3),
}
for _window in ("hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"):
    for _periodic in (True, False):
        for _length in (0, 1, 2, 7):
            VALUES[f"{_window}_{_length}_{_periodic}"] = (
                lambda lib, w=_window, n=_length, p=_periodic: getattr(lib, w)(n, periodic=p))
    VALUES[f"{_window}_float64"] = lambda lib, w=_window: getattr(lib, w)(6, dtype=lib.float64)
VALUES["hamming_window_alpha_beta"] = lambda lib: lib.hamming_window(8, False, 0.5, 0.5)
VALUES["kaiser_window_beta"] = lambda lib: lib.kaiser_window(8, True, 5.0)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_match_pytorch(name):
    assert_close(VALUES[name](torsh), VALUES[name](torch_ref), rtol=1e-6, atol=1e-6)


def test_window_requires_grad_and_dropout_in_training():
    assert torsh.hann_window(4, requires_grad=True).requires_grad
    x = torsh.ones(1000)
    kept = torsh.dropout(x, 0.5, True)
    assert set(np.unique(kept.numpy()).tolist()) <= {0.0, 2.0} and 300 < int((kept > 0).sum()) < 700


@pytest.mark.parametrize("call", [
    lambda lib: lib.diff(lib.tensor(1.0)),
    lambda lib: lib.hann_window(4, dtype=lib.int64),
    lambda lib: lib.hann_window(-1),
    lambda lib: lib.is_nonzero(lib.ones(2)),
])
def test_errors(call):
    check_same_error(call)


@pytest.mark.parametrize("call", [
    lambda lib: lib.complex(lib.ones(2), lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.complex(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
])
def test_complex_errors(call):
    check_same_error(call)


def test_complex_dtypes():
    for d, c in (("float32", "complex64"), ("float64", "complex128")):
        assert torsh.complex(torsh.ones(1, dtype=getattr(torsh, d)), torsh.zeros(1, dtype=getattr(torsh, d))).dtype \
            is getattr(torsh, c)


# -- Tensor methods ---------------------------------------------------------------------------------
METHODS = {
    "unfold": lambda lib, x: x.unfold(1, 2, 2),
    "unfold_dim0_overlap": lambda lib, x: x.unfold(0, 2, 1),
    "unfold_whole": lambda lib, x: x.unfold(-1, 5, 3),
    "unfold_0d": lambda lib, x: x[0, 0].unfold(0, 1, 1),
    "fill_diagonal": lambda lib, x: (x * 1).fill_diagonal_(2.5),
    "fill_diagonal_wrap": lambda lib, x: x.reshape(5, 3).mul(1).fill_diagonal_(-1.0, wrap=True),
    "fill_diagonal_tall_no_wrap": lambda lib, x: x.reshape(5, 3).mul(1).fill_diagonal_(-1.0),
    "fill_diagonal_cube": lambda lib, x: x[:2, :2].reshape(2, 2, 1).expand(2, 2, 2).mul(1).fill_diagonal_(0.0),
    "sum_to_size": lambda lib, x: x.sum_to_size(1, 5),
    "sum_to_size_tuple": lambda lib, x: x.sum_to_size((3, 1)),
    "split_with_sizes": lambda lib, x: x.split_with_sizes([2, 3], 1)[1] * 2,
    "torch_split_with_sizes": lambda lib, x: lib.split_with_sizes(x, [1, 2])[0],
    "resolve": lambda lib, x: lib.resolve_neg(lib.resolve_conj(x)) * 2,
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_methods_forward_backward(name):
    ours_x = torsh.tensor(X, requires_grad=True)
    ref_x = torch_ref.tensor(X, requires_grad=True)
    ours, ref = METHODS[name](torsh, ours_x), METHODS[name](torch_ref, ref_x)
    assert_close(ours, ref)
    weighted_sum(torsh, ours).backward()
    weighted_sum(torch_ref, ref).backward()
    assert_close(ours_x.grad, ref_x.grad)
    assert torsh.autograd.gradcheck(lambda t: METHODS[name](torsh, t), (torsh.tensor(X, requires_grad=True),))


def test_predicates_and_sizes():
    for dtype in ("float32", "int64", "uint8", "bool", "complex64"):
        ours, ref = torsh.ones(2, 3, dtype=getattr(torsh, dtype)), torch_ref.ones(2, 3, dtype=getattr(torch_ref, dtype))
        for name in ("is_signed", "is_conj", "is_neg", "is_inference", "is_pinned"):
            assert getattr(ours, name)() == getattr(ref, name)(), (dtype, name)
        assert (ours.nbytes, ours.itemsize) == (ref.nbytes, ref.itemsize)
        assert torsh.is_signed(ours) == torch_ref.is_signed(ref)
    assert torsh.ones(2, 3).is_same_size(torsh.zeros(2, 3)) and not torsh.is_same_size(torsh.ones(2), torsh.ones(3))


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(1).pin_memory(),
    lambda lib: lib.arange(5.0).unfold(0, 6, 1),
    lambda lib: lib.arange(5.0).unfold(0, 2, 0),
    lambda lib: lib.ones(2).fill_diagonal_(1),
    lambda lib: lib.ones(2, 3, 2).fill_diagonal_(1),
])
def test_method_errors(call):
    check_same_error(call)


AS_STRIDED = {
    "windows": lambda lib, x: lib.as_strided(x.reshape(-1), (3, 4), (2, 1)),
    "with_offset": lambda lib, x: x.reshape(-1).as_strided((2, 2), (5, 1), 3),
    "transposed": lambda lib, x: x.as_strided((5, 3), (1, 5)),
    "overlapping_2d": lambda lib, x: x.as_strided((4, 4), (1, 2)) * 2,
    "scalar": lambda lib, x: x.as_strided((), (), 4),
}


@pytest.mark.parametrize("name", sorted(AS_STRIDED))
def test_as_strided(name):
    fn = AS_STRIDED[name]
    ours_x, ref_x = torsh.tensor(X, requires_grad=True), torch_ref.tensor(X, requires_grad=True)
    ours, ref = fn(torsh, ours_x), fn(torch_ref, ref_x)
    assert_close(ours, ref)
    weighted_sum(torsh, ours).backward()
    weighted_sum(torch_ref, ref).backward()
    assert_close(ours_x.grad, ref_x.grad)
    assert torsh.autograd.gradcheck(lambda t: fn(torsh, t), (torsh.tensor(X, requires_grad=True),))


def test_as_strided_is_a_view_and_checks_bounds():
    for lib in (torsh, torch_ref):
        base = lib.arange(6.0).view(2, 3)
        view = base.as_strided((2,), (3,), 1)
        view[0] = 100.0
        assert base.tolist() == [[0.0, 100.0, 2.0], [3.0, 4.0, 5.0]]
    check_same_error(lambda lib: lib.arange(6.0).as_strided((3, 3), (2, 1)))
