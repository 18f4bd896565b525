"""Counting dispatch decisions per op (no widget library): used by DispatchView, Dashboard and kernel_stats.

Each DispatchRecord costs a few dict updates (O(1)); ``rows()`` turns the counts into
JSON-able rows with the op's current thresholds. A buffered subscription (the live views')
only appends each record to ``pending`` (no Python call per decision on the op's path) and
``count_pending`` counts them later, equal decisions at once.
"""
import math
from collections import Counter
from operator import itemgetter

from ..backend import dispatch, events

_FACTS = itemgetter(0, 1, 2, 3, 4)  # a DispatchRecord but its seconds: (op, variant, raw reason, numel, dtype)
_OP, _SECONDS = itemgetter(0), itemgetter(5)


def reason_kind(reason):
    """A NumPy reason without its numbers: 'numel 1,000 < threshold 2,000' -> 'numel < threshold'."""
    return "numel < threshold" if reason.startswith("numel") and " < " in reason else reason


class OpStats:
    """Counts for one op: per variant, per log2(numel) bucket, per NumPy reason; total seconds."""

    __slots__ = ("count", "variants", "buckets", "numpy_reasons", "seconds", "dtypes")

    def __init__(self):
        self.count = 0
        self.variants = {}
        self.buckets = {}  # numel.bit_length() -> calls: bucket b holds numel in [2**(b-1), 2**b)
        self.numpy_reasons = {}
        self.seconds = 0.0
        self.dtypes = {}

    def add(self, record, reason):
        self.count += 1
        self.variants[record.variant] = self.variants.get(record.variant, 0) + 1
        bucket = int(record.numel).bit_length()
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        if record.variant == "numpy":
            self.numpy_reasons[reason] = self.numpy_reasons.get(reason, 0) + 1
        self.dtypes[record.dtype] = self.dtypes.get(record.dtype, 0) + 1
        self.seconds += record.seconds

    def add_calls(self, variant, numel, dtype, reason, calls):
        """``calls`` equal decisions at once (their seconds are added by the caller)."""
        self.count += calls
        self.variants[variant] = self.variants.get(variant, 0) + calls
        bucket = int(numel).bit_length()
        self.buckets[bucket] = self.buckets.get(bucket, 0) + calls
        if variant == "numpy":
            self.numpy_reasons[reason] = self.numpy_reasons.get(reason, 0) + calls
        self.dtypes[dtype] = self.dtypes.get(dtype, 0) + calls


class DispatchCounter:
    """The recording half of DispatchView (no widgets): subscribe, count, unsubscribe."""

    def __init__(self):
        self._ops = {}  # op -> OpStats
        self._reasons = {}  # raw reason -> its kind (computed once per distinct reason)
        self.pending = []  # records heard by a buffered subscription, not counted yet

    @property
    def ops(self):
        """op -> OpStats, the pending records counted."""
        self.count_pending()
        return self._ops

    def _stats(self, op):
        stats = self._ops.get(op)
        if stats is None:
            stats = self._ops[op] = OpStats()
        return stats

    def _reason(self, raw):
        """The kind of a raw reason (dispatch.DispatchRecord's [2]): worded once per distinct value."""
        reason = self._reasons.get(raw)
        if reason is None:
            reason = self._reasons[raw] = reason_kind(dispatch.word(raw))
        return reason

    def record(self, rec):
        self._stats(rec.op).add(rec, self._reason(rec[2]))

    def count_pending(self):
        """Count the records appended to ``pending`` so far: the same counts as ``record`` on each, in order."""
        pending = self.pending
        n = len(pending)
        if not n:
            return
        chunk = pending[:n]
        del pending[:n]  # (records appended meanwhile by another thread stay for the next count)
        for (op, variant, raw, numel, dtype), calls in Counter(map(_FACTS, chunk)).items():
            self._stats(op).add_calls(variant, numel, dtype, self._reason(raw) if variant == "numpy" else None, calls)
        ops = self._ops
        for op, seconds in zip(map(_OP, chunk), map(_SECONDS, chunk)):  # in order: the sums are record's
            ops[op].seconds += seconds

    def subscribe(self, buffered=False):
        """Hear the ``dispatch`` topic; ``buffered``: append to ``pending`` only (the owner calls
        ``count_pending`` often enough to keep it short, e.g. once per step); returns the unsubscribe."""
        if not buffered:
            return events.subscribe(dispatch.TOPIC, self.record)
        unsubscribe = events.subscribe(dispatch.TOPIC, self.pending.append)

        def stop():
            unsubscribe()
            self.count_pending()
        return stop

    def rows(self):
        """JSON-able rows, most called op first."""
        out = []
        for op, s in sorted(self.ops.items(), key=lambda item: -item[1].count):
            simd, parallel = dispatch.thresholds.get(op, (math.inf, math.inf))
            out.append({"op": op, "count": s.count, "variants": dict(s.variants),
                        "numel_histogram": {2 ** (b - 1) if b else 0: n for b, n in sorted(s.buckets.items())},
                        "thresholds": {"simd": _finite(simd), "parallel": _finite(parallel)},
                        "numpy_reasons": dict(s.numpy_reasons), "dtypes": dict(s.dtypes),
                        "seconds": s.seconds})
        return out


def _finite(value):
    return None if value == math.inf else int(value)
