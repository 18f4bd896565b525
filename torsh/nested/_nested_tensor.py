"""The nested tensor: a list of ordinary tensors of one dtype and one dimension (their sizes may differ), seen as
one tensor with a leading batch dimension. Its components are torsh tensors, so autograd runs through them
(``to_padded_tensor`` is pad + stack). The ops PyTorch supports on a strided nested tensor and torsh implements
(elementwise ops with a nested or scalar operand, softmax, transpose and matmul over the component dims,
unbind, padding) map over the components; any other op reads the flat ``_data`` a dense op needs, which raises
PyTorch's NotImplementedError for the NestedTensorCPU backend."""
import gc
import sys

import torsh
from .._tensor import Tensor
from .._layouts import strided

_BACKEND_MESSAGE = ("Could not run 'aten::{op}' with arguments from the 'NestedTensorCPU' backend. This could be "
                    "because the operator doesn't exist for this backend, or was omitted during the "
                    "selective/custom build process (if using custom build).")


def _not_supported(op):
    return NotImplementedError(_BACKEND_MESSAGE.format(op=op))


def _calling_op():
    """The op whose implementation asked a nested tensor for its dense array (for the error's wording)."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            break
        # generated ops share one code object: their function objects carry the op's name (an error path only)
        names = [frame.f_code.co_name] + [f.__name__ for f in gc.get_referrers(frame.f_code)
                                          if getattr(f, "__code__", None) is frame.f_code]
        for name in names:
            if not name.startswith("_") and (hasattr(torsh, name) or hasattr(Tensor, name)):
                return name
        frame = frame.f_back
    return "unknown"


class NestedTensor(Tensor):
    """``torch.nested.nested_tensor``'s result (strided or jagged layout)."""

    @classmethod
    def _of(cls, components, layout=strided):
        t = object.__new__(cls)
        t.__dict__["_components"] = list(components)
        t.__dict__["_nested_layout"] = layout
        t._requires_grad = False
        t._grad = None
        t._grad_fn = None
        t._output_nr = 0
        t._version_counter = [0]
        t._base = None
        t._view_fn = None
        t._accumulator = None
        t._backward_hooks = None
        t._retains_grad = False
        return t

    @property
    def _data(self):  # a dense op's entry point: nested tensors have no one array
        raise _not_supported(_calling_op())

    # -- what it is ----------------------------------------------------------------------------------
    is_nested = True

    @property
    def layout(self):
        return self._nested_layout

    @property
    def dtype(self):
        return self._components[0].dtype if self._components else torsh.get_default_dtype()

    @property
    def device(self):
        return torsh.device("cpu")

    @property
    def requires_grad(self):
        return any(c.requires_grad for c in self._components)

    @requires_grad.setter
    def requires_grad(self, value):
        for c in self._components:
            c.requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        grads = [c.grad for c in self._components]
        if all(g is None for g in grads):
            return None
        return NestedTensor._of([g if g is not None else torsh.zeros_like(c)
                                 for g, c in zip(grads, self._components)], self._nested_layout)

    @property
    def grad_fn(self):
        return next((c.grad_fn for c in self._components if c.grad_fn is not None), None)

    @property
    def is_leaf(self):
        return all(c.is_leaf for c in self._components)

    def dim(self):
        return (self._components[0].dim() if self._components else 0) + 1

    ndimension = dim

    @property
    def ndim(self):
        return self.dim()

    def numel(self):
        return sum(c.numel() for c in self._components)

    def _jagged_sizes(self):
        """(B, ..., j<N>, ...): the one ragged dim as a ``RaggedSize`` (PyTorch's nested int), made once."""
        sizes = self.__dict__.get("_jagged")
        if sizes is None:
            dims = []
            for d in range(self.dim() - 1):
                values = {c.shape[d] for c in self._components}
                dims.append(values.pop() if len(values) == 1 else None)
            ragged = [d for d, v in enumerate(dims) if v is None]
            if ragged:
                offsets = [0]
                for c in self._components:
                    offsets.append(offsets[-1] + c.shape[ragged[0]])
                dims[ragged[0]] = RaggedSize(offsets)
            sizes = self.__dict__["_jagged"] = (len(self._components), *dims)
        return sizes

    def size(self, dim=None):
        if self._nested_layout is not strided:
            sizes = self._jagged_sizes()
            return tuple.__new__(torsh.Size, sizes) if dim is None else sizes[dim]
        if dim is None:
            raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")
        ndim = self.dim()
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got "
                             f"{dim})")
        dim %= ndim
        if dim == 0:
            return len(self._components)
        sizes = {c.shape[dim - 1] for c in self._components}
        if len(sizes) != 1:
            raise RuntimeError(f"Given dimension {dim} is irregular and does not have a size.")
        return sizes.pop()

    @property
    def shape(self):
        return self.size()

    def stride(self, dim=None):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support strides. Please file an issue.")

    def is_contiguous(self, memory_format=None):
        return True

    def __len__(self):
        return self.size()

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._components[0].reshape(()).item() if self._components[0].numel() else False)

    def item(self):
        raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")

    def tolist(self):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support strides. Please file an issue.")

    def __repr__(self):
        if self._nested_layout is not strided:
            sizes = self._jagged_sizes()
            ragged = next((v for v in sizes[1:] if isinstance(v, RaggedSize)), None)
            offsets = torsh.tensor(ragged.offsets if ragged is not None else
                                   [i * (sizes[1] if len(sizes) > 1 else 1) for i in range(len(sizes[0:1]) + 1)])
            return (f"NestedTensor(size=({', '.join(str(v) for v in sizes)}), offsets={offsets!r}, "
                    "contiguous=True)")
        if not self._components:
            return "nested_tensor([\n\n])"
        body = ",\n".join("  " + repr(c).replace("\n", "\n  ") for c in self._components)
        suffix = ""
        if self.grad_fn is not None:
            suffix = f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            suffix = ", requires_grad=True"
        return f"nested_tensor([\n{body}\n]{suffix})"

    __str__ = __repr__

    # -- structure -----------------------------------------------------------------------------------
    def unbind(self, dim=0):
        if dim % max(self.dim(), 1) != 0:
            raise RuntimeError(f"NestedTensor can only be unbound along dimension 0 got dimension {dim} instead.")
        return tuple(self._components)

    def __getitem__(self, index):
        if isinstance(index, int) and not isinstance(index, bool):
            n = len(self._components)
            if not -n <= index < n:
                raise IndexError(f"index {index} is out of bounds for dimension 0 with size {n}")
            return self._components[index]
        if isinstance(index, tuple) and index and isinstance(index[0], int):
            return self[index[0]][index[1:]]
        raise _not_supported("slice.Tensor" if isinstance(index, slice) else "index.Tensor")

    def to_padded_tensor(self, padding, output_size=None):
        return to_padded_tensor(self, padding, output_size)

    def _map(self, fn):
        return NestedTensor._of([fn(c) for c in self._components], self._nested_layout)

    def clone(self, *, memory_format=None):
        return self._map(lambda c: c.clone())

    def detach(self):
        return self._map(lambda c: c.detach())

    def contiguous(self, memory_format=None):
        return self

    def to(self, *args, **kwargs):
        return self._map(lambda c: c.to(*args, **kwargs))

    def float(self):
        return self._map(lambda c: c.float())

    def double(self):
        return self._map(lambda c: c.double())

    def half(self):
        return self._map(lambda c: c.half())

    def softmax(self, dim, dtype=None):
        if dim % self.dim() == 0:
            raise RuntimeError("Cannot apply softmax across nested dimension 0")
        d = dim % self.dim() - 1
        return self._map(lambda c: c.softmax(d, dtype=dtype) if dtype is not None else c.softmax(d))

    def transpose(self, dim0, dim1):
        ndim = self.dim()
        if dim0 % ndim == 0 or dim1 % ndim == 0:
            raise RuntimeError("Nested tensor dimension 0 cannot be transposed")
        return self._map(lambda c: c.transpose(dim0 % ndim - 1, dim1 % ndim - 1))

    def unsqueeze(self, dim):
        ndim = self.dim() + 1
        if dim % ndim == 0:
            raise RuntimeError("unsqueeze(): For nested tensors, unsqueezing dimension 0 is not supported at the "
                               "moment if you need this feature, please open an issue on github describing your use "
                               "case.")
        return self._map(lambda c: c.unsqueeze(dim % ndim - 1))

    def matmul(self, other):
        if not isinstance(other, NestedTensor):
            raise RuntimeError("Expected both to be nested, but got a nested self and non-nested other")
        if len(self._components) != len(other._components):
            raise RuntimeError(f"matmul: Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{len(self._components)}] but got: [{len(other._components)}].")
        return NestedTensor._of([a.matmul(b) for a, b in zip(self._components, other._components)],
                                self._nested_layout)

    __matmul__ = matmul

    def bmm(self, other):
        return self.matmul(other)

    def _binary(self, other, name, op):
        if isinstance(other, NestedTensor):
            _same_structure(self, other, name)
            return NestedTensor._of([op(a, b) for a, b in zip(self._components, other._components)],
                                    self._nested_layout)
        if isinstance(other, Tensor):
            if other.dim() == 0 or self._nested_layout is not strided:  # a jagged tensor broadcasts dense ones
                return self._map(lambda c: op(c, other))
            raise RuntimeError("Expected both self and other to be nested, but got a nested self and non-nested "
                               "other")
        if isinstance(other, (bool, int, float, complex)):
            return self._map(lambda c: op(c, other))
        return NotImplemented

    def _inplace(self, other, name, op):
        result = self._binary(other, name, op)
        if result is NotImplemented:
            return result
        for mine, new in zip(self._components, result._components):
            mine.copy_(new)
        return self


