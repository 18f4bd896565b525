"""torch.export against PyTorch: the graph signature's kinds and names, the ATen targets, module() outputs equal
to the eager model's, Dim ranges and guards, save/load round trips, and the errors PyTorch raises."""
import io

import numpy as np
import pytest
import torch

import torsh
import torsh.export
from torsh.fx.experimental.symbolic_shapes import ConstraintViolationError, GuardOnDataDependentSymNode


def _pair(build):
    """The same model in torch and torsh with equal weights."""
    torch.manual_seed(0)
    ref = build(torch)
    mine = build(torsh)
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return ref, mine


def _net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(4, 3)
            self.bn = lib.nn.BatchNorm1d(3)
            self.register_buffer("scale", lib.ones(3))

        def forward(self, x):
            h = lib.relu(self.bn(self.fc(x))) * self.scale
            h = h.view(h.size(0), -1) + 1
            return h, x.sum()
    return Net()


def _specs(ep):
    return [(s.kind.name, s.arg.name, s.target, s.persistent) for s in ep.graph_signature.input_specs], \
           [(s.kind.name, s.arg.name) for s in ep.graph_signature.output_specs]


def _targets(ep):
    """``aten.linear.default`` per call (both libraries print an OpOverload so)."""
    return [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize("train", [True, False])
def test_signature_targets_and_outputs_match_torch(train):
    ref, mine = _pair(_net)
    ref.train(train)
    mine.train(train)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ep_ref = torch.export.export(ref, (torch.tensor(x),))
    ep = torsh.export.export(mine, (torsh.tensor(x),))
    assert _specs(ep) == _specs(ep_ref)
    assert _targets(ep) == _targets(ep_ref)
    assert [n.name for n in ep.graph.nodes] == [n.name for n in ep_ref.graph.nodes]
    out, out_ref = ep.module()(torsh.tensor(x)), ep_ref.module()(torch.tensor(x))
    for a, b in zip(out, out_ref):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    eager = mine(torsh.tensor(x))
    np.testing.assert_allclose(out[0].detach().numpy(), eager[0].detach().numpy(), rtol=1e-6)


def test_export_does_not_touch_the_model_state():
    _, mine = _pair(_net)
    before = {k: v.clone() for k, v in mine.state_dict().items()}
    x = torsh.randn(5, 4)
    x_before = x.clone()
    torsh.export.export(mine, (x,))
    for k, v in mine.state_dict().items():
        assert torsh.equal(v, before[k]), k
    assert torsh.equal(x, x_before)


def test_state_dict_parameters_and_printout():
    ref, mine = _pair(_net)
    x = torch.randn(5, 4)
    ep_ref = torch.export.export(ref, (x,))
    ep = torsh.export.export(mine, (torsh.tensor(x.numpy()),))
    assert list(ep.state_dict) == list(ep_ref.state_dict)
    assert [n for n, _ in ep.named_parameters()] == [n for n, _ in ep_ref.named_parameters()]
    assert [n for n, _ in ep.named_buffers()] == [n for n, _ in ep_ref.named_buffers()]
    assert str(ep.graph_signature) == str(ep_ref.graph_signature)
    assert ep.graph_signature.user_inputs == ep_ref.graph_signature.user_inputs
    assert ep.graph_signature.inputs_to_parameters == ep_ref.graph_signature.inputs_to_parameters
    text = str(ep)
    assert text.startswith("ExportedProgram:\n    class GraphModule(torch.nn.Module):")
    assert "Graph signature:" in text and "Range constraints: {}" in text
    assert 'x: "f32[5, 4]"' in text and "torsh.ops.aten.linear.default(x, p_fc_weight, p_fc_bias)" in text


def test_calling_the_program_directly_raises_as_torch():
    _, mine = _pair(_net)
    ep = torsh.export.export(mine, (torsh.randn(5, 4),))
    ep_ref = torch.export.export(_net(torch), (torch.randn(5, 4),))
    with pytest.raises(RuntimeError) as expected:
        ep_ref(torch.randn(5, 4))
    with pytest.raises(RuntimeError, match="Unable to call ExportedProgram directly") as got:
        ep(torsh.randn(5, 4))
    assert str(got.value) == str(expected.value)


def _guard_error(module, x):
    with pytest.raises(AssertionError) as info:
        module(*x) if isinstance(x, tuple) else module(x)
    return str(info.value)


def test_static_and_dynamic_guards_match_torch():
    lin = torch.nn.Linear(4, 3)
    mine = torsh.nn.Linear(4, 3)
    ep_ref = torch.export.export(lin, (torch.randn(5, 4),))
    ep = torsh.export.export(mine, (torsh.randn(5, 4),))
    assert _guard_error(ep.module(), torsh.randn(6, 4)) == _guard_error(ep_ref.module(), torch.randn(6, 4))
    spec_ref = {"input": {0: torch.export.Dim("b", min=3, max=8)}}
    spec = {"input": {0: torsh.export.Dim("b", min=3, max=8)}}
    ep_ref = torch.export.export(lin, (torch.randn(5, 4),), dynamic_shapes=spec_ref)
    ep = torsh.export.export(mine, (torsh.randn(5, 4),), dynamic_shapes=spec)
    for n in (2, 9):
        assert _guard_error(ep.module(), torsh.randn(n, 4)) == _guard_error(ep_ref.module(), torch.randn(n, 4))
    assert _guard_error(ep.module(), torsh.randn(5, 5)) == _guard_error(ep_ref.module(), torch.randn(5, 5))
    assert ep.module()(torsh.randn(7, 4)).shape == (7, 3)
    assert [str(v) for v in ep.range_constraints.values()] == [str(v) for v in ep_ref.range_constraints.values()]


def test_dynamic_batch_keeps_sizes_symbolic():
    ref, mine = _pair(_net)
    ref.eval()
    mine.eval()
    spec = {"x": {0: torsh.export.Dim("batch", min=2, max=10)}}
    ep = torsh.export.export(mine, (torsh.randn(5, 4),), dynamic_shapes=spec)
    ep_ref = torch.export.export(ref, (torch.randn(5, 4),),
                                 dynamic_shapes={"x": {0: torch.export.Dim("batch", min=2, max=10)}})
    assert "aten.sym_size.int" in _targets(ep)
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    np.testing.assert_allclose(ep.module()(torsh.tensor(x))[0].detach().numpy(),
                               ep_ref.module()(torch.tensor(x))[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    assert 'x: "f32[s0, 4]"' in str(ep)


def test_dim_repr_and_errors_match_torch():
    for kwargs in ({}, {"min": 2, "max": 10}, {"min": 3}, {"max": 7}):
        assert repr(torsh.export.Dim("b", **kwargs)) == repr(torch.export.Dim("b", **kwargs))
    assert repr(torsh.export.Dim.AUTO) == repr(torch.export.Dim.AUTO)
    with pytest.raises(AssertionError, match="Cannot create Dim with inconsistent min=5, max=3"):
        torsh.export.Dim("b", min=5, max=3)
    lin = torsh.nn.Linear(4, 3)
    with pytest.raises(ConstraintViolationError, match=r"5 not in range \[6, 10\]"):
        torsh.export.export(lin, (torsh.randn(5, 4),), dynamic_shapes={"input": {0: torsh.export.Dim("b", min=6,
                                                                                                      max=10)}})
    with pytest.raises(torch._dynamo.exc.UserError) as expected:
        torch.export.export(torch.nn.Linear(4, 3), (torch.randn(5, 4),),
                            dynamic_shapes={"x": {0: torch.export.Dim("b")}})
    with pytest.raises(torsh._dynamo.exc.UserError) as got:
        torsh.export.export(lin, (torsh.randn(5, 4),), dynamic_shapes={"x": {0: torsh.export.Dim("b")}})
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0].split(" For more")[0] or \
        str(expected.value).startswith(str(got.value).split("\n")[0][:80])


def test_data_dependent_control_flow_raises_torch_error_type():
    class Branch(torsh.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x + 1
            return x - 1
    assert issubclass(GuardOnDataDependentSymNode, RuntimeError)
    with pytest.raises(GuardOnDataDependentSymNode, match="data-dependent"):
        torsh.export.export(Branch(), (torsh.randn(3),))


def test_shape_control_flow_is_specialized_as_torch():
    class ShapeBranch(torsh.nn.Module):
        def forward(self, x):
            if x.shape[0] > 2:
                return x.T * 2
            return x
    x = torsh.randn(3, 2)
    ep = torsh.export.export(ShapeBranch(), (x,))
    assert torsh.equal(ep.module()(x), x.T * 2)
    assert "aten.permute.default" in _targets(ep)


def test_save_load_round_trip(tmp_path):
    ref, mine = _pair(_net)
    mine.eval()
    spec = {"x": {0: torsh.export.Dim("batch", min=2, max=10)}}
    ep = torsh.export.export(mine, (torsh.randn(5, 4),), dynamic_shapes=spec)
    path = tmp_path / "net.pt2"
    torsh.export.save(ep, path)
    loaded = torsh.export.load(path)
    x = torsh.randn(6, 4)
    for a, b in zip(loaded.module()(x), ep.module()(x)):
        assert torsh.equal(a.detach(), b.detach())
    assert str(loaded.graph_signature) == str(ep.graph_signature)
    assert _guard_error(loaded.module(), torsh.randn(11, 4)) == "Guard failed: x.size()[0] <= 10"
    buffer = io.BytesIO()
    torsh.export.save(ep, buffer)
    buffer.seek(0)
    assert torsh.export.load(buffer).module()(x)[0].shape == (6, 3)


def test_load_refuses_what_is_not_a_torsh_op(tmp_path):
    import json
    import zipfile
    ep = torsh.export.export(torsh.nn.Linear(2, 2), (torsh.randn(1, 2),))
    path = tmp_path / "m.pt2"
    torsh.export.save(ep, path)
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(files["archive/models/model.json"])
    for node in doc["nodes"]:
        if node["op"] == "call_function":
            node["target"] = {"function": "torsh.os.system"}
    files["archive/models/model.json"] = json.dumps(doc)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    with pytest.raises((RuntimeError, AttributeError)):
        torsh.export.load(path)


def test_run_decompositions_lowers_linear_as_torch():
    lin = torch.nn.Linear(4, 3)
    mine = torsh.nn.Linear(4, 3)
    mine.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in lin.state_dict().items()})
    ep_ref = torch.export.export(lin, (torch.randn(5, 4),)).run_decompositions()
    ep = torsh.export.export(mine, (torsh.randn(5, 4),)).run_decompositions()
    assert _targets(ep) == _targets(ep_ref)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ep.module()(torsh.tensor(x)).detach().numpy(),
                               ep_ref.module()(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_conv_net_and_kwargs_and_constants():
    class Conv(torsh.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torsh.nn.Conv2d(1, 2, 3)
            self.offset = torsh.tensor([0.5])

        def forward(self, x, *, shift=None):
            h = torsh.flatten(torsh.relu(self.conv(x)), 1) + self.offset
            return {"out": h + shift}
    model = Conv()
    x, shift = torsh.randn(2, 1, 5, 5), torsh.randn(18)
    ep = torsh.export.export(model, (x,), {"shift": shift})
    kinds = [(s.kind.name, s.arg.name) for s in ep.graph_signature.input_specs]
    assert kinds == [("PARAMETER", "p_conv_weight"), ("PARAMETER", "p_conv_bias"),
                     ("CONSTANT_TENSOR", "c_offset"), ("USER_INPUT", "x"), ("USER_INPUT", "shift")]
    out = ep.module()(x, shift=shift)
    assert torsh.allclose(out["out"], model(x, shift=shift)["out"])
    with pytest.raises(ValueError, match="Trying to flatten user inputs"):
        ep.module()(x)


def test_sequential_names_and_defaults_match_torch():
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    mine = torsh.nn.Sequential(torsh.nn.Linear(3, 2), torsh.nn.ReLU())
    ep_ref = torch.export.export(ref, (torch.randn(4, 3),))
    ep = torsh.export.export(mine, (torsh.randn(4, 3),))
    assert str(ep.graph_signature) == str(ep_ref.graph_signature)
    assert [(n.op, n.target if isinstance(n.target, str) else str(n.target), n.kwargs) for n in ep.graph.nodes
            if n.op != "output"] == \
        [(n.op, n.target if isinstance(n.target, str) else str(n.target), n.kwargs) for n in ep_ref.graph.nodes
         if n.op != "output"]


def test_basic_indexing_is_select_slice_unsqueeze_as_torch():
    class Index(torch.nn.Module):
        def forward(self, x):
            return x[0], x[:, 1:3], x[None, ..., -1], x[1:]

    class IndexMine(torsh.nn.Module):
        forward = Index.forward
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    ep_ref = torch.export.export(Index(), (torch.tensor(x),))
    ep = torsh.export.export(IndexMine(), (torsh.tensor(x),))
    assert [(n.name, str(n.target), n.args[1:]) for n in ep.graph.nodes if n.op == "call_function"] == \
        [(n.name, str(n.target), n.args[1:]) for n in ep_ref.graph.nodes if n.op == "call_function"]
    for a, b in zip(ep.module()(torsh.tensor(x)), ep_ref.module()(torch.tensor(x))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    buffer = io.BytesIO()
    torsh.export.save(ep, buffer)
    buffer.seek(0)
    for a, b in zip(torsh.export.load(buffer).module()(torsh.tensor(x)), ep.module()(torsh.tensor(x))):
        assert torsh.equal(a, b)


def test_computation_outside_the_registry_is_refused_not_baked_in():
    lstm = torsh.nn.LSTM(4, 5, batch_first=True)  # runs its fused kernels without a registered op
    with pytest.raises(NotImplementedError, match="calls no registered torsh op"):
        torsh.export.export(lstm, (torsh.randn(2, 3, 4),))


def test_in_place_op_on_an_input_is_recorded():
    class Bump(torsh.nn.Module):
        def forward(self, x):
            x.add_(1)
            return x * 2
    x = torsh.randn(3)
    ep = torsh.export.export(Bump(), (x.clone(),))
    assert "aten.add_.Tensor" in _targets(ep)
    y = x.clone()
    assert torsh.allclose(ep.module()(y), (x + 1) * 2)


@pytest.mark.parametrize("case", [
    lambda lib, m: lib.export.export(m, lib.randn(1, 2)),
    lambda lib, m: lib.export.export(lambda x: x, (lib.randn(1, 2),)),
    lambda lib, m: lib.export.export(m, (lib.randn(1, 2),), dynamic_shapes=({0: 3},)),
    lambda lib, m: lib.export.export(m, (lib.randn(1, 2),), dynamic_shapes=({5: lib.export.Dim("b")},)),
    lambda lib, m: lib.export.export(m, (lib.randn(1, 2), lib.randn(1))),
    lambda lib, m: lib.export.save(m, io.BytesIO()),
    lambda lib, m: lib.export.export(m, (lib.randn(3, 2),), dynamic_shapes=[{0: lib.export.Dim("b")}, None]),
    lambda lib, m: lib.export.Dim("1b")])
def test_bad_arguments_raise_as_torch(case):
    with pytest.raises(Exception) as expected:
        case(torch, torch.nn.Linear(2, 2))
    with pytest.raises(Exception) as got:
        case(torsh, torsh.nn.Linear(2, 2))
    assert type(got.value).__name__ == type(expected.value).__name__
    assert str(got.value).split("\n")[0].replace("torsh", "torch") == str(expected.value).split("\n")[0]


def test_the_unlifted_module_exports_again_to_the_same_graph():
    _, mine = _pair(_net)
    mine.eval()
    x = torsh.randn(5, 4)
    ep = torsh.export.export(mine, (x,))
    again = torsh.export.export(ep.module(), (x,))
    assert _targets(again) == _targets(ep)
    assert torsh.allclose(again.module()(x)[0], mine(x)[0])


def test_symbolic_size_arithmetic_and_factories_follow_the_batch():
    class Sizes(torsh.nn.Module):
        def forward(self, x, y):
            n = x.shape[0]
            return x.reshape(n * x.shape[1]), torsh.arange(n) + y[:n].sum(), x.new_zeros(n, 2)
    batch = torsh.export.Dim("b", min=2, max=20)
    ep = torsh.export.export(Sizes(), (torsh.randn(4, 3), torsh.randn(4)),
                             dynamic_shapes={"x": {0: batch}, "y": {0: batch}})
    x, y = torsh.randn(6, 3), torsh.randn(6)
    for a, b in zip(ep.module()(x, y), Sizes()(x, y)):
        assert torsh.allclose(a, b)
    assert _guard_error(ep.module(), (torsh.randn(6, 3), torsh.randn(5))) == "Guard failed: y.size()[0] == x.size()[0]"


def test_non_tensor_inputs_are_specialized_and_guarded_as_torch(tmp_path):
    class Scale(torch.nn.Module):
        def forward(self, *, a, b=2):
            return a * b

    class ScaleMine(torsh.nn.Module):
        forward = Scale.forward
    ep_ref = torch.export.export(Scale(), (), {"a": torch.ones(2), "b": 3})
    ep = torsh.export.export(ScaleMine(), (), {"a": torsh.ones(2), "b": 3})
    assert str(ep.graph_signature) == str(ep_ref.graph_signature)
    assert torsh.equal(ep.module()(a=torsh.ones(2), b=3), torsh.full((2,), 3.0))
    with pytest.raises(AssertionError) as expected:
        ep_ref.module()(a=torch.ones(2), b=4)
    with pytest.raises(AssertionError) as got:
        ep.module()(a=torsh.ones(2), b=4)
    assert str(got.value) == str(expected.value)
    torsh.export.save(ep, tmp_path / "s.pt2")
    with pytest.raises(AssertionError, match="Guard failed: b == 3"):
        torsh.export.load(tmp_path / "s.pt2").module()(a=torsh.ones(2), b=4)


@pytest.mark.parametrize("method", ["train", "eval"])
def test_unlifted_module_refuses_train_and_eval_as_torch(method):
    ep_ref = torch.export.export(torch.nn.Linear(2, 2), (torch.randn(1, 2),))
    ep = torsh.export.export(torsh.nn.Linear(2, 2), (torsh.randn(1, 2),))
    with pytest.raises(NotImplementedError) as expected:
        getattr(ep_ref.module(), method)()
    with pytest.raises(NotImplementedError) as got:
        getattr(ep.module(), method)()
    assert str(got.value) == str(expected.value)


def test_export_under_a_profiler_says_why_it_cannot_and_leaves_no_state():
    lin = torsh.nn.Linear(2, 2)
    with torsh.profiler.profile():
        with pytest.raises(RuntimeError, match="op-call hook"):
            torsh.export.export(lin, (torsh.randn(1, 2),))
    ep = torsh.export.export(lin, (torsh.randn(1, 2),))
    x = torsh.randn(3, 2)
    assert torsh.allclose(torsh.export.export(lin, (x,)).module()(x), lin(x))
    assert ep.graph_signature.parameters == ("weight", "bias")
