"""What memory accounting costs, and whether reusing freed output buffers would pay.

    python benchmarks/memory_costs.py

1. Counting: per-call time of a 1-element add and of a small forward/backward with torsh's
   storage counting off and on (toggled in one process, alternating batches, fastest batch).
2. Reuse: a fresh NumPy output (np.empty + first write: malloc, for large blocks mmap and a
   page fault per 4 KiB page) against writing into a recycled buffer, at 4 MB and 40 MB; and
   the same for ``np.add(a, b)`` vs ``np.add(a, b, out=recycled)`` at 1e6 and 1e7 float32.
3. torsh end to end: ``a + b`` at 1e7 float32 with torsh's buffer pool off and on.
"""
import sys

import numpy as np

import torsh
from torsh.backend import memory

from timing import calls_per_repeat, seconds_per_call


def fastest_pair(fn_a, fn_b, repeats=9, min_seconds=0.02):
    """Fastest per-call time of each, alternating batches so both see the same machine."""
    na, nb = calls_per_repeat(fn_a, min_seconds), calls_per_repeat(fn_b, min_seconds)
    a, b = [], []
    for _ in range(repeats):
        a.append(seconds_per_call(fn_a, na))
        b.append(seconds_per_call(fn_b, nb))
    return min(a), min(b)


def counting_cost():
    x, y = torsh.ones(1), torsh.ones(1)
    w = torsh.randn(100, requires_grad=True)

    def small_fb():
        w.grad = None
        (w * 2).sin().sum().backward()

    def toggled(fn, on):
        def call():
            memory.counting = on
            fn()
        return call

    memory.start_counting()
    rows = []
    for name, fn in (("add, 1 element", lambda: x + y), ("(x*2).sin().sum().backward(), x(100)", small_fb)):
        off, on = fastest_pair(toggled(fn, False), toggled(fn, True))
        rows.append((name, off, on))
    memory.counting = True
    return rows


def reuse_cost():
    rows = []
    for mbytes in (4, 40):
        n = mbytes * 2**20 // 4
        recycled = np.empty(n, np.float32)
        recycled.fill(0)

        def fresh():
            out = np.empty(n, np.float32)
            out.fill(1.0)

        fresh_s, reused_s = fastest_pair(fresh, lambda: recycled.fill(1.0), repeats=7)
        rows.append((f"empty + fill, {mbytes} MB", fresh_s, reused_s))
    for numel in (10**6, 10**7):
        a, b = np.ones(numel, np.float32), np.ones(numel, np.float32)
        out = np.empty_like(a)
        fresh_s, reused_s = fastest_pair(lambda: np.add(a, b), lambda: np.add(a, b, out=out), repeats=7)
        rows.append((f"np.add, {numel:.0e} f32", fresh_s, reused_s))
    return rows


def pool_effect():
    a, b = torsh.ones(10**7), torsh.ones(10**7)
    pooled_from = memory.POOL_MIN_BYTES

    def toggled(on):
        def call():
            memory.POOL_MIN_BYTES = pooled_from if on else float("inf")
            a + b
        return call

    try:
        off, on = fastest_pair(toggled(False), toggled(True), repeats=7)
    finally:
        memory.POOL_MIN_BYTES = pooled_from
    return [("torsh a + b, 1e7 f32 (40 MB output)", off, on)]


def main():
    torsh.set_num_threads(2)
    print("| counting | off | on | extra per call |\n|---|---|---|---|")
    for name, off, on in counting_cost():
        print(f"| {name} | {off * 1e6:.2f} us | {on * 1e6:.2f} us | {(on - off) * 1e6:+.2f} us ({on / off - 1:+.0%}) |")
    print("\n| reuse | fresh buffer | recycled buffer | fresh/recycled |\n|---|---|---|---|")
    for name, fresh, reused in reuse_cost() + pool_effect():
        print(f"| {name} | {fresh * 1e6:.0f} us | {reused * 1e6:.0f} us | {fresh / reused:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
