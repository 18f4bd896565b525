"""torsh.optim.swa_utils against PyTorch 2.13: averaged weights, state dicts, SWALR schedules, update_bn."""
import math

import numpy as np
import pytest

import torsh
from helpers import check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch


def small_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def twin_nets():
    """The same small net in torch and torsh (torsh loads torch's weights as NumPy arrays)."""
    torch.manual_seed(0)
    ref = small_net(torch)
    ours = small_net(torsh)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    return ours, ref


BATCHES = [np.random.default_rng(i).normal(size=(8, 4)).astype(np.float32) for i in range(4)]
TARGETS = [np.random.default_rng(10 + i).integers(0, 3, size=8) for i in range(4)]


def sgd_step(lib, model, opt, step):
    opt.zero_grad()
    x, y = lib.tensor(BATCHES[step % 4]), lib.tensor(TARGETS[step % 4])
    lib.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def assert_states_match(ours, ref, rtol=1e-5, atol=1e-6):
    ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
    assert list(ours_sd) == list(ref_sd)
    for key in ref_sd:
        np.testing.assert_allclose(ours_sd[key].numpy(), ref_sd[key].numpy(), rtol=rtol, atol=atol, err_msg=key)


def train_and_average(make_averaged, steps=5):
    """Train twin nets with SGD, averaging after every step; return both averaged models."""
    ours, ref = twin_nets()
    results = []
    for lib, model in ((torsh, ours), (torch, ref)):
        averaged = make_averaged(lib, model)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        for step in range(steps):
            sgd_step(lib, model, opt, step)
            averaged.update_parameters(model)
        results.append(averaged)
    return results


@pytest.mark.parametrize("kind", ["default", "avg_fn_ema", "multi_ema", "multi_swa", "avg_fn_swa",
                                  "default_buffers", "multi_ema_buffers"])
def test_averaged_weights_and_state_dict_match_torch(kind):
    def make(lib, model):
        swa = lib.optim.swa_utils
        kwargs = {
            "default": {},
            "avg_fn_ema": {"avg_fn": swa.get_ema_avg_fn(0.9)},
            "avg_fn_swa": {"avg_fn": swa.get_swa_avg_fn()},
            "multi_ema": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.8)},
            "multi_swa": {"multi_avg_fn": swa.get_swa_multi_avg_fn()},
            "default_buffers": {"use_buffers": True},
            "multi_ema_buffers": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.7), "use_buffers": True},
        }[kind]
        return swa.AveragedModel(model, **kwargs)
    ours, ref = train_and_average(make)
    assert "n_averaged" in ours.state_dict() and "module.0.weight" in ours.state_dict()
    assert ours.n_averaged.dtype == torsh.int64 and ours.n_averaged.item() == ref.n_averaged.item() == 5
    assert_states_match(ours, ref)
    x = BATCHES[0]
    ours.eval(), ref.eval()
    np.testing.assert_allclose(ours(torsh.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_first_update_copies_and_averaged_model_is_a_separate_copy():
    ours, _ = twin_nets()
    averaged = torsh.optim.swa_utils.AveragedModel(ours)
    assert averaged.module is not ours and averaged.module[0].weight is not ours[0].weight
    with torsh.no_grad():
        ours[0].weight.add_(1.0)
    averaged.update_parameters(ours)
    np.testing.assert_array_equal(averaged.module[0].weight.detach().numpy(), ours[0].weight.detach().numpy())
    assert averaged.n_averaged.item() == 1


@pytest.mark.parametrize("avg", ["default", "multi_ema", "avg_fn_ema"])
def test_integer_buffers_are_averaged_like_torch(avg):
    # num_batches_tracked (int64) is averaged too with use_buffers: float results are cast back to int64
    def make(lib, model):
        swa = lib.optim.swa_utils
        kwargs = {"default": {}, "multi_ema": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.5)},
                  "avg_fn_ema": {"avg_fn": swa.get_ema_avg_fn(0.3)}}[avg]
        return swa.AveragedModel(model, use_buffers=True, **kwargs)
    ours, ref = train_and_average(make, steps=4)
    key = "module.1.num_batches_tracked"
    assert ours.state_dict()[key].item() == ref.state_dict()[key].item()
    assert ours.state_dict()[key].dtype == torsh.int64


