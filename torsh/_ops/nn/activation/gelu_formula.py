"""GELU's tanh approximation, in one place: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).

NumPy code imports these (the compiled kernels in kernels_pythran/ spell the constants out, as
Pythran cannot import them).
"""
import math

import numpy as np

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)   # 0.7978845608028654
CUBIC = 0.044715
CUBIC_DERIVATIVE = 3 * CUBIC                # d/dx of CUBIC * x^3 is CUBIC_DERIVATIVE * x^2


def gelu_tanh(x, out=None):
    """The forward on a NumPy array (into ``out`` if given)."""
    return np.multiply(0.5 * x, 1 + np.tanh(SQRT_2_OVER_PI * (x + CUBIC * x * x * x)), out=out)
