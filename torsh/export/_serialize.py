"""``torch.export.save`` / ``load``: an ExportedProgram as a zip of one JSON document (graph, signature,
shapes, input/output structure) and each tensor's raw bytes. Loading parses JSON and bytes only and resolves
op targets by name among torsh's own ops (``torsh.*`` attributes and ``operator``): no code runs."""
import json
import math
import operator
import os
import zipfile

import numpy as np

import torsh
from .._array_api import array, wrap
from .._op_overloads import OpOverload
from ..fx.graph import Graph
from ..fx.graph_module import GraphModule
from ..utils import _pytree
from . import _trace
from .dynamic_shapes import Symbol, int_oo
from .exported_program import ExportedProgram, _Constant
from .graph_signature import (ConstantArgument, ExportGraphSignature, InputKind, InputSpec, OutputKind, OutputSpec,
                              SymIntArgument, TensorArgument)

_FORMAT = "torsh-export/1"


class SerializeError(RuntimeError):
    pass


def _open(f, mode):
    if isinstance(f, (str, os.PathLike)):
        return zipfile.ZipFile(os.fspath(f), mode)
    return zipfile.ZipFile(f, mode)


def _encode(value, tensors):
    """A node argument or example value as JSON."""
    if hasattr(value, "op") and hasattr(value, "users"):
        return {"node": value.name}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return {"float": repr(value)} if not math.isfinite(value) else value
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    if isinstance(value, torsh.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value
        return {"tensor": key}
    if isinstance(value, torsh.dtype):
        return {"dtype": str(value).split(".")[-1]}
    if isinstance(value, torsh.device):
        return {"device": str(value)}
    if isinstance(value, (torsh.memory_format, torsh.layout)):
        return {"enum": str(value).split(".")[-1]}
    if isinstance(value, slice):
        return {"slice": [_encode(v, tensors) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, tensors) for k, v in value.items()}}
    raise SerializeError(f"Unable to serialize argument {value!r} of type {type(value).__name__}")


