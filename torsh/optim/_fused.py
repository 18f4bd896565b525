"""The fused element-wise pass every optimizer update is made of.

``update(expr, out, **operands)`` evaluates ``expr`` once over NumPy arrays with numexpr, writing
into ``out`` in place: one pass, no temporaries. Python-float operands are passed as scalars of
``out``'s dtype, so float32 parameters are updated in float32 arithmetic, rounding per operation as
PyTorch's single-tensor (foreach=False) CPU implementation does. (A float literal written inside
``expr`` would make numexpr compute in float64, so formulas name every constant.)

float16/bfloat16 arrays (which numexpr lacks) are computed in float32 and rounded back; complex
arrays are handled by the callers through real views, as PyTorch does with view_as_real.
"""
from time import perf_counter_ns

import numexpr
import numpy as np

from .._array_api import array, bump_version as bump, grad_array, wrap  # noqa: F401 (bump: for the optimizers)
from ..backend import dispatch, events, kernels, threads

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def real_view(array):
    """A complex array as a float array with a trailing (re, im) axis; other arrays unchanged."""
    if array.dtype.kind == "c":
        return array.view(array.real.dtype).reshape(array.shape + (2,))
    return array


def param_and_grad(p):
    """The arrays a step updates and reads: ``p``'s data and gradient, complex ones as real views."""
    return real_view(array(p)), real_view(grad_array(p))


def state_array(t):
    """The array of a state tensor (``exp_avg``...) the fused passes write, a complex one as a real view."""
    return real_view(array(t))


def update(expr, out, **operands):
    """out[...] = expr(operands), in one numexpr pass over ``out``'s dtype."""
    dtype = out.dtype
    compute = dtype if dtype in _NATIVE else np.dtype(np.float32)
    local = {}
    for name, value in operands.items():
        if isinstance(value, np.ndarray):
            local[name] = value if value.dtype == compute or value.dtype == np.bool_ else value.astype(compute)
        else:
            local[name] = compute.type(value)
    if compute == dtype:
        numexpr.evaluate(expr, local_dict=local, out=out, casting="same_kind")
    else:
        np.copyto(out, numexpr.evaluate(expr, local_dict=local), casting="unsafe")
    return out


def evaluate(expr, like, **operands):
    """A new array of ``like``'s dtype holding expr(operands) (for values needed by two updates)."""
    out = np.empty_like(like)
    return update(expr, out, **operands)


def new_state_like(p, fill=None):
    """A fresh state tensor shaped like parameter ``p`` (zeros, ``fill``, or uninitialized)."""
    values = np.empty_like(array(p))
    if fill is not None:
        values[...] = fill
    return wrap(values)


def lerp_expr(start, end, weight):
    """numexpr text of PyTorch's lerp(start, end, w) for a Python-float weight named ``w``: its CPU
    kernel switches formula at w = 0.5 to stay exact at both ends."""
    if weight < 0.5:
        return f"({start} + w * ({end} - {start}))"
    return f"({end} - ({end} - {start}) * w1)"  # w1 = 1 - w


_STEP_LAYOUT = "parameter, gradient and state are not contiguous arrays of one float32/float64 dtype"


def step(op, arrays, kernel_args, numexpr_update):
    """One optimizer update of ``arrays[0]`` (the parameter) on the fused ``optim`` kernel ``op``,
    called as ``op(*flat arrays, *kernel_args, parallel)``, or by ``numexpr_update()``: whichever the
    dispatcher picks (the numexpr passes are the reference variant, named so in records)."""
    param = arrays[0]
    dtype = param.dtype
    fits = dtype in _NATIVE and _contiguous_of(arrays, dtype)

    def compiled(parallel):
        run_kernel(op, [a.reshape(-1) for a in arrays], kernel_args, parallel)

    dispatch.call(op, param.size, dtype, fits, compiled, numexpr_update, _STEP_LAYOUT, reference="numexpr")


