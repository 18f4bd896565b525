"""The ATen forms of the nn ops PyTorch also exposes at torch.* (torch.batch_norm(input, weight, bias, ...),
torch.embedding(weight, indices, ...), torch.lstm(input, hx, params, ...), losses with integer reductions, ...),
against PyTorch 2.13: values, result tuples, running-stat updates, gradients and errors."""
import numpy as np
import pytest

import torsh
from torsh.nn import _aten
from helpers import (assert_close, assert_same_structure_close, check_same_error, from_array, make_array, needs_torch,
                     torch_ref)

pytestmark = needs_torch


def top(lib):
    """The namespace holding the ATen forms: torch itself, or torsh's module of them (bound as torsh.<name>)."""
    return _aten if lib is torsh else lib


def both(arr, dtype=None, requires_grad=False):
    return (from_array(torsh, arr, dtype, requires_grad), from_array(torch_ref, arr, dtype, requires_grad))


def grads_close(ours, theirs, **kw):
    for a, b in zip(ours, theirs):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert_close(a.grad, b.grad, **kw)


def gradcheck(fn, *arrays):
    inputs = [torsh.tensor(a).requires_grad_(True) for a in arrays]
    assert torsh.autograd.gradcheck(fn, inputs)


def test_every_form_is_a_pytorch_top_level_name():
    assert all(hasattr(torch_ref, name) for name in _aten.__all__)


# -- normalization ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_aten_order_and_running_stats(training):
    x = make_array((4, 3, 5), seed=1)
    w, b = make_array((3,), seed=2), make_array((3,), seed=3)
    results = {}
    for lib in (torsh, torch_ref):
        rm, rv = from_array(lib, make_array((3,), seed=4)), from_array(lib, np.ones(3) * 2)
        xt = from_array(lib, x, requires_grad=True)
        out = top(lib).batch_norm(xt, from_array(lib, w), from_array(lib, b), rm, rv, training, 0.3, 1e-5, False)
        out.sum().backward() if training else None
        results[lib] = (out, rm, rv)
    assert_same_structure_close(results[torsh], results[torch_ref])


def test_batch_norm_gradcheck():
    gradcheck(lambda x, w, b: _aten.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
              make_array((4, 3, 2), seed=1), make_array((3,), seed=2), make_array((3,), seed=3))


def test_instance_norm_aten_order():
    x = make_array((2, 3, 6), seed=1)
    outs = {}
    for lib in (torsh, torch_ref):
        rm, rv = from_array(lib, np.zeros(3)), from_array(lib, np.ones(3))
        out = top(lib).instance_norm(from_array(lib, x), from_array(lib, make_array((3,), seed=2)), None, rm, rv,
                                     True, 0.2, 1e-5, False)
        outs[lib] = (out, rm, rv)
    assert_same_structure_close(outs[torsh], outs[torch_ref])


def test_layer_and_group_norm_take_the_cudnn_flag():
    x = make_array((2, 4, 3), seed=1)
    for fn in (lambda lib, t: top(lib).layer_norm(t, [3], None, None, 1e-5, True),
               lambda lib, t: top(lib).group_norm(t, 2, None, None, 1e-5, False)):
        assert_close(fn(torsh, torsh.tensor(x)), fn(torch_ref, torch_ref.tensor(x)))


def test_native_batch_norm_outputs():
    x = make_array((4, 3, 5), seed=1)
    for training in (True, False):
        res = {}
        for lib in (torsh, torch_ref):
            rm, rv = from_array(lib, np.zeros(3)), from_array(lib, np.ones(3))
            res[lib] = top(lib).native_batch_norm(from_array(lib, x), from_array(lib, make_array((3,), seed=2)),
                                                  None, rm, rv, training, 0.1, 1e-5) + (rm, rv)
        assert_same_structure_close(res[torsh], res[torch_ref])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_native_layer_norm_outputs(dtype):
    x, w = make_array((2, 3, 4), dtype, seed=1), make_array((3, 4), dtype, seed=2)
    ours = _aten.native_layer_norm(torsh.tensor(x), [3, 4], torsh.tensor(w), None, 1e-5)
    ref = torch_ref.native_layer_norm(torch_ref.tensor(x), [3, 4], torch_ref.tensor(w), None, 1e-5)
    assert_same_structure_close(ours, ref)
    assert not ours[1].requires_grad


