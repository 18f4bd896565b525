"""The converter table: one small function per op, writing its ONNX nodes through a ``GraphBuilder``.

``FUNCTIONS[name](g, *args, **kwargs)`` converts a function or Tensor method called ``name`` (``torsh.relu``,
``F.relu``, ``x.relu()`` and ``operator.add`` share the table: a method gets ``self`` first), with PyTorch's
parameter names; ``MODULES[type](g, module, path, *args, **kwargs)`` converts a leaf module. A converter returns
an ONNX value name for a tensor result (the exporter attaches the shape and dtype ShapeProp saw), a SymInt /
SymShape for sizes, or a Python value. ``g.result`` is the node's traced result (shape and dtype)."""
import math
import operator

import numpy as np

from .. import nn
from ._builder import SymInt, SymShape, TensorValue
from .errors import UnsupportedOperatorError

FUNCTIONS, MODULES = {}, {}


def function(*names):
    def declare(converter):
        for name in names:
            FUNCTIONS[name] = converter
        return converter
    return declare


def module(*types):
    def declare(converter):
        for module_type in types:
            MODULES[module_type] = converter
        return converter
    return declare


def unsupported(g, name, supported_version=None):
    return UnsupportedOperatorError(f"aten::{name}", g.opset, supported_version)


def _dims(dims):
    """``view(2, -1)`` and ``view((2, -1))`` alike: the sizes as one sequence (or a SymShape)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list, SymShape)):
        return dims[0]
    return dims


def _axis(dim, rank):
    return dim % rank if rank else 0


# -- arithmetic ----------------------------------------------------------------------------------------------
def _binary(onnx_op, python_op):
    def convert(g, input, other, *, alpha=1, out=None):
        if not isinstance(input, TensorValue) and not isinstance(other, TensorValue):
            return g.int_arithmetic(python_op, input, other)  # x.size(0) * 2: run-time int arithmetic
        dtype = g.result.dtype
        rhs = g.as_tensor(other, dtype)
        if alpha != 1:
            rhs = g.op("Mul", rhs, g.as_tensor(alpha, dtype))
        return g.op(onnx_op, g.as_tensor(input, dtype), rhs)
    return convert


FUNCTIONS.update(add=_binary("Add", operator.add), sub=_binary("Sub", operator.sub),
                 mul=_binary("Mul", operator.mul))


@function("div", "truediv")
def div(g, input, other, *, rounding_mode=None, out=None):
    if not isinstance(input, TensorValue) and not isinstance(other, TensorValue):
        raise unsupported(g, "div")  # x.size(0) / 2 is a float of a run-time int: ONNX has no such scalar
    dtype = g.result.dtype
    quotient = g.op("Div", g.as_tensor(input, dtype), g.as_tensor(other, dtype))
    if rounding_mode is None or not dtype.is_floating_point:
        return quotient
    return g.op("Floor", quotient) if rounding_mode == "floor" else _trunc(g, quotient)


def _trunc(g, x):
    return g.op("Mul", g.op("Floor", g.op("Abs", x)), g.op("Sign", x))


@function("floordiv", "floor_divide")
def floordiv(g, input, other, *, out=None):
    if not isinstance(input, TensorValue) and not isinstance(other, TensorValue):
        return g.int_arithmetic(operator.floordiv, input, other)
    return div(g, input, other, rounding_mode="floor")


@function("matmul")
def matmul(g, input, other, *, out=None):
    return g.op("MatMul", input, other)


@function("neg")
def neg(g, input):
    return g.op("Neg", input)


# -- activations ---------------------------------------------------------------------------------------------
def _unary(onnx_op):
    def convert(g, input, *args, **kwargs):  # inplace= and the like do not change the value
        return g.op(onnx_op, input)
    return convert


FUNCTIONS.update(relu=_unary("Relu"), relu_=_unary("Relu"), sigmoid=_unary("Sigmoid"), tanh=_unary("Tanh"),
                 exp=_unary("Exp"), log=_unary("Log"), sqrt=_unary("Sqrt"), abs=_unary("Abs"),
                 contiguous=_unary("Identity"), clone=_unary("Identity"), dropout=_unary("Identity"))


@function("gelu")
def gelu(g, input, approximate="none"):
    if g.opset >= 20:
        return g.op("Gelu", input, approximate=approximate)
    dtype = input.dtype
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", input, g.op("Mul", input, input))
        inner = g.op("Add", input, g.op("Mul", cube, g.as_tensor(0.044715, dtype)))
        inner = g.op("Tanh", g.op("Mul", inner, g.as_tensor(math.sqrt(2 / math.pi), dtype)))
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        inner = g.op("Erf", g.op("Div", input, g.as_tensor(math.sqrt(2), dtype)))
    half_x = g.op("Mul", input, g.as_tensor(0.5, dtype))
    return g.op("Mul", half_x, g.op("Add", inner, g.as_tensor(1.0, dtype)))


@function("silu")
def silu(g, input, inplace=False):
    return g.op("Mul", input, g.op("Sigmoid", input))


@function("leaky_relu")
def leaky_relu(g, input, negative_slope=0.01, inplace=False):
    return g.op("LeakyRelu", input, alpha=float(negative_slope))


def _softmax_dim(dim, rank):
    """PyTorch's implicit dim of a softmax called without one."""
    if dim is None:
        dim = 0 if rank in (0, 1, 3) else 1
    return dim


