"""``torch.export.Dim`` and the ``dynamic_shapes`` argument: which input dimensions an exported program accepts
at other sizes, and in which range. ``resolve`` turns a spec into one ``Symbol`` (or None: static) per input dim,
checking the spec's structure and the example sizes as PyTorch does."""
import inspect
from enum import Enum, auto

import torsh
from .._dynamo.exc import UserError, UserErrorType
from ..fx.experimental.symbolic_shapes import ConstraintViolationError
from ..utils import _pytree

__all__ = ["Dim", "ShapesCollection", "dims"]


class _IntInfinity:
    """``int_oo``: the unbounded end of a range, printed as PyTorch prints it."""

    def __repr__(self):
        return "int_oo"

    def __gt__(self, other):
        return other is not self

    def __ge__(self, other):
        return True

    def __lt__(self, other):
        return False

    def __le__(self, other):
        return other is self

    def __eq__(self, other):
        return other is self

    __hash__ = object.__hash__


int_oo = _IntInfinity()


class _DimHintType(Enum):
    AUTO = auto()
    STATIC = auto()
    DYNAMIC = auto()


class _DimHint:
    """``Dim.AUTO`` / ``Dim.DYNAMIC`` / ``Dim.STATIC``; callable once for bounds: ``Dim.AUTO(min=2, max=64)``."""

    def __init__(self, type, min=None, max=None, _factory=True):  # noqa: A002 - PyTorch's names
        self.type, self.min, self.max, self._factory = type, min, max, _factory

    def __call__(self, min=None, max=None):  # noqa: A002
        if not self._factory:
            raise TypeError(f"'{type(self)}' object is not callable")
        if min is not None and min < 0:
            raise AssertionError("min must be non-negative")
        if max is not None and min is not None and max < min:
            raise AssertionError("max must be greater than or equal to min")
        return _DimHint(self.type, min, max, _factory=False)

    def __eq__(self, other):
        return isinstance(other, _DimHint) and (self.type, self.min, self.max) == (other.type, other.min, other.max)

    def __hash__(self):
        return hash((self.type, self.min, self.max))

    def __repr__(self):
        parts = [self.type.name] + [f"{k}={v}" for k, v in (("min", self.min), ("max", self.max)) if v is not None]
        return f"DimHint({', '.join(parts)})"


class Dim:
    """A named dynamic dimension: ``Dim("batch", min=2, max=64)``; ``Dim.AUTO``, ``Dim.DYNAMIC``, ``Dim.STATIC``
    are hints without a name."""
    AUTO = _DimHint(_DimHintType.AUTO)
    DYNAMIC = _DimHint(_DimHintType.DYNAMIC)
    STATIC = _DimHint(_DimHintType.STATIC)

    def __init__(self, name, *, min=None, max=None):  # noqa: A002
        low = 0 if min is None else min
        high = int_oo if max is None else max
        if not high > low:
            raise AssertionError(f"Cannot create Dim with inconsistent min={min}, max={max}")
        if not name.isidentifier():
            raise AssertionError(f"Dim name must be a valid identifier, got {name}")
        self.__name__ = name
        self.min, self.max = low, high

    def __repr__(self):
        low = None if self.min == 2 else self.min
        high = None if self.max is int_oo else self.max
        if low is None and high is None:
            return f"Dim('{self.__name__}')"
        if low is None:
            return f"Dim('{self.__name__}', max={high})"
        if high is None:
            return f"Dim('{self.__name__}', min={low})"
        return f"Dim('{self.__name__}', min={low}, max={high})"


def dims(*names, min=None, max=None):  # noqa: A002
    """One ``Dim`` per name, all with the same bounds."""
    return tuple(Dim(name, min=min, max=max) for name in names)


class ShapesCollection:
    """``dynamic_shapes`` keyed by the example tensors themselves: ``sc[x] = {0: batch}``; ``dynamic_shapes(m,
    args, kwargs)`` gives the spec by argument."""

    def __init__(self):
        self._shapes = {}

    def __setitem__(self, t, shape):
        self._shapes[id(t)] = (t, shape)

    def __getitem__(self, t):
        return self._shapes[id(t)][1]

    def __len__(self):
        return len(self._shapes)

    def dynamic_shapes(self, m, args, kwargs=None):
        found = {}

        def lookup(leaf):
            entry = self._shapes.get(id(leaf))
            if entry is not None:
                found[id(leaf)] = True
                return entry[1]
            return None
        spec = _pytree.tree_map(lookup, (tuple(args), dict(kwargs or {})))
        if len(found) != len(self._shapes):
            raise ValueError("Some tensors that were assigned shapes were not found in args. Maybe such tensors "
                             "were copied when passing them as args? Maybe such tensors are contained in classes "
                             "that were not registered with pytrees?")
        return spec[0] + tuple(spec[1].values()) if spec[1] else spec[0]


class ValueRanges:
    """A symbol's range, printed ``VR[2, 10]``."""

    def __init__(self, lower, upper):
        self.lower, self.upper = lower, upper

    def __contains__(self, value):
        return self.lower <= value and (self.upper is int_oo or value <= self.upper)

    def __eq__(self, other):
        return isinstance(other, ValueRanges) and (self.lower, self.upper) == (other.lower, other.upper)

    def __repr__(self):
        return f"VR[{self.lower}, {self.upper}]"


