"""torsh.func.vmap: a loop fallback over the batch dimension.

``vmap(f)(x)`` calls ``f`` once per sample (``x.select(in_dim, b)``) and stacks the outputs along
``out_dims``. This is correct for every op, since each call is ordinary eager torsh; it is not fast.
Per-op batching rules (one call on the whole batch) will come with the op registry.

Differences from PyTorch that follow from the loop:
- PyTorch raises "vmap: It looks like you're attempting to use a Tensor in some data-dependent control
  flow..." when ``f`` branches on a tensor's value (``if x.sum() > 0``). Here every sample is a real tensor,
  so each sample simply takes its own branch and no error is raised.
- With ``out_dims=None`` PyTorch checks that the output does not depend on the batch; the loop returns the
  first sample's output unchecked.
- ``randomness="error"`` is detected by intercepting torsh's random generators while ``f`` runs;
  ``"same"`` replays the generators' states for each sample, ``"different"`` lets them advance.
"""
import contextlib
import functools

from .. import _random
from .._tensor import Tensor
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_RANDOM_IN_ERROR_MODE = ("vmap: called random operation while in randomness error mode. Please either use the "
                         "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
                         "of vmap")


def _name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over dimension ``in_dims`` of its inputs (torch.func.vmap), by a per-sample loop.

    ``in_dims``: an int, None (not batched) or a nested tuple/list/dict matching the positional inputs;
    keyword arguments are passed unbatched. ``out_dims``: where the batch dimension goes in each output.
    ``randomness``: 'error' (random ops raise), 'different' (each sample draws anew) or 'same' (every sample
    sees the same draws). ``chunk_size`` is validated and accepted; the loop already runs one sample at a time.
    Per-op batching rules will replace the loop once the op registry exists (see the module docstring for the
    behaviours the loop cannot reproduce).
    """
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        batch_size, flat_dims, flat_args, spec = _batched_inputs(func, in_dims, args)
        outputs = []
        with _randomness_mode(randomness) as start_sample:
            for b in range(batch_size):
                start_sample()
                sample = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_dims)]
                outputs.append(func(*tree_unflatten(sample, spec), **kwargs))
        return _stack_outputs(func, outputs, out_dims)

    return wrapped


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
    from .._ops.shape import stack
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


# ----------------------------------------------------------------------------- randomness

@contextlib.contextmanager
def _randomness_mode(randomness):
    """Intercept torsh._random.rng (every random op draws through it) while the samples run.

    Yields a callable to run before each sample: for 'same' it rewinds every generator used so far to
    its state before the first sample, so each sample draws the same numbers.
    """
    original = _random.rng
    if randomness == "different":
        yield lambda: None
        return
    start_states = {}

    def guarded_rng(generator=None):
        if randomness == "error":
            raise RuntimeError(_RANDOM_IN_ERROR_MODE)
        gen = generator or _random.default_generator
        start_states.setdefault(id(gen), (gen, gen._rng.bit_generator.state))
        return original(generator)

    def rewind():
        for gen, state in start_states.values():
            gen._rng.bit_generator.state = state

    _random.rng = guarded_rng
    try:
        yield rewind
    finally:
        _random.rng = original
