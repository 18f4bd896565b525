"""The MPI side of torsh.distributed: mpi4py imported on first need, and NumPy arrays as MPI buffers.

Nothing here runs at ``import torsh``: ``mpi4py.MPI`` (which starts MPI) is imported by ``mpi()`` the first time
a process group is created. A process started without ``mpiexec`` becomes a world of one (MPI's singleton
start), which is what single-process programs ask for.
"""
import importlib
import importlib.util

import numpy as np

_MPI = None


def installed():
    """True when mpi4py can be imported; does not import it (nor start MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def mpi():
    """The ``mpi4py.MPI`` module, MPI started on first call (errors raised as Python exceptions)."""
    global _MPI
    if _MPI is None:
        _MPI = importlib.import_module("mpi4py.MPI")
    return _MPI


def reduce_op(name):
    """The MPI operation of a ReduceOp name (AVG is SUM followed by a division, done by the caller)."""
    MPI = mpi()
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX,
            "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[name]


def _reduced_as(dtype):
    """The dtype to reduce ``dtype`` in when MPI has no arithmetic for it (None: itself)."""
    if dtype == np.bool_:
        return np.uint8
    if dtype == np.float16 or dtype.name == "bfloat16":  # bfloat16: ml_dtypes', unknown to MPI
        return np.float32
    return None


_BOOL_OPS = {"SUM": "MAX", "AVG": "MAX", "PRODUCT": "MIN"}  # on bools a sum is a logical or, a product an and


class Buffer:
    """A tensor's array as the buffer of a reduction: the array itself when MPI can reduce it in place
    (C-contiguous, a dtype MPI knows), otherwise a contiguous copy that ``finish()`` writes back."""

    def __init__(self, arr):
        self.arr = arr
        wide = _reduced_as(arr.dtype)
        if wide is not None:
            self.work = arr.astype(wide, order="C")
        else:
            self.work = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
        self.copied = self.work is not arr

    def op(self, name):
        if self.arr.dtype == np.bool_:
            name = _BOOL_OPS.get(name, name)
        return reduce_op(name)

    def finish(self):
        """Write the result back when MPI worked on a copy."""
        if self.copied:
            self.arr[...] = self.work


class Bytes:
    """A tensor's array as the buffer of a transfer (no arithmetic, so any dtype travels as its bytes):
    the array itself when C-contiguous, otherwise a copy written back by ``finish()``."""

    def __init__(self, arr):
        self.arr = arr
        self.work = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
        self.copied = self.work is not arr

    def spec(self):
        return [self.work.reshape(-1).view(np.uint8), mpi().BYTE]

    def finish(self):
        if self.copied:
            self.arr[...] = self.work
