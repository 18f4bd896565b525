"""Run an activation's backward, grad * f'(x), on its compiled kernel (the ``activation`` family; the exact
GELU's on the float32 ``transformer`` family)."""
import numpy as np

from ...._tensor import wrap
from ....backend import dispatch, families, kernels

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

    def compiled(parallel):
        out = np.empty_like(xd)
        getattr(kernels.get(family.name), entry)(np.ascontiguousarray(gd).reshape(-1), xd.reshape(-1),
                                                 out.reshape(-1), *[xd.dtype.type(v) for v in scalars], parallel)
        return wrap(out)

    return dispatch.call(op, xd.size, xd.dtype, fits, compiled, formula)
