"""A fuzz case: one library call described as plain, picklable data, run against either library.

This module must never import torch: the torsh worker subprocess imports it. A ``Call`` names
the function by a path resolved on the library module (``"add"`` -> ``lib.add``,
``"F.conv2d"`` -> ``lib.nn.functional.conv2d``, ``".view"`` -> a method of the first argument)
and holds its arguments, where ``TensorSpec`` stands for a tensor built per library and
``DType`` for a dtype object of that library. ``outcome(lib, call)`` runs it and reduces the
result (or the exception) to plain data that the two libraries' runs can be compared on.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class TensorSpec:
    """A tensor: ``base`` (float32 for bfloat16) cast to ``dtype``, then made non-contiguous by ``layout``.

    layout "contig" uses base as is, "T" swaps its last two dims (a transposed view) and "slice"
    takes every other element of its last dim (a strided view).
    """
    base: np.ndarray
    dtype: str
    layout: str = "contig"

    @property
    def shape(self):
        shape = list(self.base.shape)
        if self.layout == "T":
            shape[-2], shape[-1] = shape[-1], shape[-2]
        elif self.layout == "slice":
            shape[-1] = (shape[-1] + 1) // 2
        return tuple(shape)

    @property
    def values(self):
        """The logical values as a NumPy array (bfloat16 values not yet rounded)."""
        a = self.base
        if self.layout == "T":
            a = np.swapaxes(a, -1, -2)
        elif self.layout == "slice":
            a = a[..., ::2]
        return a

    def build(self, lib):
        t = lib.tensor(np.array(self.base, copy=True))
        if str(t.dtype).split(".")[-1] != self.dtype:
            t = t.to(getattr(lib, self.dtype))
        if self.layout == "T":
            t = t.transpose(-1, -2)
        elif self.layout == "slice":
            t = t[..., ::2]
        return t

    def __repr__(self):
        body = np.array2string(self.values, threshold=64, separator=", ").replace("\n", "")
        return f"T({self.dtype}{list(self.shape)}, {self.layout}: {body})"


@dataclass(frozen=True)
class DType:
    """The dtype object of the library a call runs on: DType("float32") -> lib.float32."""
    name: str

    def __repr__(self):
        return self.name


@dataclass(eq=False)
class Call:
    """``path(*args, **kwargs)`` on a library; ``loose`` lists output positions compared on dtype/shape only
    (indices of tied values, uninitialised memory)."""
    path: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    loose: tuple = ()
    tol_scale: float = 1.0  # for ops whose rounding order legitimately differs (sums over many float16 terms)

    @property
    def op(self):
        return self.path.lstrip(".").split(".")[-1]

    def tensors(self):
        """Every TensorSpec among the arguments (lists included)."""
        found = []

        def walk(x):
            if isinstance(x, TensorSpec):
                found.append(x)
            elif isinstance(x, (list, tuple)):
                for y in x:
                    walk(y)
        walk(self.args)
        walk(tuple(self.kwargs.values()))
        return found

    def run(self, lib):
        args = build(lib, self.args)
        kwargs = {k: build(lib, v) for k, v in self.kwargs.items()}
        if self.path.startswith("."):
            return getattr(args[0], self.path[1:])(*args[1:], **kwargs)
        return resolve(lib, self.path)(*args, **kwargs)

    def __repr__(self):
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.path}({', '.join(parts)})"


def resolve(lib, path):
    obj = lib
    for name in path.replace("F.", "nn.functional.", 1).split("."):
        obj = getattr(obj, name)
    return obj


def build(lib, x):
    if isinstance(x, TensorSpec):
        return x.build(lib)
    if isinstance(x, DType):
        return getattr(lib, x.name)
    if isinstance(x, list):
        return [build(lib, y) for y in x]
    if isinstance(x, tuple):
        return tuple(build(lib, y) for y in x)
    return x


# -- outcomes ----------------------------------------------------------------------------------------
@dataclass
class TensorOut:
    dtype: str
    shape: tuple
    values: np.ndarray  # bfloat16 widened to float32


@dataclass
class ErrorOut:
    type_name: str
    classes: tuple  # names of the exception's classes, most derived first
    message: str

    def __repr__(self):
        return f"{self.type_name}({self.message.splitlines()[0] if self.message else ''!r})"


def _is_tensor(x):
    return hasattr(x, "detach") and hasattr(x, "dtype") and hasattr(x, "shape")


def normalize(out):
    """Plain data for a result: TensorOut, nested ("tuple"/"list", [...]) or ("value", python value)."""
    if _is_tensor(out):
        t = out.detach()
        dtype = str(t.dtype).split(".")[-1]
        if dtype == "bfloat16":
            t = t.float()
        return TensorOut(dtype, tuple(int(s) for s in t.shape), np.array(t.numpy(), copy=True))
    if isinstance(out, list):
        return ("list", [normalize(o) for o in out])
    if isinstance(out, tuple) and type(out).__name__ in ("Size",):
        return ("value", tuple(int(s) for s in out))
    if isinstance(out, tuple):
        return ("tuple", [normalize(o) for o in out])
    return ("value", out)


def outcome(lib, call):
    """The normalised result of ``call`` on ``lib``, or an ErrorOut."""
    try:
        return normalize(call.run(lib))
    except Exception as e:  # noqa: BLE001 - every exception is part of the comparison
        return ErrorOut(type(e).__name__, tuple(c.__name__ for c in type(e).__mro__), str(e))
