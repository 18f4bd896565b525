"""torch.library: custom operators written in Python, with their schema, autograd formula and fake kernel.

``custom_op("mylib::foo", mutates_args=())`` turns an annotated function into an operator: callable
directly and as ``torsh.ops.mylib.foo``, its schema inferred from the annotations as PyTorch infers it, its
arguments checked against the schema, its kernel run below autograd (the graph sees one node, the formula
given to ``register_autograd``). ``Library(ns, "DEF").define(schema)`` + ``.impl(name, fn)`` is the older
spelling of the same. torsh has one (CPU) backend, so a kernel registered for any device type serves it.
"""
import collections.abc
import inspect
import typing

import numpy as np

from . import _dtype
from ._op_overloads import ops
from ._tensor import Tensor, device
from .autograd import grad_mode
from .autograd.function import Function
from .autograd.graph import Node, needs_grad, record
from .types import Number

__all__ = ["CustomOpDef", "Library", "custom_op", "define", "impl", "infer_schema", "register_autograd",
           "register_fake", "register_kernel"]

_UNKNOWN = "unknown"


# -- schema inference --------------------------------------------------------------------------------

def _schema_types():
    """Annotation -> schema type, with each base type's Optional / sequence forms, as PyTorch's table."""
    table = {}

    def sequences(of):
        return (typing.Sequence[of], typing.List[of], collections.abc.Sequence[of], list[of])

    for base, name, seq, opt_elem_seq, opt_seq in (
            (Tensor, "Tensor", True, True, False), (int, "SymInt", True, False, True),
            (float, "float", True, False, True), (bool, "bool", True, False, True), (str, "str", False, False, False),
            (Number, "Scalar", True, False, False), (_dtype.dtype, "ScalarType", False, False, False),
            (device, "Device", False, False, False)):
        table[base] = name
        table[typing.Optional[base]] = name + "?"
        for form in sequences(base) if seq else ():
            table[form] = name + "[]"
        for form in sequences(typing.Optional[base]) if opt_elem_seq else ():
            table[form] = name + "?[]"
        for form in sequences(base) if opt_seq else ():
            table[typing.Optional[form]] = name + "[]?"
    return table


_PARAM_TYPES = _schema_types()
_RETURN_TYPES = {Tensor: "Tensor", typing.List[Tensor]: "Tensor[]", list[Tensor]: "Tensor[]", int: "SymInt",
                 float: "float", bool: "bool", Number: "Scalar"}


def infer_schema(prototype_function, /, *, mutates_args, op_name=None, tags=None):
    """The operator schema of an annotated function: ``(Tensor x, SymInt n=3) -> Tensor``, PyTorch's wording."""
    sig = inspect.signature(prototype_function)

    def error(what):
        raise ValueError(f"infer_schema(func): {what} Got func with signature {sig})")

    if isinstance(mutates_args, str) and mutates_args != _UNKNOWN:
        raise ValueError("mutates_args must either be a sequence of the names of the arguments that are mutated "
                         "or the string 'unknown'. ")
    mutated = None if isinstance(mutates_args, str) else set(mutates_args)

    def resolve(annotation):  # a string annotation names a type in the function's module, as PyTorch reads it
        if not isinstance(annotation, str):
            return annotation
        try:
            return eval(annotation, prototype_function.__globals__)  # noqa: S307 - the caller's own annotation
        except Exception as e:  # noqa: BLE001 - any failure is an annotation that is no type
            error(f"Unsupported type annotation {annotation}. It is not a type. ({type(e).__name__}: {e})")

    params, keyword_only_seen = [], False
    for index, (name, param) in enumerate(sig.parameters.items()):
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            error("We do not support positional-only args, varargs, or varkwargs.")
        if param.kind == param.KEYWORD_ONLY and not keyword_only_seen:
            params.append("*")
            keyword_only_seen = True
        if param.annotation is param.empty:
            error(f"Parameter {name} must have a type annotation.")
        annotation = resolve(param.annotation)
        schema_type = _PARAM_TYPES.get(annotation)
        if schema_type is None:
            error(f"Parameter {name} has unsupported type {param.annotation}. "
                  f"The valid types are: {_PARAM_TYPES.keys()}.")
        if mutated is None or name in mutated:
            if not schema_type.startswith("Tensor"):
                if mutated is not None:
                    error(f"Parameter {name} is in mutable_args but only Tensors or collections of Tensors can be "
                          f"mutated")
            else:
                schema_type = f"Tensor(a{index}!){schema_type[len('Tensor'):]}"
        params.append(f"{schema_type} {name}" if param.default is param.empty
                      else f"{schema_type} {name}={_default_repr(param.default, name, error)}")
    if mutated is not None and mutated - set(sig.parameters):
        error(f"{mutated - set(sig.parameters)} in mutates_args were not found in the custom op's signature. "
              f"mutates_args should contain the names of all args that the custom op mutates, or just the string "
              f"'unknown' if you don't know.")
    returns = _return_schema(resolve(sig.return_annotation), error)
    return f"{op_name or ''}({', '.join(params)}) -> {returns}"