def _unary(name):
    def method(self, *args, **kwargs):
        return self._map(lambda c: getattr(c, name)(*args, **kwargs))
    method.__name__ = name
    return method


# the ops PyTorch 2.13 runs on a strided nested tensor (others read ``_data`` and raise as PyTorch)
for _name in ("relu", "tanh", "sin", "cos", "abs", "neg", "sqrt", "sgn", "logical_not", "__neg__", "__abs__"):
    setattr(NestedTensor, _name, _unary(_name))

for _name, _op in (("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
                   ("div", lambda a, b: a / b)):
    def _method(self, other, _name=_name, _op=_op):
        return self._binary(other, _name, _op)

    def _in_place(self, other, _name=_name, _op=_op):
        return self._inplace(other, _name, _op)
    dunder = {"div": "truediv"}.get(_name, _name)
    setattr(NestedTensor, _name, _method)
    setattr(NestedTensor, f"{_name}_", _in_place)
    setattr(NestedTensor, f"__{dunder}__", _method)
    setattr(NestedTensor, f"__i{dunder}__", _in_place)

for _name, _op in (("eq", lambda a, b: a == b), ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b)):
    def _compare(self, other, _name=_name, _op=_op):  # a scalar only, as PyTorch
        if isinstance(other, NestedTensor):
            if _name == "eq":
                raise RuntimeError("eq does not support nested tensor as other value.")
            raise _not_supported(f"{_name}.Tensor")
        return self._binary(other, _name, _op)
    setattr(NestedTensor, _name, _compare)
    setattr(NestedTensor, f"__{_name}__", _compare)

