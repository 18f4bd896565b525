"""torsh.optim against PyTorch 2.13: every optimizer and option, state dicts, param groups, hooks.

Trajectories feed both libraries the same gradient sequence, so the comparison isolates the update
arithmetic (an autograd-driven loss would amplify unrelated forward rounding differences).
"""
import io

import numpy as np
import pytest

import torsh
from torsh.backend import events, ranges
from helpers import check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch

STEPS = 60
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, alpha=0.9, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(weight_decay=0.1, betas=(0.8, 0.99), maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(weight_decay=0.1)),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(t0=10, lambd=0.01, alpha=0.5, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.5), maximize=True)),
]


def _case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _problem(seed=0, steps=STEPS, complex_=False):
    rng = np.random.default_rng(seed)
    shapes = [(5, 4), (3,)]

    def draw(shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if complex_ else x
    return [draw(s) for s in shapes], [[draw(s) for s in shapes] for _ in range(steps)]


def _run(lib, name, kw, dtype, params0, grads, groups=False):
    ps = [lib.tensor(p.astype(dtype), requires_grad=True) for p in params0]
    if groups:  # per-group options: the second group gets its own lr
        opt = getattr(lib.optim, name)([{"params": [ps[0]]}, {"params": [ps[1]], "lr": kw.get("lr", 0.01) * 3}], **kw)
    else:
        opt = getattr(lib.optim, name)(ps, **kw)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = lib.tensor(g.astype(dtype))
        opt.step()
    return ps, opt


def _assert_state_close(ours, ref, tol):
    for key, value in ref.items():
        mine = ours[key]
        if isinstance(value, torch.Tensor):
            assert isinstance(mine, torsh.Tensor), key
            assert str(mine.dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), err_msg=key, **tol)
        else:
            assert mine == value, key


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trajectory_matches_pytorch(case, dtype):
    name, kw = case
    params0, grads = _problem()
    ours, opt = _run(torsh, name, kw, dtype, params0, grads)
    ref, ref_opt = _run(torch, name, kw, dtype, params0, grads)
    for p, r in zip(ours, ref):
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), **TOL[dtype])
    sd, ref_sd = opt.state_dict(), ref_opt.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    assert sorted(sd["state"]) == sorted(ref_sd["state"])
    for idx in ref_sd["state"]:
        assert sorted(sd["state"][idx]) == sorted(ref_sd["state"][idx])
        _assert_state_close(sd["state"][idx], ref_sd["state"][idx], TOL[dtype])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax"])
def test_param_groups_with_their_own_options(name):
    kw = {"lr": 0.02, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.02}
    params0, grads = _problem(seed=1, steps=20)
    ours, opt = _run(torsh, name, kw, "float64", params0, grads, groups=True)
    ref, ref_opt = _run(torch, name, kw, "float64", params0, grads, groups=True)
    for p, r in zip(ours, ref):
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), **TOL["float64"])
    assert opt.state_dict()["param_groups"] == ref_opt.state_dict()["param_groups"]


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(centered=True)), ("Adagrad", {}), ("Rprop", {})])
def test_complex_parameters_follow_view_as_real(name, kw):
    params0, grads = _problem(seed=2, steps=15, complex_=True)
    ours, _ = _run(torsh, name, kw, "complex128", params0, grads)
    ref, _ = _run(torch, name, kw, "complex128", params0, grads)
    for p, r in zip(ours, ref):
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), **TOL["float64"])


def test_float16_parameters_update_in_place():
    p = torsh.tensor(np.ones(4, np.float16), requires_grad=True)
    ref = torch.tensor(np.ones(4, np.float16), requires_grad=True)
    for lib, t in ((torsh, p), (torch, ref)):
        opt = lib.optim.Adam([t], lr=0.1)
        for _ in range(3):
            t.grad = lib.tensor(np.full(4, 0.5, np.float16))
            opt.step()
    assert p.dtype is torsh.float16
    np.testing.assert_allclose(p.detach().numpy().astype(np.float32), ref.detach().numpy().astype(np.float32),
                               rtol=2e-3)


