"""The ``*_copy`` variants of the view ops (torch.expand_copy, transpose_copy, ...), derived from the views.

Each is the view op followed by a copy into fresh memory: the gradient flows through the view op's own
backward, and the copy's node is named as PyTorch names it (the view's node + "_copy", e.g.
``TBackward0_copy``). ``out=`` takes a tensor (a sequence of tensors for the multi-output ones, which then
return None, as PyTorch's).
"""
import numpy as np

from ...._tensor import wrap
from ....autograd.graph import needs_grad, record
from .. import misc as misc_ops
from . import views as shape, rearrange as shape_extra
from ..._helpers import NamedNode, normalize_dim
from ...registry import copy_out
from .views import CloneBackward0

__all__ = []


class ViewCopyBackward(NamedNode, CloneBackward0):
    """The copy after a view: passes the gradient on to the view's node; named as PyTorch names it."""


def _copy_of(view, node_name):
    result = wrap(np.array(view._data, copy=True, order="C"))
    if needs_grad(view):
        record(ViewCopyBackward(node_name or f"{view.grad_fn.name()}_copy"), (view,), (result,))
    return result


def _derive(name, view_op, node_name=None, complex_grad=True):
    """torsh.<name>: ``view_op``'s result copied (each result, for the ops returning a tuple of views);
    ``node_name``: PyTorch's name for the copy's node where it is not the view's node + "_copy";
    ``complex_grad=False``: PyTorch has no derivative for a complex result (view_as_complex_copy)."""
    def op(input, *args, out=None, **kwargs):
        views = view_op(input, *args, **kwargs)
        if not complex_grad and needs_grad(views) and views.dtype.is_complex:
            raise RuntimeError(f"{name} does not support automatic differentiation for outputs with complex dtype.")
        if isinstance(views, (tuple, list)):
            results = tuple(_copy_of(v, node_name) for v in views)
            if out is None:
                return results
            for result, target in zip(results, out):
                copy_out(result, target)
            return None
        return copy_out(_copy_of(views, node_name), out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"A copy of ``{view_op.__name__}``'s view: same values and gradient, its own memory."
    globals()[name] = op
    __all__.append(name)
    return op


def _alias(input):
    return input.view_as(input)


def _slice(input, dim=0, start=None, end=None, step=1):
    """input[..., start:end:step] along ``dim`` (torch.slice, which has no public view op of its own)."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    dim = normalize_dim(dim, input.ndim)
    return input[(slice(None),) * dim + (slice(start, end, step),)]


def _expand(input, size, *, implicit=False):
    return shape.expand(input, size)


def _view(input, *size):
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
    return input.view(size)


def _detach(input):
    return input.detach()


_VIEW_OPS = {
    "alias_copy": _alias,
    "as_strided_copy": misc_ops.as_strided,
    "detach_copy": _detach,
    "diagonal_copy": shape_extra.diagonal,
    "expand_copy": _expand,
    "narrow_copy": shape.narrow,
    "permute_copy": shape.permute,
    "select_copy": shape.select,
    "slice_copy": _slice,
    "split_copy": shape.split,
    "split_with_sizes_copy": misc_ops.split_with_sizes,
    "squeeze_copy": shape.squeeze,
    "t_copy": shape.t,
    "transpose_copy": shape.transpose,
    "unbind_copy": shape.unbind,
    "unfold_copy": misc_ops.unfold,
    "unsqueeze_copy": shape.unsqueeze,
    "view_copy": _view,
}
# PyTorch's node names where torsh's view op is built from another view (narrow: a slice; unfold: a permute)
_NODE_NAMES = {"narrow_copy": "NarrowCopyBackward0", "unfold_copy": "UnfoldBackward0_copy",
               "alias_copy": "AliasBackward0_copy"}
for _name, _view_op in _VIEW_OPS.items():
    _derive(_name, _view_op, _NODE_NAMES.get(_name))


def derive_complex_view_copies(namespace):
    """view_as_real_copy / view_as_complex_copy, once torsh has the view ops (bound into ``namespace``)."""
    for view_name in ("view_as_real", "view_as_complex"):
        view_op = namespace.get(view_name)
        if view_op is not None and f"{view_name}_copy" not in namespace:
            namespace[f"{view_name}_copy"] = _derive(f"{view_name}_copy", view_op,
                                                     complex_grad=view_name != "view_as_complex")


