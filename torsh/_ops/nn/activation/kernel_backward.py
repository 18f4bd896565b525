"""Run an activation's backward, grad * f'(x), on its compiled kernel (the ``activation`` family)."""
import numpy as np

from ...._tensor import wrap
from ....backend import dispatch, kernels


def on_kernel(op, scalars, grad, x, formula):
    """``op`` of the ``activation`` kernels over ``grad`` and ``x`` (the saved input or output),
    or ``formula()`` (torsh ops) where the dispatcher or the layout rules the kernel out.
    ``scalars`` are the kernel's constants, passed in the arrays' dtype."""
    xd, gd = x._data, grad._data
    fits = xd.flags.c_contiguous and gd.shape == xd.shape and gd.dtype == xd.dtype

    def compiled(parallel):
        out = np.empty_like(xd)
        getattr(kernels.get("activation"), op)(np.ascontiguousarray(gd).reshape(-1), xd.reshape(-1), out.reshape(-1),
                                               *[xd.dtype.type(v) for v in scalars], parallel)
        return wrap(out)

    return dispatch.call(op, xd.size, xd.dtype, fits, compiled, formula)
