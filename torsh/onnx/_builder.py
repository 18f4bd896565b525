"""The ONNX graph being written: nodes, initializers and constants, through ``onnx.helper`` (imported when an
export starts, so ``import torsh`` never loads onnx). Converters only call ``GraphBuilder`` methods.

Values a converter sees in place of traced values:
- ``TensorValue``: an ONNX tensor (its name) with the shape and dtype ShapeProp saw at the traced size;
- ``SymInt``: a Python int of the program that is only known when the model runs (``x.size(0)``), as a 0-d int64
  ONNX tensor, with its traced value;
- ``SymShape``: ``x.shape`` / ``x.size()``, read lazily through one ONNX ``Shape`` node.
Anything else is a plain Python constant."""
import operator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TensorValue:
    name: str
    shape: tuple
    dtype: object  # a torsh dtype

    @property
    def rank(self):
        return len(self.shape)


@dataclass
class SymInt:
    name: str
    value: int


@dataclass
class SymShape:
    of: TensorValue
    value: tuple
    names: dict = field(default_factory=dict)  # builder-local cache: the Shape node's output


def is_symbolic(value):
    return isinstance(value, (TensorValue, SymInt, SymShape))


class GraphBuilder:
    """Collects the nodes of one graph. ``op`` appends a node and returns its output name(s)."""

    def __init__(self, opset):
        import onnx  # lazily: only an export needs it
        from onnx import helper, numpy_helper
        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.opset = opset
        self.nodes, self.initializers = [], {}
        self.scope = ""  # the module path of the node being converted ("/0", "/block/ln")
        self._used_names = set()

    # -- naming --------------------------------------------------------------------------------------
    def unique(self, base):
        name, i = base, 0
        while name in self._used_names:
            i += 1
            name = f"{base}_{i}"
        self._used_names.add(name)
        return name

    # -- nodes ---------------------------------------------------------------------------------------
    def op(self, op_type, *inputs, outputs=1, **attributes):
        """Append an ``op_type`` node reading ``inputs`` (names, TensorValues, SymInts; None for an omitted
        optional input) and return its output name (a list of them when ``outputs`` > 1)."""
        node_name = self.unique(f"{self.scope}/{op_type}")
        names = [self.unique(f"{node_name}_output_{i}") for i in range(outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        input_names = [self.name_of(i) for i in inputs]
        while input_names and not input_names[-1]:  # omitted trailing optionals are left out, not "" (which
            input_names.pop()                       # onnxruntime 1.32's LayerNormalization crashes on)
        self.nodes.append(self.helper.make_node(op_type, input_names, names, name=node_name, **attributes))
        return names[0] if outputs == 1 else names

    def name_of(self, value):
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, (TensorValue, SymInt)):
            return value.name
        if isinstance(value, SymShape):
            return self.shape_of(value.of)
        raise TypeError(f"not an ONNX value: {value!r}")

    def const(self, value, dtype=None):
        """A ``Constant`` node holding ``value`` (an array or a Python number / list)."""
        array = np.asarray(value, dtype=dtype)
        tensor = self.numpy_helper.from_array(array)
        return self.op("Constant", value=tensor)

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64))

    def initializer(self, name, array):
        """The graph initializer ``name`` (a parameter or buffer, by its state_dict name), added once."""
        if name not in self.initializers:
            self.initializers[name] = self.numpy_helper.from_array(np.ascontiguousarray(array), name)
            self._used_names.add(name)
        return name

    # -- shapes and run-time ints ------------------------------------------------------------------------
    def shape_of(self, tensor):
        """The output of one ``Shape`` node of ``tensor`` (shared by every size read of it)."""
        cache = getattr(self, "_shapes", None)
        if cache is None:
            cache = self._shapes = {}
        if tensor.name not in cache:
            cache[tensor.name] = self.op("Shape", tensor)
        return cache[tensor.name]

    def size(self, tensor, dim):
        """``tensor.size(dim)`` as a SymInt: ``Gather`` of its ``Shape``."""
        dim = dim % tensor.rank
        return SymInt(self.op("Gather", self.shape_of(tensor), self.const(np.int64(dim)), axis=0),
                      tensor.shape[dim])

    def int_tensor(self, value):
        """A 0-d int64 ONNX value for an int or SymInt."""
        return value.name if isinstance(value, SymInt) else self.const(np.int64(value))

    def shape_tensor(self, dims):
        """A 1-D int64 ONNX shape from ``dims`` (ints and SymInts, or a SymShape): a constant when all are
        known, else a ``Concat`` of the run-time ones, so a reshape follows the batch size."""
        if isinstance(dims, SymShape):
            return self.shape_of(dims.of)
        dims = list(dims)
        if not any(isinstance(d, SymInt) for d in dims):
            return self.ints([int(d) for d in dims])
        axes = self.ints([0])
        parts = [self.op("Unsqueeze", d.name, axes) if isinstance(d, SymInt) else self.ints([int(d)])
                 for d in dims]
        return self.op("Concat", *parts, axis=0)

    def int_arithmetic(self, fn, a, b):
        """``fn`` (operator.add/sub/mul/floordiv) on ints and SymInts: a SymInt computed by ONNX int64 ops."""
        value = fn(a.value if isinstance(a, SymInt) else a, b.value if isinstance(b, SymInt) else b)
        onnx_op = {operator.add: "Add", operator.sub: "Sub", operator.mul: "Mul", operator.floordiv: "Div"}[fn]
        return SymInt(self.op(onnx_op, self.int_tensor(a), self.int_tensor(b)), value)

    # -- dtypes --------------------------------------------------------------------------------------
    def elem_type(self, dtype):
        """The ONNX TensorProto type of a torsh dtype."""
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))

    def cast(self, value, dtype):
        return self.op("Cast", value, to=self.elem_type(dtype))

    def as_tensor(self, value, dtype):
        """An ONNX value of ``dtype`` for a TensorValue (cast when its dtype differs), a SymInt or a number."""
        if isinstance(value, TensorValue):
            return value.name if value.dtype == dtype else self.cast(value, dtype)
        if isinstance(value, SymInt):
            return value.name if dtype.np == np.int64 else self.cast(value.name, dtype)
        return self.const(np.asarray(value, dtype=dtype.np))

    def param(self, name, tensor):
        """The initializer of a parameter or buffer ``tensor`` named ``name`` (its state_dict key)."""
        return self.initializer(name, tensor.detach().numpy())
