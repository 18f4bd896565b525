"""Losses: every reduction mode, values and gradients against torch.nn."""
import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, check_same_error, torch_ref as torch

R = np.random.default_rng(0)
N, C = 5, 4
LOGITS = R.normal(size=(N, C))
PROBS = 1 / (1 + np.exp(-R.normal(size=(N, C))))
TARGET_REAL = R.normal(size=(N, C))
TARGET01 = (R.random((N, C)) > 0.5).astype(np.float64)
CLASSES = np.array([0, 3, 1, 3, 2])
SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
CLASS_WEIGHT = np.array([0.2, 1.0, 2.0, 0.7])


def _t(lib, a, grad=False):
    t = lib.tensor(np.array(a))
    if grad:
        t.requires_grad_(True)
    return t


def compare_loss(make_loss, inputs, grad_mask, reduction):
    """``make_loss(lib, reduction)(*tensors)``; inputs with grad_mask True get gradients compared."""
    outs, grads = [], []
    for lib in (torsh, torch):
        tensors = [_t(lib, a, g) for a, g in zip(inputs, grad_mask)]
        out = make_loss(lib, reduction)(*tensors)
        w = np.linspace(-1, 2, out.numel()).reshape(tuple(out.shape))
        (out * lib.tensor(w)).sum().backward()
        outs.append(out)
        grads.append([t.grad for t, g in zip(tensors, grad_mask) if g])
    assert_close(outs[0], outs[1].detach(), rtol=1e-6, atol=1e-8)
    for go, gr in zip(*grads):
        assert_close(go, gr, rtol=1e-6, atol=1e-8)


