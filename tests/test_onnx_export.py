"""torsh.onnx.export: models traced with torsh.fx, written as ONNX, checked by onnx's checker, run in
onnxruntime and compared with torsh's own outputs (at the traced batch size and, through dynamic_axes, at
another), and with PyTorch's own exporter (``dynamo=False``) on the same weights."""
import io
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest

import torsh
from helpers import torch_ref

RTOL, ATOL = 1e-4, 1e-5  # float32: two runtimes, different summation orders


# -- models, built the same way from torsh or torch (``lib``) ------------------------------------------------
def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))


def cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.SiLU(), nn.AvgPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(8, 5))


def residual(lib):
    nn, F = lib.nn, lib.nn.functional

    class ResidualBlock(nn.Module):
        def __init__(self, channels=4):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return lib.relu(out + x)
    return ResidualBlock()


def transformer_block(lib):
    nn = lib.nn

    class Block(nn.Module):
        """Pre-norm attention (matmul + softmax, heads split with x.size() arithmetic) and a GELU MLP."""

        def __init__(self, d=8, heads=2):
            super().__init__()
            self.heads, self.scale = heads, (d // heads) ** -0.5
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.proj = (nn.Linear(d, d) for _ in range(4))
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d), nn.Dropout(0.1))

        def split_heads(self, x, b, t):
            return x.view(b, t, self.heads, -1).transpose(1, 2)

        def forward(self, x):
            b, t = x.size(0), x.size(1)
            h = self.ln1(x)
            q, k, v = (self.split_heads(layer(h), b, t) for layer in (self.q, self.k, self.v))
            attention = lib.softmax(lib.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
            y = (attention @ v).transpose(1, 2).reshape(b, t, -1)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))
    return Block()


def embedding_model(lib):
    nn, F = lib.nn, lib.nn.functional

    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10, 6)
            self.fc = nn.Linear(6, 3)

        def forward(self, tokens):
            pooled = self.embedding(tokens).mean(dim=1)
            return F.log_softmax(self.fc(pooled).view(tokens.size(0), -1), dim=-1)
    return Bag()