def test_native_group_norm_outputs_and_statistic_gradients():
    x = make_array((2, 4, 3), seed=1)
    (xo, xr) = both(x, requires_grad=True)
    ours = _aten.native_group_norm(xo, None, None, 2, 4, 3, 2, 1e-5)
    ref = torch_ref.native_group_norm(xr, None, None, 2, 4, 3, 2, 1e-5)
    assert_same_structure_close(ours, ref)
    (ours[1].sum() + ours[2].sum() * 2).backward()  # the statistics are differentiable in PyTorch
    (ref[1].sum() + ref[2].sum() * 2).backward()
    assert_close(xo.grad, xr.grad)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_norm_except_dim(dim):
    x = make_array((3, 4, 2), seed=dim + 5)
    xo, xr = both(x, requires_grad=True)
    ours, ref = _aten.norm_except_dim(xo, 3, dim), torch_ref.norm_except_dim(xr, 3, dim)
    assert_close(ours, ref)
    ours.sum().backward()
    ref.sum().backward()
    assert_close(xo.grad, xr.grad)


def test_native_norm_has_no_dense_cpu_kernel():
    check_same_error(lambda lib: top(lib).native_norm(lib.ones(3)),
                     exact=False, fallback_msg="Could not run 'aten::native_norm' with arguments from the 'CPU' backend")


# -- dropout --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", "feature_alpha_dropout"])
def test_dropout_forms_outside_training_are_identity(name):
    x = make_array((2, 3, 4), seed=1)
    assert_close(getattr(_aten, name)(torsh.tensor(x), 0.4, False),
                 getattr(torch_ref, name)(torch_ref.tensor(x), 0.4, False))


@pytest.mark.parametrize("name", ["dropout", "alpha_dropout", "feature_alpha_dropout"])
@pytest.mark.parametrize("train", [True, False])
def test_dropout_forms_probability_error(name, train):
    check_same_error(lambda lib: getattr(top(lib), name)(lib.ones(3, 2), 1.5, train))


def test_feature_alpha_dropout_rank_checked_only_when_dropping():
    check_same_error(lambda lib: top(lib).feature_alpha_dropout(lib.ones(3), 0.3, True))
    assert_close(_aten.feature_alpha_dropout(torsh.ones(3), 0.3, False),
                 torch_ref.feature_alpha_dropout(torch_ref.ones(3), 0.3, False))


def test_native_dropout():
    x = make_array((50, 40), seed=1)
    out, mask = _aten.native_dropout(torsh.tensor(x), 0.25, True)
    assert mask.dtype == torsh.bool
    np.testing.assert_allclose(out._data, x * mask._data / 0.75)
    assert 0.15 < 1 - mask._data.mean() < 0.35
    for train in (False,):
        ours = _aten.native_dropout(torsh.tensor(x), 0.25, train)
        ref = torch_ref.native_dropout(torch_ref.tensor(x), 0.25, train)
        assert_same_structure_close(ours, ref)


