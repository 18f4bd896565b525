"""Run an activation's backward, grad * f'(x), on its compiled kernel (the ``activation`` family; the exact
GELU's on the float32 ``transformer`` family)."""
import numpy as np

from ...._tensor import wrap
from ....backend import dispatch, events, families, kernels

# op -> (its family, the entry point it calls): the activation family's, and the exact GELU's on the float32
# transformer family
_KERNEL_OF = {op.name: (family, op.entries[0]) for family in families.FAMILIES for op in family.ops}


def on_kernel(op, scalars, grad, x, formula):
    """``op`` of the ``activation`` kernels over ``grad`` and ``x`` (the saved input or output),
    or ``formula()`` (torsh ops) where the dispatcher or the layout rules the kernel out.
    ``scalars`` are the kernel's constants, passed in the arrays' dtype."""
    xd, gd = x._data, grad._data
    family, entry = _KERNEL_OF[op]
    fits = (xd.flags.c_contiguous and gd.shape == xd.shape and gd.dtype == xd.dtype
            and xd.dtype.name in family.dtypes)
    if fits and dispatch.TOPIC not in events._subscribers:
        # nobody records the decision: make dispatch.call's choice and call here, without its closures (a relu
        # backward of W6 paid ~1/3 of its Python there)
        n = xd.size
        variant = "numpy" if n < dispatch._numpy_below[op] else dispatch._variant(op, n, xd.dtype, True)
        if variant == "numpy":
            return formula()
        return wrap(_run(family, entry, scalars, gd, xd, variant == "pythran_omp"))

    def compiled(parallel):
        return wrap(_run(family, entry, scalars, gd, xd, parallel))

    return dispatch.call(op, xd.size, xd.dtype, fits, compiled, formula)


def _run(family, entry, scalars, gd, xd, parallel):
    out = np.empty_like(xd)
    getattr(kernels.get(family.name), entry)(np.ascontiguousarray(gd).reshape(-1), xd.reshape(-1), out.reshape(-1),
                                             *[xd.dtype.type(v) for v in scalars], parallel)
    return out
