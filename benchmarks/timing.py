"""Median-of-repeats timing with time.perf_counter.

One call of a 1-element add takes about a microsecond, close to the clock's granularity and to
the cost of the loop itself, so each repeat times a batch of calls sized to last at least
``min_repeat_seconds``; the result is per call. The median shrugs off the odd repeat that the
scheduler interrupted, which matters on a small shared machine.
"""
import math
import statistics
import time


def seconds_per_call(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calls_per_repeat(fn, min_repeat_seconds):
    """How many calls make one repeat last ``min_repeat_seconds`` (doubles as warm-up)."""
    number = 1
    while True:
        elapsed = seconds_per_call(fn, number) * number
        if elapsed >= min_repeat_seconds:
            return number
        # aim straight at the target, but at least double so a tiny first reading cannot stall us
        number = max(2 * number, math.ceil(number * min_repeat_seconds / max(elapsed, 1e-9)))


def median_seconds(fn, repeats, min_repeat_seconds, warmup_calls=3):
    """Median over ``repeats`` of the per-call time of ``fn()``, after warm-up."""
    for _ in range(warmup_calls):  # first calls pay for imports, caches, allocator growth
        fn()
    number = calls_per_repeat(fn, min_repeat_seconds)
    return statistics.median(seconds_per_call(fn, number) for _ in range(repeats))


def median_within_budget(fn, budget_seconds, min_repeat_seconds, warmup_calls=3, min_repeats=3):
    """(median per-call seconds, number of repeats): warm-up, then repeats of at least
    ``min_repeat_seconds`` each until ``budget_seconds`` have passed (and at least ``min_repeats``).

    The solo-process workers use this: a fixed time budget per cell whatever a call costs."""
    for _ in range(warmup_calls):
        fn()
    number = calls_per_repeat(fn, min_repeat_seconds)
    samples, deadline = [], time.perf_counter() + budget_seconds
    while len(samples) < min_repeats or time.perf_counter() < deadline:
        samples.append(seconds_per_call(fn, number))
    return statistics.median(samples), len(samples)
