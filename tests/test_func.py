"""torsh.func against PyTorch 2.13: per-sample gradients, ensembling, jacobians/hessians, vmap semantics, errors."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def _t(lib, shape, seed=0):
    return lib.tensor(make_array(shape, "float64", seed=seed))


def _tree_close(ours, ref):
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and list(ours) == list(ref)
        for k in ref:
            _tree_close(ours[k], ref[k])
    elif isinstance(ref, (tuple, list)):
        assert type(ours) is type(ref) and len(ours) == len(ref)
        for o, r in zip(ours, ref):
            _tree_close(o, r)
    else:
        assert_close(ours, ref)


# ----------------------------------------------------------------------------- per-sample gradients

def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3)).double()


def _cnn(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                             lib.nn.Linear(2 * 3 * 3, 3)).double()


def _copy_weights(src, dst):
    with torsh.no_grad():
        for (_, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
            p.copy_(torsh.tensor(q.detach().numpy()))


def _per_sample_grads(lib, model, x, y):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(params, xi, yi):
        out = lib.func.functional_call(model, params, (xi.unsqueeze(0),))
        return lib.nn.functional.cross_entropy(out, yi.unsqueeze(0))

    return lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)


@pytest.mark.parametrize("make, xshape", [(_mlp, (5, 4)), (_cnn, (4, 1, 5, 5))])
def test_per_sample_gradients_match_pytorch_and_the_loop(make, xshape):
    ours_model, ref_model = make(torsh), make(torch_ref)
    _copy_weights(ours_model, ref_model)
    x = make_array(xshape, "float64", seed=1)
    y = np.arange(xshape[0]) % 3
    ours = _per_sample_grads(torsh, ours_model, torsh.tensor(x), torsh.tensor(y))
    ref = _per_sample_grads(torch_ref, ref_model, torch_ref.tensor(x), torch_ref.tensor(y))
    _tree_close(ours, ref)
    # the same gradients from a plain loop of backward passes, one sample at a time
    for b in range(xshape[0]):
        ours_model.zero_grad()
        out = ours_model(torsh.tensor(x[b:b + 1]))
        torsh.nn.functional.cross_entropy(out, torsh.tensor(y[b:b + 1])).backward()
        for name, p in ours_model.named_parameters():
            np.testing.assert_allclose(ours[name][b].numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert all(not g.requires_grad for g in ours.values())


def test_model_ensembling_matches_running_models_one_by_one():
    def run(lib):
        lib.manual_seed(0)
        models = [lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2)) for _ in range(3)]
        for i, m in enumerate(models):  # same weights in both libraries
            with lib.no_grad():
                for j, p in enumerate(m.parameters()):
                    p.copy_(lib.tensor(make_array(tuple(p.shape), "float32", seed=10 * i + j)))
        params, buffers = lib.func.stack_module_state(models)
        base = models[0]
        x = lib.tensor(make_array((5, 3), "float32", seed=99))

        def call(p, b, x):
            return lib.func.functional_call(base, (p, b), (x,))

        ensembled = lib.vmap(call, in_dims=(0, 0, None))(params, buffers, x)
        one_by_one = lib.stack([m(x) for m in models])
        return ensembled, one_by_one, params
    ens, single, params = run(torsh)
    ref_ens, _, ref_params = run(torch_ref)
    assert_close(ens, single.detach(), rtol=1e-6, atol=1e-6)
    assert_close(ens, ref_ens)
    assert all(p.requires_grad and p.grad_fn is None for p in params.values())
    assert [tuple(p.shape) for p in params.values()] == [tuple(p.shape) for p in ref_params.values()]


# ----------------------------------------------------------------------------- jacobians and hessians

def _net(lib, params, x):
    return lib.tanh(x @ params["w1"] + params["b1"]) @ params["w2"]


def _net_params(lib):
    return {"w1": _t(lib, (3, 4), 1), "b1": _t(lib, (4,), 2), "w2": _t(lib, (4, 2), 3)}


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
def test_jacobian_of_small_network_matches_pytorch(transform):
    def run(lib):
        jac = getattr(lib.func, transform)
        x = _t(lib, (3,), 4)
        return jac(lambda p, x: _net(lib, p, x), argnums=(0, 1))(_net_params(lib), x)
    _tree_close(run(torsh), run(torch_ref))


def test_jacrev_and_jacfwd_agree():
    x = _t(torsh, (2, 3), 5)
    f = lambda x: (x.sin() * x.sum(0)).exp()  # noqa: E731
    assert_close(torsh.func.jacfwd(f)(x), torsh.func.jacrev(f)(x).numpy())


def test_hessian_of_small_network_matches_pytorch():
    def run(lib):
        x = _t(lib, (3,), 4)
        params = _net_params(lib)
        return lib.func.hessian(lambda x: _net(lib, params, x).pow(2).sum())(x)
    _tree_close(run(torsh), run(torch_ref))


def test_hessian_equals_autograd_functional_hessian():
    x = _t(torsh, (4,), 6)
    f = lambda x: (x.pow(3) * x.cos()).sum()  # noqa: E731
    assert_close(torsh.func.hessian(f)(x), torsh.autograd.functional.hessian(f, x).numpy())


# ----------------------------------------------------------------------------- grad / vjp / jvp / linearize

@pytest.mark.parametrize("argnums", [0, 1, (0, 1), -1])
def test_grad_and_value_argnums_and_aux(argnums):
    def run(lib):
        f = lambda x, y: ((x * y.sin()).sum(), {"aux": x * 2})  # noqa: E731
        return lib.func.grad_and_value(f, argnums=argnums, has_aux=True)(_t(lib, (3,), 1), _t(lib, (3,), 2))
    _tree_close(run(torsh), run(torch_ref))


def test_grad_of_grad_and_grad_inside_autograd():
    def run(lib):
        x = _t(lib, (), 1)
        second = lib.func.grad(lib.func.grad(lambda x: x.sin() * x ** 3))(x)
        w = _t(lib, (3,), 2).requires_grad_()
        g = lib.func.grad(lambda x: (x * w).sum() ** 2)(_t(lib, (3,), 3))
        return second, lib.autograd.grad(g.sum(), w)[0]
    _tree_close(run(torsh), run(torch_ref))


def test_vjp_jvp_linearize_match_pytorch():
    def run(lib):
        f = lambda x, y: (x.sin() * y, (x * y).sum())  # noqa: E731
        x, y = _t(lib, (3,), 1), _t(lib, (3,), 2)
        out, vjp_fn = lib.func.vjp(f, x, y)
        cot = (_t(lib, (3,), 3), _t(lib, (), 4))
        tangents = (_t(lib, (3,), 5), _t(lib, (3,), 6))
        jout, jv = lib.func.jvp(f, (x, y), tangents)
        lout, jvp_fn = lib.func.linearize(f, x, y)
        return out, vjp_fn(cot), jout, jv, lout, jvp_fn(*tangents), jvp_fn(*cot[:1], tangents[1])
    _tree_close(run(torsh), run(torch_ref))


def test_jvp_and_vjp_has_aux():
    def run(lib):
        f = lambda x: (x.exp(), x.cos())  # noqa: E731
        x = _t(lib, (2,), 1)
        _, vjp_fn, aux1 = lib.func.vjp(f, x, has_aux=True)
        return vjp_fn(_t(lib, (2,), 2)), aux1, lib.func.jvp(f, (x,), (_t(lib, (2,), 3),), has_aux=True)
    _tree_close(run(torsh), run(torch_ref))


# ----------------------------------------------------------------------------- vmap semantics

@pytest.mark.parametrize("in_dims, out_dims", [(0, 0), (1, 0), (0, 1), ((1, None), -1), ((-1, 0), (0, 1))])
def test_vmap_in_dims_out_dims(in_dims, out_dims):
    def run(lib):
        x, y = _t(lib, (3, 3, 3), 1), _t(lib, (3, 3), 2)
        if isinstance(out_dims, tuple):
            f = lambda x, y: (x * y.sum(), x.sum(0))  # noqa: E731
        else:
            f = lambda x, y: x * y.sum()  # noqa: E731
        return lib.func.vmap(f, in_dims=in_dims, out_dims=out_dims)(x, y)
    _tree_close(run(torsh), run(torch_ref))


def test_vmap_nested_structures_and_nested_vmap():
    def run(lib):
        data = {"a": _t(lib, (4, 2), 1), "b": (_t(lib, (2, 4), 2), _t(lib, (3,), 3))}
        f = lambda d: d["a"] * d["b"][0].sum() + d["b"][1].sum()  # noqa: E731
        nested = lib.vmap(lib.vmap(lambda x, y: x * y), in_dims=(0, None))(_t(lib, (2, 3), 4), _t(lib, (3,), 5))
        return lib.vmap(f, in_dims=({"a": 0, "b": (1, None)},))(data), nested
    _tree_close(run(torsh), run(torch_ref))


def test_vmap_chunk_size_and_kwargs():
    def run(lib):
        return lib.vmap(lambda x, scale=1.0: x * scale, chunk_size=2)(_t(lib, (5, 2), 1), scale=3.0)
    _tree_close(run(torsh), run(torch_ref))


def test_vmap_randomness_modes():
    x = torsh.ones(4, 3)
    check_same_error(lambda lib: lib.vmap(lambda x: x + lib.rand(3))(lib.ones(4, 3)))
    check_same_error(lambda lib: lib.vmap(lambda x: lib.nn.functional.dropout(x))(lib.ones(4, 3)))
    same = torsh.vmap(lambda x: x + torsh.rand(3), randomness="same")(x)
    assert all(np.array_equal(same[0].numpy(), same[b].numpy()) for b in range(4))
    different = torsh.vmap(lambda x: torsh.nn.functional.dropout(x, 0.5), randomness="different")(torsh.ones(4, 64))
    assert not all(np.array_equal(different[0].numpy(), different[b].numpy()) for b in range(4))
    # the generators are back in place afterwards
    torsh.rand(2)


def test_vmap_data_dependent_branch_raises_as_pytorch():
    """Batched tensors have no per-sample truth value: a Python branch on one raises PyTorch's error."""
    check_same_error(lambda lib: lib.vmap(lambda x: x * 2 if x.sum() > 0 else x)(lib.tensor([[1.0], [-1.0]])))


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call", [
    lambda lib: lib.func.grad(lambda x: x * 2)(lib.ones(2, 3)),
    lambda lib: lib.func.grad(lambda x: x.sum().item())(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum(), has_aux=True)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum(), argnums=3)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum(), argnums=())(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x, y: x.sum(), argnums=(0, 0))(lib.ones(2), lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum(), argnums=1.0)(lib.ones(2)),
    lambda lib: lib.func.grad(lambda x: x.sum())(3.0),
    lambda lib: lib.func.grad(lambda x: (x.sum(), 1), has_aux=True)(lib.ones(2)),
    lambda lib: lib.func.jvp(lambda x: x, [lib.ones(2)], [lib.ones(2)]),
    lambda lib: lib.func.jacrev(lambda x: x, chunk_size=0),
    lambda lib: lib.vmap(lambda x: x, randomness="sometimes"),
    lambda lib: lib.vmap(lambda x: x, chunk_size=0),
    lambda lib: lib.vmap(lambda x: x, in_dims=[0])(lib.ones(2)),
    lambda lib: lib.vmap(lambda x: x)(),
    lambda lib: lib.vmap(lambda x: x, in_dims=2)(lib.ones(2, 2)),
    lambda lib: lib.vmap(lambda x: x, in_dims=0.5)(lib.ones(2, 2)),
    lambda lib: lib.vmap(lambda x, n: x * n, in_dims=(0, 0))(lib.ones(2, 2), 3),
    lambda lib: lib.vmap(lambda x: x, in_dims=None)(lib.ones(2, 2)),
    lambda lib: lib.vmap(lambda x, y: x + y)(lib.ones(2, 3), lib.ones(3, 3)),
    lambda lib: lib.vmap(lambda x: 3.0)(lib.ones(2, 3)),
    lambda lib: lib.vmap(lambda x: x, out_dims="x")(lib.ones(2, 3)),
    lambda lib: lib.func.functional_call(lib.nn.Linear(2, 2), 5, (lib.ones(2),)),
    lambda lib: lib.func.functional_call(lib.nn.Linear(2, 2), ({"weight": lib.ones(2, 2)}, {"weight": lib.ones(2, 2)}),
                                         (lib.ones(2),)),
    lambda lib: lib.func.functional_call(lib.nn.Linear(2, 2), {"weight": lib.ones(2, 2)}, (lib.ones(2),), strict=True),
    lambda lib: lib.func.stack_module_state([]),
    lambda lib: lib.func.stack_module_state([lib.nn.Linear(2, 2), lib.nn.Linear(2, 2).eval()]),
    lambda lib: lib.func.stack_module_state([lib.nn.Linear(2, 2), lib.nn.Conv1d(2, 2, 1)]),
])
def test_errors_match_pytorch(call):
    check_same_error(call)