def _default_repr(value, name, error):
    if value is None or isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, (str, device)):
        return f'"{value}"'
    if isinstance(value, _dtype.dtype):
        return value.name
    error(f"Parameter {name} has an unsupported default value type {type(value)}. "
          f"Please file an issue on GitHub so we can prioritize this.")


def _return_schema(annotation, error):
    if annotation is None:
        return "()"
    if annotation is inspect.Parameter.empty:
        error("No return type annotation was provided. Please add one.")
    if typing.get_origin(annotation) is not tuple:
        if annotation not in _RETURN_TYPES:
            error(f"Return has unsupported type {annotation}. The valid types are: {_RETURN_TYPES}.")
        return _RETURN_TYPES[annotation]
    items = typing.get_args(annotation)
    if any(item not in _RETURN_TYPES for item in items):
        error(f"Return has unsupported type {annotation}. The valid types are: {_RETURN_TYPES}.")
    joined = ", ".join(_RETURN_TYPES[item] for item in items)
    return f"(({joined}))" if len(items) == 1 else f"({joined})"


# -- schema strings (Library.define) ----------------------------------------------------------------------

class _Argument(typing.NamedTuple):
    name: str
    type: str
    default: object  # inspect.Parameter.empty when required
    keyword_only: bool


def _split_top_level(text):
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "([" and 1 or (ch in ")]" and -1) or 0
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return parts + [current.strip()] if current.strip() else parts


def _parse_arguments(schema):
    """``(Tensor x, *, SymInt n=3) -> Tensor``: the arguments, in order."""
    inner = schema[schema.index("(") + 1: schema.rindex(") ->")]
    arguments, keyword_only = [], False
    for part in _split_top_level(inner):
        if part == "*":
            keyword_only = True
            continue
        declaration, _, default = part.partition("=")
        type_name, _, name = declaration.strip().rpartition(" ")
        arguments.append(_Argument(name, type_name, _parse_default(default.strip()) if default else
                                   inspect.Parameter.empty, keyword_only))
    return arguments


def _parse_default(text):
    if text in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[text]
    if text.startswith('"'):
        return text.strip('"')
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return getattr(_dtype, text, text)


# -- the operator ------------------------------------------------------------------------------------------

