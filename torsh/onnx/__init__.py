"""torch.onnx: ``export`` writes an ONNX model of a module, traced with torsh.fx (see ``_exporter``), with
PyTorch's signature. The ``onnx`` package is imported only when an export runs."""
import contextlib
import os
import warnings

from . import errors
from ._exporter import export_model
from .errors import OnnxExporterError, OnnxExporterWarning, UnsupportedOperatorError

__all__ = ["export", "is_in_onnx_export", "ONNXProgram", "OnnxExporterError", "OnnxExporterWarning",
           "UnsupportedOperatorError", "errors"]

_exporting = False


def is_in_onnx_export():
    """Whether an ONNX export is running (models may branch on it)."""
    return _exporting


@contextlib.contextmanager
def _export_context(model):
    """Export as PyTorch does: flag set, the model in eval mode, both restored afterwards."""
    global _exporting
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.train(False)
    _exporting = True
    try:
        yield
    finally:
        _exporting = False
        if was_training is not None:
            model.train(was_training)


class ONNXProgram:
    """What ``export(..., dynamo=True)`` returns: the exported ``model_proto``, ``save``-able."""

    def __init__(self, model_proto):
        self.model_proto = model_proto

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        _write(self.model_proto, destination)

    def __repr__(self):
        return f"ONNXProgram(model_proto=<{len(self.model_proto.graph.node)} nodes>)"


def _write(model_proto, f):
    data = model_proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            file.write(data)
    else:
        f.write(data)


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, custom_translation_table=None,
           report=False, optimize=True, verify=False, profile=False, dump_exported_program=False,
           artifacts_dir=".", export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=None, operator_export_type=None, do_constant_folding=True, custom_opsets=None,
           export_modules_as_functions=False, autograd_inlining=True):
    """Export ``model`` called on ``args`` to ONNX (written to ``f``: a path or a binary file object).

    Both of PyTorch's exporters (``dynamo=True``, the default, and the TorchScript one) map onto torsh's: trace
    with torsh.fx (torsh.nn modules with a converter stay whole), ShapeProp, one converter per node. Returns an
    ``ONNXProgram`` when ``dynamo`` is True, else None."""
    if not dynamo:
        warnings.warn(
            "You are using the legacy TorchScript-based ONNX export. Starting in PyTorch 2.9, the new "
            "torch.export-based ONNX exporter has become the default. Learn more about the new export logic: "
            "https://docs.pytorch.org/docs/stable/onnx_export.html. For exporting control flow: "
            "https://pytorch.org/tutorials/beginner/onnx/export_control_flow_model_to_onnx_tutorial.html",
            category=DeprecationWarning, stacklevel=2)
        if dynamic_shapes:
            raise ValueError("The exporter only supports dynamic shapes through parameter dynamic_axes when "
                             "dynamo=False.")
    with _export_context(model):
        model_proto = export_model(model, args, kwargs, input_names=input_names, output_names=output_names,
                                   opset_version=opset_version, dynamic_axes=dynamic_axes,
                                   export_params=export_params,
                                   keep_initializers_as_inputs=keep_initializers_as_inputs, verbose=verbose)
    if f is not None:
        _write(model_proto, f)
    return ONNXProgram(model_proto) if dynamo else None
