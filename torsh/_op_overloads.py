"""torch.ops: operators by namespace, ``torsh.ops.aten.add.Tensor(a, b)`` and ``torsh.ops.mylib.foo(x)``.

``aten`` resolves a name through the op registry's bindings (each op's ATen name is its binding's namespace
prefix plus its name: ``linalg_vector_norm``), so every registered op is reachable without a list of its own.
torsh keeps one function per op, not one per overload: every overload name of an ATen op calls the same
function (which takes all of PyTorch's overloads' arguments). Other namespaces hold the custom ops
``torsh.library`` defines.
"""
import types

from ._ops import registry

__all__ = ["OpOverload", "OpOverloadPacket", "ops"]

# Overload names of ATen ops that programs spell out; each maps onto the op's one function.
_ATEN_OVERLOAD_NAMES = frozenset((
    "default", "Tensor", "Scalar", "int", "float", "dim", "dim_IntList", "dims", "self", "other", "input",
    "out", "Tensor_Tensor", "Tensor_Scalar", "Scalar_Tensor", "Tensor_out", "Scalar_out", "using_ints",
    "using_sizes", "names", "dimname", "values", "indices", "correction", "bool", "complex", "t", "Tensor_mode",
    "Scalar_mode", "memory_format", "dtype", "device", "other_", "start", "end", "start_step", "low", "high"))


class OpOverload:
    """One overload of an operator: ``aten.add.Tensor``. Calling it calls the operator."""

    def __init__(self, packet, overload_name, fn, schema=None):
        self.overloadpacket = packet
        self._overloadname = overload_name
        self._op = fn
        self._schema = schema
        self.__name__ = f"{packet._qualified_op_name.split('::')[1]}.{overload_name}"
        self.__module__ = packet.__module__

    @property
    def namespace(self):
        return self.overloadpacket.namespace

    def name(self):
        return f"{self.overloadpacket._qualified_op_name}.{self._overloadname}"

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __repr__(self):
        return f"<OpOverload(op='{self.overloadpacket._dotted}', overload='{self._overloadname}')>"

    def __str__(self):
        return f"{self.overloadpacket._dotted}.{self._overloadname}"

    def __hash__(self):
        return hash((self.overloadpacket._qualified_op_name, self._overloadname))

    def __eq__(self, other):
        return isinstance(other, OpOverload) and hash(self) == hash(other)


class OpOverloadPacket:
    """An operator with all its overloads: ``aten.add``; calling it calls the operator."""

    def __init__(self, namespace, op_name, fn, overload_names=("default",), schema=None):
        self.namespace = namespace
        self._qualified_op_name = f"{namespace}::{op_name}"
        self._dotted = f"{namespace}.{op_name}"
        self.__name__ = op_name
        self.__module__ = f"torsh.ops.{namespace}"
        self._op = fn
        self._overload_names = tuple(overload_names)
        self._schema = schema
        self._overloads = {}

    def overloads(self):
        return list(self._overload_names)

    def __getattr__(self, overload_name):
        if overload_name.startswith("__"):
            raise AttributeError(overload_name)
        if overload_name not in self._overload_names and not (
                self.namespace == "aten" and overload_name in _ATEN_OVERLOAD_NAMES):
            raise AttributeError(f"The underlying op of '{self._dotted}' has no overload name '{overload_name}'")
        overload = self._overloads.get(overload_name)
        if overload is None:
            overload = self._overloads[overload_name] = OpOverload(self, overload_name, self._op, self._schema)
        return overload

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self._dotted}')>"

    def __str__(self):
        return self._dotted


class _OpNamespace(types.ModuleType):
    """``torsh.ops.<namespace>``: its operators as attributes (``ops.aten.relu``)."""

    def __init__(self, name):
        super().__init__(f"torsh.ops.{name}")
        self.name = name
        self._packets = {}

    def __iter__(self):
        return iter(self._packets)

    def _define(self, op_name, fn, overload_names=("default",), schema=None):
        packet = OpOverloadPacket(self.name, op_name, fn, overload_names, schema)
        self._packets[op_name] = packet
        return packet

    def __getattr__(self, op_name):
        if op_name.startswith("__"):
            raise AttributeError(op_name)
        packet = self._packets.get(op_name)
        if packet is None and self.name == "aten":
            fn = _aten_functions().get(op_name)
            if fn is not None:
                packet = self._define(op_name, fn)  # reports "default"; accepts _ATEN_OVERLOAD_NAMES too
        if packet is None:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op_name}'")
        return packet


def _aten_functions():
    """ATen name -> torsh function, over every op binding; a ``torsh.<name>`` function wins over a method."""
    found = {}
    for binding in registry.bindings():
        name = binding.prefix + binding.attribute
        if name not in found or getattr(binding.owner, "__name__", "") == "torsh":
            found[name] = binding.fn
    return found


class _Ops(types.ModuleType):
    """``torsh.ops``: a namespace per attribute, made on first use (``ops.aten``, ``ops.mylib``)."""

    def __init__(self):
        super().__init__("torsh.ops")
        self._namespaces = {}

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        namespace = self._namespaces.get(name)
        if namespace is None:
            namespace = self._namespaces[name] = _OpNamespace(name)
        return namespace

    def __iter__(self):
        return iter(self._namespaces)


ops = _Ops()
