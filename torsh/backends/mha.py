"""torch.backends.mha: the switch of nn.MultiheadAttention's inference fast path (process-wide, default on)."""
__all__ = ["get_fastpath_enabled", "set_fastpath_enabled"]
_fastpath = [True]


def get_fastpath_enabled():
    return _fastpath[0]


def set_fastpath_enabled(value):
    _fastpath[0] = bool(value)
