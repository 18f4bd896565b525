"""Small top-level names: torch.Tag, torch.get_file_path, and torch.sym_int / sym_float / sym_max / sym_min /
sym_not / sym_ite / sym_sqrt / sym_sum and torch.SymInt / SymFloat / SymBool, eagerly: torsh has no symbolic sizes, so these work on plain Python numbers (and tensors where
PyTorch's eager path accepts them), as PyTorch's functions do when given no symbolic value.

``SymInt``/``SymFloat``/``SymBool`` are classes no plain number is an instance of (as PyTorch's); a tracer with
symbolic values of its own can ``SymInt.register(its_class)`` so that ``isinstance`` checks see them.
"""
import abc
import builtins
import enum
import math
import os

import numpy as np

__all__ = ["SymInt", "SymFloat", "SymBool", "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_ite",
           "sym_sqrt", "sym_sum", "sym_fresh_size", "sym_constrain_range", "sym_constrain_range_for_size",
           "get_file_path", "Tag"]


class SymInt(metaclass=abc.ABCMeta):
    """An int that may be symbolic (torch.SymInt); torsh makes none."""

    def __init__(self, node):
        self.node = node


class SymFloat(metaclass=abc.ABCMeta):
    """A float that may be symbolic (torch.SymFloat); torsh makes none."""

    def __init__(self, node):
        self.node = node


class SymBool(metaclass=abc.ABCMeta):
    """A bool that may be symbolic (torch.SymBool); torsh makes none."""

    def __init__(self, node):
        self.node = node


for _cls in (SymInt, SymFloat, SymBool):
    _cls.__module__ = "torsh"

_ALL_TYPES = (np.integer, np.floating, builtins.int, builtins.float)
_FLOAT_TYPES = (np.floating, builtins.float)


def sym_not(a):
    """Logical negation of a (Sym)Bool."""
    if hasattr(a, "__sym_not__"):
        return a.__sym_not__()
    return not a


def sym_float(a):
    """float(a), keeping a SymFloat as it is."""
    if isinstance(a, SymFloat):
        return a
    if hasattr(a, "__sym_float__"):
        return a.__sym_float__()
    return builtins.float(a)


def sym_int(a):
    """int(a) (truncation of a SymFloat), keeping a SymInt as it is."""
    if isinstance(a, SymInt):
        return a
    if isinstance(a, SymFloat):
        return math.trunc(a)
    return builtins.int(a)


def _extremum(name, pick, a, b):
    for operand, other in ((a, b), (b, a)):
        if isinstance(operand, (SymInt, SymFloat)):
            return getattr(operand, f"__sym_{name}__")(other)
    for value in (a, b):
        if not isinstance(value, _ALL_TYPES):
            raise AssertionError(f"expected {_ALL_TYPES}, got {type(value)}")
    if isinstance(a, _FLOAT_TYPES) or isinstance(b, _FLOAT_TYPES):
        return builtins.float(pick(a, b))  # any float promotes the result, unlike builtins.max
    return pick(a, b)


def sym_max(a, b):
    """max for ints and floats, a float if either is (PyTorch's promotion, not builtins.max's)."""
    return _extremum("max", builtins.max, a, b)


def sym_min(a, b):
    """min for ints and floats, a float if either is."""
    return _extremum("min", builtins.min, a, b)


def sym_sum(*args):
    """The sum of ``sym_sum([a, b, c])`` or ``sym_sum(a, b, c)``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return builtins.sum(args)


def sym_sqrt(a):
    """math.sqrt for (Sym)ints and floats."""
    if hasattr(a, "__sym_sqrt__"):
        return a.__sym_sqrt__()
    return math.sqrt(a)


_sym_sqrt = sym_sqrt


def sym_ite(b, t, f):
    """``t if b else f`` where ``b`` is a (Sym)Bool and ``t``, ``f`` have one type."""
    if not isinstance(b, (SymBool, builtins.bool)):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)} vs {type(f)}")
    if isinstance(b, SymBool):
        return b.__sym_ite__(t, f)
    return t if b else f


def sym_fresh_size(expr):
    """A fresh size from an int expression: the int itself here."""
    return builtins.int(expr)


_INT64 = (-(1 << 63), (1 << 63) - 1)


def sym_constrain_range(size, *, min=None, max=None):
    """Check that ``size`` lies in [min, max] (a bound missing is int64's), as PyTorch's eager op does."""
    low = _INT64[0] if min is None else min
    high = _INT64[1] if max is None else max
    if not low <= size <= high:
        raise RuntimeError(f"Invalid value range for {size} between [{low}, {high}].")


def sym_constrain_range_for_size(size, *, min=None, max=None):
    """Check that ``size`` is a valid size in [min, max] (min default 0)."""
    sym_constrain_range(size, min=0 if min is None else min, max=max)


def get_file_path(*path_components):
    """A path under the directory holding the package (torch.get_file_path)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), *path_components)


class Tag(enum.Enum):
    """The operator tags of ATen's native_functions.yaml (``torch.library`` definitions take them as ``tags=``)."""

    core = 0
    cudagraph_unsafe = 1
    data_dependent_output = 2
    dynamic_output_shape = 3
    flexible_layout = 4
    generated = 5
    inplace = 6
    inplace_view = 7
    maybe_aliasing_or_mutating = 8
    needs_contiguous_strides = 9
    needs_exact_strides = 10
    needs_fixed_stride_order = 11
    nondeterministic_bitwise = 12
    nondeterministic_seeded = 13
    out = 14
    out_variant = 15
    pointwise = 16
    pt2_compliant_tag = 17
    reduction = 18
    view_copy = 19


Tag.__module__ = "torsh"
