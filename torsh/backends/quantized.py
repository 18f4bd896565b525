"""torch.backends.quantized: the quantized engine setting (``engine``, ``supported_engines``), as PyTorch's
x86 CPU wheel: 'x86' by default, any of qnnpack/onednn/x86/fbgemm accepted. torsh's quantized kernels are the
same for every engine; torsh.ao reads ``engine`` where PyTorch's choice depends on it."""
import sys
import types

_ENGINES = ("none", "fbgemm", "qnnpack", "onednn", "x86")
_SUPPORTED = ["qnnpack", "onednn", "x86", "fbgemm"]
_engine = ["x86"]


def _set_engine(value):
    if value in ("none", "", None):
        raise RuntimeError("quantized engine NoQEngine is not supported")
    if value not in _ENGINES:
        raise RuntimeError(f"{value} is not a valid value for quantized engine")
    _engine[0] = value


class _QEngineProp:
    def __get__(self, obj, objtype):
        return _engine[0]

    def __set__(self, obj, value):
        _set_engine(value)


class _SupportedQEnginesProp:
    def __get__(self, obj, objtype):
        return list(_SUPPORTED)

    def __set__(self, obj, value):
        raise RuntimeError("Assignment not supported")


class QuantizedEngine(types.ModuleType):
    """This module, with ``engine`` / ``supported_engines`` as properties (PyTorch's module trick)."""

    def __init__(self, m, name):
        super().__init__(name)
        self.m = m

    def __getattr__(self, attr):
        return self.m.__getattribute__(attr)

    engine = _QEngineProp()
    supported_engines = _SupportedQEnginesProp()


sys.modules[__name__] = QuantizedEngine(sys.modules[__name__], __name__)
