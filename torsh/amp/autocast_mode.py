"""torch.autocast for the CPU: the context manager and the state functions over a thread-local state that the
ops consult. The state and PyTorch's op lists (lower precision, fp32) live below the ops, in torsh/_autocast.py.
"""
import functools
import warnings

from .. import _autocast

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]

_SUPPORTED_DEVICES = ("cpu", "cuda", "mps", "xpu", "xla", "ipu", "hpu", "mtia", "maia", "privateuseone")


_state = _autocast.state  # the per-thread flags, kept with the ops that read them (torsh/_autocast.py)
lower_precision = _autocast.lower_precision


# -- the state functions (torch.is_autocast_enabled & co) ----------------------------------------------
def _check_device(device_type):
    if device_type not in _SUPPORTED_DEVICES:
        raise RuntimeError(f"Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, "
                           f"maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of "
                           f"device string: {device_type}")


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (without it: CUDA, always off here)."""
    if device_type is None:
        return False
    _check_device(device_type)
    return _state.enabled if device_type == "cpu" else False


def set_autocast_enabled(device_type, enabled=None):
    if enabled is None:  # the deprecated one-argument form sets CUDA's flag
        return
    _check_device(device_type)
    if device_type == "cpu":
        _state.enabled = bool(enabled)


def get_autocast_dtype(device_type):
    _check_device(device_type)
    return _state.dtype if device_type == "cpu" else _state.gpu_dtype


def set_autocast_dtype(device_type, dtype):
    _check_device(device_type)
    if device_type == "cpu":
        _state.dtype = dtype
    else:
        _state.gpu_dtype = dtype


def is_autocast_cpu_enabled():
    return _state.enabled


def set_autocast_cpu_enabled(enabled):
    _state.enabled = bool(enabled)


def get_autocast_cpu_dtype():
    return _state.dtype


def set_autocast_cpu_dtype(dtype):
    _state.dtype = dtype


def get_autocast_gpu_dtype():
    return _state.gpu_dtype


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def autocast_increment_nesting():
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting():
    _state.nesting -= 1
    return _state.nesting


def clear_autocast_cache():
    _state.cache.clear()


def is_autocast_available(device_type):
    """True for the device types PyTorch's autocast knows (only the CPU ever computes here)."""
    return device_type in _SUPPORTED_DEVICES


# -- the context manager ----------------------------------------------------------------------------------
class autocast:
    """``with torch.autocast("cpu", dtype=torch.bfloat16):`` (or as a decorator): the ops of PyTorch's
    lower-precision list run in ``dtype``."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        from .. import bfloat16, float16
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled:
            if device_type == "cuda":  # torsh has no GPU: PyTorch disables autocast the same way
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
                enabled = False
            elif self.fast_dtype not in (bfloat16, float16):
                name = device_type.upper()
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                              f"{name} Autocast only supports dtypes of {bfloat16}, {float16} currently.",
                              stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:  # leaving the outermost region drops the cached casts
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you mean to "
                            "use autocast as a context manager? For example:\n    with torch.autocast(device_type=...):"
                            "\n        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        decorate_autocast.__script_unsupported = "@autocast() decorator is not supported in script mode"
        return decorate_autocast


# -- checkpoint's view of the state ---------------------------------------------------------------------
def _snapshot():
    """The CPU autocast settings now (torch.utils.checkpoint reruns its function under them)."""
    return (_state.enabled, _state.dtype, _state.cache_enabled)


def _restored(snapshot):
    enabled, dtype, cache_enabled = snapshot
    return autocast("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


# -- custom_fwd / custom_bwd ------------------------------------------------------------------------------
def _cast_value(value, dtype):
    from .._tensor import Tensor
    if isinstance(value, Tensor):
        return value.to(dtype) if value.is_floating_point() and value.dtype.itemsize != 8 else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {_cast_value(k, dtype): _cast_value(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_value(v, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorate a custom Function's forward: remember the autocast state for backward and, with
    ``cast_inputs``, run forward with autocast off on inputs cast to that dtype."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_value(args, cast_inputs), **_cast_value(kwargs, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorate a custom Function's backward: run it under the autocast state its forward saw."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
