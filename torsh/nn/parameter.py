"""nn.Parameter, nn.Buffer and the uninitialized parameters/buffers of lazy modules."""
import numpy as np

from .._array_api import array, set_array
from .._tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    It shares the storage of ``data`` (as PyTorch's ``Parameter(t)`` does) and requires grad
    by default.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = Tensor._wrap(np.empty((0,), dtype=np.float32))
        t = cls._wrap(array(data), False)
        t._version_counter = data._version_counter
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (np.array(array(self), order="C"), self._requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(Tensor._wrap(array(self).copy()), self._requires_grad)
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out


def _rebuild_parameter(array, requires_grad):
    return Parameter(Tensor._wrap(array), requires_grad)


class _BufferMeta(type):
    # isinstance(t, Buffer) holds for the plain tensors Buffer(...) returns, as in PyTorch
    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor as a buffer when assigned to a Module attribute (``persistent`` as in
    ``register_buffer``). Like PyTorch, ``Buffer(t)`` returns a plain detached Tensor flagged
    as a buffer."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = Tensor._wrap(np.empty((0,), dtype=np.float32))
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


class UninitializedTensorMixin:
    _allowed_methods = ("__hash__", "size", "copy_", "is_floating_point", "requires_grad_", "requires_grad",
                        "data", "dtype", "share_memory_", "__class__", "__repr__", "materialize")

    def materialize(self, shape, device=None, dtype=None):
        """Give this placeholder real (uninitialized) storage of ``shape`` and become its concrete class."""
        from .._dtype import get_default_dtype
        if isinstance(shape, int):
            shape = (shape,)
        dtype = dtype or getattr(self, "_lazy_dtype", None) or get_default_dtype()
        set_array(self, np.empty(tuple(shape), dtype=dtype.np))
        self._version_counter = [0]
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
            "`forward` to initialize the parameters before accessing their attributes.")

    def numel(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
            "`forward` to initialize the parameters before accessing their attributes.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter of a lazy module whose shape is known only after the first forward."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        t = Parameter.__new__(cls, None, requires_grad)
        t._lazy_dtype = dtype
        return t

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(self._requires_grad, None, getattr(self, "_lazy_dtype", None))
        memo[id(self)] = out
        return out


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = cls._wrap(np.empty((0,), dtype=np.float32), requires_grad)
        t._lazy_dtype = dtype
        t.persistent = persistent
        return t

    def __init__(self, *args, **kwargs):
        pass


def is_lazy(param):
    return isinstance(param, UninitializedTensorMixin)
