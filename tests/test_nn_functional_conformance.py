"""nn.functional's dtype rules, edge cases and errors against PyTorch 2.13: losses, activations, vision ops.
Each case runs the same lambda on torsh and on torch (``lib``): accepted calls must give PyTorch's dtype, shape
and values, rejected ones PyTorch's exception type and message."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, error_of, needs_torch, torch_ref

pytestmark = needs_torch


def _x(lib, shape=(3, 5), dtype="float32", seed=0):
    values = np.random.default_rng(seed).uniform(0.05, 0.95, shape)
    return lib.tensor(values).to(getattr(lib, dtype))


def _targets(lib):
    return lib.tensor([0, 3, 1])


def _ml_target(lib):
    return lib.tensor([[3, 0, -1, 1], [1, 2, 3, -1]])


def _same_result(fn):
    """fn(lib) must give PyTorch's dtype, shape and values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = fn(torsh), fn(torch_ref)
    assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-6)


F = lambda lib: lib.nn.functional  # noqa: E731

# -- losses -------------------------------------------------------------------------------------------------
LOSS_ERRORS = {
    "mse int": lambda lib: F(lib).mse_loss(_x(lib, dtype="int64"), _x(lib, dtype="int64")),
    "mse bool none": lambda lib: F(lib).mse_loss(_x(lib) > 0.5, _x(lib) > 0.5, reduction="none"),
    "smooth_l1 int": lambda lib: F(lib).smooth_l1_loss(_x(lib, dtype="int64"), _x(lib, dtype="int64")),
    "huber bool": lambda lib: F(lib).huber_loss(_x(lib) > 0.5, _x(lib) > 0.5),
    "huber int float": lambda lib: F(lib).huber_loss(_x(lib, dtype="int64"), _x(lib)),
    "kl_div int target": lambda lib: F(lib).kl_div(_x(lib), _x(lib, dtype="int64"), reduction="sum"),
    "kl_div complex": lambda lib: F(lib).kl_div(_x(lib, dtype="complex64"), _x(lib), reduction="sum"),
    "bce int": lambda lib: F(lib).binary_cross_entropy(_x(lib, dtype="int64"), _x(lib, dtype="int64")),
    "bce mixed dtypes": lambda lib: F(lib).binary_cross_entropy(_x(lib), _x(lib, dtype="float64")),
    "bce logits bool": lambda lib: F(lib).binary_cross_entropy_with_logits(_x(lib) > 0.5, _x(lib) > 0.5),
    "bce logits bool target": lambda lib: F(lib).binary_cross_entropy_with_logits(_x(lib), _x(lib) > 0.5),
    "bce logits int target": lambda lib: F(lib).binary_cross_entropy_with_logits(_x(lib), _x(lib, dtype="int32")),
    "soft_margin int": lambda lib: F(lib).soft_margin_loss(_x(lib, dtype="int32"), _x(lib, dtype="int32")),
    "soft_margin 0-d input": lambda lib: F(lib).soft_margin_loss(lib.tensor(1.0), _x(lib)),
    "hinge int mean": lambda lib: F(lib).hinge_embedding_loss(_x(lib, dtype="int64"), _x(lib, dtype="int64")),
    "hinge bool": lambda lib: F(lib).hinge_embedding_loss(_x(lib) > 0.5, _x(lib) > 0.5),
    "margin_ranking bool": lambda lib: F(lib).margin_ranking_loss(_x(lib) > 0.5, _x(lib) > 0.5, _x(lib) > 0.5),
    "multilabel_soft_margin 0-d": lambda lib: F(lib).multilabel_soft_margin_loss(lib.tensor(1.0), lib.tensor(1.0)),
    "gaussian_nll int var": lambda lib: F(lib).gaussian_nll_loss(_x(lib), _x(lib), _x(lib, dtype="int64") + 1),
    "gaussian_nll uint8 var": lambda lib: F(lib).gaussian_nll_loss(_x(lib), _x(lib), _x(lib, dtype="uint8") + 1),
    "gaussian_nll bool": lambda lib: F(lib).gaussian_nll_loss(_x(lib) > 0, _x(lib) > 0, _x(lib) > 0),
    "gaussian_nll reduction": lambda lib: F(lib).gaussian_nll_loss(_x(lib), _x(lib), _x(lib), reduction="max"),
    "triplet margin": lambda lib: F(lib).triplet_margin_loss(_x(lib), _x(lib), _x(lib), margin=0),
    "triplet dims": lambda lib: F(lib).triplet_margin_loss(_x(lib), _x(lib)[0], _x(lib)),
    "triplet distance margin": lambda lib: F(lib).triplet_margin_with_distance_loss(_x(lib), _x(lib), _x(lib),
                                                                                    margin=0),
    "triplet distance dims": lambda lib: F(lib).triplet_margin_with_distance_loss(lib.tensor(1.0), _x(lib), _x(lib)),
    "cosine_similarity int": lambda lib: F(lib).cosine_similarity(_x(lib, dtype="int64"), _x(lib, dtype="int64")),
    "cosine_similarity complex": lambda lib: F(lib).cosine_similarity(_x(lib, dtype="complex64"), _x(lib)),
    "pdist int": lambda lib: F(lib).pdist(_x(lib, dtype="int64")),
    "pdist negative p": lambda lib: F(lib).pdist(_x(lib), -1),
    "nll int": lambda lib: F(lib).nll_loss(_x(lib, dtype="int64"), _targets(lib)),
    "nll bool": lambda lib: F(lib).nll_loss(_x(lib) > 0.5, _targets(lib)),
    "nll int 4-d": lambda lib: F(lib).nll_loss(_x(lib, (3, 5, 2, 2), "int64"), lib.zeros(3, 2, 2).long()),
    "cross_entropy int probabilities": lambda lib: F(lib).cross_entropy(_x(lib), _x(lib, dtype="int64")),
    "cross_entropy bool probabilities": lambda lib: F(lib).cross_entropy(_x(lib) > 0, _x(lib) > 0),
    "multi_margin int": lambda lib: F(lib).multi_margin_loss(_x(lib, (3, 4), "int64"), _targets(lib)),
    "multi_margin 0-d": lambda lib: F(lib).multi_margin_loss(lib.tensor(1.0), _targets(lib)),
    "multi_margin empty batch": lambda lib: F(lib).multi_margin_loss(_x(lib, (0, 4)), _targets(lib)),
    "multi_margin no classes": lambda lib: F(lib).multi_margin_loss(_x(lib, (3, 0)), _targets(lib)),
    "multi_margin target range": lambda lib: F(lib).multi_margin_loss(_x(lib, (3, 4)), lib.tensor([0, 4, 1])),
    "multi_margin weight size": lambda lib: F(lib).multi_margin_loss(_x(lib, (3, 4)), _targets(lib),
                                                                     weight=_x(lib, (3,))),
    "multi_margin float target": lambda lib: F(lib).multi_margin_loss(_x(lib, (3, 4)), _targets(lib).float()),
    "multilabel_margin int": lambda lib: F(lib).multilabel_margin_loss(_x(lib, (2, 4), "int64"), _ml_target(lib)),
    "multilabel_margin bool": lambda lib: F(lib).multilabel_margin_loss(_x(lib, (2, 4)) > 0, _ml_target(lib)),
    "multilabel_margin 0-d": lambda lib: F(lib).multilabel_margin_loss(lib.tensor(1.0), _ml_target(lib)),
    "multilabel_margin empty": lambda lib: F(lib).multilabel_margin_loss(_x(lib, (0, 4)), _ml_target(lib)),
    "multilabel_margin float target": lambda lib: F(lib).multilabel_margin_loss(_x(lib, (2, 4)),
                                                                                _ml_target(lib).float()),
}


