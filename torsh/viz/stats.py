"""kernel_stats(): a JSON-able snapshot of memory, dispatch counts and compiled kernels.

The JupyterLab side panel runs ``import torsh.viz, json; print(json.dumps(torsh.viz.kernel_stats()))``
in the kernel, silently, every few seconds; the format is docs/schemas/stats.schema.json.
Dispatch decisions are counted from the first call (or from ``%load_ext torsh.viz``) on,
process-wide, until ``stop_counting()``. No widget library is imported here.
"""
from ..backend import kernels, memory
from ._dispatch_counts import DispatchCounter

STATS_VERSION = 1
CATEGORIES = ("parameters", "gradients", "saved_activations", "optimizer_state", "temporaries")
_counter = None  # the process-wide DispatchCounter, once started
_unsubscribe = None


def start_counting():
    """Count dispatch decisions (and tensor memory) from now on; idempotent."""
    global _counter, _unsubscribe
    if _counter is None:
        _counter = DispatchCounter()
        _unsubscribe = _counter.subscribe()
    memory.live_bytes()  # starts memory counting too (backend/memory.py: stays on)
    return _counter


def stop_counting():
    """Stop counting dispatch decisions and forget the counts."""
    global _counter, _unsubscribe
    if _unsubscribe is not None:
        _unsubscribe()
    _counter = _unsubscribe = None


def kernel_stats(model=None, optimizer=None):
    """{"version": 1, "memory": {...}, "dispatch": [{"op", "variant", "count"}], "kernels": {family: bool}}.

    ``memory.by_category`` is ``memory.categorized_bytes(model, optimizer)`` (``null`` when this
    torsh has no categories); without a model, parameters and gradients are only those found
    nowhere else, i.e. everything shows as temporaries or saved activations.
    """
    counter = start_counting()
    split = categorized(model, optimizer)
    by_category = None if split is None else {k: int(split[k]) for k in (*CATEGORIES, "total")}
    rows = [{"op": op, "variant": variant, "count": int(n)}
            for op, stats in sorted(counter.ops.items()) for variant, n in sorted(stats.variants.items())]
    return {"version": STATS_VERSION,
            "memory": {"allocated_bytes": int(memory.live_bytes()), "peak_bytes": int(memory.peak_bytes()),
                       "by_category": by_category},
            "dispatch": rows,
            "kernels": {family: bool(ok) for family, ok in kernels.available().items()}}


def categorized(model=None, optimizer=None):
    """``memory.categorized_bytes(model, optimizer)`` as a new dict, or None when this torsh has no categories."""
    categorize = getattr(memory, "categorized_bytes", None)
    return None if categorize is None else dict(categorize(model=model, optimizer=optimizer))