class CustomOpDef:
    """A custom operator: call it, or ``torsh.ops.<ns>.<name>``; register its autograd, fake and kernels."""

    def __init__(self, namespace, name, schema, fn=None):
        self._namespace, self._name = namespace, name
        self._qualname = f"{namespace}::{name}"
        self._schema = schema
        self._arguments = _parse_arguments(schema)
        self._init_fn = fn
        self._kernel = fn
        self._fake_fn = None
        self._backward_fn = self._setup_context_fn = None
        self._autograd_function = None
        packet = getattr(ops, namespace)._define(name, self, schema=self._declaration())
        self._opoverload = packet.default

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    def _declaration(self):
        return f"{self._qualname}{self._schema[self._schema.index('('):]}"

    # registration ------------------------------------------------------------------------------------------
    def register_kernel(self, device_types, fn=None, /):
        def register(kernel):
            self._kernel = kernel  # torsh's one backend: every device type's kernel is the CPU one
            return kernel
        return register(fn) if fn is not None else register

    def register_fake(self, fn, /):
        self._fake_fn = fn
        return fn

    def register_autograd(self, backward, /, *, setup_context=None):
        if not callable(backward):
            raise TypeError(f"Expected backward to be a function but got {type(backward)}")
        self._backward_fn, self._setup_context_fn = backward, setup_context
        self._autograd_function = None
        return None

    # calling ---------------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        args = self._bind(args, kwargs)
        if self._kernel is None:
            raise NotImplementedError(f"Could not run '{self._qualname}' with arguments from the 'CPU' backend. "
                                      f"'{self._qualname}' has no kernel registered (use Library.impl or "
                                      f"register_kernel).")
        tensors = _tensors_in(args)
        if not (grad_mode.is_grad_enabled() and needs_grad(*tensors)):
            return self._run_kernel(args)
        if self._backward_fn is not None:
            return self._function().apply(*args)
        output = self._run_kernel(args)
        node = _NoFormula(f"Trying to backward through {self._namespace}.{self._name}.default but no autograd "
                          f"formula was registered. Please use register_autograd to add one.")
        outputs = [o for o in (output if isinstance(output, (tuple, list)) else (output,))
                   if isinstance(o, Tensor) and (o.dtype.is_floating_point or o.dtype.is_complex)]
        if outputs:
            record(node, tensors, outputs)
        return output

    def _run_kernel(self, args):
        with grad_mode.no_grad():
            output = self._kernel(*args)
        self._check_no_alias(args, output)
        return output

    def _check_no_alias(self, args, output):
        outputs = [o for o in (output if isinstance(output, (tuple, list)) else (output,)) if isinstance(o, Tensor)]
        inputs = _tensors_in(args)
        aliased = any(o is i or np.shares_memory(o._data, i._data) for o in outputs for i in inputs) or any(
            np.shares_memory(a._data, b._data) for k, a in enumerate(outputs) for b in outputs[k + 1:])
        if aliased:
            origin = inspect.getmodule(self._kernel)
            raise RuntimeError(f"{self._name} (with implementation in {origin}): The output of this custom operator "
                               f"(1) must not also be an input to this custom operator and (2) may not alias any "
                               f"inputs to this custom operator or other returns. The most common way to trigger "
                               f"this error is if we have y = custom_op(x) and y and x are the same Tensor. Please "
                               f"instead return a clone of the offending output tensor(s) (e.g. return x.clone()) "
                               f"or refactor the custom operator to not return y.")

    def _bind(self, args, kwargs):
        """The arguments in schema order, checked as PyTorch's operator call checks them."""
        positional = [a for a in self._arguments if not a.keyword_only]
        if len(args) > len(positional):
            raise RuntimeError(f"{self._qualname}() expected at most {len(positional)} argument(s) but received "
                               f"{len(args)} argument(s). Declaration: {self._declaration()}")
        bound = []
        for position, argument in enumerate(self._arguments):
            if position < len(args):
                value = args[position]
            elif argument.name in kwargs:
                value = kwargs.pop(argument.name)
            elif argument.default is not inspect.Parameter.empty:
                value = argument.default
            else:
                raise RuntimeError(f"{self._qualname}() is missing value for argument '{argument.name}'. "
                                   f"Declaration: {self._declaration()}")
            self._check_type(argument, position, value)
            bound.append(value)
        if kwargs:
            raise RuntimeError(f"{self._qualname}() got an unexpected keyword argument '{next(iter(kwargs))}'. "
                               f"Declaration: {self._declaration()}")
        return tuple(bound)

    def _check_type(self, argument, position, value):
        base = argument.type.split("(")[0].rstrip("?")
        optional = argument.type.endswith("?")
        if base == "Tensor" and not isinstance(value, Tensor) and not (optional and value is None):
            raise RuntimeError(f"{self._qualname}() Expected a value of type 'Tensor' for argument "
                               f"'{argument.name}' but instead found type '{type(value).__name__}'.\n"
                               f"Position: {position}\nValue: {value}\nDeclaration: {self._declaration()}\n"
                               f"Cast error details: Unable to cast {value} to Tensor")

    def _function(self):
        """The autograd.Function running the kernel forward and the registered formula backward."""
        if self._autograd_function is None:
            op, n_inputs = self, len(self._arguments)

            def forward(*args):
                return op._run_kernel(args)

            def setup_context(ctx, inputs, output):
                if op._setup_context_fn is not None:
                    op._setup_context_fn(ctx, inputs, output)

            def backward(ctx, *grads):
                result = op._backward_fn(ctx, *grads)
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != n_inputs:
                    raise RuntimeError(f"function {type(ctx).__name__} returned an incorrect number of gradients "
                                       f"(expected {n_inputs}, got {len(result)})")
                return result

            name = f"GeneratedBackwardFor_{self._namespace}_{self._name}_default"
            self._autograd_function = type(name, (Function,), {
                "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
                "backward": staticmethod(backward), "__module__": __name__})
        return self._autograd_function


