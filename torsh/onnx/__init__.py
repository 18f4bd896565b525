"""torch.onnx: importable, so programs that ``import torch.onnx`` for an optional export run.

Exporting needs graph capture (torsh.fx / jit), which torsh does not have yet: ``export`` raises saying so.
``is_in_onnx_export()`` is False, as in PyTorch outside an export (models branch on it).
"""

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError"]


class OnnxExporterError(RuntimeError):
    """Raised when an export cannot be done."""


def is_in_onnx_export():
    return False


def export(model, args=(), f=None, *unused_args, **unused_kwargs):
    raise OnnxExporterError("torsh.onnx.export needs graph capture (torsh.fx), which torsh does not have yet; "
                            "the model was not exported")