# -- embeddings -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [-1, 2])
def test_embedding_weight_first(padding_idx):
    w = make_array((6, 3), seed=1)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    wo, wr = both(w, requires_grad=True)
    ours = _aten.embedding(wo, torsh.tensor(idx), padding_idx, True)
    ref = torch_ref.embedding(wr, torch_ref.tensor(idx), padding_idx, True)
    assert_close(ours, ref)
    ours.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    assert_close(wo.grad, wr.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("include_last_offset,padding_idx", [(False, None), (True, None), (False, 4), (False, -6)])
def test_embedding_bag_outputs(mode, include_last_offset, padding_idx, dtype):
    w = make_array((10, 3), dtype, seed=mode)
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    off = np.array([0, 4, 4, 8] if include_last_offset else [0, 4, 4])  # the last offset is then the indices' count
    ours = _aten.embedding_bag(torsh.tensor(w), torsh.tensor(idx), torsh.tensor(off), False, mode, False, None,
                               include_last_offset, padding_idx)
    ref = torch_ref.embedding_bag(torch_ref.tensor(w), torch_ref.tensor(idx), torch_ref.tensor(off), False, mode,
                                  False, None, include_last_offset, padding_idx)
    assert_same_structure_close(ours, ref)


def test_embedding_bag_int32_indices_and_sample_weights():
    w, psw = make_array((10, 3), seed=1), make_array((8,), seed=2)
    idx, off = np.array([1, 2, 4, 5, 4, 3, 2, 9], dtype=np.int32), np.array([0, 3], dtype=np.int32)
    for mode, weights in ((1, None), (0, psw)):
        wo, wr = both(w, requires_grad=True)
        ours = _aten.embedding_bag(wo, torsh.tensor(idx), torsh.tensor(off), False, mode, False,
                                   None if weights is None else torsh.tensor(weights))
        ref = torch_ref.embedding_bag(wr, torch_ref.tensor(idx), torch_ref.tensor(off), False, mode, False,
                                      None if weights is None else torch_ref.tensor(weights))
        assert_same_structure_close(ours, ref)
        ours[0].pow(2).sum().backward()
        ref[0].pow(2).sum().backward()
        assert_close(wo.grad, wr.grad)


def test_embedding_renorm_in_place():
    w = make_array((5, 4), seed=1) * 3
    idx = np.array([0, 3, 3])
    wo, wr = torsh.tensor(w), torch_ref.tensor(w)
    assert _aten.embedding_renorm_(wo, torsh.tensor(idx), 1.5, 2.0) is wo
    torch_ref.embedding_renorm_(wr, torch_ref.tensor(idx), 1.5, 2.0)
    assert_close(wo, wr)


# -- losses ---------------------------------------------------------------------------------------------------------
def _loss_cases():
    x, y, z = make_array((4, 5), seed=1), make_array((4, 5), seed=2), make_array((4, 5), seed=3)
    sign = np.where(make_array((4,), seed=4) > 0, 1.0, -1.0)
    prob = 1 / (1 + np.exp(-y))
    return {
        "binary_cross_entropy_with_logits": ((x, prob), lambda lib, a, b, r: top(lib).binary_cross_entropy_with_logits(
            a, b, None, from_array(lib, np.full(5, 1.5)), r)),
        "cosine_embedding_loss": ((x, y), lambda lib, a, b, r: top(lib).cosine_embedding_loss(
            a, b, from_array(lib, sign), 0.2, r)),
        "hinge_embedding_loss": ((x,), lambda lib, a, r: top(lib).hinge_embedding_loss(
            a, from_array(lib, np.sign(y)), 0.7, r)),
        "kl_div": ((x, y), lambda lib, a, b, r: top(lib).kl_div(a, b, r, log_target=True)),
        "margin_ranking_loss": ((x[:, 0], y[:, 0]), lambda lib, a, b, r: top(lib).margin_ranking_loss(
            a, b, from_array(lib, sign), 0.1, r)),
        "poisson_nll_loss": ((x, np.abs(y)), lambda lib, a, b, r: top(lib).poisson_nll_loss(a, b, True, True, 1e-8, r)),
        "triplet_margin_loss": ((x, y, z), lambda lib, a, b, c, r: top(lib).triplet_margin_loss(
            a, b, c, 1.5, 2.0, 1e-6, True, r)),
    }


@pytest.mark.parametrize("reduction", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(_loss_cases()))
def test_losses_with_integer_reduction(name, reduction):
    arrays, fn = _loss_cases()[name]
    ours_in = [torsh.tensor(a).requires_grad_(True) for a in arrays]
    ref_in = [torch_ref.tensor(a).requires_grad_(True) for a in arrays]
    ours, ref = fn(torsh, *ours_in, reduction), fn(torch_ref, *ref_in, reduction)
    assert_close(ours, ref)
    ours.sum().backward()
    ref.sum().backward()
    grads_close(ours_in, ref_in)


def test_loss_gradcheck():
    arrays, fn = _loss_cases()["triplet_margin_loss"]
    gradcheck(lambda a, b, c: fn(torsh, a, b, c, 1), *arrays)


def test_ctc_loss_aten_form():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 2, 4))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = np.array([[1, 2, 2], [3, 1, 0]])
    for reduction in (0, 1, 2):
        ours = _aten.ctc_loss(torsh.tensor(log_probs), torsh.tensor(targets), [6, 5], [3, 2], 0, reduction, False)
        ref = torch_ref.ctc_loss(torch_ref.tensor(log_probs), torch_ref.tensor(targets), [6, 5], [3, 2], 0, reduction,
                                 False)
        assert_close(ours, ref)


# -- convolution, padding, pooling, sampling --------------------------------------------------------------------
def test_constant_pad_nd():
    x = make_array((2, 3, 4), seed=1)
    assert_close(_aten.constant_pad_nd(torsh.tensor(x), [1, 2, -1, 1], 0.5),
                 torch_ref.constant_pad_nd(torch_ref.tensor(x), [1, 2, -1, 1], 0.5))


