"""torsh.func.vmap: batching rules, with a per-sample loop for ops that have none.

``vmap(f)(x)`` calls ``f`` once, on BatchedTensors (``torsh/_ops/transforms/batched_tensor.py``): each op inside runs by
its batching rule (``torsh/_ops/transforms/vmap_rules.py``) on the whole batch, or, lacking one, once per sample
(unbatch, call, restack). ``torsh.func.vmap_report()`` says which ops ran which way.

As in PyTorch: a data-dependent Python branch (``if x.sum() > 0``), ``.item()`` and an in-place op writing a
batched value into an unbatched tensor raise; ``out_dims=None`` refuses a batched output; ``randomness``
'error' refuses random ops, 'same' gives every sample the same draws, 'different' independent ones.
While a profiler holds torsh's op-call hook, vmap falls back to calling ``f`` once per sample.
"""
import functools
from typing import NamedTuple

from .._ops.transforms import batched_tensor as batched
from .._ops.transforms import vmap_rules  # noqa: F401  (the batching rules, into batched_tensor.RULES)
from .._ops.tensor.shape.views import cat, stack
from .._ops._helpers import normalize_dim
from .._tensor import Tensor
from ..autograd import function as _function
from ..autograd import grad_mode
from ..utils._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap", "vmap_report"]

_RANDOMNESS = ("error", "different", "same")


