"""torch.nn.attention: which kernels ``scaled_dot_product_attention`` may use (``sdpa_kernel``, ``SDPBackend``).

The flags are process-wide, as PyTorch's (``torch.backends.cuda.enable_flash_sdp`` & co read and write the
same ones). On the CPU PyTorch has two kernels, the math one and a flash-style one; torsh's attention is one
implementation standing for both, so it runs while either is enabled and, like PyTorch, refuses when both are
off (``check_viable_backend``).
"""
import contextlib
import enum

__all__ = ["SDPBackend", "WARN_FOR_UNFUSED_KERNELS", "sdpa_kernel"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    """The kernels of scaled_dot_product_attention (PyTorch's values)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __repr__(self):
        return f"<SDPBackend.{self.name}: {self.value}>"

    def __str__(self):
        return f"SDPBackend.{self.name}"


_KERNELS = (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
            SDPBackend.MATH, SDPBackend.OVERRIDEABLE)
_enabled = dict.fromkeys(_KERNELS, True)
_priority = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
             SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]


def is_enabled(backend):
    return _enabled[backend]


def set_enabled(backend, enabled):
    _enabled[backend] = bool(enabled)


def check_viable_backend():
    """PyTorch's error when neither CPU kernel (math, flash) is enabled."""
    if not (_enabled[SDPBackend.MATH] or _enabled[SDPBackend.FLASH_ATTENTION]):
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")


def _current(with_priority=False):
    backends = [b for b in _KERNELS if _enabled[b]]
    return sorted(backends, key=_priority.index) if with_priority else backends


def _select(backends, set_priority):
    for backend in _KERNELS:
        _enabled[backend] = backend in backends
    if set_priority:
        _priority[:] = list(backends) + [b for b in _priority if b not in backends]


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """``with sdpa_kernel(SDPBackend.MATH):`` (or a list): only those backends may run inside; the previous
    flags come back on exit."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, "
                             f"got {type(backends).__name__}")
    backends = list(dict.fromkeys([backends] if isinstance(backends, SDPBackend) else backends))
    previous, previous_priority = _current(with_priority=set_priority), list(_priority)
    try:
        _select(backends, set_priority)
        yield {}
    finally:
        _select(previous, False)
        _priority[:] = previous_priority
