"""Normalisation, dropout, embedding, padding, upsampling and other layers against torch.nn."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, assert_same_structure_close, check_same_error, torch_ref as torch
from test_nn_common import build_pair, compare_module, run_and_compare

NORMS = [
    ("bn1d", lambda nn: nn.BatchNorm1d(3), (4, 3)),
    ("bn1d_3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    ("bn2d", lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 4)),
    ("bn2d_cma", lambda nn: nn.BatchNorm2d(3, momentum=None), (4, 3, 5, 4)),
    ("bn2d_noaffine", lambda nn: nn.BatchNorm2d(3, affine=False), (2, 3, 3, 4)),
    ("bn2d_notrack", lambda nn: nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 3, 4)),
    ("bn3d", lambda nn: nn.BatchNorm3d(2), (2, 2, 3, 4, 3)),
    ("in1d", lambda nn: nn.InstanceNorm1d(3), (2, 3, 6)),
    ("in2d_affine_track", lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 5)),
    ("in3d", lambda nn: nn.InstanceNorm3d(2, affine=True), (2, 2, 3, 4, 3)),
    ("in2d_unbatched", lambda nn: nn.InstanceNorm2d(3), (3, 4, 5)),
    ("ln", lambda nn: nn.LayerNorm(5), (2, 3, 5)),
    ("ln2", lambda nn: nn.LayerNorm((3, 5), eps=1e-3), (2, 3, 5)),
    ("ln_nobias", lambda nn: nn.LayerNorm(5, bias=False), (4, 5)),
    ("ln_noaffine", lambda nn: nn.LayerNorm(5, elementwise_affine=False), (4, 5)),
    ("gn", lambda nn: nn.GroupNorm(2, 4), (3, 4, 5, 2)),
    ("gn_noaffine", lambda nn: nn.GroupNorm(1, 3, affine=False), (3, 3, 5)),
    ("gn_nobias", lambda nn: nn.GroupNorm(1, 3, bias=False), (3, 3, 5)),
    ("bn2d_nobias", lambda nn: nn.BatchNorm2d(3, bias=False), (2, 3, 3, 4)),
    ("rms", lambda nn: nn.RMSNorm(5), (2, 3, 5)),
    ("rms_eps", lambda nn: nn.RMSNorm((3, 5), eps=1e-4), (2, 3, 5)),
    ("lrn3d", lambda nn: nn.LocalResponseNorm(3), (2, 5, 7)),
    ("lrn4d", lambda nn: nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0), (2, 5, 3, 4)),
]


def _randomize_affine(ours, ref):
    """Non-trivial affine parameters and running stats, identical in both modules."""
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape))))
        for name, b in ref.named_buffers():
            if b.dtype.is_floating_point:
                b.copy_(torch.tensor(rng.uniform(0.5, 1.5, size=tuple(b.shape))))
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})


@pytest.mark.parametrize("name,make,shape", NORMS, ids=[n[0] for n in NORMS])
@pytest.mark.parametrize("train", [True, False])
def test_norm_matches_torch(name, make, shape, train):
    ours, ref = build_pair(lambda lib: make(lib.nn))
    _randomize_affine(ours, ref)
    x = np.random.default_rng(1).normal(size=shape) * 2 + 0.5
    for _ in range(2):  # twice: running statistics evolve the same way
        run_and_compare(ours, ref, [x], train=train, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,make,shape", NORMS, ids=[n[0] for n in NORMS])
def test_norm_repr_and_keys(name, make, shape):
    assert repr(make(nn)) == repr(make(torch.nn))
    assert list(make(nn).state_dict()) == list(make(torch.nn).state_dict())


def test_batchnorm_num_batches_tracked_and_old_checkpoint():
    bn = nn.BatchNorm2d(3)
    bn(torsh.randn(2, 3, 4, 4))
    bn(torsh.randn(2, 3, 4, 4))
    assert bn.num_batches_tracked.item() == 2 and bn.num_batches_tracked.dtype == torsh.int64
    # checkpoints without version metadata predate num_batches_tracked: its absence is not an error
    sd = {k: v for k, v in torch.nn.BatchNorm2d(3).state_dict().items() if k != "num_batches_tracked"}
    res = nn.BatchNorm2d(3).load_state_dict(sd)
    ref_res = torch.nn.BatchNorm2d(3).load_state_dict(sd)
    assert res.missing_keys == ref_res.missing_keys == []


def test_layer_norm_double_backward():
    xa = np.random.default_rng(0).normal(size=(3, 6))
    res = []
    for lib in (torsh, torch):
        x = lib.tensor(xa, requires_grad=True)
        ln = lib.nn.LayerNorm(6).double()
        y = ln(x)
        g, = lib.autograd.grad((y ** 3).sum(), x, create_graph=True)
        res.append(lib.autograd.grad((g * g).sum(), x)[0])
    assert_close(res[0], res[1], rtol=1e-6, atol=1e-8)


def test_norm_gradcheck():
    F = nn.functional
    x = torsh.tensor(np.random.default_rng(0).normal(size=(3, 4, 2)), requires_grad=True)
    w = torsh.tensor(np.random.default_rng(1).normal(size=(4,)), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda x, w: F.batch_norm(x, None, None, w, w, True), (x, w))
    assert torsh.autograd.gradcheck(lambda x: F.group_norm(x, 2), (x,))
    assert torsh.autograd.gradgradcheck(lambda x: F.layer_norm(x, (2,)), (x,))


def test_dropout_statistics_and_eval():
    torsh.manual_seed(0)
    x = torsh.ones(200, 100)
    d = nn.Dropout(0.3)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02 and np.allclose(y[kept], 1 / 0.7)
    assert d.eval()(x) is x
    y2 = nn.Dropout2d(0.5)(torsh.ones(50, 20, 3, 3)).numpy()
    per_channel = y2.reshape(50, 20, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    xg = torsh.ones(10, 10, requires_grad=True)
    out = nn.Dropout(0.5)(xg)
    out.sum().backward()
    assert np.array_equal(xg.grad.numpy(), out.detach().numpy())
    a = nn.AlphaDropout(0.2).train()(torsh.randn(400, 400)).numpy()
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.03
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    check_same_error(lambda lib: lib.nn.Dropout(1.5))
    check_same_error(lambda lib: lib.nn.functional.dropout1d(lib.ones(2, 3, 4, 5)))


EMBEDDINGS = [
    ("plain", lambda nn: nn.Embedding(10, 4)),
    ("padding", lambda nn: nn.Embedding(10, 4, padding_idx=2)),
    ("padding_neg", lambda nn: nn.Embedding(10, 4, padding_idx=-1)),
    ("scale_freq", lambda nn: nn.Embedding(10, 4, scale_grad_by_freq=True)),
    ("max_norm", lambda nn: nn.Embedding(10, 4, max_norm=1.0)),
]


@pytest.mark.parametrize("name,make", EMBEDDINGS, ids=[e[0] for e in EMBEDDINGS])
def test_embedding_matches_torch(name, make):
    idx = np.array([[1, 2, 2, 9], [0, 9, 3, 2]])
    compare_module(lambda lib: make(lib.nn), [idx], modes=(True,))
    assert repr(make(nn)) == repr(make(torch.nn))


def test_embedding_padding_row_is_zero_and_from_pretrained():
    emb = nn.Embedding(5, 3, padding_idx=1)
    assert np.all(emb.weight[1].detach().numpy() == 0)
    w = torsh.randn(4, 2)
    pre = nn.Embedding.from_pretrained(w)
    assert not pre.weight.requires_grad
    assert_close(pre(torsh.tensor([3]))[0], w[3].numpy())
    check_same_error(lambda lib: lib.nn.Embedding(5, 3)(lib.tensor([5])))
    check_same_error(lambda lib: lib.nn.functional.one_hot(lib.tensor([1, 5]), 3))
    assert_close(nn.functional.one_hot(torsh.tensor([0, 2])), torch.nn.functional.one_hot(torch.tensor([0, 2])))


def test_embedding_double_backward():
    res = []
    for lib in (torsh, torch):
        w = lib.tensor(np.random.default_rng(0).normal(size=(6, 3)), requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor([[1, 2], [2, 5]]), w)
        g, = lib.autograd.grad((y ** 3).sum(), w, create_graph=True)
        res.append(lib.autograd.grad((g * g).sum(), w)[0])
    assert_close(res[0], res[1])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_torch(mode):
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offsets = np.array([0, 2, 2, 5])

    def call(m, x):
        lib = torsh if isinstance(x, torsh.Tensor) else torch
        return m(x, lib.tensor(offsets))
    compare_module(lambda lib: lib.nn.EmbeddingBag(10, 3, mode=mode), [idx], modes=(True,), call=call)
    compare_module(lambda lib: lib.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=4),
                   [idx.reshape(2, 4)], modes=(True,))


def test_embedding_bag_per_sample_weights():
    idx = np.array([[1, 2, 3], [4, 5, 1]])
    psw = np.random.default_rng(0).random((2, 3))

    def call(m, x):
        lib = torsh if isinstance(x, torsh.Tensor) else torch
        return m(x, per_sample_weights=lib.tensor(psw))
    compare_module(lambda lib: lib.nn.EmbeddingBag(10, 3, mode="sum"), [idx], modes=(True,), call=call)


MISC = [
    ("zeropad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 4)),
    ("constpad1d", lambda nn: nn.ConstantPad1d((2, -1), 3.5), (2, 3, 4)),
    ("constpad3d", lambda nn: nn.ConstantPad3d(1, -1.0), (1, 2, 2, 3, 2)),
    ("reflect1d", lambda nn: nn.ReflectionPad1d((3, 1)), (2, 3, 5)),
    ("reflect2d", lambda nn: nn.ReflectionPad2d((1, 2, 2, 0)), (2, 3, 4, 4)),
    ("reflect3d", lambda nn: nn.ReflectionPad3d(1), (1, 2, 3, 3, 3)),
    ("replicate2d", lambda nn: nn.ReplicationPad2d((3, 0, 1, 4)), (2, 3, 4, 4)),
    ("replicate3d", lambda nn: nn.ReplicationPad3d((1, 2, 0, 1, 2, 0)), (1, 2, 3, 3, 3)),
    ("circular1d", lambda nn: nn.CircularPad1d((2, 1)), (2, 3, 4)),
    ("circular2d", lambda nn: nn.CircularPad2d((1, 2, 3, 0)), (2, 3, 4, 4)),
    ("up_nearest", lambda nn: nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    ("up_nearest_size", lambda nn: nn.Upsample(size=(7, 3)), (2, 3, 4, 5)),
    ("up_nearest_exact", lambda nn: nn.Upsample(size=(7, 3), mode="nearest-exact"), (2, 3, 4, 5)),
    ("up_bilinear", lambda nn: nn.Upsample(scale_factor=1.7, mode="bilinear"), (2, 3, 4, 5)),
    ("up_bilinear_ac", lambda nn: nn.Upsample(size=(9, 4), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("up_bicubic", lambda nn: nn.Upsample(scale_factor=2, mode="bicubic"), (2, 3, 4, 5)),
    ("up_bicubic_ac", lambda nn: nn.Upsample(size=(6, 3), mode="bicubic", align_corners=True), (2, 3, 4, 5)),
    ("up_linear", lambda nn: nn.Upsample(scale_factor=3, mode="linear"), (2, 3, 4)),
    ("up_trilinear", lambda nn: nn.Upsample(size=(3, 5, 2), mode="trilinear"), (1, 2, 2, 3, 4)),
    ("up_nearest_3d", lambda nn: nn.Upsample(scale_factor=(2, 1, 1.5)), (1, 2, 2, 3, 4)),
    ("upsampling_bilinear2d", lambda nn: nn.UpsamplingBilinear2d(scale_factor=2), (1, 2, 3, 3)),
    ("pixelshuffle", lambda nn: nn.PixelShuffle(2), (2, 8, 3, 4)),
    ("pixelunshuffle", lambda nn: nn.PixelUnshuffle(2), (2, 2, 4, 6)),
    ("channelshuffle", lambda nn: nn.ChannelShuffle(3), (2, 6, 2, 2)),
    ("flatten", lambda nn: nn.Flatten(1, 2), (2, 3, 4, 5)),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 2)), (3, 4, 5)),
    ("identity", lambda nn: nn.Identity(), (3, 4)),
]


@pytest.mark.parametrize("name,make,shape", MISC, ids=[m[0] for m in MISC])
def test_misc_layers_match_torch(name, make, shape):
    compare_module(lambda lib: make(lib.nn), [shape], modes=(True,))
    assert repr(make(nn)) == repr(make(torch.nn))


def test_area_interpolate_and_errors():
    x = np.random.default_rng(0).normal(size=(1, 2, 7, 9))
    assert_close(nn.functional.interpolate(torsh.tensor(x), size=(3, 4), mode="area"),
                 torch.nn.functional.interpolate(torch.tensor(x), size=(3, 4), mode="area"))
    F = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F(lib).pad(lib.zeros(1, 1, 3), (3, 3), mode="reflect"))
    check_same_error(lambda lib: F(lib).pad(lib.zeros(1, 1, 3), (3,)))
    check_same_error(lambda lib: F(lib).interpolate(lib.zeros(1, 1, 3), size=4, mode="nearest", align_corners=True))
    check_same_error(lambda lib: F(lib).pixel_shuffle(lib.zeros(1, 3, 2, 2), 2))


def test_distance_layers_and_linear_bilinear():
    compare_module(lambda lib: lib.nn.Bilinear(3, 4, 5), [(6, 3), (6, 4)], modes=(True,))
    compare_module(lambda lib: lib.nn.Linear(4, 3), [(2, 5, 4)], modes=(True,))
    compare_module(lambda lib: lib.nn.Linear(4, 3, bias=False), [(4,)], modes=(True,))
    compare_module(lambda lib: lib.nn.CosineSimilarity(dim=1), [(4, 5), (4, 5)], modes=(True,))
    compare_module(lambda lib: lib.nn.PairwiseDistance(p=1.5, keepdim=True), [(4, 5), (4, 5)], modes=(True,))
    compare_module(lambda lib: lib.nn.PairwiseDistance(), [(4, 5), (4, 5)], modes=(True,))
    check_same_error(lambda lib: lib.nn.Linear(3, 2)(lib.zeros(4, 5)))
    check_same_error(lambda lib: lib.nn.functional.normalize(lib.zeros(2, 3), dim=5) if False else
                     lib.nn.Linear(3, 2)(lib.zeros(5)))
    x = np.random.default_rng(0).normal(size=(3, 4))
    assert_close(nn.functional.normalize(torsh.tensor(x), p=1, dim=0),
                 torch.nn.functional.normalize(torch.tensor(x), p=1, dim=0))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_affine_grid_and_grid_sample_match_torch(align_corners, mode, padding_mode):
    rng = np.random.default_rng(0)
    # generic values: no sample lands exactly on a pixel centre, where the bilinear gradient is discontinuous
    theta = np.array([[[0.913, -0.31, 0.107], [0.217, 1.093, -0.203]], [[1.31, 0.013, 0.259], [0.107, 0.797, 0.053]]])
    x = rng.normal(size=(2, 3, 5, 6))
    res = []
    for lib in (torsh, torch):
        th = lib.tensor(theta, requires_grad=True)
        xt = lib.tensor(x, requires_grad=True)
        grid = lib.nn.functional.affine_grid(th, [2, 3, 4, 7], align_corners=align_corners)
        out = lib.nn.functional.grid_sample(xt, grid, mode=mode, padding_mode=padding_mode,
                                            align_corners=align_corners)
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))).sum().backward()
        res.append((grid, out, xt.grad, th.grad))
    if mode == "nearest":  # the grid's gradient is zeros in both
        assert not res[0][3].abs().sum() and not res[1][3].abs().sum()
    for a, b in zip(res[0], res[1]):
        assert_close(a, b.detach() if b.requires_grad else b, rtol=1e-6, atol=1e-8)


def test_grid_sample_reflects_and_pads_taps_outside_the_input():
    """Points far outside the input (several reflections) and on its edges, every mode and padding: values and
    gradients with respect to the input and the grid as PyTorch's."""
    rng = np.random.default_rng(1)
    x, grid = rng.normal(size=(2, 3, 5, 6)), rng.uniform(-3.5, 3.5, size=(2, 4, 7, 2))
    grid[0, 0, :3] = [[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]
    for mode in ("bilinear", "nearest", "bicubic"):
        for padding_mode in ("zeros", "border", "reflection"):
            for align_corners in (False, True):
                res = []
                for lib in (torsh, torch):
                    xt, gt = lib.tensor(x, requires_grad=True), lib.tensor(grid, requires_grad=True)
                    out = lib.nn.functional.grid_sample(xt, gt, mode, padding_mode, align_corners)
                    out.pow(2).sum().backward()
                    grid_grad = gt.grad if gt.grad is not None else lib.zeros(gt.shape, dtype=lib.float64)
                    res.append((out.detach(), xt.grad, grid_grad))
                assert_same_structure_close(res[0], res[1], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(3, 1, 28, 28), (2, 1, 5, 7), (2, 3, 4, 6, 5)])