@pytest.mark.parametrize("transposed", [False, True])
def test_convolution(transposed):
    x = make_array((2, 4, 5, 6), seed=1)
    w = make_array((4, 3, 3, 2) if transposed else (6, 2, 3, 2), seed=2)
    b = make_array((6,), seed=3)
    args = ([2, 1], [1, 0], [1, 2], transposed, [1, 0] if transposed else [0, 0], 2)
    xo, xr = both(x, requires_grad=True)
    wo, wr = both(w, requires_grad=True)
    ours = _aten.convolution(xo, wo, torsh.tensor(b), *args)
    ref = torch_ref.convolution(xr, wr, torch_ref.tensor(b), *args)
    assert_close(ours, ref)
    ours.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    grads_close([xo, wo], [xr, wr])


def test_conv_tbc_values_and_gradients():
    x, w, b = make_array((7, 2, 3), seed=1), make_array((3, 3, 4), seed=2), make_array((4,), seed=3)
    ours_in = [torsh.tensor(a).requires_grad_(True) for a in (x, w, b)]
    ref_in = [torch_ref.tensor(a).requires_grad_(True) for a in (x, w, b)]
    ours, ref = _aten.conv_tbc(*ours_in, 1), torch_ref.conv_tbc(*ref_in, 1)
    assert_close(ours, ref)
    ours.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    grads_close(ours_in, ref_in)
    gradcheck(lambda a, c, d: _aten.conv_tbc(a, c, d, 1), x[:4], w[:2, :, :2], b[:2])


@pytest.mark.parametrize("shapes", [((3, 4), (2, 4, 5), (5,)), ((6, 3, 4), (2, 4), (5,)), ((6, 3, 4), (2, 4, 5), (5, 1)),
                                    ((6, 3, 4), (2, 3, 5), (5,)), ((6, 3, 4), (2, 4, 5), (6,))])
def test_conv_tbc_errors(shapes):
    check_same_error(lambda lib: top(lib).conv_tbc(*(lib.ones(s) for s in shapes)))


def test_adaptive_max_pool1d_and_max_pool1d_with_indices():
    x = make_array((2, 3, 9), seed=1)
    assert_same_structure_close(_aten.adaptive_max_pool1d(torsh.tensor(x), [4]),
                                torch_ref.adaptive_max_pool1d(torch_ref.tensor(x), [4]))
    for stride in ([], [2]):
        assert_same_structure_close(_aten.max_pool1d_with_indices(torsh.tensor(x), [3], stride, [1]),
                                    torch_ref.max_pool1d_with_indices(torch_ref.tensor(x), [3], stride, [1]))


@pytest.mark.parametrize("interpolation,padding", [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (2, 2)])
@pytest.mark.parametrize("name", ["grid_sampler", "grid_sampler_2d"])
def test_grid_sampler_integer_modes(name, interpolation, padding):
    x, theta = make_array((2, 3, 5, 4), seed=1), make_array((2, 2, 3), seed=2) * 0.7
    res = {}
    for lib in (torsh, torch_ref):
        xt = from_array(lib, x, requires_grad=True)
        grid = top(lib).affine_grid_generator(from_array(lib, theta), [2, 3, 4, 6], False)
        out = getattr(top(lib), name)(xt, grid, interpolation, padding, False)
        out.pow(2).sum().backward()
        res[lib] = (grid, out, xt.grad)
    assert_same_structure_close(res[torsh], res[torch_ref])


