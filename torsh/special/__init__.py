"""torsh.special: PyTorch's ``torch.special`` namespace. Its own ops (``special_*``, Bessel functions,
polynomials, zeta, gammainc) are declared in the registry with their definitions (namespace
``"torsh.special"``); the names it shares with ``torsh.*`` ops (expit is sigmoid, gammaln is lgamma, ...) are
declared below, for the same functions. All are bound here."""
import sys as _sys

from .._ops import registry as _registry
from .._ops._helpers import dtype_name as _dtype_name
from .._ops.nn.activation import softmax as _activation
from .._ops.tensor import special as _special
from .._ops.tensor.elementwise import arithmetic as _pw
from .._ops.tensor.elementwise import math_functions as _pm


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)
_registry.register(logsumexp, namespace="torsh.special", method=False)


def _round(input, *, decimals=0, out=None):
    """torch.special.round: torch.round without its integer pass-through (PyTorch's kernel has no integer version)."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise NotImplementedError(f'"round_vml_cpu" not implemented for \'{_dtype_name(input.dtype)}\'')
    return _pw.round(input, decimals=decimals, out=out)


for _public, _op in (("expit", _pw.sigmoid), ("exp2", _pw.exp2), ("expm1", _pw.expm1), ("log1p", _pw.log1p),
                     ("erf", _pw.erf), ("erfc", _pw.erfc), ("erfinv", _pm.erfinv), ("logit", _pm.logit),
                     ("i0", _pm.i0), ("gammaln", _pm.lgamma), ("digamma", _pm.digamma), ("psi", _pm.digamma),
                     ("polygamma", _pm.polygamma), ("multigammaln", _pm.mvlgamma), ("xlogy", _pm.xlogy),
                     ("xlog1py", _pm.xlog1py), ("sinc", _pm.sinc), ("round", _round),
                     ("softmax", _activation.softmax), ("log_softmax", _activation.log_softmax)):
    _registry.register(_op, _public, namespace="torsh.special", method=False)
del _public, _op

_registry.bind_namespace(_sys.modules[__name__])

__all__ = ["expit", "exp2", "expm1", "log1p", "erf", "erfc", "erfinv", "erfcx", "logit", "i0", "i0e", "i1", "i1e",
           "gammaln", "digamma", "psi", "polygamma", "multigammaln", "xlogy", "xlog1py", "entr", "log_ndtr", "ndtr",
           "ndtri", "sinc", "round", "softmax", "log_softmax", "logsumexp"] + _special.__all__
