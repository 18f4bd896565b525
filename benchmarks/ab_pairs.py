"""Overhead ratios from interleaved A/B batches in one process, robust on a shared machine.

A ratio taken from two separately timed runs compares two different moments of a noisy machine
(neighbours' builds and tests halve a core's speed for seconds at a time). Here plain (A) and
instrumented (B) batches alternate, short, many times; each adjacent pair gives one ratio B/A
(the order inside a pair alternates, so neither side always runs second), and the estimate is
the median of those ratios with their quartiles as its spread: a disturbance hits one pair, not
the estimate. The pooled ratio (all B time over all A time) is reported beside it: it counts
rare costs (a redraw, an advised step) in proportion even when they land in few batches.
"""
import statistics
from typing import NamedTuple


class PairedRatio(NamedTuple):
    plain: float  # median seconds per call of the A batches
    other: float  # median seconds per call of the B batches
    ratio: float  # median of the per-pair ratios B/A
    low: float  # first quartile of the per-pair ratios
    high: float  # third quartile
    pooled: float  # sum of B seconds / sum of A seconds
    pairs: int

    def spread(self):
        return f"[{self.low:.3f}, {self.high:.3f}]"


def paired_ratio(plain_batch, other_batch, pairs):
    """Interleave ``pairs`` A/B pairs; ``*_batch()`` runs one batch and returns seconds per call."""
    plains, others = [], []
    for i in range(pairs):
        if i % 2:
            others.append(other_batch())
            plains.append(plain_batch())
        else:
            plains.append(plain_batch())
            others.append(other_batch())
    ratios = [b / a for a, b in zip(plains, others)]
    low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return PairedRatio(statistics.median(plains), statistics.median(others), statistics.median(ratios), low, high,
                       sum(others) / sum(plains), pairs)