def _name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over dimension ``in_dims`` of its inputs (torch.func.vmap).

    ``in_dims``: an int, None (not batched) or a nested tuple/list/dict matching the positional inputs;
    keyword arguments are passed unbatched. ``out_dims``: where the batch dimension goes in each output.
    ``randomness``: 'error' (random ops raise), 'different' (each sample draws anew) or 'same' (every sample
    sees the same draws). ``chunk_size``: run the batch in chunks of that many samples.
    """
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        batch_size, flat_dims, flat_args, spec = _batched_inputs(func, in_dims, args)
        if not batched.intercept():
            return _per_sample(func, batch_size, flat_dims, flat_args, spec, kwargs, out_dims, randomness)
        try:
            step = batch_size if chunk_size is None else min(chunk_size, batch_size)
            chunks = [_run_batched(func, [a if d is None else a.narrow(d, start, min(step, batch_size - start))
                                          for a, d in zip(flat_args, flat_dims)],
                                   flat_dims, spec, min(step, batch_size - start), kwargs, out_dims, randomness)
                      for start in range(0, batch_size, step)]
            return chunks[0] if len(chunks) == 1 else _concat_chunks(func, chunks, out_dims)
        finally:
            batched.release()

    return wrapped


class vmap_report:
    """``with torsh.func.vmap_report() as report:`` records, for the vmaps run in the block, which ops ran
    batched by a rule and which looped per sample: ``report.batched`` / ``report.looped`` (op -> calls)."""

    def __enter__(self):
        self.report = batched.start_report()
        return self.report

    def __exit__(self, *exc):
        batched.stop_report(self.report)


def _run_batched(func, flat_args, flat_dims, spec, size, kwargs, out_dims, randomness):
    """``func`` called once on BatchedTensors of a new level; its outputs unbatched to ``out_dims``."""
    level = batched.push_level(size, randomness)
    batched.randomness.install()
    _function.TRANSFORMS_RUNNING[0] += 1
    try:
        inputs = [a if d is None else level.wrap(a if d == 0 else a.movedim(d, 0))
                  for a, d in zip(flat_args, flat_dims)]
        output = func(*tree_unflatten(inputs, spec), **kwargs)
        return _unbatch_outputs(func, output, out_dims, level)
    finally:
        _function.TRANSFORMS_RUNNING[0] -= 1
        batched.randomness.uninstall()
        batched.pop_level(level)


def _unbatch_outputs(func, output, out_dims, level):
    flat, spec = tree_flatten(output)
    name = _name(func)
    results = []
    for o, dim in zip(flat, _output_dims(func, output, spec, out_dims)):
        if dim is None:
            if batched.batched_at(o, level):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            results.append(o)
            continue
        if not isinstance(o, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(o)}. "
                             "Did you mean to set out_dims= to None for output?")
        phys, was_batched = batched.unwrap(o, level)
        if not was_batched:  # an output that does not depend on the batch: the same for every sample
            phys = phys.unsqueeze(0).expand(level.size, *phys.shape)
        dim = normalize_dim(dim, phys.dim())
        results.append(phys if dim == 0 else phys.movedim(0, dim))
    return tree_unflatten(results, spec)


def _concat_chunks(func, chunks, out_dims):
    flat_chunks = [tree_flatten(c)[0] for c in chunks]
    _, spec = tree_flatten(chunks[0])
    dims = _output_dims(func, chunks[0], spec, out_dims)
    return tree_unflatten([column[0] if dim is None else cat(column, dim)
                           for dim, column in zip(dims, zip(*flat_chunks))], spec)


def _per_sample(func, batch_size, flat_dims, flat_args, spec, kwargs, out_dims, randomness):
    """The whole of ``func`` once per sample (when vmap cannot intercept the ops)."""
    outputs = []
    level = batched.Level(0, batch_size, randomness)
    batched.randomness.install()
    batched._levels.append(level)
    try:
        with batched.randomness.sample_loop(level) as next_sample:
            for b in range(batch_size):
                next_sample()
                sample = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_dims)]
                outputs.append(func(*tree_unflatten(sample, spec), **kwargs))
    finally:
        batched.pop_level(level)
        batched.randomness.uninstall()
    return _stack_outputs(func, outputs, out_dims)


def _check_out_dims(out_dims, func):
    leaves, _ = tree_flatten(out_dims)
    if all(d is None or isinstance(d, int) for d in leaves):
        return
    raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a python "
                     "collection of ints representing where in the outputs the vmapped dimension should appear.")


def _batched_inputs(func, in_dims, args):
    """(batch size, in_dim per leaf (normalised), leaves, structure), with PyTorch's in_dims errors."""
    prefix = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>):"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{prefix} expected `in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
                         "trying to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, spec = tree_flatten(args)
    flat_dims = broadcast_prefix(in_dims, spec)
    if flat_dims is None:
        raise ValueError(f"{prefix} in_dims is not compatible with the structure of `inputs`. in_dims has structure "
                         f"{tree_flatten(in_dims)[1]} but inputs has structure {spec}.")
    for i, (arg, dim) in enumerate(zip(flat_args, flat_dims)):
        if dim is not None and not isinstance(dim, int):
            raise ValueError(f"{prefix} Got in_dim={dim} for an input but in_dim must be either an integer "
                             "dimension or None.")
        if dim is None:
            continue
        if not isinstance(arg, Tensor):
            raise ValueError(f"{prefix} Got in_dim={dim} for an input but the input is of type {type(arg)}. We cannot "
                             "vmap over non-Tensor arguments, please use None as the respective in_dim")
        ndim = arg.dim()
        if not -ndim <= dim < ndim:
            raise ValueError(f"{prefix} Got in_dim={dim} for some input, but that input is a Tensor of "
                             f"dimensionality {ndim} so expected in_dim to satisfy -{ndim} <= in_dim < {ndim}.")
        flat_dims[i] = dim % ndim
    sizes = [arg.size(d) for arg, d in zip(flat_args, flat_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_dims, flat_args, spec


def _stack_outputs(func, outputs, out_dims):
    """Stack the per-sample outputs leaf by leaf along their out_dim."""
    flat_per_sample = [tree_flatten(o)[0] for o in outputs]
    first = outputs[0]
    _, spec = tree_flatten(first)
    flat_dims = _output_dims(func, first, spec, out_dims)
    name = _name(func)
    stacked = []
    for k, dim in enumerate(flat_dims):
        column = [leaves[k] for leaves in flat_per_sample]
        if dim is None:
            stacked.append(column[0])
            continue
        if not isinstance(column[0], Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(column[0])}. "
                             "Did you mean to set out_dims= to None for output?")
        stacked.append(stack(column, dim))
    return tree_unflatten(stacked, spec)


def _output_dims(func, output, spec, out_dims):
    if isinstance(output, Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        flat = None
    else:
        flat = broadcast_prefix(out_dims, spec)
    if flat is None:
        raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
                         f"the structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but "
                         f"outputs has structure {spec}.")
    return flat


# -- autograd.Function under vmap ------------------------------------------------------------------
_EXTENDING = _function.EXTENDING_FUNC


class VmapInfo(NamedTuple):
    """What a Function's vmap staticmethod is told about the running vmap."""
    batch_size: int
    randomness: str


def _function_batched_apply(cls, args, kwargs):
    """Function.apply on BatchedTensors, as PyTorch's custom_function_call under vmap: by the ``vmap``
    staticmethod (called on the level's physical tensors, batch dimension first) or, with
    ``generate_vmap_rule=True``, by running forward on the BatchedTensors (its ops batch themselves).
    torsh's own Functions count as generate_vmap_rule=True."""
    if not batched._has_batched(args, kwargs):
        return NotImplemented
    Function = _function.Function
    if cls.__module__.startswith("torsh."):
        return _generated_rule(cls, args, kwargs)
    has_rule = cls.vmap is not Function.vmap
    if has_rule and cls.generate_vmap_rule:
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both generate_vmap_rule=True and an "
                           "overridden vmap staticmethod. Please set generate_vmap_rule=False or delete the "
                           f"overridden vmap staticmethod to avoid ambiguity. {_EXTENDING}")
    if cls.generate_vmap_rule:
        return _generated_rule(cls, args, kwargs)
    if not has_rule:
        raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have vmap support. Please "
                           f"override and implement the vmap staticmethod or set generate_vmap_rule=True. {_EXTENDING}")
    return _apply_vmap_staticmethod(cls, args, kwargs)


