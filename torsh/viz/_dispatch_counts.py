"""Counting dispatch decisions per op (no widget library): used by DispatchView, Dashboard and kernel_stats.

Each DispatchRecord costs a few dict updates (O(1)); ``rows()`` turns the counts into
JSON-able rows with the op's current thresholds.
"""
import math

from ..backend import dispatch, events


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


class DispatchCounter:
    """The recording half of DispatchView (no widgets): subscribe, count, unsubscribe."""

    def __init__(self):
        self.ops = {}  # op -> OpStats
        self._reasons = {}  # raw reason -> its kind (computed once per distinct reason)

    def record(self, rec):
        stats = self.ops.get(rec.op)
        if stats is None:
            stats = self.ops[rec.op] = OpStats()
        raw = rec[2]  # the reason unworded (dispatch.DispatchRecord): worded once per distinct value
        reason = self._reasons.get(raw)
        if reason is None:
            reason = self._reasons[raw] = reason_kind(dispatch.word(raw))
        stats.add(rec, reason)

    def subscribe(self):
        return events.subscribe(dispatch.TOPIC, self.record)

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
