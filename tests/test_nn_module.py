"""nn.Module system: parameters, buffers, state dicts, hooks, containers, repr, lazy modules."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import torsh
import torsh.nn as nn
from helpers import assert_close, torch_ref as torch
from test_nn_common import build_pair, numpy_state, run_and_compare


class Net:
    """The same small model written once for both libraries."""

    @staticmethod
    def make(lib):
        class Block(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(4, 3)
                self.register_buffer("scale", lib.ones(3))
                self.register_buffer("scratch", lib.zeros(2), persistent=False)

            def forward(self, x):
                return self.fc(x) * self.scale

        class Model(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.layers = lib.nn.ModuleList([lib.nn.Linear(3, 3), lib.nn.Linear(3, 2, bias=False)])
                self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(2, 1), "b": lib.nn.Identity()})
                self.extra = lib.nn.Parameter(lib.zeros(2))

            def forward(self, x):
                x = self.block(x)
                for layer in self.layers:
                    x = layer(x)
                return self.heads["a"](x + self.extra) + self.heads["b"](x).sum(-1, keepdim=True)
        return Model()


def test_state_dict_keys_and_iterators_match_torch():
    ours, ref = build_pair(Net.make)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in ref.named_children()]
    assert [n for n, _ in ours.named_parameters(prefix="m", recurse=False)] == ["m.extra"]
    assert "block.scratch" not in ours.state_dict()
    assert [n for n, _ in ours.named_buffers()] == ["block.scale", "block.scratch"]


def test_forward_backward_matches_torch_with_loaded_weights():
    ours, ref = build_pair(Net.make)
    run_and_compare(ours, ref, [np.random.default_rng(0).normal(size=(5, 4))])


def test_state_dict_values_are_detached_and_shared():
    ours, _ = build_pair(Net.make)
    sd = ours.state_dict()
    assert not sd["block.fc.weight"].requires_grad
    sd["block.fc.weight"][0, 0] = 123.0  # a detached view: writes reach the parameter
    assert ours.block.fc.weight[0, 0].item() == 123.0
    kv = ours.state_dict(keep_vars=True)
    assert kv["block.fc.weight"] is ours.block.fc.weight


def test_load_state_dict_strict_errors_change_nothing():
    ours, ref = build_pair(Net.make)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    bad = numpy_state(ref)
    bad = {k: v * 0 + 7 for k, v in bad.items()}
    bad["layers.0.weight"] = np.zeros((5, 5))
    del bad["extra"]
    bad["bogus"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        ours.load_state_dict(bad)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Model:")
    assert 'Missing key(s) in state_dict: "extra".' in msg
    assert 'Unexpected key(s) in state_dict: "bogus".' in msg
    assert ("size mismatch for layers.0.weight: copying a param with shape torsh.Size([5, 5]) from checkpoint, "
            "the shape in current model is torsh.Size([3, 3]).") in msg
    for k, v in ours.state_dict().items():  # nothing was copied
        assert_close(v, before[k].numpy())
    # the same failure in torch, for the wording
    ref_bad = {k: torch.tensor(v) for k, v in bad.items()}
    with pytest.raises(RuntimeError) as tinfo:
        ref.load_state_dict(ref_bad)
    assert str(tinfo.value).split(":")[0] == msg.split(":")[0]


def test_load_state_dict_non_strict_reports_keys():
    ours, ref = build_pair(Net.make)
    sd = numpy_state(ref)
    del sd["extra"]
    sd["bogus"] = np.zeros(1)
    res = ours.load_state_dict(sd, strict=False)
    tres = ref.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    assert res.missing_keys == tres.missing_keys == ["extra"]
    assert res.unexpected_keys == tres.unexpected_keys == ["bogus"]
    assert repr(ours.load_state_dict(numpy_state(ref))) == "<All keys matched successfully>"


def test_load_state_dict_accepts_torch_tensors_and_assign():
    ours, ref = build_pair(Net.make)
    ours.load_state_dict(ref.state_dict())
    assert_close(ours.block.fc.weight, ref.block.fc.weight.detach())
    w = ours.block.fc.weight
    ours.load_state_dict(ours.state_dict(), assign=True)
    assert isinstance(ours.block.fc.weight, nn.Parameter)


def test_train_eval_requires_grad_zero_grad_apply():
    m = Net.make(torsh)
    m.eval()
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m(torsh.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Model" and seen[0] == "Linear"
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")


def test_to_dtype_keeps_parameter_objects():
    m = Net.make(torsh)
    w = m.block.fc.weight
    m.to(torsh.float64)
    assert m.block.fc.weight is w and w.dtype == torsh.float64 and m.block.scale.dtype == torsh.float64
    m.float()
    assert w.dtype == torsh.float32
    assert m.to("cpu") is m


def test_weight_tying_shares_one_parameter():
    def make(lib):
        emb = lib.nn.Embedding(5, 3) if hasattr(lib.nn, "Embedding") else None
        lin_a, lin_b = lib.nn.Linear(3, 3), lib.nn.Linear(3, 3)
        lin_b.weight = lin_a.weight
        return lib.nn.Sequential(lin_a, lin_b)
    ours, ref = build_pair(make)
    assert ours[0].weight is ours[1].weight
    assert len(list(ours.parameters())) == len(list(ref.parameters())) == 3
    assert list(ours.state_dict()) == list(ref.state_dict())
    run_and_compare(ours, ref, [np.random.default_rng(1).normal(size=(2, 3))])


def test_get_submodule_and_parameter():
    m = Net.make(torsh)
    assert m.get_submodule("layers.1") is m.layers[1]
    assert m.get_parameter("block.fc.bias") is m.block.fc.bias
    assert m.get_buffer("block.scale") is m.block.scale
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        m.get_submodule("block.nope")
    with pytest.raises(AttributeError, match="`scale` is not an nn.Parameter"):
        m.get_parameter("block.scale")


def test_repr_matches_torch():
    ours, ref = build_pair(Net.make)
    assert repr(ours) == repr(ref)
    seq_o = nn.Sequential(nn.Linear(2, 2), nn.Flatten(), nn.Unflatten(1, (2, 1)))
    seq_r = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Flatten(), torch.nn.Unflatten(1, (2, 1)))
    assert repr(seq_o) == repr(seq_r)
    ml_o = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Identity()])
    ml_r = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.Identity()])
    assert repr(ml_o) == repr(ml_r)


def test_attribute_errors_and_assignment_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match="cannot assign 'torsh.FloatTensor' as parameter 'weight' \\(torch.nn.Parameter or None expected\\)"):
        m.weight = torsh.zeros(2, 2)
    m.weight = None
    assert m.weight is None and "weight" in m._parameters
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", torsh.zeros(1))
    m.buf = nn.Buffer(torsh.ones(1), persistent=False)
    assert "buf" in m._buffers and "buf" not in m.state_dict()
    del m.buf
    assert "buf" not in m._buffers
    with pytest.raises(TypeError, match="cannot assign 'int' object to parameter 'p'"):
        m.register_parameter("p", 3)


def test_forward_hooks_pre_hooks_and_removal():
    m = nn.Linear(3, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
    h3 = m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(kwargs), with_kwargs=True)
    out = m(torsh.randn(4, 3))
    assert_close(out, (m.bias + 1).expand(4, 2).detach().numpy())
    assert calls == [{}]
    h1.remove(), h2.remove(), h3.remove()
    x = torsh.randn(4, 3)
    assert_close(m(x), (x @ m.weight.t() + m.bias).detach().numpy())


def test_full_backward_hook_sees_torch_grads():
    def record(lib, replace):
        lin = lib.nn.Linear(3, 2).double()
        seen = {}

        def hook(mod, gin, gout):
            seen["gin"], seen["gout"] = gin, gout
            if replace:
                return (gin[0] * 2,)
        pre = []
        lin.register_full_backward_pre_hook(lambda mod, gout: pre.append(gout[0].shape))
        lin.register_full_backward_hook(hook)
        return lin, seen, pre

    for replace in (False, True):
        torch.manual_seed(0)
        lr, seen_r, pre_r = record(torch, replace)
        lo, seen_o, pre_o = record(torsh, replace)
        lo.load_state_dict(numpy_state(lr))
        xa = np.random.default_rng(0).normal(size=(4, 3))
        xr, xo = torch.tensor(xa, requires_grad=True), torsh.tensor(xa, requires_grad=True)
        w = np.random.default_rng(1).normal(size=(4, 2))
        (lr(xr) * torch.tensor(w)).sum().backward()
        (lo(xo) * torsh.tensor(w)).sum().backward()
        assert_close(seen_o["gin"][0], seen_r["gin"][0])
        assert_close(seen_o["gout"][0], seen_r["gout"][0])
        assert_close(xo.grad, xr.grad)
        assert_close(lo.weight.grad, lr.weight.grad)
        assert list(pre_o[0]) == list(pre_r[0])


def test_full_backward_hook_input_without_grad():
    """PyTorch fires the hooks on the output gradients, warns, and refuses a hook that returns gradients."""
    def run(lib, returned):
        lin = lib.nn.Linear(3, 2)
        seen = []

        def hook(module, grad_input, grad_output):
            seen.append((grad_input, tuple(grad_output[0].shape)))
            return returned

        lin.register_full_backward_hook(hook)
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with "
                                             "respect to module outputs since no inputs require gradients"):
            try:
                lin(lib.randn(2, 3)).sum().backward()
            except RuntimeError as error:
                return seen, str(error)
        return seen, None

    for returned in (None, (None,)):
        assert run(torsh, returned) == run(torch, returned) == ([((None,), (2, 2))], None)
    ours, theirs = run(torsh, (torsh.ones(2, 3),)), run(torch, (torch.ones(2, 3),))
    assert ours[1] == theirs[1] == ("Backward hook for Modules where no input requires gradient should always "
                                    "return None or None for all gradients.")


def test_sequential_indexing_slicing_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and list(sub._modules) == ["1", "2"]
    seq.append(nn.Identity())
    assert len(seq) == 4
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]
    named = nn.Sequential(OrderedDict([("first", nn.Linear(2, 2)), ("act", nn.Identity())]))
    assert list(named.state_dict()) == ["first.weight", "first.bias"]
    assert named.first is named[0]


def test_module_list_dict_ops():
    ml = nn.ModuleList([nn.Identity()])
    ml.append(nn.Linear(1, 1))
    ml.extend([nn.Identity(), nn.Identity()])
    ml.insert(0, nn.Linear(2, 2))
    assert len(ml) == 5 and isinstance(ml[0], nn.Linear) and isinstance(ml[2], nn.Linear)
    assert len(ml[1:3]) == 2
    md = nn.ModuleDict({"b": nn.Identity(), "a": nn.Linear(1, 1)})
    assert list(md.keys()) == ["b", "a"] and "a" in md
    md.pop("b")
    assert list(md) == ["a"]


def test_parameter_list_and_dict_match_torch():
    pl_o = nn.ParameterList([nn.Parameter(torsh.zeros(2)), torsh.ones(3)])
    pl_r = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)), torch.ones(3)])
    assert isinstance(pl_o[1], nn.Parameter)
    assert list(pl_o.state_dict()) == list(pl_r.state_dict())
    assert repr(pl_o).replace("torsh", "torch") == repr(pl_r)
    pd_o = nn.ParameterDict({"w": torsh.zeros(2, 2), "b": nn.Parameter(torsh.zeros(1))})
    pd_r = torch.nn.ParameterDict({"w": torch.zeros(2, 2), "b": torch.nn.Parameter(torch.zeros(1))})
    assert list(pd_o.state_dict()) == list(pd_r.state_dict())
    assert repr(pd_o).replace("torsh", "torch") == repr(pd_r)
    assert len(list(pd_o.parameters())) == 2


def test_parameter_behaviour():
    p = nn.Parameter(torsh.randn(3))
    assert p.requires_grad and p.is_leaf and isinstance(p, torsh.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(torsh.randn(3), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q is not p and np.array_equal(q.detach().numpy(), p.detach().numpy())
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.requires_grad
    t = torsh.zeros(2)
    shared = nn.Parameter(t)
    shared.data[0] = 5.0
    assert t[0].item() == 5.0
    assert type(p * 2) is torsh.Tensor


def test_deepcopy_and_pickle_module():
    m = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    m2 = copy.deepcopy(m)
    m3 = pickle.loads(pickle.dumps(m))
    x = torsh.randn(2, 4)
    for other in (m2, m3):
        assert other[0].weight is not m[0].weight and isinstance(other[0].weight, nn.Parameter)
        assert_close(other(x), m(x).detach().numpy())


def test_lazy_linear_infers_and_becomes_linear():
    lazy = nn.LazyLinear(4)
    assert isinstance(lazy.weight, nn.UninitializedParameter)
    out = lazy(torsh.randn(3, 5))
    assert tuple(out.shape) == (3, 4)
    assert type(lazy) is nn.Linear and lazy.in_features == 5 and tuple(lazy.weight.shape) == (4, 5)
    assert type(lazy.weight) is nn.Parameter


def test_lazy_linear_loads_state_dict():
    ref = torch.nn.Linear(5, 4)
    lazy = nn.LazyLinear(4)
    lazy.load_state_dict(numpy_state(ref))
    x = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    assert_close(lazy(torsh.tensor(x)), ref(torch.tensor(x)).detach(), rtol=1e-5, atol=1e-6)


def test_linear_default_init_distribution():
    torsh.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.dtype == np.float32 and w.min() >= -bound and w.max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    b = lin.bias.detach().numpy()
    assert b.min() >= -bound and b.max() <= bound


def test_missing_forward_error_matches_torch():
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(1)


def test_always_call_forward_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(torsh.zeros(1))
    assert seen == [None]


def test_global_forward_hooks_and_prepend():
    from torsh.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
    calls = []
    h1 = register_module_forward_pre_hook(lambda m, a: calls.append(("pre", type(m).__name__)))
    h2 = register_module_forward_hook(lambda m, a, o: calls.append(("post", type(m).__name__)))
    try:
        lin = nn.Linear(2, 2)
        lin.register_forward_hook(lambda m, a, o: calls.append("local-last"))
        lin.register_forward_hook(lambda m, a, o: calls.append("local-first"), prepend=True)
        lin(torsh.zeros(1, 2))
    finally:
        h1.remove()
        h2.remove()
    assert calls == [("pre", "Linear"), ("post", "Linear"), "local-first", "local-last"]
    lin(torsh.zeros(1, 2))
    assert len(calls) == 6