CASES = {
    "MSELoss": (lambda lib, r: lib.nn.MSELoss(reduction=r), [LOGITS, TARGET_REAL], [True, True]),
    "L1Loss": (lambda lib, r: lib.nn.L1Loss(reduction=r), [LOGITS, TARGET_REAL], [True, True]),
    "SmoothL1Loss": (lambda lib, r: lib.nn.SmoothL1Loss(reduction=r, beta=0.7), [LOGITS, TARGET_REAL], [True, True]),
    "SmoothL1Loss0": (lambda lib, r: lib.nn.SmoothL1Loss(reduction=r, beta=0.0), [LOGITS, TARGET_REAL], [True, True]),
    "HuberLoss": (lambda lib, r: lib.nn.HuberLoss(reduction=r, delta=0.8), [LOGITS, TARGET_REAL], [True, True]),
    "NLLLoss": (lambda lib, r: lib.nn.NLLLoss(reduction=r), [LOGITS, CLASSES], [True, False]),
    "NLLLossW": (lambda lib, r: lib.nn.NLLLoss(weight=lib.tensor(CLASS_WEIGHT), ignore_index=3, reduction=r),
                 [LOGITS, CLASSES], [True, False]),
    "CrossEntropy": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r), [LOGITS, CLASSES], [True, False]),
    "CrossEntropyW": (lambda lib, r: lib.nn.CrossEntropyLoss(weight=lib.tensor(CLASS_WEIGHT), ignore_index=1,
                                                             reduction=r), [LOGITS, CLASSES], [True, False]),
    "CrossEntropyLS": (lambda lib, r: lib.nn.CrossEntropyLoss(label_smoothing=0.2, reduction=r),
                       [LOGITS, CLASSES], [True, False]),
    "CrossEntropyLSW": (lambda lib, r: lib.nn.CrossEntropyLoss(weight=lib.tensor(CLASS_WEIGHT), ignore_index=3,
                                                               label_smoothing=0.3, reduction=r),
                        [LOGITS, CLASSES], [True, False]),
    "CrossEntropyProbs": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r), [LOGITS, PROBS / PROBS.sum(1, keepdims=True)],
                          [True, True]),
    "CrossEntropyProbsLSW": (lambda lib, r: lib.nn.CrossEntropyLoss(weight=lib.tensor(CLASS_WEIGHT),
                                                                    label_smoothing=0.1, reduction=r),
                             [LOGITS, PROBS], [True, False]),
    "CrossEntropyNd": (lambda lib, r: lib.nn.CrossEntropyLoss(weight=lib.tensor(CLASS_WEIGHT[:3]), ignore_index=0,
                                                              reduction=r),
                       [R.normal(size=(2, 3, 4, 2)), R.integers(0, 3, (2, 4, 2))], [True, False]),
    "CrossEntropy1d": (lambda lib, r: lib.nn.CrossEntropyLoss(reduction=r), [LOGITS[0], np.array(2)], [True, False]),
    "BCELoss": (lambda lib, r: lib.nn.BCELoss(reduction=r), [PROBS, TARGET01], [True, False]),
    "BCELossW": (lambda lib, r: lib.nn.BCELoss(weight=lib.tensor(CLASS_WEIGHT), reduction=r), [PROBS, PROBS[::-1].copy()],
                 [True, True]),
    "BCEWithLogits": (lambda lib, r: lib.nn.BCEWithLogitsLoss(reduction=r), [LOGITS * 10, TARGET01], [True, True]),
    "BCEWithLogitsPW": (lambda lib, r: lib.nn.BCEWithLogitsLoss(weight=lib.tensor(CLASS_WEIGHT),
                                                                pos_weight=lib.tensor(CLASS_WEIGHT[::-1].copy()),
                                                                reduction=r), [LOGITS, PROBS], [True, True]),
    "KLDiv": (lambda lib, r: lib.nn.KLDivLoss(reduction=r), [np.log(PROBS), np.where(TARGET01 > 0, PROBS, 0)],
              [True, False]),  # d/d target at target == 0 is NaN in PyTorch
    "KLDivLog": (lambda lib, r: lib.nn.KLDivLoss(reduction=r, log_target=True), [np.log(PROBS), LOGITS], [True, True]),
    "MarginRanking": (lambda lib, r: lib.nn.MarginRankingLoss(margin=0.3, reduction=r),
                      [LOGITS[:, 0], LOGITS[:, 1], SIGNS], [True, True, False]),
    "HingeEmbedding": (lambda lib, r: lib.nn.HingeEmbeddingLoss(margin=0.5, reduction=r),
                       [LOGITS, np.sign(TARGET_REAL)], [True, False]),
    "MultiLabelMargin": (lambda lib, r: lib.nn.MultiLabelMarginLoss(reduction=r),
                         [LOGITS, np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0], [0, 1, 2, 3], [2, -1, 1, 1]])],
                         [True, False]),
    "MultiLabelSoftMargin": (lambda lib, r: lib.nn.MultiLabelSoftMarginLoss(weight=lib.tensor(CLASS_WEIGHT), reduction=r),
                             [LOGITS, TARGET01], [True, False]),
    "MultiMargin": (lambda lib, r: lib.nn.MultiMarginLoss(reduction=r), [LOGITS, CLASSES], [True, False]),
    "MultiMarginP2W": (lambda lib, r: lib.nn.MultiMarginLoss(p=2, margin=0.7, weight=lib.tensor(CLASS_WEIGHT),
                                                             reduction=r), [LOGITS, CLASSES], [True, False]),
    "SoftMargin": (lambda lib, r: lib.nn.SoftMarginLoss(reduction=r), [LOGITS, np.sign(TARGET_REAL)], [True, False]),
    "CosineEmbedding": (lambda lib, r: lib.nn.CosineEmbeddingLoss(margin=0.1, reduction=r),
                        [LOGITS, TARGET_REAL, SIGNS], [True, True, False]),
    "TripletMargin": (lambda lib, r: lib.nn.TripletMarginLoss(margin=2.0, reduction=r),
                      [LOGITS, TARGET_REAL, PROBS], [True, True, True]),
    "TripletMarginSwapP1": (lambda lib, r: lib.nn.TripletMarginLoss(margin=2.0, p=1, swap=True, reduction=r),
                            [LOGITS, TARGET_REAL, PROBS], [True, True, True]),
    "TripletMarginWithDistance": (
        lambda lib, r: lib.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda a, b: 1 - lib.nn.functional.cosine_similarity(a, b), margin=0.5, swap=True,
            reduction=r), [LOGITS, TARGET_REAL, PROBS], [True, True, True]),
    "PoissonNLL": (lambda lib, r: lib.nn.PoissonNLLLoss(reduction=r), [LOGITS, PROBS * 3], [True, False]),
    "PoissonNLLFull": (lambda lib, r: lib.nn.PoissonNLLLoss(log_input=False, full=True, reduction=r),
                       [PROBS, PROBS * 3], [True, False]),
    "GaussianNLL": (lambda lib, r: lib.nn.GaussianNLLLoss(reduction=r), [LOGITS, TARGET_REAL, PROBS], [True, True, True]),
    "GaussianNLLFullVec": (lambda lib, r: lib.nn.GaussianNLLLoss(full=True, eps=0.3, reduction=r),
                           [LOGITS, TARGET_REAL, PROBS[:, 0]], [True, True, True]),
}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", list(CASES))
def test_loss_matches_torch(name, reduction):
    make, inputs, mask = CASES[name]
    if name.startswith("KLDiv") and reduction == "mean":
        with pytest.warns(UserWarning):
            compare_loss(make, inputs, mask, reduction)
        return
    compare_loss(make, inputs, mask, reduction)