def direct(op, dtype):
    """(kernel entry, low, high): the entry a step may call itself for ``op`` on C-contiguous arrays of ``dtype``
    whose size is in [low, high), the sizes the dispatcher runs as one kernel call on this thread (its
    "pythran_simd" variant); None when no one may.

    ``step`` asks the dispatcher per parameter and wraps the kernel call in closures, ~40% of a W6 SGD step's
    Python; the optimizers' common case (float32/float64 parameters) calls the entry directly, the very call
    ``step`` would make. While somebody records dispatch decisions the entry also times the call and records
    the decision ``step`` would have recorded."""
    if dtype not in _NATIVE or kernels.get("optim") is None:
        return None
    if dispatch._variant(op, 1 << 62, dtype, True) == "numpy":  # no compiled variant for this op and dtype
        return None
    simd, parallel = dispatch.thresholds.get(op, (float("inf"), float("inf")))
    single = threads.single_thread_reason()
    high = parallel if single is None else float("inf")
    entry = _kernel(op, dtype)
    if dispatch.TOPIC in events._subscribers:
        entry = _recorded(entry, op, simd, parallel, single)
    return entry, max(simd, dispatch._numpy_below[op]), high


def _recorded(kernel, op, simd, parallel, single):
    """``kernel`` timed, its call recorded as the dispatcher's "pythran_simd" decision for the first array's
    size, with ``_decide``'s reason (the one-thread note from the parallel threshold on)."""
    record_decision, raw, subscribers = dispatch.record_decision, dispatch.RAW_DECISION, events._subscribers
    at_simd, at_simd_one_thread = dispatch.AT_SIMD, dispatch.AT_SIMD_ONE_THREAD

    def recorded(*arrays_and_args):
        start = perf_counter_ns()
        kernel(*arrays_and_args)
        end = perf_counter_ns()
        param = arrays_and_args[0]
        numel = param.size
        why = (at_simd, numel, simd) if numel < parallel else (at_simd_one_thread, numel, simd, single)
        local = dispatch._decision_log  # record_decision inlined for its usual case
        if local is not None and len(subscribers.get(dispatch.TOPIC, ())) == 1:
            try:
                local.log.append((raw, op, "pythran_simd", why, numel, param.dtype, end - start, end))
                return
            except AttributeError:
                pass
        record_decision(op, "pythran_simd", why, numel, param.dtype, end - start, end)
    return recorded


def _contiguous_of(arrays, dtype):
    """All ``arrays`` C-contiguous of ``dtype`` (a loop: no generator frame per optimizer step of a parameter)."""
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


def run_kernel(op, flat_arrays, kernel_args, parallel):
    """``op(*flat_arrays, *kernel_args)`` from the optim family; with ``parallel``, one slice per thread.

    The optim kernels have no OpenMP (see kernels_pythran/optim.py) but release the GIL, so the
    parallel variant runs them on slices from a thread pool."""
    kernel = _kernel(op, flat_arrays[0].dtype)
    if not parallel:
        kernel(*flat_arrays, *kernel_args)
        return
    threads.run_in_parts(lambda part: kernel(*[a[part] for a in flat_arrays], *kernel_args), flat_arrays[0].size)


# ops with a float32 copy in the optim_f32 C++ family (same arguments): Pythran divides float32 scalars in double
# precision, half the vector width (the W6 MLP's Adam step: 312 against 147 us for its 401K-element weight)
_FLOAT32_KERNELS = {"adam_step": "optim_f32"}


def _kernel(op, dtype):
    """The entry point running ``op`` on arrays of ``dtype``: the float32 family's where it is built, else optim's."""
    if dtype == np.float32 and op in _FLOAT32_KERNELS:
        family = kernels.get(_FLOAT32_KERNELS[op])
        if family is not None:
            return getattr(family, op)
    return getattr(kernels.get("optim"), op)


def scalars(dtype, *values):
    """Python numbers as scalars of ``dtype`` (what the kernels' float arguments are typed as): an array's items,
    each rounded as ``dtype.type(v)`` rounds it, made in one call (a comprehension was ~10% of an Adam step's
    Python)."""
    return tuple(np.array(values, dtype))
