"""torsh.viz.graph: the autograd graph as JSON valid against docs/schemas/graph.schema.json,
module stamping under record_modules, and the profiler trace against docs/schemas/trace.schema.json."""
import json
import pathlib

import jsonschema
import pytest

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.backend import events
from torsh.profiler import profile, record_function

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "schemas"


def _validator(name):
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


GRAPH = _validator("graph.schema.json")
TRACE = _validator("trace.schema.json")


def _mlp():
    torsh.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _loss(model):
    x = torsh.randn(5, 4)
    target = torsh.tensor([0, 1, 2, 0, 1])
    return F.cross_entropy(model(x), target)


def _by_label(doc, label):
    return [n for n in doc["nodes"] if n["label"] == label]


def _check_edges(doc):
    """Every edge endpoint exists, output_nr indexes the source's outputs, and there is no cycle."""
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert len(nodes) == len(doc["nodes"]), "node ids are unique"
    indegree = dict.fromkeys(nodes, 0)
    successors = {i: [] for i in nodes}
    for e in doc["edges"]:
        assert e["source"] in nodes and e["target"] in nodes, e
        assert e["output_nr"] < len(nodes[e["source"]]["outputs"]), e
        successors[e["source"]].append(e["target"])
        indegree[e["target"]] += 1
    ready = [i for i, d in indegree.items() if d == 0]
    visited = 0
    while ready:  # Kahn: a DAG empties completely
        node_id = ready.pop()
        visited += 1
        for t in successors[node_id]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    assert visited == len(nodes), "the graph has a cycle"


def test_mlp_loss_graph_matches_schema_and_model():
    model = _mlp()
    g = viz.graph(_loss(model), dict(model.named_parameters()))
    doc = g.to_json()
    GRAPH.validate(doc)
    json.dumps(doc)  # plain JSON: no inf sequence numbers, no numpy ints
    _check_edges(doc)

    kinds = [n["kind"] for n in doc["nodes"]]
    assert kinds.count("output") == 1 and kinds.count("leaf") == 0
    params = {n["label"]: n for n in doc["nodes"] if n["kind"] == "parameter"}
    assert set(params) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert params["0.weight"]["shape"] == [8, 4] and params["2.bias"]["dtype"] == "float32"
    ops = {n["op"] for n in doc["nodes"] if n["kind"] == "op"}
    assert {"addmm", "t", "relu", "log_softmax", "nll_loss"} <= ops  # Linear records addmm, as PyTorch
    assert all(n["label"].endswith("Backward0") for n in doc["nodes"] if n["kind"] == "op")

    # the relu node saves its (5, 8) float32 output for backward
    (relu,) = [n for n in doc["nodes"] if n["op"] == "relu"]
    assert relu["saved_bytes"] == 5 * 8 * 4 and relu["shape"] == [5, 8] and not relu["released"]
    # op edges follow creation order: a producer was recorded before its consumer
    nodes = {n["id"]: n for n in doc["nodes"]}
    for e in doc["edges"]:
        s, t = nodes[e["source"]], nodes[e["target"]]
        if s["kind"] == t["kind"] == "op":
            assert s["sequence_nr"] < t["sequence_nr"], (s, t)
    # the output hangs off the loss node
    (out,) = [e for e in doc["edges"] if e["target"] == "out0"]
    assert nodes[out["source"]]["op"] == "nll_loss"
    # without record_modules only parameters know their module (from their names)
    assert params["2.weight"]["module"] == "2"
    assert all(n["module"] is None for n in doc["nodes"] if n["kind"] == "op")
    assert all(nodes[i]["kind"] == "parameter" for gr in doc["groups"] for i in gr["nodes"])


def test_graph_object_api_and_mimebundle():
    model = _mlp()
    g = viz.graph(_loss(model), model)  # a Module works as params
    assert [n.id for n in g.nodes] == [n["id"] for n in g.to_json()["nodes"]]
    assert all(isinstance(e, viz.GraphEdge) for e in g.edges)
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.torsh.graph+json", "text/plain"}
    assert bundle["application/vnd.torsh.graph+json"] == g.to_json()
    assert bundle["text/plain"].startswith(f"Graph: {len(g.nodes)} nodes") and "4 parameter" in bundle["text/plain"]


def test_unnamed_leaves_multi_output_node_and_several_outputs():
    x = torsh.randn(4, 3, requires_grad=True)
    a, b, _, _ = x.unbind(0)
    g = viz.graph({"prod": a * b, "x": x})
    doc = g.to_json()
    GRAPH.validate(doc)
    _check_edges(doc)
    (leaf,) = [n for n in doc["nodes"] if n["kind"] == "leaf"]
    assert leaf["label"] == "AccumulateGrad" and leaf["shape"] == [4, 3] and leaf["module"] is None
    assert [n["label"] for n in doc["nodes"] if n["kind"] == "output"] == ["prod", "x"]
    (unbind,) = _by_label(doc, "UnbindBackward0")
    assert len(unbind["outputs"]) == 4
    assert sorted(e["output_nr"] for e in doc["edges"] if e["source"] == unbind["id"]) == [0, 1]
    # the leaf output is drawn from its own node
    assert any(e["source"] == leaf["id"] and e["target"] == "out1" for e in doc["edges"])