def op_zoo(lib):
    """The other converters: Conv1d "same", BatchNorm1d, LeakyReLU, Softmax, Identity, flatten, tanh-GELU,
    sigmoid, sub/div by scalars, unsqueeze/permute/squeeze, cat, size arithmetic in reshape, sum/mean, silu,
    transpose; two inputs, three outputs."""
    nn, F = lib.nn, lib.nn.functional

    class Zoo(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv1d(3, 4, 3, padding="same"), nn.BatchNorm1d(4)
            self.act, self.softmax = nn.LeakyReLU(0.2), nn.Softmax(dim=1)
            self.fc, self.identity = nn.Linear(20, 6), nn.Identity()

        def forward(self, x, y):
            n = x.size(0)
            h = lib.flatten(self.act(self.bn(self.conv(x))), 1)
            z = F.gelu(self.fc(h), approximate="tanh") - lib.sigmoid(y) / 2
            p = self.softmax(z.unsqueeze(2).permute(0, 2, 1).squeeze(1))
            both = lib.cat([p, self.identity(z)], dim=1)
            rows = both.reshape(n * 2, -1).sum(dim=-1, keepdim=True)
            return (F.log_softmax(both, dim=1) * 3.0, rows.view(n, 2) + F.silu(y).mean(1, keepdim=True),
                    lib.tanh(both.transpose(0, 1)))
    return Zoo()


def floats(*shape):
    return lambda lib, batch, seed: lib.tensor(np.random.default_rng(seed).standard_normal((batch,) + shape,
                                                                                          dtype=np.float32))


def tokens(lib, batch, seed):
    return lib.tensor(np.random.default_rng(seed).integers(0, 10, (batch, 4)))


MODELS = {"mlp": (mlp, floats(6)), "cnn": (cnn, floats(3, 16, 16)), "residual": (residual, floats(4, 6, 6)),
          "transformer": (transformer_block, floats(5, 8)), "embedding": (embedding_model, tokens)}


def torsh_model(factory):
    torsh.manual_seed(0)
    model = factory(torsh)
    with torsh.no_grad():  # running statistics other than 0 / 1, so batch norm's buffers matter
        for m in model.modules():
            if isinstance(m, torsh.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def torch_twin(factory, model):
    """The PyTorch model with ``model``'s weights and buffers."""
    twin = factory(torch_ref)
    twin.load_state_dict({k: torch_ref.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return twin.eval()


def export(lib, model, args, **options):
    """(ModelProto, onnxruntime session) of ``lib.onnx.export`` (TorchScript-style, dynamo=False) into memory."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter's notice, in both libraries
        lib.onnx.export(model, args, buffer, dynamo=False, **options)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])


def run(session, array):
    return session.run(None, {session.get_inputs()[0].name: array})[0]


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


# -- the tests ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_exported_model_matches_torsh_at_traced_and_other_batch_sizes(name):
    factory, make_input = MODELS[name]
    model = torsh_model(factory)
    proto, session = export(torsh, model, (make_input(torsh, 2, 1),), input_names=["x"], output_names=["y"],
                            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["y"]
    assert dims(proto.graph.input[0])[0] == dims(proto.graph.output[0])[0] == "batch"
    for batch in (2, 5):
        x = make_input(torsh, batch, batch)
        with torsh.no_grad():
            expected = model(x).numpy()
        got = run(session, x.numpy())
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", MODELS)
def test_initializers_are_the_used_state_dict_entries(name):
    factory, make_input = MODELS[name]
    model = torsh_model(factory)
    proto, _ = export(torsh, model, (make_input(torsh, 2, 1),))
    used = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}  # never read in eval
    assert {t.name for t in proto.graph.initializer} == used
    for tensor in proto.graph.initializer:
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(tensor), model.state_dict()[tensor.name].numpy())


@pytest.mark.parametrize("name", MODELS)
def test_same_outputs_as_pytorchs_export_of_the_same_weights(name):
    factory, make_input = MODELS[name]
    model = torsh_model(factory)
    _, ours = export(torsh, model, (make_input(torsh, 2, 1),))
    _, theirs = export(torch_ref, torch_twin(factory, model), (make_input(torch_ref, 2, 1),))
    x = make_input(torsh, 2, 3).numpy()
    np.testing.assert_allclose(run(ours, x), run(theirs, x), rtol=RTOL, atol=ATOL)


def test_two_inputs_three_outputs_and_the_other_converters():
    model = torsh_model(op_zoo)
    x, y = floats(3, 5)(torsh, 2, 1), floats(6)(torsh, 2, 2)
    proto, session = export(torsh, model, (x, y), input_names=["x", "y"], output_names=["a", "b", "c"],
                            dynamic_axes={"x": {0: "n"}, "y": {0: "n"}, "a": {0: "n"}, "b": {0: "n"}, "c": {1: "n"}})
    assert [o.name for o in proto.graph.output] == ["a", "b", "c"]
    _, theirs = export(torch_ref, torch_twin(op_zoo, model), (torch_ref.tensor(x.numpy()), torch_ref.tensor(y.numpy())))
    for batch in (2, 4):
        x, y = floats(3, 5)(torsh, batch, 3), floats(6)(torsh, batch, 4)
        got = session.run(None, {"x": x.numpy(), "y": y.numpy()})
        with torsh.no_grad():
            expected = [t.numpy() for t in model(x, y)]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)
        if batch == 2:  # PyTorch's export is static: same batch only
            reference = theirs.run(None, {i.name: a for i, a in zip(theirs.get_inputs(), (x.numpy(), y.numpy()))})
            for g, r in zip(got, reference):
                np.testing.assert_allclose(g, r, rtol=RTOL, atol=ATOL)


def functional_forms(lib):
    """Weights used through nn.functional (get_attr parameters), a keyword argument."""
    nn, F = lib.nn, lib.nn.functional

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(lib.randn(4, 6))
            self.bias = nn.Parameter(lib.randn(4))
            self.table = nn.Parameter(lib.randn(10, 4))
            self.register_buffer("shift", lib.linspace(-1, 1, 4))

        def forward(self, x, tokens):
            scale = 2.0
            h = F.layer_norm(F.linear(x, self.weight, self.bias), (4,)) + self.shift
            e = F.embedding(tokens, self.table).sum(1)
            return lib.sub(h, e, alpha=scale).mean(), F.relu(h).div(scale).t()
    return Functional()


def test_functional_forms_with_keyword_arguments():
    model = torsh_model(functional_forms)
    x, tokens = floats(6)(torsh, 3, 1), tokens_of(3, 2)
    proto, session = export(torsh, model, (x,), kwargs={"tokens": tokens})
    assert {t.name for t in proto.graph.initializer} == {"weight", "bias", "table", "shift"}
    _, theirs = export(torch_ref, torch_twin(functional_forms, model), (torch_ref.tensor(x.numpy()),),
                       kwargs={"tokens": torch_ref.tensor(tokens.numpy())})
    feed = [x.numpy(), tokens.numpy()]
    got = session.run(None, {i.name: a for i, a in zip(session.get_inputs(), feed)})
    reference = theirs.run(None, {i.name: a for i, a in zip(theirs.get_inputs(), feed)})
    with torsh.no_grad():
        expected = model(x, tokens=tokens)
    for g, e, r in zip(got, expected, reference):
        np.testing.assert_allclose(g, e.numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(g, r, rtol=RTOL, atol=ATOL)


def tokens_of(batch, seed):
    return tokens(torsh, batch, seed)


def test_basic_indexing_follows_dynamic_sizes():
    class Indexing(torsh.nn.Module):
        def forward(self, x):
            n = x.size(1)
            return x[:, 0] * 2, x[..., 1:3], x[1:, -1, ::2], x[:, n - 2], x[0]

    model = Indexing()
    _, session = export(torsh, model, (floats(4, 5)(torsh, 3, 0),), input_names=["x"],
                        dynamic_axes={"x": {0: "batch", 1: "length"}})
    for x in (floats(4, 5)(torsh, 3, 1), floats(6, 5)(torsh, 4, 2)):
        for got, expected in zip(session.run(None, {"x": x.numpy()}), model(x)):
            np.testing.assert_array_equal(got, expected.numpy())


def test_mlp_graph_is_pytorchs_node_for_node():
    """Same ONNX op types, initializer names, default input name and output-name style as PyTorch's exporter."""
    model = torsh_model(mlp)
    ours, _ = export(torsh, model, (torsh.zeros(2, 6),))
    theirs, _ = export(torch_ref, torch_twin(mlp, model), (torch_ref.zeros(2, 6),))
    assert [n.op_type for n in ours.graph.node] == [n.op_type for n in theirs.graph.node] == ["Gemm", "Relu", "Gemm",
                                                                                             "Tanh", "Gemm"]
    assert [t.name for t in ours.graph.initializer] == [t.name for t in theirs.graph.initializer]
    assert [i.name for i in ours.graph.input] == [i.name for i in theirs.graph.input] == ["onnx::Gemm_0"]
    assert ours.graph.output[0].name.isdigit() and theirs.graph.output[0].name.isdigit()
    assert ours.opset_import[0].version == theirs.opset_import[0].version == 20  # PyTorch's default opset
    assert ours.graph.name == theirs.graph.name


def test_dynamic_axes_given_as_lists_are_named_as_pytorch_names_them():
    model = torsh_model(mlp)
    options = dict(input_names=["x"], output_names=["y"], dynamic_axes={"x": [0], "y": [0]})
    with pytest.warns(UserWarning, match="Automatically generated names will be applied to each dynamic axes of "
                                         "input y"):
        ours, _ = export(torsh, model, (torsh.zeros(2, 6),), **options)
    with pytest.warns(UserWarning, match="Automatically generated names"):  # PyTorch's warning too
        theirs, _ = export(torch_ref, torch_twin(mlp, model), (torch_ref.zeros(2, 6),), **options)
    assert dims(ours.graph.input[0]) == dims(theirs.graph.input[0]) == ["x_dynamic_axes_1", 6]
    assert dims(ours.graph.output[0]) == dims(theirs.graph.output[0]) == ["y_dynamic_axes_1", 3]


@pytest.mark.parametrize("options", [{"keep_initializers_as_inputs": True}, {"export_params": False}])
def test_initializers_as_inputs_and_without_params_as_pytorch(options):
    model = torsh_model(mlp)
    ours = _export_unchecked(torsh, model, options)
    theirs = _export_unchecked(torch_ref, torch_twin(mlp, model), options)
    assert [i.name for i in ours.graph.input] == [i.name for i in theirs.graph.input]
    assert [t.name for t in ours.graph.initializer] == [t.name for t in theirs.graph.initializer]


def _export_unchecked(lib, model, options):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lib.onnx.export(model, (lib.zeros(2, 6),), buffer, dynamo=False, **options)
    return onnx.load_from_string(buffer.getvalue())


def test_opset_17_runs_without_the_opset_20_gelu():
    model = torsh_model(transformer_block)
    x = floats(5, 8)(torsh, 3, 4)
    proto, session = export(torsh, model, (x,), opset_version=17)
    assert proto.opset_import[0].version == 17
    assert "Gelu" not in {n.op_type for n in proto.graph.node}  # Gelu is an opset-20 op: written as Erf
    with torsh.no_grad():
        np.testing.assert_allclose(run(session, x.numpy()), model(x).numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("opset", [13, 17, 18, 23])
def test_reductions_across_opsets_axes_attribute_then_input(opset):
    model = torsh_model(embedding_model)
    x = tokens(torsh, 3, 5)
    proto, session = export(torsh, model, (x,), opset_version=opset)
    reduce_mean = next(n for n in proto.graph.node if n.op_type == "ReduceMean")
    assert (len(reduce_mean.input) == 2) == (opset >= 18)  # ReduceMean's axes became an input in opset 18
    with torsh.no_grad():
        np.testing.assert_allclose(run(session, x.numpy()), model(x).numpy(), rtol=RTOL, atol=ATOL)


def _unsupported(lib):
    class Cumulative(lib.nn.Module):
        def forward(self, x):
            return lib.logcumsumexp(x, 0) + 1

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lib.onnx.export(Cumulative(), (lib.ones(3, 3),), buffer, dynamo=False)


def test_an_op_without_converter_raises_pytorchs_error_naming_it():
    with pytest.raises(torch_ref.onnx.errors.UnsupportedOperatorError) as theirs:
        _unsupported(torch_ref)
    with pytest.raises(torsh.onnx.errors.UnsupportedOperatorError) as ours:
        _unsupported(torsh)
    assert isinstance(ours.value, torsh.onnx.OnnxExporterError) and isinstance(ours.value, RuntimeError)
    expected = str(theirs.value).split("\n")[0]
    assert expected == "Exporting the operator 'aten::logcumsumexp' to ONNX opset version 20 is not supported"
    assert str(ours.value).split("\n")[0] == expected  # then torsh's: "While executing %logcumsumexp ..."


def test_is_in_onnx_export_only_while_exporting_and_training_mode_restored():
    seen = []

    class Probe(torsh.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torsh.nn.BatchNorm1d(3)

        def forward(self, x):
            seen.append((torsh.onnx.is_in_onnx_export(), self.training))
            return self.bn(x)

    model = Probe().train()
    with torsh.no_grad():
        model.bn.running_mean.fill_(2.0)
    proto, session = export(torsh, model, (torsh.ones(4, 3),))
    assert seen == [(True, False)]  # traced once, in eval mode, as PyTorch exports
    assert torsh.onnx.is_in_onnx_export() is False and model.training is True
    np.testing.assert_allclose(run(session, np.ones((4, 3), np.float32)), np.full((4, 3), -1.0), atol=1e-4)


def test_verbose_prints_the_graph(capsys):
    export(torsh, torsh_model(mlp), (torsh.zeros(2, 6),), verbose=True)
    printed = capsys.readouterr().out
    assert "main_graph" in printed and printed.count("Gemm") >= 3


def test_export_to_a_path_and_the_dynamo_form(tmp_path):
    model = torsh_model(mlp)
    path = tmp_path / "model.onnx"
    with pytest.warns(DeprecationWarning, match="legacy TorchScript-based ONNX export"):
        assert torsh.onnx.export(model, torsh.zeros(2, 6), str(path), dynamo=False) is None  # a lone tensor: (x,)
    onnx.checker.check_model(onnx.load(str(path)))
    program = torsh.onnx.export(model, (torsh.zeros(2, 6),), tmp_path / "dynamo.onnx")  # dynamo=True: default
    assert [n.op_type for n in program.model_proto.graph.node] == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm"]
    assert onnx.load(str(tmp_path / "dynamo.onnx")) == program.model_proto


def test_import_torsh_does_not_import_onnx():
    code = "import sys, torsh, torsh.onnx; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
