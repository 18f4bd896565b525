"""torch.onnx is importable with PyTorch's names; the exporter itself is tested in test_onnx_export.py."""
import torsh
import torsh.onnx
from helpers import torch_ref


def test_programs_can_import_and_query_it():
    assert torsh.onnx is torsh.onnx  # reachable as an attribute after ``import torsh``, as torch.onnx
    assert torsh.onnx.is_in_onnx_export() is torch_ref.onnx.is_in_onnx_export() is False
    assert issubclass(torsh.onnx.OnnxExporterError, RuntimeError)


def test_error_classes_as_pytorchs():
    for name in ("OnnxExporterError", "UnsupportedOperatorError", "OnnxExporterWarning"):
        ours, theirs = getattr(torsh.onnx.errors, name), getattr(torch_ref.onnx.errors, name, None) or \
            getattr(torch_ref.onnx, name)
        assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in theirs.__mro__]
    for args in (("aten::cumprod", 20, None), ("aten::layer_norm", 13, 17), ("mylib::op", 20, None)):
        assert str(torsh.onnx.errors.UnsupportedOperatorError(*args)) == \
            str(torch_ref.onnx.errors.UnsupportedOperatorError(*args))
