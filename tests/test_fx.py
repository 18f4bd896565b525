"""torsh.fx against torch.fx: the same model classes traced by both libraries give the same nodes (opcode,
target name, node name, arguments), the same generated code, and the same results."""
import io
import math
import operator

import numpy as np
import pytest

import torsh
import torsh.fx
from helpers import assert_close, needs_torch, torch_ref

pytestmark = needs_torch


# ----------------------------------------------------------------------------- models, written once per library

def models(lib):
    """The test models as classes of ``lib`` (torsh or torch)."""
    nn, F = lib.nn, lib.nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(lib.relu(self.fc1(x)))

    class ResidualCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.bn = nn.BatchNorm2d(3)
            self.fc = nn.Linear(48, 5)
            self.register_buffer("scale", lib.ones(1) * 0.5)

        def forward(self, x):
            y = lib.relu(self.bn(self.conv(x)))
            y = (y + x) * self.scale
            flat = lib.flatten(y, 1)
            viewed = y.view(y.size(0), -1)
            return self.fc(flat) - self.fc(viewed) + self.fc(flat), flat.shape[1]

    class TransformerBlock(nn.Module):
        def __init__(self, d=8, heads=2):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
            q = q.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            k = k.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            v = v.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
            att = att.softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class Ops(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(lib.ones(4, 4) * 0.25)

        def forward(self, x, flag=True):
            a = x @ self.w
            c = lib.cat([a, F.linear(a, self.w)], dim=1)
            e = F.relu(-c[:, 1:3])
            s = e.sum(dim=-1, keepdim=True)
            if flag:
                e = e + 1
            return 2 - e * s + x.shape[0] + lib.tensor(3.0) + abs(e)

    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x

    class Loops(nn.Module):
        def forward(self, x):
            return [row for row in x]

    class Length(nn.Module):
        def forward(self, x):
            return len(x)

    class Unpack(nn.Module):
        def forward(self, x):
            a, b = x
            return a * b

    return dict(MLP=MLP, ResidualCNN=ResidualCNN, TransformerBlock=TransformerBlock, Ops=Ops, Branchy=Branchy,
                Loops=Loops, Length=Length, Unpack=Unpack)


def pair_of(name, *args):
    """(torsh model, torch model) of class ``name`` with the torch model's weights copied into torsh's."""
    torch_ref.manual_seed(0)
    ref = models(torch_ref)[name](*args)
    ours = models(torsh)[name](*args)
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy().copy()) for k, v in ref.state_dict().items()})
    return ours, ref


def inputs(shape, seed=0):
    arr = np.random.default_rng(seed).standard_normal(shape).astype("float32")
    return torsh.tensor(arr.copy()), torch_ref.tensor(arr.copy())


# ----------------------------------------------------------------------------- comparing graphs

def target_name(target):
    """A target comparable across libraries: strings as they are, functions by name (torch.relu and
    torsh.relu: 'relu'; torch._C._nn.linear and torsh.nn.functional.linear: 'linear')."""
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '')}.{target.__name__}" if target.__module__ in (
        "_operator", "builtins") else target.__name__


def arg_summary(a):
    if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
        return type(a)(arg_summary(x) for x in a)
    if isinstance(a, dict):
        return {k: arg_summary(v) for k, v in a.items()}
    if type(a).__name__ == "Node":
        return ("node", a.name)
    if isinstance(a, slice):
        return ("slice", a.start, a.stop, a.step)
    return a


def node_rows(graph):
    return [(n.op, target_name(n.target), n.name, len(n.users), arg_summary(n.args), arg_summary(n.kwargs))
            for n in graph.nodes]


def assert_same_graph(ours, ref):
    """Same nodes in the same order: opcode, target, name, user count, arguments. PyTorch's nn.functional
    Python functions record the defaults their handle_torch_function call passes (F.relu(x, inplace=False));
    torsh records the call as written, so only their names are compared."""
    ours_rows, ref_rows = node_rows(ours.graph), node_rows(ref.graph)
    assert len(ours_rows) == len(ref_rows), (ours_rows, ref_rows)
    for row, ref_row, ref_node in zip(ours_rows, ref_rows, ref.graph.nodes):
        if ref_node.op == "call_function" and getattr(ref_node.target, "__module__", "") == "torch.nn.functional":
            row, ref_row = row[:4], ref_row[:4]
        assert row == ref_row


def normalised(text):
    """PyTorch's code and graph printouts with torsh's names for its functions."""
    return (text.replace("torch._C._nn.", "torch.nn.functional.").replace("torch.", "torsh.")
            .replace("torsh.nn.Module", "torch.nn.Module"))


