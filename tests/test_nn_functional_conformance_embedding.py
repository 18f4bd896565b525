"""F.embedding / F.embedding_bag / F.linear / F.bilinear against PyTorch 2.13: values, gradients (dense and
sparse), float64 gradcheck, and PyTorch's exception type and wording for bad arguments."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, error_of, needs_torch, torch_ref

pytestmark = needs_torch


def F(lib):
    return lib.nn.functional


def _w(lib, shape=(10, 3), dtype="float64", seed=0):
    values = np.random.default_rng(seed).uniform(-1, 1, shape)
    return lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()


def _i(lib, values):
    return lib.tensor(values)


def _run(fn, lib):
    """(output, {name: grad}) of fn(lib, leaves) after a backward of a fixed weighting of the output."""
    leaves = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(lib, leaves)
    if out.requires_grad:
        weights = lib.tensor(np.random.default_rng(7).uniform(-1, 1, tuple(out.shape))).to(out.dtype)
        (out * weights).sum().backward()
    grads = {k: v.grad for k, v in leaves.items()}
    return out, grads


def _leaf(leaves, name, t):
    leaves[name] = t
    return t


def _dense(g):
    return g.to_dense() if g is not None and g.is_sparse else g


RESULTS = {
    "embedding": lambda lib, l: F(lib).embedding(_i(lib, [[1, 2], [4, 9]]), _leaf(l, "w", _w(lib))),
    "embedding int32": lambda lib, l: F(lib).embedding(_i(lib, [1, 2]).int(), _leaf(l, "w", _w(lib))),
    "embedding 0-d indices": lambda lib, l: F(lib).embedding(_i(lib, 3), _leaf(l, "w", _w(lib))),
    "embedding padding -1": lambda lib, l: F(lib).embedding(_i(lib, [1, 9, 9, 2]), _leaf(l, "w", _w(lib)),
                                                            padding_idx=-1),
    "embedding scale_grad_by_freq": lambda lib, l: F(lib).embedding(_i(lib, [1, 3, 3, 2, 3]), _leaf(l, "w", _w(lib)),
                                                                    padding_idx=2, scale_grad_by_freq=True),
    "embedding sparse": lambda lib, l: F(lib).embedding(_i(lib, [[1, 2], [1, 4]]), _leaf(l, "w", _w(lib)),
                                                        sparse=True),
    "embedding sparse padding": lambda lib, l: F(lib).embedding(_i(lib, [[1, 2], [1, 4]]), _leaf(l, "w", _w(lib)),
                                                                sparse=True, padding_idx=1),
    "embedding no features": lambda lib, l: F(lib).embedding(_i(lib, [1]), _leaf(l, "w", _w(lib, (3, 0)))),
    "bag sum 2-d": lambda lib, l: F(lib).embedding_bag(_i(lib, [[1, 2], [4, 9]]), _leaf(l, "w", _w(lib)), mode="sum"),
    "bag mean 2-d": lambda lib, l: F(lib).embedding_bag(_i(lib, [[1, 2], [4, 9]]), _leaf(l, "w", _w(lib))),
    "bag max 2-d": lambda lib, l: F(lib).embedding_bag(_i(lib, [[1, 2], [4, 9]]), _leaf(l, "w", _w(lib)), mode="max"),
    "bag offsets, empty bag": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 5]), _leaf(l, "w", _w(lib)),
                                                                  _i(lib, [0, 2, 2])),
    "bag max, empty bag": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 1, 4, 5]), _leaf(l, "w", _w(lib)),
                                                              _i(lib, [0, 2, 2]), mode="max"),
    "bag int32": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 5]).int(), _leaf(l, "w", _w(lib)),
                                                     _i(lib, [0, 2]).int()),
    "bag include_last_offset": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 5]), _leaf(l, "w", _w(lib)),
                                                                   _i(lib, [0, 2, 4]), include_last_offset=True),
    "bag per_sample_weights": lambda lib, l: F(lib).embedding_bag(
        _i(lib, [1, 2, 4, 2]), _leaf(l, "w", _w(lib)), _i(lib, [0, 2]), mode="sum",
        per_sample_weights=_leaf(l, "psw", _w(lib, (4,), seed=1))),
    "bag per_sample_weights 2-d": lambda lib, l: F(lib).embedding_bag(
        _i(lib, [[1, 2], [4, 5]]), _leaf(l, "w", _w(lib)), mode="sum",
        per_sample_weights=_leaf(l, "psw", _w(lib, (2, 2), seed=1))),
    "bag padding": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 2]), _leaf(l, "w", _w(lib)),
                                                       _i(lib, [0, 2]), padding_idx=2),
    "bag padding max": lambda lib, l: F(lib).embedding_bag(_i(lib, [2, 2, 4, 2]), _leaf(l, "w", _w(lib)),
                                                           _i(lib, [0, 2]), padding_idx=2, mode="max"),
    "bag padding -1 sum": lambda lib, l: F(lib).embedding_bag(_i(lib, [9, 2, 4, 9]), _leaf(l, "w", _w(lib)),
                                                              _i(lib, [0, 2]), padding_idx=-1, mode="sum"),
    # PyTorch divides each row by the count of indices[start of its sorted run] (unsorted order): kept as is
    "bag scale_grad_by_freq mean": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 2, 2]), _leaf(l, "w", _w(lib)),
                                                                       _i(lib, [0, 2]), scale_grad_by_freq=True),
    "bag scale_grad_by_freq psw": lambda lib, l: F(lib).embedding_bag(
        _i(lib, [1, 2, 4, 2, 2]), _leaf(l, "w", _w(lib)), _i(lib, [0, 2]), mode="sum", scale_grad_by_freq=True,
        per_sample_weights=_leaf(l, "psw", _w(lib, (5,), seed=1))),
    "bag sparse": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 2]), _leaf(l, "w", _w(lib)), _i(lib, [0, 2]),
                                                      sparse=True, mode="mean", padding_idx=4),
    "bag float32": lambda lib, l: F(lib).embedding_bag(_i(lib, [1, 2, 4, 2]), _leaf(l, "w", _w(lib, dtype="float32")),
                                                       _i(lib, [0, 2])),
    "linear 1-d weight": lambda lib, l: F(lib).linear(_leaf(l, "x", _w(lib, (3, 4))), _leaf(l, "w", _w(lib, (4,), seed=1))),
    "linear 2-d bias": lambda lib, l: F(lib).linear(_leaf(l, "x", _w(lib, (3, 4))), _leaf(l, "w", _w(lib, (2, 4), seed=1)),
                                                    _leaf(l, "b", _w(lib, (3, 2), seed=2))),
    "bilinear": lambda lib, l: F(lib).bilinear(_leaf(l, "x1", _w(lib, (3, 4))), _leaf(l, "x2", _w(lib, (3, 2), seed=1)),
                                               _leaf(l, "w", _w(lib, (5, 4, 2), seed=2)),
                                               _leaf(l, "b", _w(lib, (5,), seed=3))),
}


@pytest.mark.parametrize("case", sorted(RESULTS))
def test_results_and_gradients_match_pytorch(case):
    (ours, our_grads), (ref, ref_grads) = _run(RESULTS[case], torsh), _run(RESULTS[case], torch_ref)
    assert_close(ours.detach(), ref.detach())
    assert sorted(our_grads) == sorted(ref_grads)
    for name, g in ref_grads.items():
        assert (our_grads[name] is None) == (g is None), name
        if g is not None:
            assert our_grads[name].is_sparse == g.is_sparse, name
            assert_close(_dense(our_grads[name]), _dense(g))


def test_max_norm_renormalises_the_looked_up_rows_in_place():
    for lib in (torsh, torch_ref):
        w = lib.tensor(np.arange(30.0).reshape(10, 3) / 5)
        F(lib).embedding(_i(lib, [1, 3, 3]), w, max_norm=1.0)
        F(lib).embedding_bag(_i(lib, [5, 6]), w, _i(lib, [0]), max_norm=1.5, norm_type=1.0)
        if lib is torsh:
            ours = w
    assert_close(ours, w)


def test_gradcheck_float64():
    w = _w(torsh)
    psw = _w(torsh, (4,), seed=1)
    idx, offsets = _i(torsh, [1, 2, 4, 2]), _i(torsh, [0, 2])
    for mode in ("sum", "mean", "max"):
        assert torsh.autograd.gradcheck(lambda w: F(torsh).embedding_bag(idx, w, offsets, mode=mode), (w,))
    assert torsh.autograd.gradcheck(lambda w, p: F(torsh).embedding_bag(idx, w, offsets, mode="sum",
                                                                        per_sample_weights=p), (w, psw))
    assert torsh.autograd.gradcheck(lambda w: F(torsh).embedding(idx, w, scale_grad_by_freq=False), (w,))
    x1, x2, bw = _w(torsh, (3, 4)), _w(torsh, (3, 2), seed=1), _w(torsh, (5, 4, 2), seed=2)
    assert torsh.autograd.gradcheck(lambda a, b, c: F(torsh).bilinear(a, b, c), (x1, x2, bw))


def test_sparse_gradients_accumulate():
    for lib in (torsh, torch_ref):
        w = _w(lib)
        for _ in range(2):
            F(lib).embedding(_i(lib, [1, 2, 1]), w, sparse=True).sum().backward()
        assert w.grad.is_sparse
        sparse_sum = w.grad.to_dense()
        (w * 2).sum().backward()  # a dense term makes it dense
        assert not w.grad.is_sparse
        if lib is torsh:
            ours = (sparse_sum, w.grad)
    assert_close(ours[0], sparse_sum)
    assert_close(ours[1], w.grad)


ERRORS = {
    "indices uint8": lambda lib: F(lib).embedding(_i(lib, [1]).to(lib.uint8), _w(lib)),
    "indices int16": lambda lib: F(lib).embedding(_i(lib, [1]).to(lib.int16), _w(lib)),
    "indices bool": lambda lib: F(lib).embedding(_i(lib, [True]), _w(lib)),
    "indices float": lambda lib: F(lib).embedding(_i(lib, [1.0]), _w(lib)),
    "weight 1-d": lambda lib: F(lib).embedding(_i(lib, [1]), _w(lib, (10,))),
    "weight 0-d": lambda lib: F(lib).embedding(_i(lib, [1]), _w(lib, ())),
    "weight 3-d": lambda lib: F(lib).embedding(_i(lib, [1]), _w(lib, (4, 2, 3))),
    "index out of range": lambda lib: F(lib).embedding(_i(lib, [10]), _w(lib)),
    "padding_idx out of range": lambda lib: F(lib).embedding(_i(lib, [1]), _w(lib), padding_idx=10),
    "padding_idx below range": lambda lib: F(lib).embedding(_i(lib, [1]), _w(lib), padding_idx=-11),
    "sparse with scale_grad_by_freq": lambda lib: F(lib).embedding(_i(lib, [1, 1]), _w(lib), sparse=True,
                                                                   scale_grad_by_freq=True).sum().backward(),
    "bag 0-d input": lambda lib: F(lib).embedding_bag(_i(lib, 1), _w(lib)),
    "bag 3-d input": lambda lib: F(lib).embedding_bag(_i(lib, [[[1, 2]]]), _w(lib)),
    "bag 1-d input without offsets": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib)),
    "bag 2-d offsets": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [[0]])),
    "bag 2-d input with offsets": lambda lib: F(lib).embedding_bag(_i(lib, [[1, 2]]), _w(lib), _i(lib, [0])),
    "bag weight 1-d": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib, (10,)), _i(lib, [0])),
    "bag int weight": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _i(lib, [[1, 2]] * 4), _i(lib, [0])),
    "bag float indices": lambda lib: F(lib).embedding_bag(_i(lib, [1.0, 2.0]), _w(lib), _i(lib, [0])),
    "bag float offsets": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0.0])),
    "bag bad mode": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]), mode="min"),
    "bag max scale_grad_by_freq": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]),
                                                                   mode="max", scale_grad_by_freq=True),
    "bag max sparse": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]), mode="max",
                                                       sparse=True),
    "bag first offset": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [1])),
    "bag last offset": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0, 3])),
    "bag index out of range": lambda lib: F(lib).embedding_bag(_i(lib, [1, 12]), _w(lib), _i(lib, [0])),
    "bag negative index": lambda lib: F(lib).embedding_bag(_i(lib, [1, -1]), _w(lib), _i(lib, [0])),
    "bag padding_idx range": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]), padding_idx=10),
    "bag psw mean": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]),
                                                     per_sample_weights=_w(lib, (2,))),
    "bag psw shape": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]), mode="sum",
                                                      per_sample_weights=_w(lib, (3,))),
    "bag psw dtype": lambda lib: F(lib).embedding_bag(_i(lib, [1, 2]), _w(lib), _i(lib, [0]), mode="sum",
                                                      per_sample_weights=_w(lib, (2,), "float32")),
    "linear 0-d input": lambda lib: F(lib).linear(_w(lib, ()), _w(lib, (2, 4))),
    "linear 0-d weight": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, ())),
    "linear 3-d weight": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, (1, 2, 4))),
    "linear shapes, 3-d input": lambda lib: F(lib).linear(_w(lib, (2, 3, 4)), _w(lib, (2, 5))),
    "linear shapes before dtypes": lambda lib: F(lib).linear(_w(lib, (3, 4), "float32"), _w(lib, (2, 5))),
    "linear bias size": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, (2, 4)), _w(lib, (3,))),
    "linear bias size, 4-d input": lambda lib: F(lib).linear(_w(lib, (2, 3, 3, 4)), _w(lib, (2, 4)), _w(lib, (3,))),
    "linear bias 3-d": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, (2, 4)), _w(lib, (2, 2, 2))),
    "linear bias dtype": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, (2, 4)), _w(lib, (2,), "float32")),
    "linear input dtype with bias": lambda lib: F(lib).linear(_w(lib, (3, 4), "float32"), _w(lib, (2, 4)),
                                                              _w(lib, (2,))),
    "linear 1-d weight with bias": lambda lib: F(lib).linear(_w(lib, (3, 4)), _w(lib, (4,)), _w(lib, ())),
    "linear 1-d input with bias": lambda lib: F(lib).linear(_w(lib, (4,)), _w(lib, (2, 5)), _w(lib, (2,))),
    "bilinear dtypes": lambda lib: F(lib).bilinear(_w(lib, (3, 4), "float32"), _w(lib, (3, 2)), _w(lib, (5, 4, 2))),
    "bilinear bias dtype": lambda lib: F(lib).bilinear(_w(lib, (3, 4)), _w(lib, (3, 2)), _w(lib, (5, 4, 2)),
                                                       _w(lib, (5,), "float32")),
    "bilinear ranks": lambda lib: F(lib).bilinear(_w(lib, (1, 3, 4)), _w(lib, (3, 2)), _w(lib, (5, 4, 2))),
    "bilinear 0-d": lambda lib: F(lib).bilinear(_w(lib, ()), _w(lib, (2,)), _w(lib, (5, 4, 2))),
    "bilinear batch": lambda lib: F(lib).bilinear(_w(lib, (0, 4)), _w(lib, (3, 2)), _w(lib, (5, 4, 2))),
    "bilinear input1 size": lambda lib: F(lib).bilinear(_w(lib, (3, 3)), _w(lib, (3, 2)), _w(lib, (5, 4, 2))),
    "bilinear input2 size": lambda lib: F(lib).bilinear(_w(lib, (3, 4)), _w(lib, (3, 3)), _w(lib, (5, 4, 2))),
    "bilinear bias size": lambda lib: F(lib).bilinear(_w(lib, (3, 4)), _w(lib, (3, 2)), _w(lib, (5, 4, 2)),
                                                      _w(lib, (4,))),
    "bilinear 2-d weight": lambda lib: F(lib).bilinear(_w(lib, (3, 4)), _w(lib, (3, 2)), _w(lib, (4, 2))),
    "bilinear 4-d weight": lambda lib: F(lib).bilinear(_w(lib, (3, 4)), _w(lib, (3, 2)), _w(lib, (5, 4, 2, 1))),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_pytorch(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = error_of(lambda: ERRORS[case](torch_ref))
        ours = error_of(lambda: ERRORS[case](torsh))
    assert type(ours) is type(ref), f"torsh {type(ours).__name__}({ours}), PyTorch {type(ref).__name__}({ref})"
    assert str(ref).split("\n")[0] in str(ours).replace("torsh.", "torch."), f"torsh: {ours}\nPyTorch: {ref}"


def test_bad_arguments_leave_the_weight_untouched():
    w = torsh.tensor(np.arange(30.0).reshape(10, 3))
    before = w.clone()
    with pytest.raises(RuntimeError):
        F(torsh).embedding_bag(_i(torsh, [1, 12]), w, _i(torsh, [0]), max_norm=1.0)
    assert_close(w, before)


def test_embedding_bag_from_pretrained_matches_pytorch():
    outs = []
    for lib in (torsh, torch_ref):
        weights = lib.tensor(np.random.default_rng(0).uniform(-1, 1, (6, 3)))
        bag = lib.nn.EmbeddingBag.from_pretrained(weights, freeze=False, mode="sum", include_last_offset=True,
                                                  padding_idx=0)
        assert (bag.mode, bag.include_last_offset, bag.padding_idx, bag.weight.requires_grad) == ("sum", True, 0, True)
        assert lib.nn.EmbeddingBag.from_pretrained(weights).weight.requires_grad is False
        out = bag(lib.tensor([1, 0, 4, 5]), lib.tensor([0, 1, 4]), per_sample_weights=lib.tensor([1.0, 2, 3, 4]).double())
        out.sum().backward()
        outs.append((out.detach(), bag.weight.grad))
    assert_close(outs[0][0], outs[1][0])
    assert_close(outs[0][1], outs[1][1])