def test_affine_grid_rounds_as_torch(size, align_corners):
    """The spatial transformer's grid to the bit (linspace in theta's dtype, the product without fused multiply-adds):
    at the identity, points fall on pixel centres exactly where PyTorch's do, so grid_sample's gradient with respect
    to the grid (one-sided there) is PyTorch's and training follows PyTorch's."""
    nd = len(size) - 2
    theta = np.random.default_rng(0).normal(size=(size[0], nd, nd + 1)).astype(np.float32)
    theta[0] = np.eye(nd, nd + 1)
    grids, grads = [], []
    for lib in (torsh, torch):
        th = lib.tensor(theta, requires_grad=True)
        grid = lib.nn.functional.affine_grid(th, size, align_corners=align_corners)
        grid.pow(2).sum().backward()
        grids.append(grid)
        grads.append(th.grad)
    assert type(grids[0].grad_fn).__name__ == type(grids[1].grad_fn).__name__ == "AffineGridGeneratorBackward0"
    assert_close(grids[0].detach(), grids[1].detach(), rtol=0, atol=0)
    assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-3)  # float32 sums over the points, some cancelling to 0
    if nd == 2:  # the identity's points on pixel centres: the grid gradient of bilinear sampling there
        x = np.random.default_rng(1).normal(size=(size[0], 1) + size[2:]).astype(np.float32)
        outs = []
        for lib, grid in zip((torsh, torch), grids):
            g = lib.tensor(grid.detach().numpy(), requires_grad=True)
            lib.nn.functional.grid_sample(lib.tensor(x), g, align_corners=align_corners).sum().backward()
            outs.append(g.grad)
        assert_close(outs[0][0], outs[1][0], rtol=1e-4, atol=1e-5)  # one-sided differences on pixel centres
        assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-4)  # the other samples: float32 rounding in between


