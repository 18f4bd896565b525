"""torsh.special: PyTorch's ``torch.special`` namespace. The functions are defined with the other
elementwise ops (``torsh/_ops/pointwise*.py``) and softmax (``torsh/_ops/nn/activation/softmax.py``)."""
from .._ops.nn.activation import softmax as _activation
from .._ops.tensor.elementwise import arithmetic as _pw
from .._ops.tensor.elementwise import math_functions as _pm
from .._ops.tensor import special as _special
from .._ops.tensor.special import *  # noqa: F401,F403 (Bessel functions, polynomials, zeta, gammainc)

expit = _pw.sigmoid
exp2 = _pw.exp2
expm1 = _pw.expm1
log1p = _pw.log1p
erf = _pw.erf
erfc = _pw.erfc
erfinv = _pm.erfinv
erfcx = _pm.special_erfcx
logit = _pm.logit
i0 = _pm.i0
i0e = _pm.special_i0e
i1 = _pm.special_i1
i1e = _pm.special_i1e
gammaln = _pm.lgamma
digamma = psi = _pm.digamma
polygamma = _pm.polygamma
multigammaln = _pm.mvlgamma
xlogy = _pm.xlogy
xlog1py = _pm.xlog1py
entr = _pm.special_entr
log_ndtr = _pm.special_log_ndtr
ndtr = _pm.special_ndtr
ndtri = _pm.special_ndtri
sinc = _pm.sinc
round = _pw.round
softmax = _activation.softmax
log_softmax = _activation.log_softmax


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)


__all__ = ["expit", "exp2", "expm1", "log1p", "erf", "erfc", "erfinv", "erfcx", "logit", "i0", "i0e", "i1", "i1e",
           "gammaln", "digamma", "psi", "polygamma", "multigammaln", "xlogy", "xlog1py", "entr", "log_ndtr", "ndtr",
           "ndtri", "sinc", "round", "softmax", "log_softmax", "logsumexp"] + _special.__all__