def test_load_state_dict_from_torch_averaged_model():
    ours, ref = train_and_average(lambda lib, m: lib.optim.swa_utils.AveragedModel(m), steps=3)
    fresh, _ = twin_nets()
    restored = torsh.optim.swa_utils.AveragedModel(fresh)
    restored.load_state_dict({k: torsh.tensor(v.numpy().copy()) for k, v in ref.state_dict().items()})
    assert restored.n_averaged.item() == 3
    assert_states_match(restored, ref)


def test_errors_match_torch():
    check_same_error(lambda lib: lib.optim.swa_utils.get_ema_avg_fn(1.5))
    check_same_error(lambda lib: lib.optim.swa_utils.get_ema_multi_avg_fn(-0.1))
    check_same_error(lambda lib: lib.optim.swa_utils.AveragedModel(
        lib.nn.Linear(2, 2), avg_fn=lib.optim.swa_utils.get_swa_avg_fn(),
        multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn()))

    def scheduler(lib, **kwargs):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=0.1)
        return lib.optim.swa_utils.SWALR(opt, swa_lr=0.01, **kwargs)
    check_same_error(lambda lib: scheduler(lib, anneal_strategy="exp"))
    check_same_error(lambda lib: scheduler(lib, anneal_epochs=-1))
    check_same_error(lambda lib: scheduler(lib, anneal_epochs=2.5))
    check_same_error(lambda lib: lib.optim.swa_utils.SWALR(
        lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=0.1), swa_lr=[0.1, 0.2]))


def lr_trajectory(lib, steps, **kwargs):
    p1, p2 = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))
    opt = lib.optim.SGD([{"params": [p1]}, {"params": [p2], "lr": 0.3}], lr=0.5)
    sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs, sched


@pytest.mark.parametrize("kwargs", [
    {"swa_lr": 0.05},
    {"swa_lr": [0.05, 0.01], "anneal_epochs": 4, "anneal_strategy": "linear"},
    {"swa_lr": 0.02, "anneal_epochs": 0},
    {"swa_lr": 0.02, "anneal_epochs": 1, "anneal_strategy": "cos"},
    {"swa_lr": 0.1, "anneal_epochs": 3, "anneal_strategy": "cos"},
])
def test_swalr_schedule_matches_torch(kwargs):
    ours, ours_sched = lr_trajectory(torsh, 14, **kwargs)
    ref, ref_sched = lr_trajectory(torch, 14, **kwargs)
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-12, atol=1e-15)
    assert set(ours_sched.state_dict()) == set(ref_sched.state_dict())
    assert ours_sched.state_dict()["_anneal_strategy"] == ref_sched.state_dict()["_anneal_strategy"]


def test_swalr_cosine_reaches_swa_lr_and_state_dict_round_trips():
    lrs, sched = lr_trajectory(torsh, 12, swa_lr=0.05, anneal_epochs=5)
    assert lrs[-1] == pytest.approx([0.05, 0.05])
    assert lrs[0][0] == 0.5  # the initial step keeps the lr
    assert lrs[1][0] == pytest.approx(0.5 * (1 + math.cos(math.pi / 5)) / 2 + 0.05 * (1 - math.cos(math.pi / 5)) / 2)
    state = sched.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    _, other = lr_trajectory(torsh, 0, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
    other.load_state_dict(state)
    assert other.anneal_func is other._cosine_anneal


def bn_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5, momentum=0.3), nn.ReLU(), nn.Linear(5, 5),
                         nn.BatchNorm1d(5))


@pytest.mark.parametrize("batch_form", ["tensor", "pair"])
def test_update_bn_matches_torch(batch_form):
    torch.manual_seed(1)
    ref = bn_net(torch)
    ours = bn_net(torsh)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    for lib, model in ((torsh, ours), (torch, ref)):
        model.eval()
        batches = [lib.tensor(b) for b in BATCHES]
        loader = [(b, lib.tensor(0)) for b in batches] if batch_form == "pair" else batches
        lib.optim.swa_utils.update_bn(loader, model)
        assert not model.training
        assert model[1].momentum == 0.3 and model[4].momentum == 0.1
    assert_states_match(ours, ref)
    assert ours[1].num_batches_tracked.item() == 4


def test_update_bn_without_batchnorm_leaves_model_alone():
    model = torsh.nn.Linear(4, 2)
    before = model.weight.detach().clone()
    torsh.optim.swa_utils.update_bn([torsh.ones(2, 4)], model)
    np.testing.assert_array_equal(model.weight.detach().numpy(), before.numpy())