class _NoFormula(Node):
    """The grad_fn of a custom op's outputs when no autograd formula was registered: backward raises."""

    def __init__(self, message):
        super().__init__()
        self.message = message

    def name(self):
        return "NotImplemented"

    def backward(self, *grads):
        raise RuntimeError(self.message)


def _tensors_in(args):
    found = []
    for a in args:
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(x for x in a if isinstance(x, Tensor))
    return found


_OPS = {}  # "ns::name" -> CustomOpDef


def _split_qualname(qualname):
    namespace, separator, name = qualname.partition("::")
    if not separator or not namespace or not name or "::" in name:
        raise ValueError(f"Expected there to be a namespace in {qualname}, i.e. The operator name should look "
                         f"something like ns::foo")
    return namespace, name


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None, tags=None):
    """Wrap ``fn`` (a decorator without it) into the custom operator ``name`` ("namespace::op")."""
    def wrap(function):
        namespace, op_name = _split_qualname(name)
        op_schema = schema if schema is not None else infer_schema(function, mutates_args=mutates_args)
        op = CustomOpDef(namespace, op_name, op_schema, function)
        _OPS[op._qualname] = op
        return op
    return wrap(fn) if fn is not None else wrap


def _op_of(op):
    if isinstance(op, CustomOpDef):
        return op
    qualname = op if isinstance(op, str) else getattr(getattr(op, "overloadpacket", op), "_qualified_op_name", None)
    found = _OPS.get(qualname)
    if found is None:
        raise ValueError(f"register: expected a custom operator (CustomOpDef, its OpOverload or its 'ns::name'), "
                         f"got {op!r}")
    return found


def register_fake(op, func=None, /, *, lib=None, _stacklevel=1, allow_override=False):
    def register(fn):
        return _op_of(op).register_fake(fn)
    return register(func) if func is not None else register


def register_autograd(op, backward, /, *, setup_context=None, lib=None):
    _op_of(op).register_autograd(backward, setup_context=setup_context)


def register_kernel(op, device_types, func=None, /, *, lib=None):
    def register(fn):
        return _op_of(op).register_kernel(device_types, fn)
    return register(func) if func is not None else register


class Library:
    """``Library("mylib", "DEF")``: define operators from schema strings and give them kernels (``impl``)."""

    def __init__(self, ns, kind, dispatch_key=""):
        if kind not in ("IMPL", "DEF", "FRAGMENT"):
            raise ValueError("Unsupported kind: ", kind)
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key
        self._op_defs = set()

    def __repr__(self):
        return f"Library(kind={self.kind}, ns={self.ns}, dispatch_key={self.dispatch_key})>"

    def define(self, schema, alias_analysis="", *, tags=()):
        name = schema[:schema.index("(")].strip().split(".")[0]
        qualname = f"{self.ns}::{name}"
        if qualname in _OPS:
            raise RuntimeError(f"Tried to register an operator ({qualname}{schema[schema.index('('):]}) with the "
                               f"same name and overload name multiple times.")
        _OPS[qualname] = CustomOpDef(self.ns, name, schema[schema.index("("):])
        self._op_defs.add(qualname)
        return name

    def impl(self, op_name, fn, dispatch_key="", *, with_keyset=False, allow_override=False):
        name = op_name if isinstance(op_name, str) else op_name.__name__.split(".")[0]
        qualname = name if "::" in name else f"{self.ns}::{name.split('.')[0]}"
        _op_of(qualname).register_kernel(dispatch_key or "CPU", fn)

    def _register_fake(self, op_name, fn, _stacklevel=1, *, allow_override=False):
        _op_of(f"{self.ns}::{op_name}").register_fake(fn)

    def _destroy(self):
        for qualname in self._op_defs:
            _OPS.pop(qualname, None)
        self._op_defs.clear()


def define(qualname, schema, *, lib=None, tags=()):
    namespace, name = _split_qualname(qualname)
    (lib or Library(namespace, "FRAGMENT")).define(name + schema)


def impl(qualname, types, func=None, *, lib=None):
    def register(fn):
        _op_of(qualname).register_kernel(types, fn)
        return fn
    return register(func) if func is not None else register
