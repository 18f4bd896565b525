"""F.interpolate (every mode, antialias, scale_factor forms, errors) and F.ctc_loss (reductions, lengths forms,
blank, zero_infinity, errors) against PyTorch 2.13: values, gradients, float64 gradcheck, exception wording."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, error_of, needs_torch, torch_ref

pytestmark = needs_torch


def F(lib):
    return lib.nn.functional


def _x(lib, shape, dtype="float64", seed=0):
    values = np.random.default_rng(seed).uniform(-1, 1, shape)
    return lib.tensor(values).to(getattr(lib, dtype)).requires_grad_()


def _u8(lib, shape):
    return lib.tensor(np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8))


def _run(fn, lib):
    leaves = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(lib, leaves)
    if out.requires_grad:
        weights = lib.tensor(np.random.default_rng(7).uniform(-1, 1, tuple(out.shape))).to(out.dtype)
        (out * weights).sum().backward()
    return out, {k: v.grad for k, v in leaves.items()}


def _leaf(leaves, t, name="x"):
    leaves[name] = t
    return t


RESIZE = {}
for _shape, _lin in (((2, 3, 5), "linear"), ((1, 2, 4, 5), "bilinear"), ((1, 2, 3, 4, 5), "trilinear")):
    _nd = len(_shape) - 2
    for _mode in ("nearest", "nearest-exact", "area", _lin) + (("bicubic",) if _nd == 2 else ()):
        for _kw in (dict(size=7), dict(scale_factor=1.7), dict(scale_factor=0.6), dict(scale_factor=[1.5] * _nd),
                    dict(scale_factor=1.7, recompute_scale_factor=True)):
            for _ac in ((None,) if _mode in ("nearest", "nearest-exact", "area") else (False, True)):
                RESIZE[f"{_nd}d {_mode} {_kw} align_corners={_ac}"] = (
                    lambda s, m, k, a: lambda lib, l: F(lib).interpolate(_leaf(l, _x(lib, s)), mode=m, align_corners=a,
                                                                         **k))(_shape, _mode, _kw, _ac)
for _mode in ("bilinear", "bicubic"):
    for _kw in (dict(size=(3, 8)), dict(scale_factor=0.6), dict(scale_factor=(0.5, 2.5)), dict(scale_factor=2)):
        for _ac in (False, True):
            RESIZE[f"antialias {_mode} {_kw} align_corners={_ac}"] = (
                lambda m, k, a: lambda lib, l: F(lib).interpolate(_leaf(l, _x(lib, (1, 2, 7, 9))), mode=m,
                                                                  align_corners=a, antialias=True, **k))(_mode, _kw, _ac)
RESIZE.update({
    "grid_sample 4-d nearest": lambda lib, l: F(lib).grid_sample(_leaf(l, _x(lib, (2, 3, 4, 5))),
                                                                 _grid(lib, l, (2, 3, 2, 2)), mode="nearest",
                                                                 align_corners=False),
    "lanczos": lambda lib, l: F(lib).interpolate(_leaf(l, _x(lib, (1, 2, 7, 9))), scale_factor=0.6, mode="lanczos",
                                                 antialias=True),
    "lanczos up": lambda lib, l: F(lib).interpolate(_leaf(l, _x(lib, (1, 2, 7, 9))), scale_factor=1.5, mode="lanczos",
                                                    antialias=True),
    "uint8 bicubic": lambda lib, l: F(lib).interpolate(_u8(lib, (1, 2, 4, 5)), scale_factor=1.5, mode="bicubic"),
    "uint8 nearest 5-d": lambda lib, l: F(lib).interpolate(_u8(lib, (1, 2, 3, 4, 5)), scale_factor=1.5),
    "Upsample": lambda lib, l: lib.nn.Upsample(scale_factor=2, mode="bilinear")(_leaf(l, _x(lib, (1, 2, 3, 3)))),
    "Upsample bicubic": lambda lib, l: lib.nn.Upsample(size=(5, 4), mode="bicubic", align_corners=True)(
        _leaf(l, _x(lib, (1, 2, 3, 3)))),
    "UpsamplingBilinear2d": lambda lib, l: lib.nn.UpsamplingBilinear2d(scale_factor=2)(_leaf(l, _x(lib, (1, 2, 3, 3)))),
})


def _grid(lib, l, shape):
    values = np.random.default_rng(1).uniform(-1.3, 1.3, shape)
    return _leaf(l, lib.tensor(values).requires_grad_(), "grid")


for _mode in ("bilinear", "nearest"):
    for _pad in ("zeros", "border", "reflection"):
        for _ac in (False, True):
            RESIZE[f"grid_sample 5-d {_mode} {_pad} align_corners={_ac}"] = (
                lambda m, p, a: lambda lib, l: F(lib).grid_sample(_leaf(l, _x(lib, (2, 3, 4, 5, 6))),
                                                                  _grid(lib, l, (2, 3, 2, 4, 3)), mode=m,
                                                                  padding_mode=p, align_corners=a))(_mode, _pad, _ac)
for _ac in (False, True):
    RESIZE[f"affine_grid 3-d align_corners={_ac}"] = (
        lambda a: lambda lib, l: F(lib).affine_grid(_leaf(l, _x(lib, (2, 3, 4)), "theta"), [2, 1, 3, 4, 5],
                                                    align_corners=a))(_ac)


def _lp(lib, l, T=6, N=3, C=5, dtype="float64"):
    return _leaf(l, _x(lib, (T, N, C), dtype)).log_softmax(2)


def _tg(lib):
    return lib.tensor([[1, 2, 2], [3, 4, 0], [4, 1, 3]])


CTC = {
    "ctc mean": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib), [6, 5, 6], [3, 1, 2]),
    "ctc sum": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib), [6, 5, 6], [3, 1, 2], reduction="sum"),
    "ctc none": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib), [6, 5, 6], [3, 1, 2], reduction="none"),
    "ctc tensor lengths": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib), lib.tensor([6, 5, 6]),
                                                         lib.tensor([3, 1, 2])),
    "ctc int32": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib).int(), lib.tensor([6, 5, 6]).int(),
                                                lib.tensor([3, 1, 2]).int()),
    "ctc concatenated targets": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), lib.tensor([1, 2, 2, 3, 4, 1]), (6, 5, 6),
                                                               (3, 1, 2)),
    "ctc blank 4": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib) % 4, [6, 5, 6], [3, 1, 2], blank=4),
    "ctc zero_infinity": lambda lib, l: F(lib).ctc_loss(_lp(lib, l, T=2), _tg(lib), [2, 2, 2], [3, 1, 2],
                                                        zero_infinity=True, reduction="none"),
    "ctc zero target length": lambda lib, l: F(lib).ctc_loss(_lp(lib, l), _tg(lib), [6, 5, 6], [0, 1, 2]),
    "ctc unbatched": lambda lib, l: F(lib).ctc_loss(_leaf(l, _x(lib, (6, 5))).log_softmax(1), lib.tensor([1, 2, 2]),
                                                    [6], [3]),
    "ctc float32": lambda lib, l: F(lib).ctc_loss(_lp(lib, l, dtype="float32"), _tg(lib), [6, 5, 6], [3, 1, 2]),
    "CTCLoss": lambda lib, l: lib.nn.CTCLoss(reduction="sum", zero_infinity=True)(_lp(lib, l), _tg(lib), [6, 5, 6],
                                                                                 [3, 1, 2]),
}


@pytest.mark.parametrize("case", sorted(RESIZE) + sorted(CTC))
def test_results_and_gradients_match_pytorch(case):
    fn = RESIZE.get(case) or CTC[case]
    (ours, our_grads), (ref, ref_grads) = _run(fn, torsh), _run(fn, torch_ref)
    assert_close(ours.detach(), ref.detach())
    for name, g in ref_grads.items():
        assert_close(our_grads[name], g)


def test_ctc_target_label_equal_to_blank_gives_pytorchs_loss():
    # (its gradient at the last input step still differs from PyTorch's: not fixed)
    outs = [F(lib).ctc_loss(_x(lib, (6, 3, 5)).log_softmax(2), _tg(lib), [6, 5, 6], [3, 3, 2], reduction="none")
            for lib in (torsh, torch_ref)]
    assert_close(outs[0].detach(), outs[1].detach())


def test_infinite_ctc_loss_has_nan_gradient_as_pytorch():
    for lib in (torsh, torch_ref):
        lp = _x(lib, (2, 3, 5))
        F(lib).ctc_loss(lp.log_softmax(2), _tg(lib), [2, 2, 2], [3, 1, 2], reduction="sum").backward()
        if lib is torsh:
            ours = lp.grad
    assert np.array_equal(np.isnan(ours.numpy()), np.isnan(lp.grad.numpy()))


def test_gradcheck_float64():
    x = _x(torsh, (1, 2, 5, 6))
    for mode, kw in (("bilinear", dict(antialias=True)), ("bicubic", dict(antialias=True)), ("bicubic", {}),
                     ("lanczos", dict(antialias=True))):
        assert torsh.autograd.gradcheck(lambda t: F(torsh).interpolate(t, scale_factor=0.6, mode=mode, **kw), (x,))
    vol, grid = _x(torsh, (1, 2, 3, 4, 3)), _x(torsh, (1, 2, 2, 2, 3), seed=1)
    for pad in ("zeros", "border", "reflection"):
        assert torsh.autograd.gradcheck(lambda v, g: F(torsh).grid_sample(v, g, padding_mode=pad, align_corners=False),
                                        (vol, grid))
    lp = _x(torsh, (6, 3, 5))
    assert torsh.autograd.gradcheck(
        lambda t: F(torsh).ctc_loss(t.log_softmax(2), _tg(torsh), [6, 5, 6], [3, 1, 2]), (lp,))


ERRORS = {
    "size and scale": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)), size=3, scale_factor=2),
    "neither": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4))),
    "2-d input": lambda lib: F(lib).interpolate(_x(lib, (2, 4)), size=3),
    "6-d input": lambda lib: F(lib).interpolate(_x(lib, (1, 1, 2, 2, 2, 2)), size=3),
    "bad mode": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)), size=3, mode="foo"),
    "linear on 4-d": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3, mode="linear"),
    "bilinear on 3-d": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)), size=3, mode="bilinear"),
    "bicubic on 5-d": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4, 4)), size=3, mode="bicubic"),
    "nearest align_corners": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)), size=3, align_corners=True),
    "antialias nearest": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3, antialias=True),
    "antialias linear": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)), size=3, mode="linear", antialias=True),
    "lanczos without antialias": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3, mode="lanczos"),
    "lanczos align_corners": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3, mode="lanczos",
                                                            antialias=True, align_corners=True),
    "size length": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=[3]),
    "scale length": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), scale_factor=[3.0, 2, 1]),
    "size 0": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=0),
    "scale 0": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), scale_factor=0.0),
    "scale inf": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), scale_factor=float("inf")),
    "size float": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3.5),
    "size tuple of floats": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=(3.0, 2.0)),
    "scale tensor": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), scale_factor=lib.tensor(2.0)),
    "no channels": lambda lib: F(lib).interpolate(_x(lib, (1, 0, 4, 4)), size=3),
    "recompute with size": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)), size=3, recompute_scale_factor=True),
    "int64 nearest 4-d": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)).long(), scale_factor=2),
    "int64 bilinear": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)).long(), scale_factor=2, mode="bilinear"),
    "bool bicubic": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4, 4)) > 0, scale_factor=2, mode="bicubic"),
    "int32 nearest 3-d": lambda lib: F(lib).interpolate(_x(lib, (1, 2, 4)).int(), scale_factor=2),
    "uint8 trilinear": lambda lib: F(lib).interpolate(_u8(lib, (1, 2, 3, 3, 3)), scale_factor=2, mode="trilinear"),
    "uint8 linear": lambda lib: F(lib).interpolate(_u8(lib, (1, 2, 3)), scale_factor=2, mode="linear"),
    "grid_sample 5-d bicubic": lambda lib: F(lib).grid_sample(_x(lib, (1, 1, 2, 2, 2)), _x(lib, (1, 1, 1, 1, 3)),
                                                              mode="bicubic", align_corners=False),
    "grid_sample 5-d int": lambda lib: F(lib).grid_sample(_x(lib, (1, 1, 2, 2, 2)).long(),
                                                          _x(lib, (1, 1, 1, 1, 3)).long(), align_corners=False),
    "ctc empty": lambda lib: F(lib).ctc_loss(_x(lib, (0, 3, 5)), _tg(lib), [0, 0, 0], [0, 0, 0]),
    "ctc 4-d": lambda lib: F(lib).ctc_loss(_x(lib, (1, 6, 3, 5)), _tg(lib), [6, 5, 6], [3, 1, 2]),
    "ctc int log_probs": lambda lib: F(lib).ctc_loss(_tg(lib)[None].expand(2, 3, 3), _tg(lib), [2, 2, 2], [1, 1, 2]),
    "ctc blank range": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5, 6], [3, 1, 2], blank=5),
    "ctc negative blank": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5, 6], [3, 1, 2], blank=-1),
    "ctc input_lengths count": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5], [3, 1, 2]),
    "ctc target_lengths count": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5, 6], [3, 1]),
    "ctc input length too long": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [7, 5, 6], [3, 1, 2]),
    "ctc negative input length": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, -1, 6], [3, 1, 2]),
    "ctc negative target length": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5, 6], [3, -1, 2]),
    "ctc float lengths": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), lib.tensor([6.0, 5, 6]),
                                                     lib.tensor([3.0, 1, 2])),
    "ctc padded targets too short": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib)[:, :1], [6, 5, 6],
                                                                [3, 1, 2]),
    "ctc concatenated targets too short": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), lib.tensor([1, 2, 2, 3]),
                                                                      [6, 5, 6], [3, 1, 2]),
    "ctc reduction": lambda lib: F(lib).ctc_loss(_x(lib, (6, 3, 5)), _tg(lib), [6, 5, 6], [3, 1, 2], reduction="max"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_pytorch(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = error_of(lambda: ERRORS[case](torch_ref))
        ours = error_of(lambda: ERRORS[case](torsh))
    assert type(ours) is type(ref), f"torsh {type(ours).__name__}({ours}), PyTorch {type(ref).__name__}({ref})"
    assert str(ref).split("\n")[0] in str(ours).replace("torsh.", "torch."), f"torsh: {ours}\nPyTorch: {ref}"