# ----------------------------------------------------------------------------- tracing real models

@pytest.mark.parametrize("name,shape", [("MLP", (5, 4)), ("ResidualCNN", (2, 3, 4, 4)),
                                        ("TransformerBlock", (2, 5, 8))])
def test_trace_matches_pytorch_nodes_code_and_results(name, shape):
    ours, ref = pair_of(name)
    ours.eval(), ref.eval()
    gm, ref_gm = torsh.fx.symbolic_trace(ours), torch_ref.fx.symbolic_trace(ref)
    assert_same_graph(gm, ref_gm)
    assert gm.code == normalised(ref_gm.code)
    assert str(gm.graph) == normalised(str(ref_gm.graph))
    assert type(gm).__name__ == type(ref_gm).__name__ == name
    x, rx = inputs(shape)
    out, ref_out = gm(x), ref_gm(rx)
    for o, r in zip(out if isinstance(out, tuple) else (out,), ref_out if isinstance(ref_out, tuple) else (ref_out,)):
        if isinstance(r, int):
            assert o == r
        else:
            assert_close(o, r.detach(), rtol=1e-4, atol=1e-5)
    assert sorted(n for n, _ in gm.named_parameters()) == sorted(n for n, _ in ref_gm.named_parameters())
    assert sorted(n for n, _ in gm.named_buffers()) == sorted(n for n, _ in ref_gm.named_buffers())


def test_ops_operators_parameters_constants_and_concrete_args():
    ours, ref = pair_of("Ops")
    gm = torsh.fx.symbolic_trace(ours, concrete_args={"flag": True})
    ref_gm = torch_ref.fx.symbolic_trace(ref, concrete_args={"flag": True})
    assert_same_graph(gm, ref_gm)
    assert "torsh._assert(" in gm.code  # the specialisation check is named as PyTorch's torch._assert
    assert [line for line in gm.code.splitlines() if "_assert" in line] == \
        [line for line in normalised(ref_gm.code).splitlines() if "_assert" in line]
    x, rx = inputs((3, 4))
    assert_close(gm(x), ref_gm(rx).detach())
    assert "_tensor_constant0" in dict(gm.named_buffers())
    # the specialised argument is asserted: another value fails as in PyTorch
    with pytest.raises(AssertionError, match="flag has been specialized to have value True but got another value"):
        gm(x, False)


def test_concrete_none_and_tuple_concrete_args_errors():
    class Opt(torsh.nn.Module):
        def forward(self, x, y=None):
            return x if y is None else x + y
    gm = torsh.fx.symbolic_trace(Opt(), concrete_args={"y": None})
    assert [n.name for n in gm.graph.nodes] == ["x", "y_1", "_assert_is_none", "output"]
    with pytest.raises(RuntimeError, match="Tracing expected 2 arguments but got 1 concrete arguments"):
        torsh.fx.symbolic_trace(Opt(), concrete_args=(None,))


@pytest.mark.parametrize("name", ["Branchy", "Loops"])
def test_control_flow_raises_trace_error_as_pytorch(name):
    errors = []
    for lib in (torsh, torch_ref):
        with pytest.raises(ValueError) as info:
            lib.fx.symbolic_trace(models(lib)[name]())
        errors.append(info.value)
    ours, ref = errors
    assert type(ours).__name__ == type(ref).__name__ == "TraceError"
    assert str(ours) == str(ref)
    assert isinstance(ours, torsh.fx.proxy.TraceError)


def test_len_of_proxy_is_pytorchs_runtime_error():
    from helpers import check_same_error
    check_same_error(lambda lib: lib.fx.symbolic_trace(models(lib)["Length"]()))


def test_unpacking_a_proxy_indexes_it():
    ours, ref = pair_of("Unpack")
    assert_same_graph(torsh.fx.symbolic_trace(ours), torch_ref.fx.symbolic_trace(ref))


def test_function_and_wrap_and_leaf_modules():
    def fn(x, y):
        return torsh.sin(x) * y.exp()

    def ref_fn(x, y):
        return torch_ref.sin(x) * y.exp()
    gm, ref_gm = torsh.fx.symbolic_trace(fn), torch_ref.fx.symbolic_trace(ref_fn)
    assert_same_graph(gm, ref_gm)
    assert type(gm).__name__ == "fn"
    x, rx = inputs((3,))
    assert_close(gm(x, x), ref_gm(rx, rx))
    tracer = torsh.fx.Tracer()
    assert tracer.is_leaf_module(torsh.nn.Linear(2, 2), "fc")
    assert not tracer.is_leaf_module(torsh.nn.Sequential(), "seq")