def test_kl_div_batchmean():
    compare_loss(lambda lib, r: lib.nn.KLDivLoss(reduction="batchmean"), [np.log(PROBS), PROBS], [True, True], None)


def test_loss_repr_and_state_dict_keys():
    for make in (lambda lib: lib.nn.CrossEntropyLoss(weight=lib.ones(3)), lambda lib: lib.nn.BCEWithLogitsLoss(),
                 lambda lib: lib.nn.MSELoss(), lambda lib: lib.nn.NLLLoss(weight=lib.ones(2))):
        assert repr(make(torsh)) == repr(make(torch))
        assert list(make(torsh).state_dict()) == list(make(torch).state_dict())


def test_functional_legacy_reduce_args():
    for kw in ({"size_average": False}, {"reduce": False}):
        with pytest.warns(UserWarning):
            a = nn.functional.mse_loss(torsh.tensor(LOGITS), torsh.tensor(TARGET_REAL), **kw)
        b = torch.nn.functional.mse_loss(torch.tensor(LOGITS), torch.tensor(TARGET_REAL), **kw)
        assert_close(a, b)


def test_cross_entropy_double_backward():
    xo, xr = torsh.tensor(LOGITS, requires_grad=True), torch.tensor(LOGITS, requires_grad=True)
    go, = torsh.autograd.grad(nn.functional.cross_entropy(xo, torsh.tensor(CLASSES)), xo, create_graph=True)
    gr, = torch.autograd.grad(torch.nn.functional.cross_entropy(xr, torch.tensor(CLASSES)), xr, create_graph=True)
    assert_close(go, gr.detach())
    assert_close(torsh.autograd.grad((go ** 2).sum(), xo)[0], torch.autograd.grad((gr ** 2).sum(), xr)[0])