@pytest.mark.parametrize("call, stable", [
    (lambda lib: lib.func.vjp(lambda x: (x * 2).long(), lib.ones(2)),
     "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor with dtype"),
    (lambda lib: lib.vmap(lambda x: x, in_dims=(0, 0))(lib.ones(2, 3)),
     "vmap(<lambda>, in_dims=(0, 0), ...)(<inputs>): in_dims is not compatible with the structure of `inputs`."),
    (lambda lib: lib.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(lib.ones(2, 3)),
     "vmap(<lambda>, ..., out_dims=(0, 0, 0))(<inputs>): out_dims is not compatible with the structure of `outputs`."),
])
def test_structure_errors_match_pytorch_prefix(call, stable):
    """PyTorch's tail prints its TreeSpec repr; the wording before it is the same."""
    check_same_error(call, exact=False, fallback_msg=stable)


def test_functional_call_tuple_of_dicts_strict_and_tied_weights():
    def run(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3)).double()
        params = {k: _t(lib, tuple(v.shape), i) for i, (k, v) in enumerate(model.named_parameters())}
        buffers = {k: v.clone() for k, v in model.named_buffers()}
        model.eval()
        out = lib.func.functional_call(model, (params, buffers), _t(lib, (4, 2), 9), strict=True)
        return out, model[0].weight.shape
    ours, ref = run(torsh), run(torch_ref)
    assert_close(ours[0], ref[0])

    def tied(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2, bias=False), lib.nn.Linear(2, 2, bias=False))
        m[0].weight = lib.nn.Parameter(lib.tensor([[1.0, 2.0], [3.0, -4.0]]))
        m[1].weight = m[0].weight
        return m
    check_same_error(lambda lib: lib.func.functional_call(
        tied(lib), {"0.weight": lib.ones(2, 2), "1.weight": lib.zeros(2, 2)}, (lib.ones(2),)))

    def untied_result(lib):
        m = tied(lib)
        return lib.func.functional_call(m, {"0.weight": lib.eye(2) * 2}, (lib.ones(2),)), \
            lib.func.functional_call(m, {"0.weight": lib.eye(2) * 2}, (lib.ones(2),), tie_weights=False)
    for o, r in zip(untied_result(torsh), untied_result(torch_ref)):
        assert np.allclose(o.detach().numpy(), r.detach().numpy())
