"""torch.autocast's state and its dtype policies, where ops can read them (``torsh.amp`` is the public face).

PyTorch's CPU policy (aten/src/ATen/autocast_mode.cpp) sorts ops into lists:
- "lower precision" (linear, matmul, mm, bmm, addmm, baddbmm, conv*, ...): floating inputs other than float64
  are cast to the autocast dtype (``lower_precision``; the op checks ``state.enabled`` first);
- "fp32" (the losses, prod, cdist, quantile, trace, the linalg decompositions, fft, 3-D pools, grid_sample,
  ...): float16/bfloat16 inputs are cast up to float32, so what sums many values runs in float32
  (``float32_policy``, a decorator on the op).
An op outside the lists runs in the dtypes it is given. ``state`` is per thread; with autocast off an op pays
one attribute read. Casts of leaf tensors that require grad (parameters) are cached until the outermost
autocast region exits, when ``cache_enabled``.
"""
import functools
import threading

from ._dtype import bfloat16, float16, float32
from ._tensor import Tensor


class _AutocastState(threading.local):
    """Per thread: the CPU autocast flag/dtype, the cache flag and nesting depth, the cast cache."""

    def __init__(self):
        self.enabled = False  # the one attribute the ops read
        self.dtype = bfloat16
        self.gpu_dtype = float16  # torch.get_autocast_dtype("cuda"), never enabled here
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}  # id(leaf) -> (leaf, its cast): the leaf is held so its id stays its own


state = _AutocastState()


def cast(t, dtype):
    """``t`` in ``dtype`` if it is a floating tensor other than float64 (PyTorch's eligible inputs)."""
    if not isinstance(t, Tensor) or t.dtype == dtype or not t.dtype.is_floating_point or t.dtype.itemsize == 8:
        return t
    cacheable = state.cache_enabled and t.is_leaf and t.requires_grad
    if cacheable:
        hit = state.cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1].dtype == dtype:
            return hit[1]
    out = t.to(dtype)
    if cacheable:
        state.cache[id(t)] = (t, out)
    return out


def lower_precision(*tensors):
    """The tensors an op of the lower-precision list computes with: floating tensors (but float64) in the
    autocast dtype. Callers check ``state.enabled`` first, so this runs only inside autocast."""
    dtype = state.dtype
    return tuple(cast(t, dtype) for t in tensors)


def to_float32(t):
    """``t`` cast up as the fp32 list casts its inputs (float16/bfloat16 to float32; others as they are)."""
    return cast(t, float32)


def _up(value):
    if isinstance(value, Tensor):
        return cast(value, float32)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
        return type(value)(cast(v, float32) for v in value)
    return value


def float32_policy(op):
    """``op`` from PyTorch's fp32 autocast list: inside autocast its tensor arguments (and lists of tensors)
    in float16/bfloat16 are cast to float32 first; outside it, one flag read."""
    @functools.wraps(op)
    def run(*args, **kwargs):
        if not state.enabled:
            return op(*args, **kwargs)
        args = tuple(_up(a) for a in args)
        kwargs = {k: _up(v) for k, v in kwargs.items()}
        state.enabled = False  # the op's own steps (a matmul inside lstsq) stay in float32, as in PyTorch
        try:
            return op(*args, **kwargs)
        finally:
            state.enabled = True
    return run