def test_training_with_autograd_and_nn_parameters():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    w0 = rng.standard_normal((1, 3))
    results = []
    for lib in (torsh, torch):
        model = lib.nn.Linear(3, 1, dtype=lib.float64)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(w0))
            model.bias.zero_()
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(30):
            opt.zero_grad()
            loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            opt.step()
        results.append(model.weight.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- LBFGS and SparseAdam


def _rosenbrock(lib, xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


def _quadratic(lib, x, _a=np.diag([1.0, 2.0, 3.0, 5.0]) + 0.3, _b=np.array([1.0, -2.0, 0.5, 3.0])):
    a, b = lib.tensor(_a), lib.tensor(_b)
    return 0.5 * (x * (a @ x)).sum() - (b * x).sum()


def _lbfgs_run(lib, loss_fn, x0, steps, **kw):
    x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
    opt = lib.optim.LBFGS([x], **kw)
    losses = []

    def closure():
        opt.zero_grad()
        loss = loss_fn(lib, x)
        loss.backward()
        return loss
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return x.detach().numpy().copy(), losses, opt.state_dict()["state"][0]["func_evals"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_pytorch_on_a_quadratic(line_search_fn):
    kw = dict(lr=0.5, max_iter=7, history_size=3, line_search_fn=line_search_fn)
    ours = _lbfgs_run(torsh, _quadratic, [0.0, 0.0, 0.0, 0.0], 4, **kw)
    ref = _lbfgs_run(torch, _quadratic, [0.0, 0.0, 0.0, 0.0], 4, **kw)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-9, atol=1e-12)
    assert ours[2] == ref[2]


def test_lbfgs_strong_wolfe_solves_rosenbrock_like_pytorch():
    kw = dict(lr=1, max_iter=20, history_size=10, line_search_fn="strong_wolfe")
    ours = _lbfgs_run(torsh, _rosenbrock, [-1.5, 2.0], 5, **kw)
    ref = _lbfgs_run(torch, _rosenbrock, [-1.5, 2.0], 5, **kw)
    np.testing.assert_allclose(ours[0], [1.0, 1.0], atol=1e-4)  # converged to the minimum
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1][:2], ref[1][:2], rtol=1e-6)


def test_sparse_adam_matches_pytorch_sparse_gradients():
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((6, 3)).astype(np.float32)
    ours = torsh.tensor(w0.copy(), requires_grad=True)
    ref = torch.tensor(w0.copy(), requires_grad=True)
    opt, ref_opt = torsh.optim.SparseAdam([ours], lr=0.05), torch.optim.SparseAdam([ref], lr=0.05)
    for step in range(20):
        g = np.zeros((6, 3), np.float32)
        rows = rng.choice(6, size=2, replace=False)
        g[rows] = rng.standard_normal((2, 3))
        ours.grad = torsh.tensor(g).to_sparse()
        ref.grad = torch.tensor(g).to_sparse()
        opt.step()
        ref_opt.step()
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=2e-5, atol=2e-6)


def test_sparse_gradients_as_pytorch():
    """nn.Embedding(sparse=True)'s COO gradient: SGD (momentum) and Adagrad step on it, SparseAdam requires it, the
    others refuse it with PyTorch's words; p.grad stays sparse."""
    def run(lib, make, dense=False):
        torch_like = lib.manual_seed(0)
        emb = lib.nn.Embedding(5, 3, sparse=True)
        try:
            opt = make(lib, emb.parameters())
            for _ in range(3):
                opt.zero_grad()
                emb(lib.tensor([[1, 3], [3, 0]])).pow(2).sum().backward()
                if dense:
                    emb.weight.grad = emb.weight.grad.to_dense()
                opt.step()
        except RuntimeError as error:
            return str(error)
        return emb.weight.detach().numpy().copy(), emb.weight.grad.is_sparse

    makers = [lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
              lambda lib, ps: lib.optim.Adagrad(ps, lr=0.1),
              lambda lib, ps: lib.optim.SparseAdam(ps, lr=0.1)]
    for make in makers:
        (ours, ours_sparse), (ref, ref_sparse) = run(torsh, make), run(torch, make)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
        assert ours_sparse and ref_sparse
    refusals = [(lambda lib, ps: lib.optim.Adam(ps), False), (lambda lib, ps: lib.optim.AdamW(ps), False),
                (lambda lib, ps: lib.optim.RMSprop(ps), False),
                (lambda lib, ps: lib.optim.SGD(ps, lr=0.1, weight_decay=0.1), False),
                (lambda lib, ps: lib.optim.Adagrad(ps, weight_decay=0.1), False),
                (lambda lib, ps: lib.optim.SparseAdam(ps), True)]
    for make, dense in refusals:
        assert run(torsh, make, dense) == run(torch, make, dense)
        assert isinstance(run(torch, make, dense), str)


# ----------------------------------------------------------------------------- construction and param groups


def test_construction_errors_match_pytorch():
    check_same_error(lambda lib: lib.optim.SGD([], lr=0.1))
    check_same_error(lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=-1))
    check_same_error(lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(1.0, 0.9)))
    check_same_error(lambda lib: lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1).add_param_group(
        {"params": {lib.ones(2, requires_grad=True)}}))
    check_same_error(lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True) * 2], lr=0.1))
    check_same_error(lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1, nesterov=True))