class Symbol:
    """One dynamic size of the exported program (``s0``): its example value and its range."""

    def __init__(self, name, example, lower, upper):
        self.name, self.example, self.range = name, example, ValueRanges(lower, upper)

    def __repr__(self):
        return self.name

    def __str__(self):
        return self.name

    @property
    def fx_annotation(self):
        return f"Sym({self.name})"


def _user_error(message):
    return UserError(UserErrorType.INVALID_INPUT, message + "\nFor more information about this error, see: "
                     "https://pytorch.org/docs/main/generated/exportdb/index.html#dynamic-shapes-validation")


def _by_argument(fn, args, kwargs, dynamic_shapes):
    """The spec as a tuple aligned with the bound (args, kwargs) of ``fn``."""
    signature = inspect.signature(fn)
    bound = signature.bind(*args, **kwargs)
    names = list(bound.arguments)
    if isinstance(dynamic_shapes, dict):
        if set(dynamic_shapes) != set(names):
            raise _user_error("When `dynamic_shapes` is specified as a dict, its top-level keys must be the arg "
                              f"names {names} of `inputs`, but here they are {list(dynamic_shapes)}. "
                              "Alternatively, you could also ignore arg names entirely and specify "
                              "`dynamic_shapes` as a list/tuple matching `inputs`.")
        return [dynamic_shapes.get(name) for name in names], [bound.arguments[n] for n in names]
    if isinstance(dynamic_shapes, (tuple, list)):
        values = list(args) + list(kwargs.values())
        if len(dynamic_shapes) != len(values):
            raise _user_error("Detected mismatch between the structure of `inputs` and `dynamic_shapes`: `inputs` "
                              f"has {len(values)} elements, but `dynamic_shapes` has {len(dynamic_shapes)} "
                              "elements")
        return list(dynamic_shapes), values
    raise _user_error(f"Unexpected dynamic_shape {dynamic_shapes} of Tensor, try None instead")


def resolve(fn, args, kwargs, dynamic_shapes, flat_paths):
    """{(flat input index, dim): Symbol} for the spec; ``flat_paths`` names the flat inputs for errors."""
    if dynamic_shapes is None:
        return {}
    specs, values = _by_argument(fn, args, kwargs, dynamic_shapes)
    result, named, counter, index = {}, {}, [0], [0]

    def one_tensor(spec, tensor):
        path = flat_paths[index[0]]
        if spec is None:
            return
        per_dim = dict(enumerate(spec)) if isinstance(spec, (tuple, list)) else spec
        if not isinstance(per_dim, dict):
            raise _user_error(f"Unexpected dynamic_shape {spec} of Tensor, try None instead")
        for dim, hint in per_dim.items():
            if not isinstance(dim, int) or not -tensor.dim() <= dim < tensor.dim():
                raise IndexError("list assignment index out of range")  # PyTorch's own words for it
            dim %= tensor.dim()
            size = tensor.shape[dim]
            if hint is None or (isinstance(hint, _DimHint) and hint.type == _DimHintType.STATIC):
                continue
            if isinstance(hint, int) and not isinstance(hint, bool):
                if hint != size:
                    raise ConstraintViolationError(f"Static shape constraint of {hint} does not match input size "
                                                   f"of {size}, for L['{path}'].size()[{dim}]")
                continue
            if isinstance(hint, Dim):
                symbol = named.get(hint.__name__)
                if symbol is None:
                    if not (hint.min <= size and (hint.max is int_oo or size <= hint.max)):
                        raise ConstraintViolationError(f"{size} not in range [{hint.min}, {hint.max}]")
                    symbol = named[hint.__name__] = Symbol(f"s{counter[0]}", size, hint.min, hint.max)
                    counter[0] += 1
                elif symbol.example != size:
                    raise ConstraintViolationError(
                        f"The values of {hint.__name__} = {path}.size()[{dim}] must always be equal to "
                        f"{symbol.example}, but got {size}")
            elif isinstance(hint, _DimHint):
                low = 0 if hint.min is None else hint.min
                high = int_oo if hint.max is None else hint.max
                if hint.type == _DimHintType.AUTO and size in (0, 1):
                    continue  # PyTorch specializes 0/1-sized dims it was free to
                symbol = Symbol(f"s{counter[0]}", size, max(low, 2) if hint.type == _DimHintType.AUTO else low,
                                high)
                counter[0] += 1
            else:
                raise _user_error(f"Unexpected dimension mapped to index {dim} in the dynamic_shapes of {path}: "
                                  f"{hint!r}")
            result[(index[0], dim)] = symbol

    def walk(spec, value):
        if isinstance(value, torsh.Tensor):
            one_tensor(spec, value)
            index[0] += 1
            return
        leaves, _ = _pytree.tree_flatten(value)
        if spec is None:
            index[0] += len(leaves)
            return
        if isinstance(value, (tuple, list)) and isinstance(spec, (tuple, list)) and len(spec) == len(value):
            for s, v in zip(spec, value):
                walk(s, v)
        elif isinstance(value, dict) and isinstance(spec, dict):
            for key, v in value.items():
                walk(spec.get(key), v)
        else:
            index[0] += len(leaves)

    for spec, value in zip(specs, values):
        walk(spec, value)
    return result