# -- recurrent networks --------------------------------------------------------------------------------------------
def _module_params(module, lib):
    """The ATen flat parameter list of a torch RNN module, as ``lib`` tensors."""
    return [from_array(lib, p.detach().numpy()) for p in module._flat_weights]


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("bias,bidirectional,batch_first", [(True, False, False), (False, True, True)])
def test_functional_rnns_match_the_modules_weights(mode, bias, bidirectional, batch_first):
    torch_ref.manual_seed(0)
    cls = {"lstm": torch_ref.nn.LSTM, "gru": torch_ref.nn.GRU}.get(mode, torch_ref.nn.RNN)
    extra = {"nonlinearity": mode[4:]} if mode.startswith("rnn") else {}
    module = cls(3, 4, num_layers=2, bias=bias, bidirectional=bidirectional, batch_first=batch_first,
                 dtype=torch_ref.float64, **extra)
    x = make_array((2, 5, 3) if batch_first else (5, 2, 3), seed=1)
    h0 = make_array((2 * (1 + bidirectional), 2, 4), seed=2)
    res = {}
    for lib in (torsh, torch_ref):
        params = _module_params(module, lib)
        for p in params:
            p.requires_grad_(True)
        hx = from_array(lib, h0)
        hx = [hx, hx * 0.5] if mode == "lstm" else hx
        outs = getattr(top(lib), mode)(from_array(lib, x), hx, params, bias, 2, 0.0, False, bidirectional, batch_first)
        sum(o.pow(2).sum() for o in outs).backward()
        res[lib] = tuple(outs) + tuple(p.grad for p in params)
    assert_same_structure_close(res[torsh], res[torch_ref])


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_functional_rnns_packed_form(mode):
    torch_ref.manual_seed(1)
    cls = {"lstm": torch_ref.nn.LSTM, "gru": torch_ref.nn.GRU}.get(mode, torch_ref.nn.RNN)
    module = cls(3, 4, dtype=torch_ref.float64)
    packed = torch_ref.nn.utils.rnn.pack_padded_sequence(torch_ref.tensor(make_array((5, 3, 3), seed=1)), [5, 3, 2])
    h0 = make_array((1, 3, 4), seed=2)
    res = {}
    for lib in (torsh, torch_ref):
        hx = from_array(lib, h0)
        hx = [hx, hx] if mode == "lstm" else hx
        data, sizes = from_array(lib, packed.data.numpy()), from_array(lib, packed.batch_sizes.numpy())
        res[lib] = getattr(top(lib), mode)(data, sizes, hx, _module_params(module, lib), True, 1, 0.0, False, False)
    assert_same_structure_close(res[torsh], res[torch_ref])


def test_lstm_with_projections():
    torch_ref.manual_seed(2)
    module = torch_ref.nn.LSTM(3, 5, proj_size=2, dtype=torch_ref.float64)
    x, h0, c0 = make_array((4, 2, 3), seed=1), make_array((1, 2, 2), seed=2), make_array((1, 2, 5), seed=3)
    res = {lib: top(lib).lstm(from_array(lib, x), [from_array(lib, h0), from_array(lib, c0)],
                              _module_params(module, lib), True, 1, 0.0, False, False, False)
           for lib in (torsh, torch_ref)}
    assert_same_structure_close(res[torsh], res[torch_ref])


@pytest.mark.parametrize("cell,gates", [("lstm_cell", 4), ("gru_cell", 3), ("rnn_tanh_cell", 1), ("rnn_relu_cell", 1)])
def test_cells(cell, gates):
    arrays = [make_array((2, 3), seed=1), make_array((2, 4), seed=2), make_array((gates * 4, 3), seed=3),
              make_array((gates * 4, 4), seed=4), make_array((gates * 4,), seed=5), make_array((gates * 4,), seed=6)]
    res = {}
    for lib in (torsh, torch_ref):
        x, h, w_ih, w_hh, b_ih, b_hh = (from_array(lib, a, requires_grad=True) for a in arrays)
        hx = [h, h * 0.3] if cell == "lstm_cell" else h
        out = getattr(top(lib), cell)(x, hx, w_ih, w_hh, b_ih, b_hh)
        outs = out if isinstance(out, tuple) else (out,)
        sum(o.pow(2).sum() for o in outs).backward()
        res[lib] = outs + (x.grad, w_ih.grad, w_hh.grad, b_hh.grad)
    assert_same_structure_close(res[torsh], res[torch_ref])
    gradcheck(lambda x, h, w1, w2: getattr(_aten, cell)(x, (h, h) if cell == "lstm_cell" else h, w1, w2),
              *arrays[:4])


# -- SyncBatchNorm's building blocks --------------------------------------------------------------------------------
def test_batch_norm_update_stats_matches_pytorch():
    x = make_array((4, 3, 5), seed=1)
    res = {}
    for lib in (torsh, torch_ref):
        rm, rv = from_array(lib, np.zeros(3)), from_array(lib, np.ones(3))
        res[lib] = top(lib).batch_norm_update_stats(from_array(lib, x), rm, rv, 0.2) + (rm, rv)
    assert_same_structure_close(res[torsh], res[torch_ref])


