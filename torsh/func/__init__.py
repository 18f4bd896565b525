"""torch.func (functorch) on torsh's reverse-mode autograd.

``vmap`` runs a per-sample loop (``_vmap.py``); ``jvp``/``jacfwd``/``hessian`` are computed by reverse mode
until forward-mode AD exists (``_eager.py``).
"""
from .._ops import jvp_rules  # noqa: F401  (forward-mode rules into the registry; forward AD's operators)
from ._eager import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp
from ._functional_call import functional_call, stack_module_state
from ._vmap import vmap, vmap_report

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "vmap_report"]
