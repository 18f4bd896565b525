"""torch.version / torch.__version__ comparisons and the older torch.autograd.profiler API, against PyTorch."""
import json
import operator

import pytest

import torsh
from helpers import needs_torch, torch_ref


@needs_torch
@pytest.mark.parametrize("other", [(2, 0), (2, 13), (2, 13, 0), (2, 14), "1.10", "2.13", "2.13.0", "2.13.1", "3.0",
                                   "2.0.0a0"])
def test_version_compares_like_pytorch(other):
    for op in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        ours, theirs = op(torsh.__version__, other), op(torch_ref.__version__, other)
        assert ours == theirs, (op, other)


@needs_torch
def test_version_module_fields():
    for field in ("cuda", "hip", "xpu", "debug"):
        assert getattr(torsh.version, field) == getattr(torch_ref.version, field)
    assert torsh.version.__version__ is torsh.__version__
    assert torsh.__version__.split("+")[0] == torch_ref.__version__.split("+")[0]
    from importlib import metadata
    assert torsh.__version__.endswith("+torsh." + metadata.version("torsh"))
    with pytest.raises(TypeError, match="'<' not supported between instances of 'TorchVersion' and 'int'"):
        torsh.__version__ < 3
    assert {torsh.__version__: 1}[str(torsh.__version__)] == 1


def _profiled(lib, **options):
    with lib.autograd.profiler.profile(**options) as prof:
        with lib.autograd.profiler.record_function("block"):
            x = lib.ones(4, 3)
            (x @ x.t()).relu().sum()
    return prof


@needs_torch
def test_legacy_profile_records_the_same_ops(tmp_path):
    ours, theirs = _profiled(torsh, record_shapes=True), _profiled(torch_ref, record_shapes=True)
    wanted = {"block", "aten::ones", "aten::matmul", "aten::relu", "aten::sum"}
    for prof in (ours, theirs):
        names = {e.name for e in prof.function_events}
        assert wanted <= names
        assert prof.self_cpu_time_total > 0
        assert type(prof.total_average()).__name__ == "FunctionEventAvg"
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
        assert "Self CPU %" in table and "# of Calls" in table
        assert "aten::matmul" in prof.table()
    ours.export_chrome_trace(str(tmp_path / "t.json"))
    trace = json.loads((tmp_path / "t.json").read_text())
    assert any(e.get("name") == "aten::matmul" for e in trace["traceEvents"])
    shapes = {tuple(map(tuple, e.input_shapes)) for e in ours.key_averages(group_by_input_shape=True)
              if e.key == "aten::matmul"}
    assert shapes == {((4, 3), (3, 4))}


@needs_torch
def test_legacy_profile_disabled_and_misuse():
    for lib in (torsh, torch_ref):
        with lib.autograd.profiler.profile(enabled=False) as prof:
            lib.ones(2) + 1
        assert prof is None  # PyTorch's __enter__ returns None when disabled
        prof = _profiled(lib)
        with pytest.raises(RuntimeError, match="Profiler context manager is not reentrant"):
            with prof:
                pass
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            with lib.autograd.profiler.emit_nvtx():
                pass
        with lib.autograd.profiler.emit_itt():
            pass
    with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"), \
            pytest.warns(FutureWarning, match="The attribute `use_cuda` will be deprecated soon"):
        torsh.autograd.profiler.profile(use_cuda=True)
