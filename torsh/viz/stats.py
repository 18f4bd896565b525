"""kernel_stats(): a JSON-able snapshot of memory, dispatch counts and compiled kernels.

The JupyterLab side panel runs ``import torsh.viz, json; print(json.dumps(torsh.viz.kernel_stats()))``
in the kernel, silently, every few seconds; the format is docs/schemas/stats.schema.json.
Dispatch decisions are counted from the first call (or from ``%load_ext torsh.viz``) on,
process-wide, until ``stop_counting()``. Memory is reported only once tensor memory counting
is on: polling must not turn it on, as counting costs ~1-3 us per tensor for the rest of the
process (backend/memory.py); ``start_memory_counting()`` (the panel's button) does that
explicitly. No widget library is imported here.
"""
from ..backend import kernels, memory
from ._dispatch_counts import DispatchCounter

STATS_VERSION = 1
CATEGORIES = ("parameters", "gradients", "saved_activations", "optimizer_state", "temporaries")
_counter = None  # the process-wide DispatchCounter, once started
_unsubscribe = None


def start_counting():
    """Count dispatch decisions from now on; idempotent. Tensor memory counting is left as it is."""
    global _counter, _unsubscribe
    if _counter is None:
        _counter = DispatchCounter()
        _unsubscribe = _counter.subscribe()
    return _counter


def start_memory_counting():
    """Count tensor memory from now on (it stays on for the process): what the panel's button runs."""
    memory.start_counting()


def stop_counting():
    """Stop counting dispatch decisions and forget the counts."""
    global _counter, _unsubscribe
    if _unsubscribe is not None:
        _unsubscribe()
    _counter = _unsubscribe = None


def kernel_stats(model=None, optimizer=None):
    """{"version": 1, "memory": {...} or None, "dispatch": [{"op", "variant", "count"}], "kernels": {family: bool}}.

    ``memory`` is None while tensor memory counting is off (it is never started here: see the
    module docstring). ``memory.by_category`` is ``memory.categorized_bytes(model, optimizer)``
    (``null`` when this torsh has no categories); without a model, parameters and gradients are
    only those found nowhere else, i.e. everything shows as temporaries or saved activations.
    """
    counter = start_counting()
    rows = [{"op": op, "variant": variant, "count": int(n)}
            for op, stats in sorted(counter.ops.items()) for variant, n in sorted(stats.variants.items())]
    return {"version": STATS_VERSION,
            "memory": memory_snapshot(model, optimizer) if memory.counting else None,
            "dispatch": rows,
            "kernels": {family: bool(ok) for family, ok in kernels.available().items()}}


def memory_snapshot(model=None, optimizer=None):
    """kernel_stats()["memory"]: live and peak bytes and the split by category (counting must be on)."""
    split = categorized(model, optimizer)
    by_category = None if split is None else {k: int(split[k]) for k in (*CATEGORIES, "total")}
    return {"allocated_bytes": int(memory.live_bytes()), "peak_bytes": int(memory.peak_bytes()),
            "by_category": by_category}


def categorized(model=None, optimizer=None):
    """``memory.categorized_bytes(model, optimizer)`` as a new dict, or None when this torsh has no categories."""
    categorize = getattr(memory, "categorized_bytes", None)
    return None if categorize is None else dict(categorize(model=model, optimizer=optimizer))
