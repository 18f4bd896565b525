"""torch.onnx is importable (programs import it for an optional export); exporting needs graph capture,
which torsh lacks, so ``export`` raises a clear error instead of writing a file."""
import pytest

import torsh
import torsh.onnx
from helpers import torch_ref


def test_programs_can_import_and_query_it():
    assert torsh.onnx is torsh.onnx  # reachable as an attribute after ``import torsh``, as torch.onnx
    assert torsh.onnx.is_in_onnx_export() is torch_ref.onnx.is_in_onnx_export() is False
    assert issubclass(torsh.onnx.OnnxExporterError, RuntimeError)


def test_export_says_it_cannot_and_writes_nothing(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(torsh.onnx.OnnxExporterError, match="graph capture"):
        torsh.onnx.export(torsh.nn.Linear(2, 2), (torsh.zeros(1, 2),), str(target))
    assert not target.exists()