def _softmax(onnx_op):
    def convert(g, input, dim=None, _stacklevel=3, dtype=None):
        x = g.cast(input, dtype) if dtype is not None else input
        return g.op(onnx_op, x, axis=_softmax_dim(dim, input.rank))
    return convert


FUNCTIONS.update(softmax=_softmax("Softmax"), log_softmax=_softmax("LogSoftmax"))


# -- shapes ----------------------------------------------------------------------------------------------------
@function("size")
def size(g, input, dim=None):
    if dim is None:
        return SymShape(input, tuple(input.shape))
    return g.size(input, dim)


@function("getattr")
def getattr_(g, obj, name):
    if isinstance(obj, TensorValue) and name == "shape":
        return SymShape(obj, tuple(obj.shape))
    raise unsupported(g, f"getattr ({name})")


@function("getitem")
def getitem(g, obj, index):
    if isinstance(obj, SymShape) and isinstance(index, int):
        return g.size(obj.of, index)
    if isinstance(obj, TensorValue):
        return _basic_index(g, obj, index if isinstance(index, tuple) else (index,))
    raise unsupported(g, "index")


_INT64_MAX = 2 ** 63 - 1


def _index_end(g, item):
    """Where the one-element slice of index ``item`` ends (-1's runs to the end)."""
    if isinstance(item, SymInt):
        return g.int_arithmetic(operator.add, item, 1)
    return _INT64_MAX if item == -1 else item + 1


def _basic_index(g, x, index):
    """``x[1:, -1]``, ``x[..., :n]``: one ``Slice`` over the sliced axes, then ``Squeeze`` of the int-indexed
    ones. Advanced indexing (tensors, lists, None) has no converter."""
    if not all((isinstance(i, (int, slice, SymInt)) and not isinstance(i, bool)) or i is Ellipsis for i in index):
        raise unsupported(g, "index")
    if any(i is Ellipsis for i in index):
        at = next(k for k, i in enumerate(index) if i is Ellipsis)
        index = index[:at] + (slice(None),) * (x.rank - len(index) + 1) + index[at + 1:]
    starts, ends, axes, steps, squeezed = [], [], [], [], []
    for axis, item in enumerate(index):
        if isinstance(item, slice):
            if item == slice(None):
                continue
            start, end, step = item.start, item.stop, item.step
            starts.append(0 if start is None else start)
            ends.append(_INT64_MAX if end is None else end)
            steps.append(1 if step is None else step)
        else:
            starts.append(item)
            ends.append(_index_end(g, item))
            steps.append(1)
            squeezed.append(axis)
        axes.append(axis)
    if not axes:
        return g.op("Identity", x)
    sliced = g.op("Slice", x, g.shape_tensor(starts), g.shape_tensor(ends), g.ints(axes), g.shape_tensor(steps))
    return g.op("Squeeze", sliced, g.ints(squeezed)) if squeezed else sliced


@function("dim")
def dim(g, input):
    return input.rank


@function("view", "reshape")
def reshape(g, input, *shape):
    return g.op("Reshape", input, g.shape_tensor(_dims(shape)))