def test_add_param_group_and_errors():
    a, b = torsh.ones(2, requires_grad=True), torsh.ones(3, requires_grad=True)
    opt = torsh.optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.5
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        torsh.optim.Optimizer([a], {"lr": torsh.optim.optimizer.required})


def test_zero_grad_set_to_none_and_zeroing():
    p = torsh.ones(3, requires_grad=True)
    opt = torsh.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and p.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_step_updates_in_place_and_bumps_version():
    p = torsh.ones(3, requires_grad=True)
    data, version = p._data, p._version
    opt = torsh.optim.Adam([p], lr=0.1)
    p.grad = torsh.ones(3)
    opt.step()
    assert p._data is data and p._version > version
    opt.step()  # params without grad are skipped
    p.grad = None
    before = p.detach().clone()
    opt.step()
    assert p.tolist() == before.tolist()


# ----------------------------------------------------------------------------- state dicts


def _torch_trained(name, kw, steps=10, dtype="float32"):
    params0, grads = _problem(seed=4, steps=2 * steps)
    ref, ref_opt = _run(torch, name, kw, dtype, params0, grads[:steps])
    return params0, grads, ref, ref_opt


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("AdamW", dict(lr=0.01)), ("RMSprop", dict(centered=True, momentum=0.5)),
                                     ("Adagrad", {}), ("NAdam", {}), ("ASGD", dict(t0=3)), ("Rprop", {}),
                                     ("Adadelta", {}), ("Adamax", {}), ("RAdam", {})])
def test_resume_from_a_pytorch_optimizer_checkpoint(name, kw):
    """torch trains 10 steps and saves; torsh loads the checkpoint and continues like torch does."""
    steps = 10
    params0, grads, ref, ref_opt = _torch_trained(name, kw, steps)
    buf = io.BytesIO()
    torch.save({"params": [r.detach() for r in ref], "optim": ref_opt.state_dict()}, buf)
    buf.seek(0)
    ckpt = torsh.load(buf)
    ours = [torsh.tensor(p.numpy().copy(), requires_grad=True) for p in ckpt["params"]]
    opt = getattr(torsh.optim, name)(ours, **kw)
    opt.load_state_dict(ckpt["optim"])
    for step_grads in grads[steps:]:
        for p, r, g in zip(ours, ref, step_grads):
            p.grad = torsh.tensor(g.astype("float32"))
            r.grad = torch.tensor(g.astype("float32"))
        opt.step()
        ref_opt.step()
    for p, r in zip(ours, ref):
        np.testing.assert_allclose(p.detach().numpy(), r.detach().numpy(), **TOL["float32"])
    # and back: our state dict loads into torch
    buf = io.BytesIO()
    torsh.save(opt.state_dict(), buf)
    buf.seek(0)
    fresh = getattr(torch.optim, name)([torch.zeros_like(r) for r in ref], **kw)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.state_dict()["param_groups"] == ref_opt.state_dict()["param_groups"]


def test_load_state_dict_casts_state_to_param_dtype_and_copies():
    p = torsh.ones(2, dtype=torsh.float64, requires_grad=True)
    opt = torsh.optim.Adam([p])
    p.grad = torsh.ones(2, dtype=torsh.float64)
    opt.step()
    sd = opt.state_dict()
    q = torsh.ones(2, dtype=torsh.float32, requires_grad=True)
    opt2 = torsh.optim.Adam([q])
    opt2.load_state_dict(sd)
    assert opt2.state[q]["exp_avg"].dtype is torsh.float32
    assert opt2.state[q]["step"].dtype is torsh.float32 and opt2.state[q]["step"].item() == 1.0
    sd["state"][0]["exp_avg"].fill_(123.0)  # the loaded state does not alias the source dict
    assert opt2.state[q]["exp_avg"].tolist() != [123.0, 123.0]


def test_failed_load_state_dict_leaves_optimizer_unchanged():
    a, b = torsh.ones(2, requires_grad=True), torsh.ones(3, requires_grad=True)
    opt = torsh.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = torsh.ones(2), torsh.ones(3)
    opt.step()
    before = opt.state_dict()
    snapshot = {k: {n: (v.clone() if isinstance(v, torsh.Tensor) else v) for n, v in s.items()}
                for k, s in before["state"].items()}
    good = torsh.optim.Adam([torsh.ones(2, requires_grad=True), torsh.ones(3, requires_grad=True)], lr=0.5)
    gp = good.param_groups[0]["params"]
    gp[0].grad, gp[1].grad = torsh.ones(2), torsh.ones(3)
    good.step()
    bad_shape = good.state_dict()
    bad_shape["state"][1] = dict(bad_shape["state"][1], exp_avg=torsh.zeros(7))
    bad_groups = {"state": {}, "param_groups": before["param_groups"] * 2}
    bad_sizes = {"state": {}, "param_groups": [dict(before["param_groups"][0], params=[0])]}
    for bad, message in ((bad_shape, "shape"), (bad_groups, "different number of parameter groups"),
                         (bad_sizes, "doesn't match the size"), ({"state": {}}, "param_groups")):
        with pytest.raises(KeyError if bad == {"state": {}} else ValueError, match=message):
            opt.load_state_dict(bad)
        assert opt.param_groups[0]["lr"] == 0.1
        for k, s in snapshot.items():
            now = opt.state[[a, b][k]]
            for n, v in s.items():
                assert (now[n].tolist() == v.tolist()) if isinstance(v, torsh.Tensor) else now[n] == v


