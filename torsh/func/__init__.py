"""torch.func (functorch) on torsh's autograd.

``vmap`` batches ops by their batching rules, looping per sample over ops without one (``_vmap.py``,
``torsh/_ops/transforms/batched_tensor.py``, ``torsh/_ops/transforms/vmap_rules.py``); ``grad``/``vjp``/``jacrev`` run reverse mode,
``jvp``/``jacfwd`` forward mode (``_eager.py``).
"""
from .._ops.transforms import jvp_rules  # noqa: F401  (forward-mode rules into the registry; forward AD's operators)
from ._eager import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize, vjp
from ._functional_call import functional_call, stack_module_state
from ._functionalize import functionalize, replace_all_batch_norm_modules_
from ._vmap import vmap, vmap_report

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "vmap_report", "functionalize", "replace_all_batch_norm_modules_"]