def leaf_norm(x):
    return x / x.norm()


torsh.fx.wrap("leaf_norm")


def test_wrapped_function_is_one_node():
    class M(torsh.nn.Module):
        def forward(self, x):
            return leaf_norm(x) + 1
    gm = torsh.fx.symbolic_trace(M())
    assert [(n.op, n.name) for n in gm.graph.nodes] == [
        ("placeholder", "x"), ("call_function", "leaf_norm"), ("call_function", "add"), ("output", "output")]
    x, _ = inputs((4,))
    assert_close(gm(x), x / x.norm() + 1)


# ----------------------------------------------------------------------------- rewriting and running graphs

def replace_relu_by_gelu(lib, gm):
    F = lib.nn.functional
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target in (lib.relu, F.relu):
            with gm.graph.inserting_after(node):
                new = gm.graph.call_function(F.gelu, node.args)
            node.replace_all_uses_with(new)
            gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    return gm


def test_graph_rewrite_relu_to_gelu_then_recompile():
    ours, ref = pair_of("ResidualCNN")
    ours.eval(), ref.eval()
    gm = replace_relu_by_gelu(torsh, torsh.fx.symbolic_trace(ours))
    ref_gm = replace_relu_by_gelu(torch_ref, torch_ref.fx.symbolic_trace(ref))
    assert_same_graph(gm, ref_gm)
    assert "gelu" in gm.code and "relu" not in gm.code
    x, rx = inputs((2, 3, 4, 4))
    assert_close(gm(x)[0], ref_gm(rx)[0].detach(), rtol=1e-4, atol=1e-5)


