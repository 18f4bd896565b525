"""torch.func.functional_call and stack_module_state (model ensembling with vmap)."""
from .._tensor import Tensor
from ..nn.utils import stateless

__all__ = ["functional_call", "stack_module_state"]


def _merge_dicts(parameter_and_buffer_dicts):
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    if not isinstance(parameter_and_buffer_dicts, (list, tuple)):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
        raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
    counts = {}
    for d in parameter_and_buffer_dicts:
        for k in d:
            counts[k] = counts.get(k, 0) + 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
    return {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}


def _check_tied_values(module, tensors):
    """Two different values given for names of one tied tensor are ambiguous (PyTorch's ValueError)."""
    originals = dict(module.named_parameters(remove_duplicate=False))
    originals.update(dict(module.named_buffers(remove_duplicate=False)))
    groups = {}
    for name, t in originals.items():
        groups.setdefault(id(t), set()).add(name)
    for names in groups.values():
        given = [n for n in names if n in tensors]
        if len(names) > 1 and len(given) > 1 and len({id(tensors[n]) for n in given}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                             "Consider using tie_weights=False")


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with its parameters and buffers replaced by the given tensors (torch.func.functional_call).

    ``parameter_and_buffer_dicts``: one dict, or a tuple/list of dicts with distinct keys. ``args``: a tuple of
    positional arguments, or a single argument. The module's own tensors are put back afterwards.
    """
    tensors = _merge_dicts(parameter_and_buffer_dicts)
    if tie_weights:
        _check_tied_values(module, tensors)
    return stateless.functional_call(module, tensors, args, kwargs, tie_weights=tie_weights, strict=strict)


def _stacked_leaf(tensors, name):
    from .._ops.tensor.shape.views import stack
    flags = {t.requires_grad for t in tensors}
    if len(flags) > 1:
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = stack(tensors)
    return result.detach().requires_grad_() if flags == {True} else result


def stack_module_state(models):
    """(params, buffers): each model's tensors stacked along a new leading dimension, by name.

    The stacked parameters are new leaves (requiring grad like the originals), for
    ``vmap(lambda p, b, x: functional_call(model, (p, b), (x,)))(params, buffers, x)``.
    """
    models = list(models)
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    all_buffers = [dict(m.named_buffers()) for m in models]
    params = {k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]}
    buffers = {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]
               if isinstance(all_buffers[0][k], Tensor)}
    return params, buffers