@function("flatten")
def flatten(g, input, start_dim=0, end_dim=-1):
    rank = input.rank
    start, end = _axis(start_dim, rank), _axis(end_dim, rank)
    if rank == 0:
        return g.op("Reshape", input, g.ints([1]))
    if end == rank - 1 and start > 0:
        return g.op("Flatten", input, axis=start)
    # leading dims copied from the input (0 in Reshape), the collapsed ones -1, the trailing ones as traced
    shape = [0] * start + [-1] + list(input.shape[end + 1:])
    return g.op("Reshape", input, g.ints(shape))


@function("permute")
def permute(g, input, *dims):
    return g.op("Transpose", input, perm=[_axis(d, input.rank) for d in _dims(dims)])


@function("transpose")
def transpose(g, input, dim0, dim1):
    perm = list(range(input.rank))
    a, b = _axis(dim0, input.rank), _axis(dim1, input.rank)
    perm[a], perm[b] = perm[b], perm[a]
    return g.op("Transpose", input, perm=perm)


@function("t")
def t(g, input):
    return transpose(g, input, 0, 1) if input.rank == 2 else g.op("Identity", input)


@function("unsqueeze")
def unsqueeze(g, input, dim):
    return g.op("Unsqueeze", input, g.ints([_axis(dim, input.rank + 1)]))


@function("squeeze")
def squeeze(g, input, dim=None):
    if dim is None:
        return g.op("Squeeze", input)
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    dims = [_axis(d, input.rank) for d in dims if input.shape[_axis(d, input.rank)] == 1]  # PyTorch skips others
    return g.op("Squeeze", input, g.ints(dims)) if dims else g.op("Identity", input)


@function("cat", "concat", "concatenate")
def cat(g, tensors, dim=0, *, out=None):
    dtype = g.result.dtype
    rank = len(g.result.shape)
    return g.op("Concat", *[g.as_tensor(t, dtype) for t in tensors], axis=_axis(dim, rank))


# -- reductions ------------------------------------------------------------------------------------------------
def _reduce(onnx_op, axes_input_since):
    def convert(g, input, dim=None, keepdim=False, *, dtype=None, out=None):
        x = g.cast(input, dtype) if dtype is not None else input
        if isinstance(dim, int):
            dim = [dim]
        axes = None if dim is None or len(dim) == 0 else [_axis(d, input.rank) for d in dim]
        if axes is None:
            return g.op(onnx_op, x, keepdims=int(keepdim))
        if g.opset >= axes_input_since:
            return g.op(onnx_op, x, g.ints(axes), keepdims=int(keepdim))
        return g.op(onnx_op, x, axes=axes, keepdims=int(keepdim))
    return convert


FUNCTIONS.update(mean=_reduce("ReduceMean", 18), sum=_reduce("ReduceSum", 13))


# -- nn.functional with weights -------------------------------------------------------------------------------
@function("linear")
def linear(g, input, weight, bias=None):
    if input.rank == 2:
        return g.op("Gemm", input, weight, bias, transB=1)
    product = g.op("MatMul", input, g.op("Transpose", weight, perm=[1, 0]))
    return product if bias is None else g.op("Add", product, bias)


