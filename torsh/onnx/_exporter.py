"""The exporter: trace with torsh.fx, propagate shapes (ShapeProp), convert node by node (an Interpreter whose
values are ONNX values: ``_Emitter``) and assemble the ModelProto: inputs and outputs named as asked (PyTorch's
defaults otherwise), dynamic axes as dim_params, parameters and buffers as initializers named by state_dict."""
import inspect
import itertools
import warnings

import torsh
from .. import nn
from ..fx import GraphModule, Interpreter, Tracer
from ..fx._symbolic_trace import _assert_is_none
from ..fx.node import qualified_name
from ..fx.passes.shape_prop import ShapeProp
from .._ops.registry import NAMESPACES
from .._toplevel import _assert
from ._builder import GraphBuilder, SymInt, SymShape, TensorValue, is_symbolic
from ._converters import FUNCTIONS, MODULES
from .errors import UnsupportedOperatorError

DEFAULT_OPSET = 20  # PyTorch 2.13's ONNX_DEFAULT_OPSET
MIN_OPSET, MAX_OPSET = 13, 23  # 13: Softmax over one axis, Squeeze/Unsqueeze axes as inputs; 23: PyTorch's max
# operator.* and builtins recorded by fx, as the op they stand for
_OPERATOR_NAMES = {"truediv": "div", "floordiv": "floordiv", "getitem": "getitem", "getattr": "getattr"}
_NO_OPS = (_assert, _assert_is_none)  # the checks fx records for specialised (concrete) arguments


class _ExportTracer(Tracer):
    """Keeps as one ``call_module`` node exactly the modules with a converter; traces through the others (their
    functional ops then convert one by one)."""

    def is_leaf_module(self, m, module_qualified_name):
        return type(m) in MODULES


def op_name(node):
    """The name the converter table knows a call node's target by (``relu``, ``add``, ``view``)."""
    if node.op == "call_method":
        return node.target
    name = getattr(node.target, "__name__", str(node.target))
    return _OPERATOR_NAMES.get(name, name)


def aten_name(node):
    """``aten::<op>``, as PyTorch names an op in its errors (``torch.linalg.det`` is ``aten::linalg_det``)."""
    if node.op == "call_function":
        qualified = qualified_name(node.target)
        namespace, _, name = qualified.rpartition(".")
        prefix = NAMESPACES.get(namespace, "") if namespace != "torsh.nn.functional" else ""
        return f"aten::{prefix}{name}"
    return f"aten::{node.target}"


class _Emitter(Interpreter):
    """Runs the traced graph on ONNX values: each node appends its ONNX nodes to ``builder``."""

    def __init__(self, gm, builder):
        super().__init__(gm, garbage_collect_values=False)
        self.builder = builder

    def run_node(self, n):
        self.builder.scope = ""
        self.current = n
        result = super().run_node(n)
        if isinstance(result, str):  # a converter's output name: give it the traced shape and dtype
            meta = n.meta["tensor_meta"]
            result = TensorValue(result, tuple(meta.shape), meta.dtype)
        return result

    def placeholder(self, target, args, kwargs):
        return next(self.args_iter)  # TensorValues for tensor inputs, the values of the others

    def get_attr(self, target, args, kwargs):
        value = self.fetch_attr(target)
        if not isinstance(value, torsh.Tensor):
            return value
        return TensorValue(self.builder.param(target, value), tuple(value.shape), value.dtype)

    def call_function(self, target, args, kwargs):
        if target in _NO_OPS:
            return None
        return self._convert(target, args, kwargs, lambda: super(_Emitter, self).call_function(target, args, kwargs))

    def call_method(self, target, args, kwargs):
        return self._convert(target, args, kwargs, lambda: super(_Emitter, self).call_method(target, args, kwargs))

    def _convert(self, target, args, kwargs, run_in_python):
        if not any(is_symbolic(a) for a in _leaves(args, kwargs)):
            return run_in_python()  # constants only (math on Python numbers): folded now
        converter = FUNCTIONS.get(op_name(self.current))
        if converter is None:
            raise UnsupportedOperatorError(aten_name(self.current), self.builder.opset, None)
        self.builder.result = _result_spec(self.current)
        return converter(self.builder, *args, **kwargs)

    def call_module(self, target, args, kwargs):
        module = self.fetch_attr(target)
        self.builder.scope = "/" + target.replace(".", "/")
        self.builder.result = _result_spec(self.current)
        return MODULES[type(module)](self.builder, module, target, *args, **kwargs)

    def output(self, target, args, kwargs):
        return args[0]


