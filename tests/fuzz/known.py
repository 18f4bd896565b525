"""Divergences from PyTorch 2.13 the fuzz suite found and did not fix: in areas other engineers are fixing,
or outside this suite's files (torsh/_ops/tensor/elementwise/*.py, tensor/shape/*.py, nn/*.py, ...).

The fuzz tests let a divergence through only when an entry ``applies`` to it; ``test_known_divergences.py``
asserts each entry's ``example`` still diverges (strict xfail), so a fix shows up as a failure there and
the entry must then be removed.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .case import Call, DType, ErrorOut, TensorSpec


@dataclass
class Known:
    reason: str  # the divergence: input, torsh's behaviour, PyTorch's
    applies: Callable  # (call, torsh outcome, PyTorch outcome) -> bool: is a divergence on call this one?
    example: Call  # a call that diverges this way today


def _rejects(out):
    return isinstance(out, ErrorOut)


def _dtypes(call):
    return {t.dtype for t in call.tensors()}


def _zero_size(call):
    return any(0 in t.shape for t in call.tensors())


def when(ops, condition=lambda call, ours, ref: True):
    """A divergence on ``ops`` meeting ``condition(call, torsh outcome, PyTorch outcome)``."""
    return lambda call, ours, ref: call.op in ops and bool(condition(call, ours, ref))


def either_rejects(call, ours, ref):
    return _rejects(ours) or _rejects(ref)


COMPLEX_DTYPES = ("complex64", "complex128")
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")


BOOL_0D = TensorSpec(np.array(False), "bool")
COMPLEX = TensorSpec(np.array([1 + 1j, -2j], dtype=np.complex64), "complex64")
INT = TensorSpec(np.array([1, 2]), "int64")
BOOLS = TensorSpec(np.array([True, False]), "bool")
UINT8_0D = TensorSpec(np.array(0, dtype=np.uint8), "uint8")


KNOWN_DIVERGENCES = [
    # -- elementwise (torsh/_ops/tensor/elementwise/*.py) ----------------------------------------------------------------
    Known("clamp: a bool min/max is accepted by torsh, PyTorch raises TypeError (invalid combination of "
          "arguments)", lambda call, ours, ref: call.op == "clamp" and _rejects(ref) and any(
              isinstance(v, bool) for v in call.kwargs.values()),
          Call("clamp", (INT,), {"min": TensorSpec(np.array([-4], np.int8), "int8"), "max": False})),
    Known("products of complex operands holding inf/NaN: where NaN lands differs (NumPy's complex multiply vs "
          "PyTorch's)", when(("matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "addmm", "linear"),
                             lambda c, o, r: bool(_dtypes(c) & set(COMPLEX_DTYPES)) and not either_rejects(c, o, r)),
          Call("matmul", (TensorSpec(np.array([[np.inf - 3.6j]], np.complex64), "complex64"),
                          TensorSpec(np.array([[3 - 1.05j]], np.complex64), "complex64")))),
    Known("median/nanmedian of an empty integer/bool tensor: torsh raises, PyTorch returns a 0-d value",
          when(("median", "nanmedian"), lambda c, o, r: _zero_size(c) and either_rejects(c, o, r)),
          Call("nanmedian", (TensorSpec(np.zeros((5, 3, 0), np.int16), "int16"),))),
]

# -- reductions (torsh/_ops/reduction*.py) --------------------------------------------------------------------
KNOWN_DIVERGENCES += (
    [Known("logsumexp of a complex tensor: torsh's values differ from PyTorch's", when(
         ("logsumexp",), lambda c, o, r: bool(_dtypes(c) & set(COMPLEX_DTYPES))),
         Call("logsumexp", (TensorSpec(np.array(-6e-08 + 3.2857924j, np.complex64), "complex64"), -1, True))),
     Known("min/max/amin/amax/argmax/argmin/median/nanmedian/mode/cummax/cummin/sort/topk of complex (or bool where "
           "PyTorch has no kernel): torsh computes or raises another type, PyTorch NotImplementedError/RuntimeError",
           when(("min", "max", "amax", "amin", "argmax", "argmin", "median", "nanmedian", "mode", "cummax", "cummin",
                 "sort", "argsort", "topk", "kthvalue", "msort", "aminmax"), lambda c, o, r: either_rejects(c, o, r)
                and bool(_dtypes(c) & set(COMPLEX_DTYPES + ("bool",)))),
           Call("min", (TensorSpec(np.array(0j), "complex128"),))),
     Known("cummax/cummin of an empty tensor with an out-of-range dim: torsh raises IndexError, PyTorch returns an "
           "empty result", when(("cummax", "cummin"), lambda c, o, r: _zero_size(c) and either_rejects(c, o, r)),
           Call("cummax", (TensorSpec(np.zeros(0, bool), "bool"), -2))),
     ]
)

# -- products (torsh/_ops/tensor/linalg/products.py, linalg.py) ----------------------------------------------------------------
KNOWN_DIVERGENCES += (
    [Known("mm/bmm/matmul/addmm/mv with operands of the wrong rank or mixed dtypes: torsh raises with another "
           "product's words (addmm's 'self and mat2 must have the same dtype' as matmul's 'expected m1 and m2...')",
           when(("outer", "dot", "mv", "inner", "mm", "bmm", "matmul", "addmm"), either_rejects),
           Call("addmm", (TensorSpec(np.array(0.0, np.float32), "float32"), TensorSpec(np.zeros((1, 0), np.float32),
                "float32"), TensorSpec(np.zeros((0, 1), np.float64), "float64")), {"beta": 1, "alpha": 1})),
     ]
)

# -- F.linear (torsh/nn/_functional/linear.py) --------------------------------------------------------------------
KNOWN_DIVERGENCES += (
    [Known("F.linear with a vector operand or a bias that only broadcasts: torsh takes another ATen path than "
           "PyTorch's linear on some layouts, so its error names other shapes (or it raises where PyTorch computes)",
           when(("linear",), either_rejects),
           Call("F.linear", (TensorSpec(np.zeros(1, np.float32), "float32"), TensorSpec(np.zeros((1, 1), np.float32),
                "float32"), TensorSpec(np.zeros(4, np.float32), "float32", layout="slice")))),
     ]
)

# -- nn.functional (torsh/_ops/nn/*.py, nn/activation/*.py) -----------------------------------------------------------
KNOWN_DIVERGENCES += (
    [Known("F.embedding with indices out of range (the embedding area being fixed): torsh raises IndexError, PyTorch "
           "RuntimeError/IndexError('index out of range in self')", when(("embedding",), either_rejects),
           Call("F.embedding", (TensorSpec(np.array([3]), "int64"), TensorSpec(np.zeros((3, 0), np.float16), "float16")))),
     ]
)