@pytest.mark.parametrize("case", sorted(LOSS_ERRORS))
def test_loss_errors_match_pytorch(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_same_error(LOSS_ERRORS[case])


LOSS_RESULTS = {
    "mse float int": lambda lib: F(lib).mse_loss(_x(lib), _x(lib, dtype="int64")),
    "smooth_l1 float bool": lambda lib: F(lib).smooth_l1_loss(_x(lib), _x(lib) > 0.5),
    "huber float double": lambda lib: F(lib).huber_loss(_x(lib), _x(lib, dtype="float64", seed=1)),
    "bce logits double float": lambda lib: F(lib).binary_cross_entropy_with_logits(_x(lib, dtype="float64"),
                                                                                    _x(lib, seed=1)),
    "soft_margin float double": lambda lib: F(lib).soft_margin_loss(_x(lib), _x(lib, dtype="float64", seed=1)),
    "soft_margin float bool": lambda lib: F(lib).soft_margin_loss(_x(lib), _x(lib) > 0.5, reduction="none"),
    "hinge int none": lambda lib: F(lib).hinge_embedding_loss(_x(lib, dtype="int64") * 3, _x(lib, dtype="int64"),
                                                              margin=1.5, reduction="none"),
    "cosine_similarity 0-d": lambda lib: F(lib).cosine_similarity(lib.tensor(2.0), _x(lib)),
    "cosine_similarity broadcast": lambda lib: F(lib).cosine_similarity(_x(lib), _x(lib, seed=1)[0]),
    "cosine_similarity int float": lambda lib: F(lib).cosine_similarity(_x(lib, dtype="int64") + 1, _x(lib)),
    "multi_margin 0-d": lambda lib: F(lib).multi_margin_loss(lib.tensor(1.0), lib.tensor(0)),
    "multi_margin empty": lambda lib: F(lib).multi_margin_loss(_x(lib, (0, 4)), lib.zeros(0).long(), reduction="none"),
    "multilabel_margin 0-d": lambda lib: F(lib).multilabel_margin_loss(lib.tensor(1.0), lib.tensor([0])),
    "gaussian_nll int input": lambda lib: F(lib).gaussian_nll_loss(_x(lib, dtype="int64"), _x(lib), _x(lib)),
    "gaussian_nll one broadcast dim": lambda lib: F(lib).gaussian_nll_loss(_x(lib, (4, 3)), _x(lib, (4, 3), seed=1),
                                                                           _x(lib, (1, 3), seed=2)),
}


@pytest.mark.parametrize("case", sorted(LOSS_RESULTS))
def test_loss_results_match_pytorch(case):
    _same_result(LOSS_RESULTS[case])


# -- activations ----------------------------------------------------------------------------------------------
def _ints(lib, dtype="int64"):
    return lib.tensor([[-3, 0, 2], [5, 7, -1]]).to(getattr(lib, dtype))


ACTIVATION_ERRORS = {
    "hardtanh bool": lambda lib: F(lib).hardtanh(_ints(lib) > 0),
    "hardtanh_ bool": lambda lib: F(lib).hardtanh_(_ints(lib) > 0),
    "relu6 bool": lambda lib: F(lib).relu6(_ints(lib) > 0),
    "hardtanh uint8 negative limits": lambda lib: F(lib).hardtanh(_ints(lib, "uint8")),
    "hardtanh complex": lambda lib: F(lib).hardtanh(_x(lib, dtype="complex64")),
    "threshold bool": lambda lib: F(lib).threshold(_ints(lib) > 0, 0.5, 1.0),
    "threshold_ bool": lambda lib: F(lib).threshold_(_ints(lib) > 0, 0.5, 1.0),
    "softshrink int": lambda lib: F(lib).softshrink(_ints(lib)),
    "softshrink int negative lambda": lambda lib: F(lib).softshrink(_ints(lib), -1),
    "softshrink complex": lambda lib: F(lib).softshrink(_x(lib, dtype="complex64")),
    "glu int": lambda lib: F(lib).glu(_ints(lib), 0),
    "glu bool": lambda lib: F(lib).glu(_ints(lib) > 0, 0),
    "glu int odd": lambda lib: F(lib).glu(_ints(lib), 1),
    "prelu 0-d input, 3 weights": lambda lib: F(lib).prelu(lib.tensor(1.0), _x(lib, (3,))),
    "prelu int": lambda lib: F(lib).prelu(_ints(lib), lib.tensor([1])),
}


@pytest.mark.parametrize("case", sorted(ACTIVATION_ERRORS))
def test_activation_errors_match_pytorch(case):
    check_same_error(ACTIVATION_ERRORS[case])


ACTIVATION_RESULTS = {
    "hardtanh int": lambda lib: F(lib).hardtanh(_ints(lib)),
    "hardtanh int16 float limits": lambda lib: F(lib).hardtanh(_ints(lib, "int16"), -1.5, 2.5),
    "hardtanh_ int": lambda lib: F(lib).hardtanh_(_ints(lib)),
    "relu6 int": lambda lib: F(lib).relu6(_ints(lib)),
    "relu6 uint8 inplace": lambda lib: F(lib).relu6(_ints(lib, "uint8"), inplace=True),
    "threshold int": lambda lib: F(lib).threshold(_ints(lib), 1, 20),
    "threshold int float scalars": lambda lib: F(lib).threshold(_ints(lib, "int16"), 1.5, 2.5),
    "threshold_ int": lambda lib: F(lib).threshold_(_ints(lib), 0.5, -1.0),
    "prelu 0-d input": lambda lib: F(lib).prelu(lib.tensor(-1.0), lib.tensor([0.25])),
}


@pytest.mark.parametrize("case", sorted(ACTIVATION_RESULTS))
def test_activation_results_match_pytorch(case):
    _same_result(ACTIVATION_RESULTS[case])


def test_integer_threshold_in_place_writes_its_input():
    for lib in (torsh, torch_ref):
        x = _ints(lib)
        assert F(lib).threshold_(x, 1, 20) is x
    assert_close(x_ours := _ints(torsh), _ints(torch_ref))  # untouched copies agree
    F(torsh).threshold_(x_ours, 1, 20)
    assert_close(x_ours, F(torch_ref).threshold(_ints(torch_ref), 1, 20))


# -- vision and unpooling ---------------------------------------------------------------------------------------
def _theta(lib, n=1):
    return lib.tensor([[[1.0, 0.0, 0.1], [0.0, 1.0, -0.2]]] * n)


VISION_ERRORS = {
    "pixel_shuffle 0-d": lambda lib: F(lib).pixel_shuffle(lib.tensor(1.0), 2),
    "pixel_shuffle 2-d": lambda lib: F(lib).pixel_shuffle(_x(lib, (4, 2)), 2),
    "pixel_shuffle factor 0": lambda lib: F(lib).pixel_shuffle(_x(lib, (1, 4, 2, 2)), 0),
    "pixel_unshuffle 0-d": lambda lib: F(lib).pixel_unshuffle(lib.tensor(1.0), 2),
    "channel_shuffle 0-d": lambda lib: F(lib).channel_shuffle(lib.tensor(1.0), 2),
    "channel_shuffle 2-d": lambda lib: F(lib).channel_shuffle(_x(lib, (2, 4)), 2),
    "channel_shuffle groups 0": lambda lib: F(lib).channel_shuffle(_x(lib, (1, 4, 2)), 0),
    "affine_grid int": lambda lib: F(lib).affine_grid(_theta(lib).long(), [1, 1, 3, 3], align_corners=False),
    "affine_grid bool": lambda lib: F(lib).affine_grid(_theta(lib) > 0, [1, 1, 3, 3], align_corners=False),
    "affine_grid 0-d": lambda lib: F(lib).affine_grid(lib.tensor(1.0), [1, 1, 3, 3], align_corners=False),
    "affine_grid batch": lambda lib: F(lib).affine_grid(_theta(lib, 2), [1, 1, 3, 3], align_corners=False),
    "affine_grid zero size": lambda lib: F(lib).affine_grid(_theta(lib), [1, 1, 0, 3], align_corners=False),
    "grid_sample int": lambda lib: F(lib).grid_sample(_x(lib, (1, 1, 3, 3), "int64"), _x(lib, (1, 2, 2, 2), "int64"),
                                                      align_corners=False),
    "grid_sample 0-d": lambda lib: F(lib).grid_sample(lib.tensor(1.0), _x(lib, (1, 2, 2, 2)), align_corners=False),
    "grid_sample batch": lambda lib: F(lib).grid_sample(_x(lib, (0, 1, 3, 3)), _x(lib, (1, 2, 2, 2)),
                                                        align_corners=False),
    "grid_sample grid last dim": lambda lib: F(lib).grid_sample(_x(lib, (1, 1, 3, 3)), _x(lib, (1, 2, 2, 3)),
                                                                align_corners=False),
    "grid_sample empty spatial": lambda lib: F(lib).grid_sample(_x(lib, (1, 1, 0, 3)), _x(lib, (1, 2, 2, 2)),
                                                                align_corners=False),
    "grid_sample 3-d": lambda lib: F(lib).grid_sample(_x(lib, (1, 3, 3)), _x(lib, (1, 2, 1)), align_corners=False),
    "max_unpool1d 0-d": lambda lib: F(lib).max_unpool1d(lib.tensor(1.0), lib.tensor(0), 2),
    "max_unpool1d int": lambda lib: F(lib).max_unpool1d(_x(lib, (1, 1, 2), "int64"), lib.tensor([[[0, 3]]]), 2),
    "max_unpool1d float indices": lambda lib: F(lib).max_unpool1d(_x(lib, (1, 1, 2)), lib.tensor([[[0.0, 3.0]]]), 2),
    "max_unpool1d indices shape": lambda lib: F(lib).max_unpool1d(_x(lib, (0, 1, 2)), lib.tensor([[[0, 3]]]), 2),
    "max_unpool1d rank": lambda lib: F(lib).max_unpool1d(_x(lib, (2,)), lib.tensor([0, 3]), 2),
    "max_unpool2d bool": lambda lib: F(lib).max_unpool2d(_x(lib, (1, 1, 1, 2)) > 0, lib.tensor([[[[0, 3]]]]), 2),
    "max_unpool2d 5-d": lambda lib: F(lib).max_unpool2d(_x(lib, (1, 1, 1, 1, 2)), lib.zeros(1, 1, 1, 1, 2).long(), 2),
    "max_unpool3d int": lambda lib: F(lib).max_unpool3d(_x(lib, (1, 1, 1, 1, 2), "int64"),
                                                        lib.zeros(1, 1, 1, 1, 2).long(), 2),
    "max_unpool3d float indices": lambda lib: F(lib).max_unpool3d(_x(lib, (1, 1, 1, 1, 2)), lib.zeros(1, 1, 1, 1, 2),
                                                                  2),
}


# messages naming a dtype or Size object, which torsh prints under its own package name: their stable part
_NAMES_A_TYPE = {
    "affine_grid int": "Expected theta to have floating point type, but got ",
    "affine_grid bool": "Expected theta to have floating point type, but got ",
    "affine_grid 0-d": "Expected a batch of 2D affine matrices of shape Nx2x3 for size [1, 1, 3, 3]. Got ",
}


@pytest.mark.parametrize("case", sorted(VISION_ERRORS))
def test_vision_errors_match_pytorch(case):
    if case in _NAMES_A_TYPE:
        error = check_same_error(VISION_ERRORS[case], fallback_msg=_NAMES_A_TYPE[case], exact=False)
        assert str(error).endswith(str(error_of(lambda: VISION_ERRORS[case](torch_ref))).split("torch.")[-1])
    else:
        check_same_error(VISION_ERRORS[case])


VISION_RESULTS = {
    "pixel_unshuffle empty batch": lambda lib: F(lib).pixel_unshuffle(_x(lib, (0, 1, 4, 4)), 2),
    "pixel_unshuffle no channels": lambda lib: F(lib).pixel_unshuffle(_x(lib, (2, 0, 4, 4)), 2),
    "pixel_shuffle no channels": lambda lib: F(lib).pixel_shuffle(_x(lib, (2, 0, 4, 4)), 2),
    "channel_shuffle no channels": lambda lib: F(lib).channel_shuffle(_x(lib, (2, 0, 4, 4)), 2),
    "affine_grid": lambda lib: F(lib).affine_grid(_theta(lib, 2), [2, 1, 3, 4], align_corners=False),
    "max_unpool1d": lambda lib: F(lib).max_unpool1d(_x(lib, (1, 1, 2)), lib.tensor([[[0, 3]]]), 2),
}


@pytest.mark.parametrize("case", sorted(VISION_RESULTS))
def test_vision_results_match_pytorch(case):
    _same_result(VISION_RESULTS[case])


# -- normalization and padding ------------------------------------------------------------------------------------
NORM_ERRORS = {
    "group_norm int": lambda lib: F(lib).group_norm(_x(lib, (2, 4, 3), "int64"), 2),
    "group_norm bool": lambda lib: F(lib).group_norm(_x(lib, (2, 4, 3)) > 0.5, 2),
    "instance_norm int": lambda lib: F(lib).instance_norm(_x(lib, (2, 3, 4), "int64")),
    "instance_norm 2-d": lambda lib: F(lib).instance_norm(_x(lib, (2, 3))),
    "rms_norm int": lambda lib: F(lib).rms_norm(_x(lib, (3, 4), "int64"), (4,)),
    "rms_norm 0-d": lambda lib: F(lib).rms_norm(lib.tensor(1.0), (4,)),
    "rms_norm 0-d int": lambda lib: F(lib).rms_norm(lib.tensor(1), (4,)),
    "rms_norm rank": lambda lib: F(lib).rms_norm(_x(lib, (4,)), (3, 4)),
    "local_response_norm 0-d": lambda lib: F(lib).local_response_norm(lib.tensor(1.0), 2),
    "pad bool reflect": lambda lib: F(lib).pad(_x(lib, (1, 2, 3)) > 0.5, (1, 1), mode="reflect"),
    "pad bool replicate 2-d": lambda lib: F(lib).pad(_x(lib, (1, 2, 3, 3)) > 0.5, (1, 1, 1, 1), mode="replicate"),
}


@pytest.mark.parametrize("case", sorted(NORM_ERRORS))
def test_norm_and_pad_errors_match_pytorch(case):
    if case == "instance_norm 2-d":  # the message names a Size object: compare its stable part
        check_same_error(NORM_ERRORS[case], fallback_msg="Expected more than 1 spatial element when training, got "
                                                         "input size ", exact=False)
    else:
        check_same_error(NORM_ERRORS[case])


NORM_RESULTS = {
    "pad bool circular": lambda lib: F(lib).pad(_x(lib, (1, 2, 3)) > 0.5, (1, 1), mode="circular"),
    "pad int reflect": lambda lib: F(lib).pad(_x(lib, (1, 2, 3), "int64"), (1, 1), mode="reflect"),
    "instance_norm running stats 2-d": lambda lib: F(lib).instance_norm(_x(lib, (2, 3)), lib.zeros(3), lib.ones(3),
                                                                        use_input_stats=False),
}


@pytest.mark.parametrize("case", sorted(NORM_RESULTS))
def test_norm_and_pad_results_match_pytorch(case):
    _same_result(NORM_RESULTS[case])
