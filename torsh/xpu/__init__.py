"""torch.xpu on a build without Intel GPU support: no device; the queries PyTorch answers without one give the
same answers, the calls that need a device raise its AssertionError."""

__all__ = ["current_device", "device_count", "empty_cache", "get_device_name", "get_device_properties",
           "get_rng_state", "initial_seed", "is_available", "is_bf16_supported", "is_initialized", "manual_seed",
           "manual_seed_all", "max_memory_allocated", "memory_allocated", "seed", "seed_all", "set_device",
           "synchronize"]


def _not_compiled(*args, **kwargs):
    raise AssertionError("Torch not compiled with XPU enabled")


current_device = get_device_name = get_device_properties = get_rng_state = initial_seed = _not_compiled
set_device = synchronize = _not_compiled


def is_available():
    return False


def is_initialized():
    return False


def device_count():
    return 0


def is_bf16_supported(including_emulation=True):
    return False


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def empty_cache():
    """Nothing cached without a device."""


def manual_seed(seed):
    """Seeds nothing without a device (PyTorch returns quietly too)."""


manual_seed_all = manual_seed


def seed():
    """Seeds nothing without a device."""


seed_all = seed