for _name in ("ne", "lt", "le", "pow"):
    def _unsupported(self, other, _name=_name):
        if _name == "pow":
            raise _not_supported("pow.Tensor_Tensor" if isinstance(other, Tensor) else "pow.Tensor_Scalar")
        raise _not_supported(f"{_name}.Tensor" if isinstance(other, Tensor) else f"{_name}.Scalar")
    setattr(NestedTensor, _name, _unsupported)
    setattr(NestedTensor, f"__{_name}__", _unsupported)
NestedTensor.__radd__ = NestedTensor.add
NestedTensor.__rmul__ = NestedTensor.mul
NestedTensor.__hash__ = object.__hash__


def _reflected_unsupported(name):
    def method(self, other):
        raise _not_supported(name)
    return method


NestedTensor.__rsub__ = _reflected_unsupported("rsub.Scalar")
NestedTensor.__rtruediv__ = _reflected_unsupported("reciprocal")
NestedTensor.__rpow__ = _reflected_unsupported("pow.Scalar")


class RaggedSize:
    """The ragged dim of a jagged nested tensor (PyTorch's nested int ``j1``): it prints as ``j<N>``, one number
    per distinct set of offsets."""
    _count = [0]

    def __init__(self, offsets):
        RaggedSize._count[0] += 1
        self.offsets, self.name = list(offsets), f"j{RaggedSize._count[0]}"

    def __repr__(self):
        return self.name

    def __eq__(self, other):
        return other is self

    __hash__ = object.__hash__