@function("layer_norm")
def layer_norm(g, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if g.opset < 17:
        raise unsupported(g, "layer_norm", 17)
    normalized_shape = tuple(normalized_shape)
    if weight is None:
        weight = g.const(np.ones(normalized_shape, dtype=input.dtype.np))
    return g.op("LayerNormalization", input, weight, bias, axis=-len(normalized_shape), epsilon=float(eps))


@function("embedding")
def embedding(g, input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if max_norm is not None:
        raise unsupported(g, "embedding_renorm")
    return g.op("Gather", weight, input, axis=0)


# -- modules -------------------------------------------------------------------------------------------------------
def _param(g, path, name, module_):
    """The initializer of ``module_.<name>`` (named ``<path>.<name>`` as in state_dict), or None."""
    tensor = getattr(module_, name)
    return None if tensor is None else g.param(f"{path}.{name}" if path else name, tensor)


@module(nn.Linear)
def linear_module(g, m, path, input):
    return linear(g, input, _param(g, path, "weight", m), _param(g, path, "bias", m))


@module(nn.Conv1d, nn.Conv2d)
def conv_module(g, m, path, input):
    if m.padding_mode != "zeros":
        raise unsupported(g, "pad")
    return g.op("Conv", input, _param(g, path, "weight", m), _param(g, path, "bias", m),
                kernel_shape=list(m.kernel_size), strides=list(m.stride), dilations=list(m.dilation),
                group=m.groups, pads=_conv_pads(m))


def _conv_pads(m):
    """ONNX ``pads`` (all begins, then all ends) of a convolution's padding (ints or "valid"/"same")."""
    if m.padding == "valid":
        return [0] * (2 * len(m.kernel_size))
    if m.padding == "same":  # PyTorch puts the odd pixel at the end
        totals = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals]
    return list(m.padding) * 2


@module(nn.BatchNorm1d, nn.BatchNorm2d)
def batch_norm_module(g, m, path, input):
    if m.running_mean is None:
        raise unsupported(g, "batch_norm")  # batch statistics at inference: no ONNX equivalent here
    ones = np.ones(m.num_features, dtype=input.dtype.np)
    scale = _param(g, path, "weight", m) if m.affine else g.const(ones)
    bias = _param(g, path, "bias", m) if m.affine else g.const(np.zeros_like(ones))
    return g.op("BatchNormalization", input, scale, bias, _param(g, path, "running_mean", m),
                _param(g, path, "running_var", m), epsilon=float(m.eps),
                momentum=1.0 - (m.momentum if m.momentum is not None else 0.0))


@module(nn.LayerNorm)
def layer_norm_module(g, m, path, input):
    weight = _param(g, path, "weight", m) if m.elementwise_affine else None
    bias = _param(g, path, "bias", m) if m.elementwise_affine and m.bias is not None else None
    return layer_norm(g, input, m.normalized_shape, weight, bias, m.eps)


@module(nn.Embedding)
def embedding_module(g, m, path, input):
    return embedding(g, input, _param(g, path, "weight", m), max_norm=m.max_norm)


def _stateless(converter, *attributes):
    """A module converter calling the function converter with the module's attributes as arguments."""
    def convert(g, m, path, input):
        return converter(g, input, *[getattr(m, a) for a in attributes])
    return convert


MODULES.update({nn.ReLU: _stateless(FUNCTIONS["relu"]), nn.Sigmoid: _stateless(FUNCTIONS["sigmoid"]),
                nn.Tanh: _stateless(FUNCTIONS["tanh"]), nn.SiLU: _stateless(silu),
                nn.GELU: _stateless(gelu, "approximate"), nn.LeakyReLU: _stateless(leaky_relu, "negative_slope"),
                nn.Softmax: _stateless(FUNCTIONS["softmax"], "dim"),
                nn.LogSoftmax: _stateless(FUNCTIONS["log_softmax"], "dim"),
                nn.Flatten: _stateless(flatten, "start_dim", "end_dim"),
                nn.Dropout: _stateless(FUNCTIONS["dropout"]), nn.Identity: _stateless(FUNCTIONS["contiguous"])})


def _pair(value):
    return list(value) if isinstance(value, (tuple, list)) else [value, value]


@module(nn.MaxPool2d)
def max_pool2d_module(g, m, path, input):
    if m.return_indices:
        raise unsupported(g, "max_pool2d_with_indices")
    stride = m.stride if m.stride is not None else m.kernel_size
    return g.op("MaxPool", input, kernel_shape=_pair(m.kernel_size), strides=_pair(stride),
                pads=_pair(m.padding) * 2, dilations=_pair(m.dilation), ceil_mode=int(m.ceil_mode))


@module(nn.AvgPool2d)
def avg_pool2d_module(g, m, path, input):
    if m.divisor_override is not None:
        raise unsupported(g, "avg_pool2d")
    stride = m.stride if m.stride is not None else m.kernel_size
    return g.op("AveragePool", input, kernel_shape=_pair(m.kernel_size), strides=_pair(stride),
                pads=_pair(m.padding) * 2, ceil_mode=int(m.ceil_mode),
                count_include_pad=int(m.count_include_pad))


@module(nn.AdaptiveAvgPool2d)
def adaptive_avg_pool2d_module(g, m, path, input):
    output_size = _pair(m.output_size)
    if output_size == [1, 1]:
        return g.op("GlobalAveragePool", input)
    height, width = input.shape[-2:]
    if None in output_size or height % output_size[0] or width % output_size[1]:
        raise unsupported(g, "adaptive_avg_pool2d")  # windows of unequal sizes
    kernel = [height // output_size[0], width // output_size[1]]
    return g.op("AveragePool", input, kernel_shape=kernel, strides=kernel)