@pytest.mark.parametrize("name,fn,shape", [
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False), (1, 2, 4, 4)),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 2, 1), (1, 2, 4, 4)),
    ("adaptive_avg", lambda F, x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 5, 4)),
    ("adaptive_max", lambda F, x: F.adaptive_max_pool2d(x, (2, 2)), (1, 2, 5, 4)),
    ("interp_bilinear", lambda F, x: F.interpolate(x, scale_factor=1.5, mode="bilinear"), (1, 2, 3, 3)),
    ("interp_bicubic", lambda F, x: F.interpolate(x, size=(4, 5), mode="bicubic", align_corners=True), (1, 1, 3, 3)),
    ("pad_reflect", lambda F, x: F.pad(x, (2, 1, 1, 2), mode="reflect"), (1, 2, 3, 4)),
    ("pad_circular", lambda F, x: F.pad(x, (1, 2), mode="circular"), (1, 2, 4)),
    ("pad_constant_crop", lambda F, x: F.pad(x, (1, -1, -1, 2), value=0.5), (1, 2, 3, 4)),
    ("group_norm", lambda F, x: F.group_norm(x, 2), (2, 4, 3)),
    ("instance_norm", lambda F, x: F.instance_norm(x), (2, 3, 4)),
    ("rms_norm", lambda F, x: F.rms_norm(x, (4,)), (2, 3, 4)),
    ("pixel_shuffle", lambda F, x: F.pixel_shuffle(x, 2), (1, 4, 2, 3)),
    ("fold", lambda F, x: F.fold(x, (3, 4), 2), (1, 8, 6)),
])
def test_gradcheck_and_gradgradcheck(name, fn, shape):
    F = nn.functional
    x = torsh.tensor(np.random.default_rng(0).normal(size=shape), requires_grad=True)
    assert torsh.autograd.gradcheck(lambda t: fn(F, t), (x,))
    assert torsh.autograd.gradgradcheck(lambda t: fn(F, t), (x,))


def test_common_user_errors_match_torch():
    check_same_error(lambda lib: lib.nn.Linear(3, 2)(lib.zeros(4, 3, dtype=lib.float64)))
    check_same_error(lambda lib: lib.nn.functional.cross_entropy(lib.zeros(4, 3), lib.zeros(4, dtype=lib.int32)))
    check_same_error(lambda lib: lib.nn.BatchNorm2d(3)(lib.zeros(2, 4, 2, 2)))
    check_same_error(lambda lib: lib.nn.functional.batch_norm(lib.zeros(2, 3, 2, 2), lib.zeros(3), lib.ones(3),
                                                              lib.ones(4)))
    check_same_error(lambda lib: lib.nn.LayerNorm(5)(lib.zeros(2, 4)))
    check_same_error(lambda lib: lib.nn.LSTM(3, 2)(lib.zeros(4, 1, 3, dtype=lib.float64)), exact=False,
                     fallback_msg="float64) does not match weight dtype (")
