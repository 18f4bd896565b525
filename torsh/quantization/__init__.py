"""``torch.quantization``: the older name of ``torch.ao.quantization`` (same objects)."""
import sys as _sys

from ..ao.quantization import *  # noqa: F401,F403
from ..ao.quantization import fake_quantize, observer, qconfig, quantize, stubs  # noqa: F401
from ..ao.quantization import fuse_modules  # noqa: F401

for _name in ("fake_quantize", "observer", "qconfig", "stubs"):
    _sys.modules[__name__ + "." + _name] = _sys.modules["torsh.ao.quantization." + _name]
