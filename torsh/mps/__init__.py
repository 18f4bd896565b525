"""torch.mps on a build without Metal: no device, and the calls that need one raise PyTorch's errors."""

__all__ = ["current_allocated_memory", "device_count", "driver_allocated_memory", "empty_cache", "get_rng_state",
           "is_available", "manual_seed", "recommended_max_memory", "seed", "set_per_process_memory_fraction",
           "set_rng_state", "synchronize"]


def _no_backend(call):
    raise RuntimeError(f"Cannot execute {call}() without MPS backend.")


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Seeds nothing: there is no MPS generator (PyTorch returns quietly too)."""


def seed():
    _no_backend("getDefaultGenerator")


def get_rng_state(device="mps"):
    _no_backend("getDefaultGenerator")


def set_rng_state(new_state, device="mps"):
    _no_backend("getDefaultGenerator")


def synchronize():
    _no_backend("deviceSynchronize")


def empty_cache():
    _no_backend("emptyCache")


def current_allocated_memory():
    _no_backend("getCurrentAllocatedMemory")


def driver_allocated_memory():
    _no_backend("getDriverAllocatedMemory")


def recommended_max_memory():
    _no_backend("getRecommendedMaxMemory")


def set_per_process_memory_fraction(fraction):
    _no_backend("setMemoryFraction")