class _ResultSpec:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _result_spec(node):
    meta = node.meta.get("tensor_meta")
    return _ResultSpec(tuple(meta.shape), meta.dtype) if hasattr(meta, "shape") else None


def _leaves(args, kwargs):
    stack = [args, kwargs]
    while stack:
        value = stack.pop()
        if isinstance(value, (tuple, list)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        else:
            yield value


# -- the export ----------------------------------------------------------------------------------------------
def export_model(model, args, kwargs, *, input_names, output_names, opset_version, dynamic_axes, export_params,
                 keep_initializers_as_inputs, verbose):
    """The ModelProto of ``model`` called on ``args`` / ``kwargs``."""
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"Unsupported ONNX opset version: {opset}. torsh exports opsets {MIN_OPSET} to "
                         f"{MAX_OPSET}")
    args, kwargs = _split_args(args, kwargs)
    builder = GraphBuilder(opset)
    gm, call_values = _trace(model, args, kwargs)
    ShapeProp(gm).propagate(*call_values)
    placeholders = [_input_value(builder, i, t) if isinstance(t, torsh.Tensor) else t
                    for i, t in enumerate(call_values)]
    result = _Emitter(gm, builder).run(*placeholders)
    inputs = [p for p in placeholders if isinstance(p, TensorValue)]
    return _Assembly(builder, inputs, _graph_outputs(result, opset)).model(
        input_names, output_names, dynamic_axes or {}, export_params, keep_initializers_as_inputs, verbose)


def _split_args(args, kwargs):
    """PyTorch's conventions: a lone tensor is ``(tensor,)``; a trailing dict in ``args`` holds keyword args."""
    if isinstance(args, torsh.Tensor):
        args = (args,)
    args = tuple(args)
    if args and isinstance(args[-1], dict) and kwargs is None:
        args, kwargs = args[:-1], args[-1]
    return args, dict(kwargs or {})


def _trace(model, args, kwargs):
    """The GraphModule of ``model`` and the value of each of its placeholders (the forward's parameters: given
    positionally, by keyword or by default; parameters given no tensor are specialised to their value)."""
    forward = type(model).forward if isinstance(model, nn.Module) else model
    params = list(inspect.signature(forward).parameters.values())[1 if isinstance(model, nn.Module) else 0:]
    values, concrete = [], {}
    for i, param in enumerate(params):
        if i < len(args):
            value = args[i]
        elif param.name in kwargs:
            value = kwargs[param.name]
        elif param.default is not inspect.Parameter.empty:
            value = param.default
        else:
            raise TypeError(f"forward() missing required argument: '{param.name}'")
        values.append(value)
        if not isinstance(value, torsh.Tensor):
            concrete[param.name] = value
    tracer = _ExportTracer()
    graph = tracer.trace(model, concrete_args=concrete or None)
    name = type(model).__name__ if isinstance(model, nn.Module) else model.__name__
    return GraphModule(tracer.root, graph, name), values


def _input_value(builder, index, tensor):
    name = builder.unique(f"input_{index}")
    return TensorValue(name, tuple(tensor.shape), tensor.dtype)


def _graph_outputs(result, opset):
    """The graph outputs: the forward's tensors, nested tuples / lists / dicts flattened in order."""
    values = list(_ordered_leaves(result))
    for value in values:
        if not isinstance(value, TensorValue):  # a size or a Python value: PyTorch exports tensors only
            raise UnsupportedOperatorError("prim::" + type(value).__name__, opset, None)
    return values


