"""torsh.fft: PyTorch's ``torch.fft`` namespace (ops live in ``torsh/_ops/tensor/fft/transforms.py``)."""
from .._ops.tensor.fft import transforms as _impl
from .._ops.surface import with_out as _with_out

for _name in _impl.__all__:  # each op with out= handled uniformly
    globals()[_name] = _with_out(getattr(_impl, _name))
