"""torch.cond and torch.while_loop, eagerly.

PyTorch traces both through Dynamo to keep the control flow in a graph; torsh has no graph capture of Python
control flow, so each runs as the Python statement it stands for, after PyTorch's argument checks, and autograd
records whatever branch or iterations ran.
"""
import torsh
from torsh.utils import _pytree as pytree

__all__ = ["cond", "while_loop"]


def cond(pred, true_fn, false_fn, operands=()):
    r"""``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; ``pred`` is a bool or a one-element tensor."""
    if isinstance(pred, (bool, int, float)):
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, (bool, torsh.Tensor)):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if isinstance(pred, torsh.Tensor) and pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    if not isinstance(operands, (tuple, list)) or pytree.tree_any(lambda t: not isinstance(t, torsh.Tensor), operands):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only "
                           f"consists of tensor leaves, but got {operands}.")
    return true_fn(*operands) if bool(pred) else false_fn(*operands)


_CARRY_TYPES = "(<class 'torch.Tensor'>, <class 'int'>, <class 'torch.SymInt'>)"


def _check_pred(pred):
    scalar_bool = isinstance(pred, torsh.Tensor) and pred.dim() == 0 and pred.dtype == torsh.bool
    if not (scalar_bool or isinstance(pred, bool)):
        raise RuntimeError(f"cond_fn must return a boolean scalar tensor or a boolean but got {pred}")
    return bool(pred)


def while_loop(cond_fn, body_fn, carried_inputs):
    r"""Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)`` is a True boolean scalar; return ``carried``
    (the inputs' clones when the loop never runs)."""
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    flat = pytree.tree_leaves(carried_inputs)
    if not all(isinstance(a, (torsh.Tensor, int)) for a in flat):
        raise AssertionError(f"{flat} can only be of {_CARRY_TYPES} but got {tuple(type(a) for a in flat)}")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list but got {type(carried_inputs)}")
    carried = tuple(carried_inputs)
    if not _check_pred(cond_fn(*carried)):
        return tuple(v.clone() if isinstance(v, torsh.Tensor) else v for v in carried)
    out = carried
    while True:
        out = body_fn(*carried)
        # one carried value may come back bare (PyTorch's traced loop accepts it)
        step = (out,) if len(carried) == 1 and not isinstance(out, tuple) else out
        if not isinstance(step, tuple):
            raise AssertionError(f"body_fn should return a tuple but got {type(out)}")
        if len(step) != len(carried):
            raise AssertionError("body_fn should return the same number of elements as carried_inputs, "
                                 f"got {len(step)} vs {len(carried)}")
        carried = step
        if not _check_pred(cond_fn(*carried)):
            return out