def _generated_rule(cls, args, kwargs):
    """generate_vmap_rule=True: forward runs on the BatchedTensors (its ops batch themselves) when no input
    needs a graph; otherwise once per sample, so the Function's node sees plain tensors and the gradients
    come out per sample."""
    if not (grad_mode.is_grad_enabled() and any(batched.physical(a)[0].requires_grad
                                                 for a in tree_flatten((args, kwargs))[0] if isinstance(a, Tensor))):
        return NotImplemented
    return batched.dispatch(f"{cls.__name__}.apply", cls.apply, args, kwargs)


def _apply_vmap_staticmethod(cls, args, kwargs):
    level = batched._innermost_level(args, kwargs)
    unwrapped = [batched.unwrap(a, level) for a in args]
    in_dims = tuple(0 if was_batched else None for _, was_batched in unwrapped)
    result = cls.vmap(VmapInfo(level.size, level.randomness), in_dims, *[a for a, _ in unwrapped], **kwargs)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError("Expected the vmap staticmethod to have two returns, an output and out_dims with pytree "
                           f"structure compatible with the output. Got a {type(result)} instead")
    output, out_dims = result
    flat, spec = tree_flatten(output)
    flat_dims = [out_dims] * len(flat) if isinstance(out_dims, int) or out_dims is None \
        else broadcast_prefix(out_dims, spec)
    if flat_dims is None:
        raise RuntimeError("The autograd.Function's vmap staticmethod returned an incompatible (output, out_dims) "
                           f"tuple. Expected out_dims={out_dims} to be compatible with the structure of `output`. "
                           f"out_dims has structure {tree_flatten(out_dims)[1]} but output has structure {spec}. "
                           + _EXTENDING)
    return tree_unflatten([o if d is None or not isinstance(o, Tensor) else level.wrap(o.movedim(d, 0))
                           for o, d in zip(flat, flat_dims)], spec)


_function.BATCHED_APPLY = _function_batched_apply
