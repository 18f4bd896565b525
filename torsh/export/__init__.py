"""``torch.export``: ``export(model, args)`` records one run of ``model`` as a graph of ATen-named ops over its
lifted parameters, buffers, constants and inputs (an ``ExportedProgram``); ``module()`` runs it, ``save`` /
``load`` store it as a zip of JSON and raw tensor bytes (loading runs no code).

torsh traces by running the model once (``_trace``), with copies of its state: Python control flow on shapes
is specialized, control flow on tensor values raises ``GuardOnDataDependentSymNode``, and ``Dim`` marks the
dimensions the program keeps symbolic (their range is checked by ``module()``'s guards)."""
import dataclasses

import torsh
from .. import _dynamo
from ..utils import _pytree
from . import _trace, dynamic_shapes as _dynamic_shapes, exported_program
from .._dynamo import exc as _exc  # noqa: F401  (torch._dynamo.exc.UserError is what a bad spec raises)
from ..fx.experimental import symbolic_shapes as _symbolic_shapes  # noqa: F401
from . import graph_signature  # noqa: F401
from ._decompositions import default_decompositions
from ._serialize import load, save
from .dynamic_shapes import Dim, ShapesCollection, dims
from .exported_program import ExportedProgram
from .graph_signature import ExportBackwardSignature, ExportGraphSignature

__all__ = ["AdditionalInputs", "Constraint", "CustomDecompTable", "Dim", "ExportBackwardSignature",
           "ExportGraphSignature", "ExportedProgram", "FlatArgsAdapter", "ModuleCallEntry", "ModuleCallSignature",
           "ShapesCollection", "UnflattenedModule", "default_decompositions", "dims", "draft_export", "export",
           "load", "register_dataclass", "save", "unflatten"]

CustomDecompTable = dict
Constraint = object
_ = _dynamo


class ModuleCallSignature:
    def __init__(self, inputs, outputs, in_spec, out_spec):
        self.inputs, self.outputs, self.in_spec, self.out_spec = inputs, outputs, in_spec, out_spec


class ModuleCallEntry:
    def __init__(self, fqn, signature=None):
        self.fqn, self.signature = fqn, signature


class FlatArgsAdapter:
    """Adapts flat inputs for ``unflatten``; torsh's unflatten takes the exported inputs as they are."""


class UnflattenedModule:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("torch.export.unflatten is not supported by torsh: use ExportedProgram.module()")


class AdditionalInputs:
    """More example inputs for inferring dynamic shapes; torsh infers nothing from them."""

    def __init__(self):
        raise NotImplementedError("torch.export.AdditionalInputs is not supported by torsh: give "
                                  "dynamic_shapes with Dim")


def unflatten(module, flat_args_adapter=None):
    raise NotImplementedError("torch.export.unflatten is not supported by torsh: use ExportedProgram.module()")


def register_dataclass(cls, *, serialized_type_name=None, field_names=None):
    """Make a dataclass an input/output container (a pytree node)."""
    names = field_names or [f.name for f in dataclasses.fields(cls)]
    _pytree.register_pytree_node(cls, lambda obj: ([getattr(obj, n) for n in names], None),
                                 lambda values, context: cls(**dict(zip(names, values))))


def _class_repr(value):
    return "<class 'torsh.Tensor'>" if isinstance(value, torsh.Tensor) else str(type(value))


def export(mod, args, kwargs=None, *, dynamic_shapes=None, strict=False, preserve_module_call_signature=(),
           prefer_deferred_runtime_asserts_over_guards=False):
    """Trace ``mod(*args, **kwargs)`` into an ExportedProgram (``strict`` is accepted: torsh always traces by
    running the Python code, as PyTorch's default non-strict mode)."""
    if not isinstance(mod, torsh.nn.Module):
        raise ValueError(f"Expected `mod` to be an instance of `torch.nn.Module`, got {type(mod)}.")
    if isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        raise _exc.UserError(_exc.UserErrorType.INVALID_INPUT,
                             "Expecting `args` to be a tuple of example positional inputs, got "
                             f"{_class_repr(args)}")
    kwargs = dict(kwargs or {})
    flat, names, _ = _trace._placeholder_names(mod.forward, args, kwargs)
    symbols_of = _dynamic_shapes.resolve(mod.forward, args, kwargs, dynamic_shapes, names)
    params = dict(mod.named_parameters())
    buffers = dict(mod.named_buffers())
    state, input_specs, output_specs, in_spec, out_spec, _, _ = _trace.trace(mod, args, kwargs, symbols_of)
    example_inputs = _pytree.tree_map(lambda v: v.detach().clone() if isinstance(v, torsh.Tensor) else v,
                                      (tuple(args), kwargs))
    return exported_program.build(state, input_specs, output_specs, in_spec, out_spec, None, None, example_inputs,
                                  symbols_of, params, buffers)


def draft_export(mod, args, kwargs=None, *, dynamic_shapes=None, preserve_module_call_signature=(), strict=False,
                 pre_dispatch=True):
    """``export``; torsh's trace has no report of the errors it did not stop at."""
    return export(mod, args, kwargs, dynamic_shapes=dynamic_shapes, strict=strict)