# the unary ops PyTorch runs on a jagged nested tensor beyond the strided ones
_JAGGED_UNARY = ("exp", "log", "sigmoid", "silu", "gelu", "square", "reciprocal", "rsqrt", "floor", "ceil",
                 "round", "trunc", "erf", "expm1", "log1p", "sign", "tan", "sinh", "cosh")


def _jagged_unary(name):
    def method(self, *args, **kwargs):
        if self._nested_layout is strided:
            raise _not_supported(name)
        return self._map(lambda c: getattr(c, name)(*args, **kwargs))
    method.__name__ = name
    return method


for _name in _JAGGED_UNARY:
    if hasattr(Tensor, _name):
        setattr(NestedTensor, _name, _jagged_unary(_name))


def _sum(self, dim=None, keepdim=False, *, dtype=None):
    if dim is None and self._nested_layout is not strided:
        parts = [c.sum(dtype=dtype) if dtype is not None else c.sum() for c in self._components]
        return torsh.stack(parts).sum() if parts else torsh.zeros((), dtype=dtype or self.dtype)
    if self._nested_layout is strided and dim is not None and not keepdim:
        raise RuntimeError("NestedTensor always requires keepdim=True for now.")
    raise _not_supported("sum.dim_IntList" if dim is not None else "sum")


NestedTensor.sum = _sum


def _same_structure(a, b, name):
    if len(a._components) != len(b._components) or any(x.shape != y.shape for x, y in
                                                       zip(a._components, b._components)):
        raise RuntimeError(f"{name} does not support broadcasting when given a NestedTensor")


def to_padded_tensor(input, padding, output_size=None):  # noqa: A002 - PyTorch's name
    """The components padded with ``padding`` to the largest size in each dim (or ``output_size``) and
    stacked: a dense tensor, differentiable with respect to the components."""
    if not isinstance(input, NestedTensor):
        raise NotImplementedError("Could not run 'aten::to_padded_tensor' with arguments from the 'CPU' backend. "
                                  "This could be because the operator doesn't exist for this backend, or was omitted "
                                  "during the selective/custom build process (if using custom build).")
    components = input._components
    ndim = input.dim()
    sizes = [len(components)] + [max((c.shape[d] for c in components), default=0) for d in range(ndim - 1)]
    if output_size is not None:
        output_size = list(output_size)
        if len(output_size) != ndim:
            raise RuntimeError("Length of output_size does not match NestedTensor dims. Broadcasting is not "
                               "supported.")
        if any(o < s for o, s in zip(output_size, sizes)):
            raise RuntimeError("Value in output_size is less than NestedTensor padded size. Truncation is not "
                               "supported.")
        sizes = output_size
    padded = []
    for c in components:
        pads = []
        for d in reversed(range(c.dim())):
            pads += [0, sizes[d + 1] - c.shape[d]]
        padded.append(torsh.nn.functional.pad(c, pads, value=padding) if any(pads) else c)
    while len(padded) < sizes[0]:
        padded.append(torsh.full(sizes[1:], padding, dtype=input.dtype))
    if not padded:
        return torsh.empty(sizes, dtype=input.dtype)
    return torsh.stack(padded)