def _decode(value, nodes, tensors):
    if isinstance(value, list):
        return [_decode(v, nodes, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    (kind, payload), = value.items()
    if kind == "node":
        return nodes[payload]
    if kind == "float":
        return float(payload)
    if kind == "complex":
        return complex(*payload)
    if kind == "tensor":
        return tensors[payload]
    if kind == "dtype":
        return _checked(getattr(torsh, payload, None), torsh.dtype, payload)
    if kind == "device":
        return torsh.device(payload)
    if kind == "enum":
        return _checked(getattr(torsh, payload, None), (torsh.memory_format, torsh.layout), payload)
    if kind == "slice":
        return slice(*[_decode(v, nodes, tensors) for v in payload])
    if kind == "ellipsis":
        return Ellipsis
    if kind == "tuple":
        return tuple(_decode(v, nodes, tensors) for v in payload)
    if kind == "dict":
        return {k: _decode(v, nodes, tensors) for k, v in payload.items()}
    raise SerializeError(f"unknown serialized value kind {kind!r}")


def _checked(value, kind, name):
    if not isinstance(value, kind):
        raise SerializeError(f"{name!r} names no {kind}")
    return value


def _target_name(target):
    if isinstance(target, OpOverload):
        packet = target.overloadpacket
        return {"aten": packet.__name__, "overload": target._overloadname,
                "path": getattr(target, "_torsh_path", None)}
    if getattr(target, "__module__", None) == "_operator":
        return {"operator": target.__name__}
    path = _path_of(target)
    if path is None:
        raise SerializeError(f"Unable to serialize the graph target {target!r}")
    return {"function": path}


def _path_of(fn):
    for owner, prefix in ((torsh.Tensor, "torsh.Tensor"), (torsh, "torsh")):
        for name, value in vars(owner).items():
            if value is fn:
                return f"{prefix}.{name}"
    return None


def _resolve_path(path):
    """``torsh.a.b`` by attribute access from torsh (never an import), or a traced helper."""
    helpers = {"torsh.export._trace._sym_size_int": _trace._sym_size_int,
               "torsh.export._trace._slice_tensor": _trace._slice_tensor, "torsh.export._trace._alias": _trace._alias}
    if path in helpers:
        return helpers[path]
    parts = path.split(".")
    if parts[0] != "torsh" or any(p.startswith("__") and p not in _DUNDER_OK for p in parts[1:]):
        raise SerializeError(f"refusing to resolve {path!r}")
    value = torsh
    for part in parts[1:]:
        value = getattr(value, part)
    if not callable(value):
        raise SerializeError(f"{path!r} is not callable")
    return value


_DUNDER_OK = set(_trace._DUNDER_OPS) | {"__getitem__", "__setitem__", "__rtruediv__", "__rpow__", "__rmatmul__",
                                        "__rfloordiv__", "__rmod__", "__rand__", "__ror__", "__rxor__",
                                        "__rlshift__", "__rrshift__", "__pos__"}


def _resolve_target(entry):
    if "operator" in entry:
        name = entry["operator"]
        if name not in ("getitem", "setitem", "add", "sub", "mul", "floordiv", "mod", "truediv", "neg"):
            raise SerializeError(f"refusing operator.{name}")
        return getattr(operator, name)
    if "function" in entry:
        return _resolve_path(entry["function"])
    name, overload, path = entry["aten"], entry["overload"], entry.get("path")
    fn = _resolve_path(path) if path else getattr(torsh.ops.aten, name)._op
    return _trace.export_target(name, overload, fn, path)


def _meta(value):
    if isinstance(value, _trace.TensorMeta):
        return {"shape": [s.name if isinstance(s, Symbol) else int(s) for s in value.shape],
                "dtype": str(value.dtype).split(".")[-1]}
    if isinstance(value, Symbol):
        return {"symbol": value.name}
    return None


def save(ep, f, *, extra_files=None, opset_version=None, pickle_protocol=2):
    """Write ``ep`` to a path or file object."""
    if not isinstance(ep, ExportedProgram):
        raise TypeError(f"The 'ep' parameter must be an instance of 'ExportedProgram', got '{type(ep).__name__}' "
                        "instead.")
    tensors = {}
    symbols = {}
    for symbol, vr in ep.range_constraints.items():
        symbols[symbol.name] = [symbol.example, vr.lower, None if vr.upper is int_oo else vr.upper]
    nodes = []
    for node in ep.graph.nodes:
        entry = {"op": node.op, "name": node.name, "args": _encode(node.args, tensors),
                 "kwargs": _encode(node.kwargs, tensors), "meta": _meta(node.meta.get("val"))}
        if node.op == "call_function":
            entry["target"] = _target_name(node.target)
        else:
            entry["target"] = node.target
        nodes.append(entry)
    sig = ep.graph_signature
    doc = {
        "format": _FORMAT,
        "nodes": nodes,
        "inputs": [[s.kind.name, type(s.arg).__name__, s.arg.name, _encode(getattr(s.arg, "value", None), tensors),
                    s.target, s.persistent] for s in sig.input_specs],
        "outputs": [[s.kind.name, type(s.arg).__name__, s.arg.name, _encode(getattr(s.arg, "value", None), tensors),
                     s.target] for s in sig.output_specs],
        "state_dict": {k: _encode(v, tensors) for k, v in ep.state_dict.items()},
        "parameters_requiring_grad": [k for k, v in ep.state_dict.items() if v.requires_grad],
        "constants": {k: _encode(v, tensors) for k, v in ep.constants.items()},
        "symbols": symbols,
        "example_inputs": _encode(ep.example_inputs, tensors) if ep.example_inputs is not None else None,
        "out_structure": _encode(_pytree.tree_unflatten(list(range(ep._out_spec.num_leaves)), ep._out_spec), {})
        if ep._out_spec is not None else None,
        "guards": [None if g is None else
                   [g[0], {"constant": _encode(g[1].value, {})}] if not isinstance(g[1], tuple) else
                   [g[0], [s.name if isinstance(s, Symbol) else int(s) for s in g[1]]]
                   for g in ep._input_guards],
    }
    tensor_meta = {}
    with _open(f, "w") as archive:
        for key, t in tensors.items():
            data = np.ascontiguousarray(array(t.detach()))
            tensor_meta[key] = {"dtype": str(t.dtype).split(".")[-1], "shape": list(t.shape)}
            archive.writestr(f"archive/data/{key}", data.tobytes())
        doc["tensors"] = tensor_meta
        archive.writestr("archive/models/model.json", json.dumps(doc))
        archive.writestr("archive/archive_format", _FORMAT)
        for name, content in (extra_files or {}).items():
            archive.writestr(f"archive/extra/{name}", content)


def load(f, *, extra_files=None, expected_opset_version=None):
    """Read an ExportedProgram written by ``save``."""
    with _open(f, "r") as archive:
        doc = json.loads(archive.read("archive/models/model.json"))
        if doc.get("format") != _FORMAT:
            raise SerializeError("not a torsh.export archive")
        tensors = {}
        for key, meta in doc["tensors"].items():
            dtype = _checked(getattr(torsh, meta["dtype"], None), torsh.dtype, meta["dtype"])
            np_dtype = array(torsh.empty(0, dtype=dtype)).dtype
            raw = archive.read(f"archive/data/{key}")
            tensors[key] = wrap(np.frombuffer(raw, dtype=np_dtype).reshape(meta["shape"]).copy())
        for name in list(extra_files or {}):
            try:
                extra_files[name] = archive.read(f"archive/extra/{name}").decode()
            except KeyError:
                pass
    symbols = {name: Symbol(name, ex, low, int_oo if high is None else high)
               for name, (ex, low, high) in doc["symbols"].items()}
    graph = Graph()
    nodes = {}
    for entry in doc["nodes"]:
        args = _decode(entry["args"], nodes, tensors)
        kwargs = _decode(entry["kwargs"], nodes, tensors)
        args = tuple(args) if isinstance(args, list) else args
        if entry["op"] == "call_function":
            target = _resolve_target(entry["target"])
        elif entry["op"] in ("placeholder", "output"):
            target = entry["target"]
        else:
            raise SerializeError(f"unexpected node kind {entry['op']!r}")
        node = graph.create_node(entry["op"], target, args, kwargs, entry["name"])
        nodes[entry["name"]] = node
        meta = entry.get("meta")
        if meta and "shape" in meta:
            node.meta["val"] = _trace.TensorMeta([symbols[s] if isinstance(s, str) else s for s in meta["shape"]],
                                                 getattr(torsh, meta["dtype"]))
        elif meta and "symbol" in meta:
            node.meta["val"] = symbols[meta["symbol"]]
    arg_types = {"TensorArgument": TensorArgument, "SymIntArgument": SymIntArgument}

    def argument(kind_name, name, value):
        if kind_name == "ConstantArgument":
            return ConstantArgument(name, _decode(value, nodes, tensors))
        return arg_types[kind_name](name)
    input_specs = [InputSpec(InputKind[k], argument(t, n, v), target, persistent)
                   for k, t, n, v, target, persistent in doc["inputs"]]
    output_specs = [OutputSpec(OutputKind[k], argument(t, n, v), target) for k, t, n, v, target in doc["outputs"]]
    requiring = set(doc["parameters_requiring_grad"])
    state_dict = {}
    for k, v in doc["state_dict"].items():
        t = _decode(v, nodes, tensors)
        state_dict[k] = torsh.nn.Parameter(t, requires_grad=k in requiring) if k in requiring else t
    constants = {k: _decode(v, nodes, tensors) for k, v in doc["constants"].items()}
    example_inputs = _decode(doc["example_inputs"], nodes, tensors) if doc["example_inputs"] is not None else None
    if example_inputs is not None:
        example_inputs = (tuple(example_inputs[0]), dict(example_inputs[1]))
        in_spec = _pytree.tree_flatten(example_inputs)[1]
    else:
        in_spec = None
    out_spec = None
    if doc["out_structure"] is not None:
        out_spec = _pytree.tree_flatten(_decode(doc["out_structure"], nodes, {}))[1]
    guards = [None if g is None else
              (g[0], _Constant(_decode(g[1]["constant"], nodes, {}))) if isinstance(g[1], dict) else
              (g[0], tuple(symbols[s] if isinstance(s, str) else s for s in g[1]))
              for g in doc["guards"]]
    range_constraints = {s: s.range for s in symbols.values()}
    gm = GraphModule(torsh.nn.Module(), graph, "GraphModule")
    return ExportedProgram(gm, graph, ExportGraphSignature(input_specs, output_specs), state_dict,
                           range_constraints, None, example_inputs, constants, in_spec=in_spec, out_spec=out_spec,
                           input_guards=guards)