def test_loss_errors_match_torch():
    F = lambda lib: lib.nn.functional  # noqa: E731
    check_same_error(lambda lib: F(lib).mse_loss(lib.zeros(2), lib.zeros(2), reduction="avg"))
    check_same_error(lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.tensor([0, 4, 1])))
    check_same_error(lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.tensor([0, 1])))
    check_same_error(lambda lib: F(lib).nll_loss(lib.zeros(3, 4), lib.zeros(3)))
    check_same_error(lambda lib: F(lib).binary_cross_entropy(lib.zeros(3, 1), lib.zeros(3)), exact=False,
                     fallback_msg="is deprecated. Please ensure they have the same size.")
    check_same_error(lambda lib: F(lib).binary_cross_entropy(lib.full((3,), 2.0), lib.zeros(3)))
    check_same_error(lambda lib: F(lib).binary_cross_entropy_with_logits(lib.zeros(3, 1), lib.zeros(3)),
                     exact=False, fallback_msg="Size([3])) must be the same as input size (")
    check_same_error(lambda lib: F(lib).cross_entropy(lib.zeros(3, 4), lib.tensor([0, 1, 2]), label_smoothing=1.5))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_loss_matches_torch(reduction, layout):
    T, N, C = 12, 3, 5
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(T, N, C))
    target_lengths = np.array([4, 2, 3])
    input_lengths = np.array([12, 9, 7])
    padded = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [3, 3, 1, 0]])
    concat = np.concatenate([padded[i, :target_lengths[i]] for i in range(N)])
    tg = padded if layout == "padded" else concat
    results = []
    for lib in (torsh, torch):
        x = lib.tensor(logits, requires_grad=True)
        lp = lib.nn.functional.log_softmax(x, 2)
        loss = lib.nn.CTCLoss(blank=0, reduction=reduction)(lp, lib.tensor(tg), lib.tensor(input_lengths),
                                                            lib.tensor(target_lengths))
        w = np.linspace(0.5, 1.5, loss.numel()).reshape(tuple(loss.shape))
        (loss * lib.tensor(w)).sum().backward()
        results.append((loss, x.grad))
    assert_close(results[0][0], results[1][0].detach(), rtol=1e-6, atol=1e-8)
    assert_close(results[0][1], results[1][1], rtol=1e-6, atol=1e-8)


def test_ctc_loss_impossible_alignment_zero_infinity():
    lp = np.log(np.full((2, 1, 3), 1 / 3))
    for zero_inf in (False, True):
        lo = nn.functional.ctc_loss(torsh.tensor(lp), torsh.tensor([[1, 1]]), [2], [2], reduction="none",
                                    zero_infinity=zero_inf)
        lr = torch.nn.functional.ctc_loss(torch.tensor(lp), torch.tensor([[1, 1]]), [2], [2], reduction="none",
                                          zero_infinity=zero_inf)
        assert_close(lo, lr)


@pytest.mark.parametrize("pos_weight", [None, [0.5, 2.0, 1.0, 3.0]])
def test_bce_with_logits_gradient_at_zero_logits(pos_weight):
    """At a logit of exactly 0 the gradient is sigmoid(0) - target (scaled), as PyTorch's formula gives; the
    max(-x, 0) + log1p(e^-|x|) spelling picked the wrong subgradient there (-target)."""
    logits = np.zeros((3, 4))
    logits[0, 0], logits[2, 3] = 1.5, -40.0
    compare_loss(lambda lib, r: lib.nn.BCEWithLogitsLoss(
        reduction=r, pos_weight=None if pos_weight is None else lib.tensor(pos_weight)),
        [logits, TARGET01[:3]], [True, True], "sum")
    x = torsh.tensor(logits, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda x: nn.functional.binary_cross_entropy_with_logits(
        x + 0.3, torsh.tensor(TARGET01[:3]),
        pos_weight=None if pos_weight is None else torsh.tensor(pos_weight)), (x,))


def test_probability_targets_refuse_an_ignore_index():
    # ATen checks ignore_index < 0 for class-probability targets (the default -100 passes)
    check_same_error(lambda lib: lib.nn.functional.cross_entropy(lib.tensor([[0.5, 1.0]]), lib.tensor([[0.5, 0.5]]),
                                                                ignore_index=0))
    for lib in (torsh, torch):
        assert lib.nn.functional.cross_entropy(lib.tensor([[0.5, 1.0]]), lib.tensor([[0.5, 0.5]])).dim() == 0


@pytest.mark.parametrize("dtype", ["float16", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_ignored_rows_add_nothing_even_when_nan(dtype, reduction):
    def run(lib):
        x = lib.tensor([[0.5, -1.0], [float("nan"), 2.0], [1.0, 3.0]]).to(getattr(lib, dtype))
        return lib.nn.functional.nll_loss(x, lib.tensor([1, -1, 0]), ignore_index=-1, reduction=reduction)
    assert_close(run(torsh), run(torch))
