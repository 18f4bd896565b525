"""torch.optim.Adafactor, torch.optim.Muon and torch.optim.swap_in_optimizer_params_and_state against PyTorch 2.13.

Both libraries get the same initial weights and the same gradient sequence; the trajectories are compared after
every step, with the optimizer states.
"""
import numpy as np
import pytest

import torsh
from helpers import check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch

STEPS = 8
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
# Adafactor factors the last two dims of a matrix or a stack of matrices; vectors keep a full variance
ADAFACTOR_SHAPES = [(5, 4), (3,), (2, 3, 4)]
MUON_SHAPES = [(5, 4), (3, 6)]  # a tall and a wide matrix: Newton-Schulz runs on the transpose of the tall one


def _problem(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes], [[rng.standard_normal(s) for s in shapes] for _ in range(STEPS)]


def _trajectories(name, kw, dtype, shapes):
    """For each library: (params after each step, optimizer); the step-by-step parameter values."""
    params0, grads = _problem(shapes)
    out = {}
    for lib in (torsh, torch):
        ps = [lib.tensor(p.astype(dtype), requires_grad=True) for p in params0]
        opt = getattr(lib.optim, name)(ps, **kw)
        history = []
        for step_grads in grads:
            for p, g in zip(ps, step_grads):
                p.grad = lib.tensor(g.astype(dtype))
            opt.step()
            history.append([p.detach().numpy().copy() for p in ps])
        out[lib.__name__] = (history, opt)
    return out["torsh"], out["torch"]


def _assert_same_run(ours, ref, dtype):
    (history, opt), (ref_history, ref_opt) = ours, ref
    for step, (mine, theirs) in enumerate(zip(history, ref_history)):
        for p, r in zip(mine, theirs):
            assert p.dtype == r.dtype
            np.testing.assert_allclose(p, r, err_msg=f"step {step + 1}", **TOL[dtype])
    sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    for idx, ref_state in ref_sd["state"].items():
        assert sorted(sd["state"][idx]) == sorted(ref_state)
        for key, value in ref_state.items():
            assert str(sd["state"][idx][key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            np.testing.assert_allclose(sd["state"][idx][key].numpy(), value.numpy(), err_msg=key, **TOL[dtype])


ADAFACTOR_CASES = [
    dict(),
    dict(lr=0.1, weight_decay=0.1, maximize=True),
    dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=2.0),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", ADAFACTOR_CASES, ids=str)
def test_adafactor_matches_pytorch_step_by_step(kw, dtype):
    ours, ref = _trajectories("Adafactor", kw, dtype, ADAFACTOR_SHAPES)
    _assert_same_run(ours, ref, dtype)


MUON_CASES = [
    dict(),
    dict(lr=0.02, nesterov=False, weight_decay=0.0, adjust_lr_fn="match_rms_adamw"),
    dict(lr=0.01, momentum=0.8, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), adjust_lr_fn="original"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", MUON_CASES, ids=str)
def test_muon_matches_pytorch_step_by_step(kw, dtype):
    ours, ref = _trajectories("Muon", kw, dtype, MUON_SHAPES)
    _assert_same_run(ours, ref, dtype)


def test_defaults_match_pytorch():
    for name, shape in (("Adafactor", (3,)), ("Muon", (2, 2))):
        ours = getattr(torsh.optim, name)([torsh.zeros(shape, requires_grad=True)])
        ref = getattr(torch.optim, name)([torch.zeros(shape, requires_grad=True)])
        assert ours.defaults == ref.defaults


@pytest.mark.parametrize("name,kw", [
    ("Adafactor", dict(lr=-1.0)), ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1.0))), ("Adafactor", dict(d=0.5)), ("Adafactor", dict(weight_decay=-1.0)),
    ("Muon", dict(lr=-1.0)), ("Muon", dict(momentum=-0.5)), ("Muon", dict(weight_decay=-1.0)),
    ("Muon", dict(adjust_lr_fn="sqrt")),
])
def test_invalid_hyper_parameters_raise_as_pytorch(name, kw):
    check_same_error(lambda lib: getattr(lib.optim, name)([lib.zeros(2, 2, requires_grad=True)], **kw))


def test_muon_refuses_parameters_that_are_not_matrices():
    # the message ends with the shape's repr (torsh.Size / torch.Size)
    check_same_error(lambda lib: lib.optim.Muon([lib.zeros(2, 2, 2, requires_grad=True)]), exact=False,
                     fallback_msg="Muon only supports 2D parameters whereas we found a parameter with size: ")


def test_adafactor_refuses_complex_parameters():
    def step(lib):
        p = lib.zeros(2, dtype=lib.complex64, requires_grad=True)
        p.grad = lib.ones(2, dtype=lib.complex64)
        lib.optim.Adafactor([p]).step()
    check_same_error(step)


def _stepped(lib, params0, grads):
    ps = [lib.tensor(p, requires_grad=True) for p in params0]
    opt = lib.optim.Adam(ps, lr=0.1)
    for p, g in zip(ps, grads):
        p.grad = lib.tensor(g)
    opt.step()
    return ps, opt


def test_swap_in_steps_other_parameters_and_restores_the_live_ones():
    params0, (grads, *_) = _problem([(3, 2), (2,)])
    results = {}
    for lib in (torsh, torch):
        ps, opt = _stepped(lib, params0, grads)
        live = [p.detach().clone() for p in ps]
        copies = {f"p{i}": p.detach().clone().requires_grad_(True) for i, p in enumerate(ps)}
        osd = opt.state_dict()
        osd = {"state": {k: {n: v.clone() for n, v in s.items()} for k, s in osd["state"].items()},
               "param_groups": [dict(g, lr=0.5) for g in osd["param_groups"]]}
        for c, g in zip(copies.values(), grads):
            c.grad = lib.tensor(g)
        with lib.optim.swap_in_optimizer_params_and_state(opt, copies, osd):
            assert opt.param_groups[0]["lr"] == 0.5
            opt.step()
        assert opt.param_groups[0]["lr"] == 0.1
        for p, before in zip(ps, live):  # the live parameters were not touched
            assert bool((p.detach() == before).all())
        results[lib.__name__] = ([c.detach().numpy() for c in copies.values()],
                                 [osd["state"][0]["exp_avg"].numpy(), osd["state"][0]["step"].numpy()])
    for ours, ref in zip(results["torsh"], results["torch"]):
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("bad", ["uninitialised", "state_not_dict", "group_count", "group_keys", "extra_state"])
def test_swap_in_errors_match_pytorch(bad):
    params0, (grads, *_) = _problem([(3, 2), (2,)])

    def swap(lib):
        ps, opt = _stepped(lib, params0, grads)
        osd = opt.state_dict()
        if bad == "uninitialised":
            opt = lib.optim.Adam([lib.zeros(2, requires_grad=True)])
        elif bad == "state_not_dict":
            osd = {"state": [], "param_groups": osd["param_groups"]}
        elif bad == "group_count":
            osd = {"state": osd["state"], "param_groups": osd["param_groups"] * 2}
        elif bad == "group_keys":
            osd = {"state": osd["state"], "param_groups": [dict(osd["param_groups"][0], extra=1)]}
        else:
            osd = {"state": dict(osd["state"], **{5: {}}), "param_groups": osd["param_groups"]}
        with lib.optim.swap_in_optimizer_params_and_state(opt, dict(enumerate(ps)), osd):
            pass
    check_same_error(swap)
