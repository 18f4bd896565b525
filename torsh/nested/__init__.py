"""``torch.nested``: tensors whose components differ in size (``nested_tensor``, ``as_nested_tensor``,
``to_padded_tensor``). A basic subset: see ``_nested_tensor`` for the ops supported; the others raise PyTorch's
NotImplementedError for the NestedTensorCPU backend."""
import torsh
from .._layouts import jagged, strided
from .._tensor import Tensor
from ._nested_tensor import NestedTensor, to_padded_tensor

__all__ = ["as_nested_tensor", "nested_tensor", "to_padded_tensor"]


def _check_layout(layout):
    if layout is None:
        return strided
    if layout not in (strided, jagged):
        raise RuntimeError(f"Specified layout is unsupported for nested tensors: {layout}")
    return layout


def _components(tensor_list, dtype, copy, name):
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensor_list' must be a list of Tensors, not "
                        f"{type(tensor_list).__name__}")
    items = [t if isinstance(t, Tensor) else torsh.tensor(t, dtype=dtype) for t in tensor_list]
    for i, t in enumerate(items):
        if t.dim() != items[0].dim():
            raise RuntimeError("All Tensors given to nested_tensor must have the same dimension. Found dimension "
                               f"{t.dim()} for Tensor at index {i} and dimension {items[0].dim()} for Tensor at "
                               "index 0.")
    target = dtype if dtype is not None else (items[0].dtype if items else None)
    out = []
    for t in items:
        t = t.to(target) if target is not None and t.dtype != target else t
        out.append(t.detach().clone() if copy else t)
    return out


def nested_tensor(tensor_list, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A nested tensor holding copies of ``tensor_list`` (a leaf: no autograd history)."""
    layout = _check_layout(layout)
    components = _components(tensor_list, dtype, True, "nested_tensor")
    for c in components:
        c.requires_grad_(requires_grad)
    return NestedTensor._of(components, layout)


def as_nested_tensor(ts, dtype=None, device=None, layout=None):
    """A nested tensor over ``ts`` keeping their autograd history (a nested tensor is returned as is)."""
    layout = _check_layout(layout)
    if isinstance(ts, NestedTensor):
        return ts if dtype is None or dtype == ts.dtype else ts.to(dtype)
    if isinstance(ts, Tensor):
        ts = list(ts.unbind(0))
    return NestedTensor._of(_components(ts, dtype, False, "as_nested_tensor"), layout)


def narrow(tensor, dim, start, length, layout=strided):
    """Per-row narrowing into a jagged nested tensor; torsh has no jagged views."""
    raise NotImplementedError("torch.nested.narrow is not supported by torsh (it needs jagged views)")