def test_released_graph_reports_no_saved_bytes():
    model = _mlp()
    loss = _loss(model)
    loss.backward()
    doc = viz.graph(loss, model).to_json()
    GRAPH.validate(doc)
    saving = [n for n in doc["nodes"] if n["op"] in ("relu", "addmm")]
    assert saving and all(n["released"] and n["saved_bytes"] == 0 for n in saving)


def test_deep_graph_walk_needs_no_recursion():
    x = torsh.ones(2, requires_grad=True)
    y = x
    for _ in range(5000):  # far deeper than Python's recursion limit
        y = y * 1.0
    doc = viz.graph(y).to_json()
    assert sum(n["kind"] == "op" for n in doc["nodes"]) == 5000
    assert len(doc["edges"]) == 5001  # 4999 between muls, mul -> leaf, loss -> output


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 4), nn.Tanh())

    def forward(self, x):
        return self.body(x) * 2.0  # the mul belongs to the block itself


def test_record_modules_groups_nodes_by_module_path():
    model = _mlp()
    with viz.record_modules(model):
        loss = _loss(model)
    doc = viz.graph(loss, module=model).to_json()
    GRAPH.validate(doc)
    nodes = {n["id"]: n for n in doc["nodes"]}
    (relu,) = [n for n in doc["nodes"] if n["op"] == "relu"]
    assert relu["module"] == "1"
    assert {n["module"] for n in doc["nodes"] if n["op"] == "addmm"} == {"0", "2"}
    assert all(n["module"] is None for n in doc["nodes"] if n["op"] in ("log_softmax", "nll_loss"))  # outside the model
    groups = {gr["module"]: gr for gr in doc["groups"]}
    assert set(groups) == {"0", "1", "2"}
    assert groups["0"]["type"] == "Linear" and groups["1"]["label"] == "1 (ReLU)"
    assert {nodes[i]["label"] for i in groups["2"]["nodes"]} == {"AddmmBackward0", "TBackward0",
                                                                "2.weight", "2.bias"}
    # grouped without module=: types come from the stamps
    assert {gr["type"] for gr in viz.graph(loss).to_json()["groups"]} == {"Linear", "ReLU"}


def test_record_modules_nested_groups_and_cleanup():
    torsh.manual_seed(0)
    model = nn.Sequential(_Block(), nn.Linear(4, 2))
    with viz.record_modules(model):
        out = model(torsh.randn(3, 4)).sum()
    doc = viz.graph(out, module=model).to_json()
    assert [n["module"] for n in doc["nodes"] if n["op"] == "sum"] == [None]  # outside the model
    GRAPH.validate(doc)
    groups = {gr["module"]: gr for gr in doc["groups"]}
    assert set(groups) == {"0", "0.body", "0.body.0", "0.body.1", "1"}
    assert groups["0.body.1"]["parent"] == "g:0.body" and groups["0"]["parent"] is None
    assert groups["0.body"]["type"] == "Sequential"
    (mul,) = [n for n in doc["nodes"] if n["op"] == "mul"]
    (tanh,) = [n for n in doc["nodes"] if n["op"] == "tanh"]
    assert mul["module"] == "0" and tanh["module"] == "0.body.1"
    # a group holds its submodules' nodes too
    assert mul["id"] in groups["0"]["nodes"] and tanh["id"] in groups["0"]["nodes"]
    assert mul["id"] not in groups["0.body"]["nodes"]
    # leaving the context removes every hook and the subscription
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert not events.listening("autograd")
    later = model(torsh.randn(3, 4)).sum()
    assert viz.graph(later).to_json()["groups"] == []  # no names, no stamps


def test_record_modules_recovers_after_a_forward_raises():
    class Failing(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    model = nn.Sequential(nn.Linear(4, 4))
    model.add_module("bad", Failing())
    with viz.record_modules(model):
        with pytest.raises(ValueError):
            model(torsh.randn(2, 4))
        z = torsh.randn(2, 4, requires_grad=True) * 2.0  # no module call since the raise
        y = model[0](z) * 3.0  # the mul is outside every module again
    doc = viz.graph(y).to_json()
    assert [n["module"] for n in doc["nodes"] if n["op"] == "mul"] == [None, None]
    assert {n["module"] for n in doc["nodes"] if n["op"] == "addmm"} == {"0"}


def test_schema_rejects_malformed_documents():
    doc = viz.graph(_loss(_mlp())).to_json()
    bad_kind = json.loads(json.dumps(doc))
    bad_kind["nodes"][0]["kind"] = "tensor"
    bad_op = json.loads(json.dumps(doc))
    next(n for n in bad_op["nodes"] if n["kind"] == "op")["op"] = None
    for bad in (bad_kind, bad_op, dict(doc, version=2)):
        assert not GRAPH.is_valid(bad)


def test_profiler_trace_validates_against_trace_schema(tmp_path):
    model = _mlp()
    with profile(record_shapes=True, profile_memory=True, with_flops=True) as prof:
        with record_function("step"):
            loss = _loss(model)
            loss.backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    TRACE.validate(trace)
    phases = {e["ph"] for e in trace["traceEvents"]}
    assert {"M", "X", "s", "f", "i", "C"} <= phases  # every kind the schema documents for torsh
    broken = json.loads(json.dumps(trace))
    next(e for e in broken["traceEvents"] if e["ph"] == "X").pop("dur")
    assert not TRACE.is_valid(broken)
    assert viz.TRACE_MIME_TYPE == "application/vnd.torsh.trace+json"