def _sync_batch_norm(parts, weight, bias, running_mean, running_var, momentum, eps):
    """SyncBatchNorm's forward over ``parts`` (one batch split across processes), from the building blocks."""
    stats = [_aten.batch_norm_stats(p, eps) for p in parts]
    counts = torsh.tensor([float(p.shape[0] * p.shape[2]) for p in parts])
    mean, invstd = _aten.batch_norm_gather_stats_with_counts(
        parts[0], torsh.stack([s[0] for s in stats]), torsh.stack([s[1] for s in stats]), running_mean, running_var,
        momentum, eps, counts)
    return [_aten.batch_norm_elemt(p, weight, bias, mean, invstd, eps) for p in parts], mean, invstd, counts


def test_sync_batch_norm_forward_equals_batch_norm_over_the_whole_batch():
    x, w, b = make_array((6, 3, 4), seed=1), make_array((3,), seed=2), make_array((3,), seed=3)
    rm, rv = torsh.zeros(3, dtype=torsh.float64), torsh.ones(3, dtype=torsh.float64)
    outs, mean, invstd, _ = _sync_batch_norm([torsh.tensor(x[:2]), torsh.tensor(x[2:])], torsh.tensor(w),
                                             torsh.tensor(b), rm, rv, 0.1, 1e-5)
    ref_rm, ref_rv = torch_ref.zeros(3, dtype=torch_ref.float64), torch_ref.ones(3, dtype=torch_ref.float64)
    ref = torch_ref.nn.functional.batch_norm(torch_ref.tensor(x), ref_rm, ref_rv, torch_ref.tensor(w),
                                             torch_ref.tensor(b), True, 0.1, 1e-5)
    assert_close(torsh.cat(outs), ref)
    assert_close(rm, ref_rm)
    assert_close(rv, ref_rv)
    var, ref_mean = torch_ref.var_mean(torch_ref.tensor(x), (0, 2), unbiased=False)
    assert_close(mean, ref_mean)
    assert_close(invstd, 1 / (var + 1e-5).sqrt())


def test_sync_batch_norm_backward_equals_batch_norm_gradients():
    x, w, b, g = (make_array(s, seed=i) for i, s in enumerate([(6, 3, 4), (3,), (3,), (6, 3, 4)]))
    parts = [torsh.tensor(x[:2]), torsh.tensor(x[2:])]
    grads = [torsh.tensor(g[:2]), torsh.tensor(g[2:])]
    _, mean, invstd, counts = _sync_batch_norm(parts, torsh.tensor(w), None, None, None, 0.1, 1e-5)
    reduced = [_aten.batch_norm_backward_reduce(gp, p, mean, invstd, torsh.tensor(w), True, True, True)
               for gp, p in zip(grads, parts)]
    sum_dy, sum_dy_xmu = (sum(r[k] for r in reduced) for k in (0, 1))  # the all-reduce
    grad_input = torsh.cat([_aten.batch_norm_backward_elemt(gp, p, mean, invstd, torsh.tensor(w), sum_dy, sum_dy_xmu,
                                                            counts.to(torsh.int32)) for gp, p in zip(grads, parts)])
    xr, wr, br = (torch_ref.tensor(a).requires_grad_(True) for a in (x, w, b))
    torch_ref.nn.functional.batch_norm(xr, None, None, wr, br, True).backward(torch_ref.tensor(g))
    assert_close(grad_input, xr.grad)
    assert_close(sum(r[2] for r in reduced), wr.grad)
    assert_close(sum(r[3] for r in reduced), br.grad)
    assert _aten.batch_norm_backward_reduce(grads[0], parts[0], mean, invstd, None, False, False, False) == \
        (None, None, None, None)


def test_batch_norm_gather_stats_with_one_count():
    x = make_array((4, 2, 3), seed=1)
    stats = [_aten.batch_norm_stats(torsh.tensor(x[i:i + 2]), 1e-5) for i in (0, 2)]
    mean, invstd = _aten.batch_norm_gather_stats(torsh.tensor(x), torsh.stack([s[0] for s in stats]),
                                                 torsh.stack([s[1] for s in stats]), None, None, 0.1, 1e-5, 6)
    var, ref_mean = torch_ref.var_mean(torch_ref.tensor(x), (0, 2), unbiased=False)
    assert_close(mean, ref_mean)
    assert_close(invstd, 1 / (var + 1e-5).sqrt())