def _ordered_leaves(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _ordered_leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _ordered_leaves(v)
    else:
        yield value


class _Assembly:
    """Names the inputs and outputs, marks dynamic axes and wraps the builder's nodes into a ModelProto."""

    def __init__(self, builder, inputs, outputs):
        self.g, self.inputs, self.outputs = builder, inputs, outputs
        self.helper = builder.helper

    def model(self, input_names, output_names, dynamic_axes, export_params, keep_initializers_as_inputs,
              verbose):
        input_names = self._input_names(input_names)
        output_names = self._output_names(output_names)
        axes = _named_axes(dynamic_axes, set(input_names) | set(output_names))
        self._rename(dict(zip((v.name for v in self.inputs), input_names)), output_names)
        graph_inputs = [self._value_info(name, v, axes.get(name, {})) for name, v in zip(input_names, self.inputs)]
        initializers = list(self.g.initializers.values())
        if keep_initializers_as_inputs or not export_params:
            graph_inputs += [self.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in initializers]
        graph_outputs = [self._value_info(name, v, axes.get(name, {})) for name, v in zip(output_names, self.outputs)]
        graph = self.helper.make_graph(self.g.nodes, "main_graph", graph_inputs, graph_outputs,
                                       initializer=initializers if export_params else [])
        model = self.helper.make_model(graph, opset_imports=[self.helper.make_opsetid("", self.g.opset)],
                                       producer_name="pytorch", producer_version=torsh.__version__)
        # IR 9 as PyTorch's exporter writes (ONNX 1.15's: opsets up to 20); later opsets need later IRs
        model.ir_version = max(9, self.helper.find_min_ir_version_for(list(model.opset_import)))
        self._infer_output_shapes(model, axes, output_names)
        self.g.onnx.checker.check_model(model)
        if verbose:
            print(self.g.onnx.printer.to_text(model.graph))
        return model

    def _input_names(self, given):
        """The given names, then PyTorch's default for the rest: ``onnx::<first reader's op>_<index>``."""
        names = list(given or [])
        for index, value in enumerate(self.inputs[len(names):], start=len(names)):
            reader = next((n for n in self.g.nodes if value.name in n.input), None)
            names.append(f"onnx::{reader.op_type}_{index}" if reader is not None else value.name)
        return names

    def _output_names(self, given):
        """The given names, then numbers for the rest, as PyTorch's exporter numbers its values."""
        names = list(given or [])
        counter = itertools.count(len(self.g.nodes) + len(self.inputs))
        while len(names) < len(self.outputs):
            name = str(next(counter))
            if name not in names:
                names.append(name)
        return names

    def _rename(self, input_renames, output_names):
        """Give the inputs and outputs their names in every node; an output that is an input, an initializer or
        another output gets an Identity node of its own."""
        renames = dict(input_renames)
        produced = {out for node in self.g.nodes for out in node.output}
        for value, name in zip(self.outputs, output_names):
            if value.name in produced and value.name not in renames:
                renames[value.name] = name
            else:
                self.g.nodes.append(self.helper.make_node("Identity", [renames.get(value.name, value.name)], [name],
                                                          name=self.g.unique("/Identity")))
        for node in self.g.nodes:
            node.input[:] = [renames.get(i, i) for i in node.input]
            node.output[:] = [renames.get(o, o) for o in node.output]

    def _value_info(self, name, value, dynamic):
        dims = [dynamic.get(axis, size) for axis, size in enumerate(value.shape)]
        return self.helper.make_tensor_value_info(name, self.g.elem_type(value.dtype), dims)

    def _infer_output_shapes(self, model, axes, output_names):
        """Where inputs have dynamic axes, an output's unnamed dims follow from ONNX shape inference (a batch
        dim stays symbolic) rather than the traced sizes."""
        if not axes:
            return
        inferred = self.g.onnx.shape_inference.infer_shapes(_without_output_shapes(model, self.g.onnx))
        by_name = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for output in model.graph.output:
            found = by_name.get(output.name)
            dims = output.type.tensor_type.shape.dim
            if found is None or len(found.type.tensor_type.shape.dim) != len(dims):
                continue
            for dim, inferred_dim in zip(dims, found.type.tensor_type.shape.dim):
                if not dim.HasField("dim_param") and inferred_dim.HasField("dim_param"):
                    dim.CopyFrom(inferred_dim)


def _without_output_shapes(model, onnx):
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for output in copy.graph.output:
        output.type.tensor_type.ClearField("shape")
    return copy


def _named_axes(dynamic_axes, valid_names):
    """``dynamic_axes`` with every axis named: a list of axes gets PyTorch's ``<name>_dynamic_axes_<k>`` (and
    PyTorch's warnings)."""
    named = {}
    for key, value in dynamic_axes.items():
        if key not in valid_names:
            warnings.warn(f"Provided key {key} for dynamic axes is not a valid input/output name", stacklevel=2)
        if isinstance(value, (list, tuple)):
            warnings.warn("No names were found for specified dynamic axes of provided input.Automatically generated "
                          f"names will be applied to each dynamic axes of input {key}", stacklevel=2)
            value = {axis: f"{key}_dynamic_axes_{k + 1}" for k, axis in reversed(list(enumerate(value)))}
        named[key] = dict(value)
    return named