# ----------------------------------------------------------------------------- hooks and profiling ranges


def test_step_hooks_local_and_global():
    p = torsh.ones(2, requires_grad=True)
    opt = torsh.optim.SGD([p], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    h3 = torsh.optim.register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append(("global-pre", True)))
    h4 = torsh.optim.register_optimizer_step_post_hook(lambda o, args, kwargs: calls.append(("global-post", True)))
    p.grad = torsh.ones(2)
    opt.step()
    assert calls == [("global-pre", True), ("pre", True), ("post", True), ("global-post", True)]
    for h in (h1, h2, h3, h4):
        h.remove()
    calls.clear()
    opt.step()
    assert calls == []


def test_pre_hook_can_replace_the_closure():
    p = torsh.ones(1, requires_grad=True)
    opt = torsh.optim.SGD([p], lr=0.1)
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: 42.0}))
    p.grad = torsh.ones(1)
    assert opt.step() == 42.0


def test_state_dict_hooks():
    p = torsh.ones(1, requires_grad=True)
    opt = torsh.optim.SGD([p], lr=0.1)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    seen = []
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append(sorted(sd)))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("post"))
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert seen == [["extra", "param_groups", "state"], "post"]


def test_step_is_a_named_range_and_runs_without_grad():
    p = torsh.ones(2, requires_grad=True)
    opt = torsh.optim.Adam([p])
    seen = []
    unsubscribe = events.subscribe(ranges.TOPIC, lambda e: seen.append((e.kind, e.name)))
    try:
        p.grad = torsh.ones(2)
        opt.step(lambda: seen.append(("grad enabled in closure", torsh.is_grad_enabled())))
    finally:
        unsubscribe()
    assert seen[0] == ("begin", "Optimizer.step#Adam.step") and seen[-1] == ("end", "Optimizer.step#Adam.step")
    assert ("grad enabled in closure", True) in seen
    assert p.grad_fn is None and p.is_leaf


def test_checkpoint_resume_of_model_optimizer_and_scheduler_is_exact(tmp_path):
    """Train, checkpoint (torsh.save), restore into fresh objects, continue: same as never stopping."""
    from torsh.utils.data import DataLoader, TensorDataset
    rng = np.random.default_rng(5)
    data = TensorDataset(torsh.tensor(rng.standard_normal((40, 4))), torsh.tensor(rng.standard_normal((40, 1))))

    def build():
        torsh.manual_seed(0)
        model = torsh.nn.Linear(4, 1, dtype=torsh.float64)
        opt = torsh.optim.AdamW(model.parameters(), lr=0.05)
        sched = torsh.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40)
        return model, opt, sched

    def epoch(model, opt, sched, seed):
        loader = DataLoader(data, batch_size=8, shuffle=True, generator=torsh.Generator().manual_seed(seed))
        for x, y in loader:
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            sched.step()

    model, opt, sched = build()
    for e in range(4):
        epoch(model, opt, sched, e)
    straight = model.weight.detach().clone()

    model, opt, sched = build()
    for e in range(2):
        epoch(model, opt, sched, e)
    torsh.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict()},
               tmp_path / "ckpt.pt")
    model, opt, sched = build()
    ckpt = torsh.load(tmp_path / "ckpt.pt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    for e in range(2, 4):
        epoch(model, opt, sched, e)
    np.testing.assert_array_equal(model.weight.detach().numpy(), straight.numpy())


@pytest.mark.parametrize("drop", ["param_groups", "state"])
def test_load_state_dict_without_an_entry_raises_keyerror_as_pytorch(drop):
    def load(lib):
        model = lib.nn.Linear(2, 2)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sd = opt.state_dict()
        del sd[drop]
        before = opt.state_dict()
        try:
            opt.load_state_dict(sd)
        finally:
            assert opt.state_dict() == before  # nothing changed
    check_same_error(load)
