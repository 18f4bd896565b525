"""torsh.optim.lr_scheduler: every scheduler's lr (and momentum) sequence equals PyTorch's."""
import warnings

import pytest

import torsh
from helpers import needs_torch, torch_ref as torch

pytestmark = needs_torch


def decay(epoch):
    return 0.95 ** epoch


def shrink(epoch):
    return 0.9


def _optimizer(lib, kind):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if kind == "adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


SCHEDULERS = {
    "StepLR": ("sgd", lambda S, opt: S.StepLR(opt, step_size=3, gamma=0.5)),
    "MultiStepLR": ("sgd", lambda S, opt: S.MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": ("sgd", lambda S, opt: S.ExponentialLR(opt, gamma=0.9)),
    "CosineAnnealingLR": ("sgd", lambda S, opt: S.CosineAnnealingLR(opt, T_max=6, eta_min=0.001)),
    "CyclicLR-triangular": ("sgd", lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "CyclicLR-triangular2": ("sgd", lambda S, opt: S.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                                                              step_size_down=5, mode="triangular2")),
    "CyclicLR-exp_range-adam": ("adam", lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                                  mode="exp_range", gamma=0.9)),
    "OneCycleLR-cos": ("sgd", lambda S, opt: S.OneCycleLR(opt, max_lr=[0.5, 0.2], total_steps=25)),
    "OneCycleLR-linear-three-phase": ("adam", lambda S, opt: S.OneCycleLR(
        opt, max_lr=0.3, epochs=5, steps_per_epoch=5, anneal_strategy="linear", three_phase=True, pct_start=0.25)),
    "CosineAnnealingWarmRestarts": ("sgd", lambda S, opt: S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2,
                                                                                         eta_min=0.001)),
    "PolynomialLR": ("sgd", lambda S, opt: S.PolynomialLR(opt, total_iters=8, power=2.0)),
    "LinearLR": ("sgd", lambda S, opt: S.LinearLR(opt, start_factor=0.25, end_factor=0.9, total_iters=6)),
    "ConstantLR": ("sgd", lambda S, opt: S.ConstantLR(opt, factor=0.5, total_iters=4)),
    "LambdaLR": ("sgd", lambda S, opt: S.LambdaLR(opt, lr_lambda=decay)),
    "LambdaLR-per-group": ("sgd", lambda S, opt: S.LambdaLR(opt, lr_lambda=[decay, shrink])),
    "MultiplicativeLR": ("sgd", lambda S, opt: S.MultiplicativeLR(opt, lr_lambda=shrink)),
    "SequentialLR": ("sgd", lambda S, opt: S.SequentialLR(
        opt, [S.LinearLR(opt, start_factor=0.1, total_iters=4), S.ExponentialLR(opt, gamma=0.8),
              S.StepLR(opt, step_size=2)], milestones=[4, 10])),
    "ChainedScheduler": ("sgd", lambda S, opt: S.ChainedScheduler(
        [S.ConstantLR(opt, factor=0.5, total_iters=3), S.ExponentialLR(opt, gamma=0.9),
         S.CosineAnnealingLR(opt, T_max=7)])),
}


def _sequence(lib, name, steps=25):
    kind, make = SCHEDULERS[name]
    opt = _optimizer(lib, kind)
    sched = make(lib.optim.lr_scheduler, opt)
    out = [(tuple(sched.get_last_lr()), _momentum(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((tuple(sched.get_last_lr()), _momentum(opt)))
    return out, sched, opt


def _momentum(opt):
    return tuple(g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_lr_sequence_equals_pytorch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, _, _ = _sequence(torsh, name)
        ref, _, _ = _sequence(torch, name)
    assert ours == ref  # exact: the same float operations in the same order


def test_reduce_lr_on_plateau_matches_pytorch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4]
    for kw in (dict(patience=2, factor=0.5), dict(patience=1, cooldown=2, threshold=0.1, threshold_mode="abs"),
               dict(mode="max", patience=0, min_lr=[0.02, 0.04])):
        seqs = []
        for lib in (torsh, torch):
            opt = _optimizer(lib, "sgd")
            sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            seq = []
            for m in metrics:
                opt.step()
                sched.step(m)
                seq.append(tuple(sched.get_last_lr()))
            seqs.append(seq)
        assert seqs[0] == seqs[1], kw


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "OneCycleLR-cos", "CyclicLR-triangular2",
                                  "SequentialLR", "ChainedScheduler", "CosineAnnealingWarmRestarts", "LambdaLR"])
def test_state_dict_resumes_the_same_sequence(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full, _, _ = _sequence(torsh, name, steps=20)
        _, sched, opt = _sequence(torsh, name, steps=8)
        saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
        kind, make = SCHEDULERS[name]
        opt2 = _optimizer(torsh, kind)
        sched2 = make(torsh.optim.lr_scheduler, opt2)
        opt2.load_state_dict(saved_opt)
        sched2.load_state_dict(saved_sched)
        assert tuple(sched2.get_last_lr()) == full[8][0]
        rest = []
        for _ in range(12):
            opt2.step()
            sched2.step()
            rest.append(tuple(sched2.get_last_lr()))
    assert rest == [lr for lr, _ in full[9:]]


def test_state_dict_keys_match_pytorch():
    for name in ("StepLR", "CyclicLR-triangular", "OneCycleLR-cos", "LambdaLR"):
        _, ours, _ = _sequence(torsh, name, steps=2)
        _, ref, _ = _sequence(torch, name, steps=2)
        assert sorted(ours.state_dict()) == sorted(ref.state_dict()), name


@pytest.mark.filterwarnings("ignore:Detected call")
def test_closed_form_with_explicit_epoch():
    seqs = []
    for lib in (torsh, torch):
        opt = _optimizer(lib, "sgd")
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        with pytest.warns(UserWarning, match="epoch parameter"):
            sched.step(7)
        seqs.append(tuple(sched.get_last_lr()))
    assert seqs[0] == seqs[1] == (0.1 * 0.25, 0.05 * 0.25)


@needs_torch
def test_warns_when_scheduler_steps_before_optimizer():
    texts = []
    for lib in (torsh, torch):
        sched = lib.optim.lr_scheduler.StepLR(_optimizer(lib, "sgd"), step_size=1)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`") as caught:
            sched.step()
        texts.append([str(w.message) for w in caught])
    assert texts[0] == texts[1]  # PyTorch's words, its link to the docs included
    opt2 = _optimizer(torsh, "sgd")
    sched2 = torsh.optim.lr_scheduler.StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_scheduler_errors_match_pytorch():
    from helpers import check_same_error
    check_same_error(lambda lib: lib.optim.lr_scheduler.StepLR(object(), 1))
    check_same_error(lambda lib: lib.optim.lr_scheduler.OneCycleLR(_optimizer(lib, "sgd"), max_lr=0.1))
    check_same_error(lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(lib, "sgd"), factor=1.5))
    check_same_error(lambda lib: lib.optim.lr_scheduler.LambdaLR(_optimizer(lib, "sgd"), [decay]))
    check_same_error(lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(_optimizer(lib, "sgd"), T_0=0))
    check_same_error(lambda lib: lib.optim.lr_scheduler.StepLR(_optimizer(lib, "sgd"), 1, last_epoch=3))