def test_transformer_pass_and_interpreter():
    class ReluToGelu(torsh.fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is torsh.relu:
                return torsh.nn.functional.gelu(*args)
            return super().call_function(target, args, kwargs)

    class RefReluToGelu(torch_ref.fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is torch_ref.relu:
                return torch_ref.nn.functional.gelu(*args)
            return super().call_function(target, args, kwargs)
    ours, ref = pair_of("MLP")
    gm = ReluToGelu(torsh.fx.symbolic_trace(ours)).transform()
    ref_gm = RefReluToGelu(torch_ref.fx.symbolic_trace(ref)).transform()
    assert_same_graph(gm, ref_gm)
    x, rx = inputs((5, 4))
    assert_close(gm(x), ref_gm(rx).detach(), rtol=1e-5, atol=1e-6)
    assert_close(torsh.fx.Interpreter(gm).run(x), ref_gm(rx).detach(), rtol=1e-5, atol=1e-6)


def test_interpreter_overrides_see_every_node():
    class Negating(torsh.fx.Interpreter):
        def call_function(self, target, args, kwargs):
            result = super().call_function(target, args, kwargs)
            return -result if target is torsh.relu else result

    class RefNegating(torch_ref.fx.Interpreter):
        def call_function(self, target, args, kwargs):
            result = super().call_function(target, args, kwargs)
            return -result if target is torch_ref.relu else result
    ours, ref = pair_of("MLP")
    x, rx = inputs((5, 4))
    out = Negating(torsh.fx.symbolic_trace(ours)).run(x)
    assert_close(out, RefNegating(torch_ref.fx.symbolic_trace(ref)).run(rx).detach())
    # a missing input is PyTorch's RuntimeError
    gm = torsh.fx.symbolic_trace(ours)
    with pytest.raises(RuntimeError, match="Expected positional argument for parameter x, but one was not passed"):
        torsh.fx.Interpreter(gm).run()


def test_shape_prop_fills_tensor_meta():
    ours, ref = pair_of("TransformerBlock")
    gm, ref_gm = torsh.fx.symbolic_trace(ours), torch_ref.fx.symbolic_trace(ref)
    x, rx = inputs((2, 5, 8))
    torsh.fx.passes.shape_prop.ShapeProp(gm).propagate(x)
    torch_ref.fx.passes.shape_prop.ShapeProp(ref_gm).propagate(rx)
    for n, r in zip(gm.graph.nodes, ref_gm.graph.nodes):
        assert ("tensor_meta" in n.meta) == ("tensor_meta" in r.meta), n.name
        meta, ref_meta = n.meta.get("tensor_meta"), r.meta.get("tensor_meta")
        if hasattr(ref_meta, "shape"):
            assert tuple(meta.shape) == tuple(ref_meta.shape), n.name
            assert str(meta.dtype).split(".")[-1] == str(ref_meta.dtype).split(".")[-1]
            assert meta.requires_grad == ref_meta.requires_grad
            assert tuple(meta.stride) == tuple(ref_meta.stride), n.name
    assert gm.print_readable(print_output=False) == normalised(ref_gm.print_readable(print_output=False))


# ----------------------------------------------------------------------------- the Graph API

def test_graph_building_dead_code_and_errors():
    for lib in (torsh, torch_ref):
        g = lib.fx.Graph()
        x = g.placeholder("x")
        unused = g.call_function(lib.neg, (x,))
        y = g.call_method("relu", (x,))
        z = g.call_function(operator.add, (y, 1.5))
        g.output(z)
        with g.inserting_before(z):
            g.call_function(lib.sigmoid, (y,))
        assert [n.name for n in g.nodes] == ["x", "neg", "relu", "sigmoid", "add", "output"]
        assert [u.name for u in y.users] == ["add", "sigmoid"]
        assert z.all_input_nodes == [y]
        assert g.eliminate_dead_code()
        assert [n.name for n in g.nodes] == ["x", "relu", "add", "output"]
        assert unused.graph is g
    g_ours = torsh.fx.Graph()
    p_ours = g_ours.placeholder("x")
    g_ours.output(g_ours.call_method("relu", (p_ours,)))
    g_ref = torch_ref.fx.Graph()
    p_ref = g_ref.placeholder("x")
    g_ref.output(g_ref.call_method("relu", (p_ref,)))
    assert str(g_ours) == str(g_ref)
    assert g_ours.python_code("self").src == g_ref.python_code("self").src
    for graph, p in ((g_ours, p_ours), (g_ref, p_ref)):
        with pytest.raises(RuntimeError) as info:
            graph.erase_node(p)
        assert "Tried to erase Node x but it still had 1 users in the graph" in str(info.value)


def test_print_tabular_needs_tabulate_as_pytorch(capsys):
    try:
        import tabulate  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            torsh.fx.symbolic_trace(models(torsh)["MLP"]()).graph.print_tabular()
        assert "`print_tabular` relies on the library `tabulate`" in capsys.readouterr().out
    else:
        torsh.fx.symbolic_trace(models(torsh)["MLP"]()).graph.print_tabular()
        assert "opcode" in capsys.readouterr().out


def test_graph_module_state_is_saved_and_loaded():
    ours, _ = pair_of("ResidualCNN")
    ours.eval()
    gm = torsh.fx.symbolic_trace(ours)
    assert set(gm.state_dict()) == set(ours.state_dict())
    buffer = io.BytesIO()
    torsh.save(gm, buffer)
    buffer.seek(0)
    loaded = torsh.load(buffer, weights_only=False)
    x, _ = inputs((2, 3, 4, 4))
    assert_close(loaded(x)[0], gm(x)[0])
    assert loaded.code == gm.code
    state = io.BytesIO()
    torsh.save(gm.state_dict(), state)
    state.seek(0)
    fresh = torsh.fx.symbolic_trace(models(torsh)["ResidualCNN"]())
    fresh.load_state_dict(torsh.load(state))
    fresh.eval()
    assert_close(fresh(x)[0], gm(x)[0])


def test_proxy_records_methods_attributes_and_reflected_operators():
    def fn(lib):
        def f(x):
            return (1 - x).clamp(min=0).T + 2 ** x.mean(dim=0) + x.dtype.is_floating_point * 0
        return lib.fx.symbolic_trace(f)
    ours, ref = fn(torsh), fn(torch_ref)
    assert_same_graph(ours, ref)
    x, rx = inputs((3, 3))
    assert_close(ours(x), ref(rx))


def test_tensor_on_the_left_of_a_proxy_is_a_method_call_as_pytorch():
    def traced(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("scale", lib.ones(3) * 2)
                self.lin = lib.nn.Linear(3, 3)

            def forward(self, x):
                a = self.scale * x
                b = self.scale.add(a)
                return a, b, self.lin.weight.t(), lib.ones(3) + b, x.relu(), x.T, x.dtype
        return lib.fx.symbolic_trace(M())
    ours, ref = traced(torsh), traced(torch_ref)
    assert_same_graph(ours, ref)
    assert ours.code == normalised(ref.code)
    assert sorted(dict(ours.named_buffers())) == sorted(dict(ref.named_buffers())) == ["_tensor_constant0", "scale"]
    x, rx = inputs((2, 3))
    assert_close(ours(x)[3], ref(rx)[3])
