"""Each float32 product of a GPT step (W13.1 / W8.2's Linear layers) timed on three thread choices, interleaved.

    ../.venv/bin/python gemm_threads.py [--rows 512] [--rounds 25] [--threads 2]
    ../.venv/bin/python gemm_threads.py --steps W13.1,W6.1,W8.2 --rounds 6      # the switch, fresh processes
    ../.venv/bin/python gemm_threads.py --steps W13.1,W6.1 --in-process --rounds 40  # the switch, one process

The choices: ``blas``, NumPy's OpenBLAS on its own threads (what torsh runs at two threads); ``panel1``, the
lstm_cell family's panel GEMM on one thread (what torsh runs at one thread, packing included); ``panel2``, the
same GEMM with its rows split over two OpenMP threads; ``team2``, the same GEMM through its ``matmul`` entry (B packed
inside the call) shared with a helper of the spinning team (kernels_cpp/spin_team.h), what torsh runs at two threads
with the ``gemm_team`` switch on. Each round times every choice in a short batch, the order
alternating, and each row prints the medians over the rounds, so a slow spell of the shared host hits all the
choices of a round alike. The last line weights the rows as one W13.1 step does (four layers, one head).

``--steps``: A/B of torsh's ``gemm_team`` switch (torsh/backend/threads.py) on whole training steps. By default
each (row, switch) pair runs in a fresh ``solo.py`` process (TORSH_GEMM_TEAM=1 / 0, the order alternating by
round), each printing the harness's median seconds per step; the last lines give the medians and the per-round
ratios on/off. ``--in-process`` instead alternates short batches with the switch on and off in one process
(ab_pairs.paired_ratio: the median of the pair ratios and their quartiles), which a slow spell of the shared host
disturbs less.

Why: at two threads torsh's W13.1 step is about as long as at one thread (RESULTS.md). Run with
``OMP_WAIT_POLICY=ACTIVE`` to see what the split gains when its second thread is already awake (torsh sets
PASSIVE, see torsh/backend/kernels.py); the OpenBLAS column is then not meaningful (both pools spin).
"""
import argparse
import os
import statistics
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=512, help="batch x sequence rows (W13.1: 512, W8.2: 1024)")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", help="comma-separated workload row ids: A/B the gemm_team switch on them")
    parser.add_argument("--in-process", action="store_true", help="with --steps: alternate batches in one process")
    return parser.parse_args(argv)


def step_ab_fresh(rows, rounds, threads):
    """{row: {"on": [seconds], "off": [...]}}: solo.py per (round, row, switch), the switch order alternating."""
    import json
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    times = {row: {"on": [], "off": []} for row in rows}
    for round_ in range(rounds):
        for row in rows:
            for switch in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                env = dict(os.environ, TORSH_GEMM_TEAM="1" if switch == "on" else "0")
                done = subprocess.run([sys.executable, os.path.join(here, "solo.py"), "--lib", "torsh", "--workload",
                                       row, "--threads", str(threads)], env=env, cwd=here, capture_output=True,
                                      text=True, check=True)
                line = next(x for x in done.stdout.splitlines() if x.startswith("SOLO-RESULT "))
                times[row][switch].append(json.loads(line[len("SOLO-RESULT "):])["value"])
            on, off = times[row]["on"][-1], times[row]["off"][-1]
            print(f"  round {round_ + 1} {row}: on {on * 1e3:7.2f} ms  off {off * 1e3:7.2f} ms  on/off {on / off:.3f}",
                  flush=True)
    return times


def step_ab_in_process(rows, rounds, threads):
    """{row: ab_pairs.PairedRatio}: batches of steps alternating the switch (off = A, on = B) in one process."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import machine
    machine.keep_freed_memory()
    import ab_pairs
    import torsh
    import workloads
    from torsh.backend import threads as torsh_threads
    torsh.set_num_threads(threads)
    results = {}
    for row in rows:
        fn = workloads.by_id(row).setup(torsh)
        for _ in range(3):
            fn()

        def batch(on, calls=3):
            torsh_threads.set_gemm_team(on)
            fn()  # the first step after a switch pays the other variant's threads going to sleep
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - start) / calls

        results[row] = ab_pairs.paired_ratio(lambda: batch(False), lambda: batch(True), rounds)
        r = results[row]
        print(f"  {row}: off {r.plain * 1e3:.2f} ms, on {r.other * 1e3:.2f} ms; on/off median {r.ratio:.3f} "
              f"{r.spread()}, pooled {r.pooled:.3f} over {r.pairs} pairs", flush=True)
    return results


def products(rng, rows):
    """(name, a, b, count per W13.1 step): every Linear's forward, input gradient and weight gradient, laid
    out as torsh's Linear forward and backward hand them to the GEMM (weight.t(), g.T)."""
    import numpy as np
    for features_in, features_out, count in ((128, 384, 4), (128, 128, 4), (128, 512, 4), (512, 128, 4),
                                             (128, 1000, 1)):
        weight = rng.standard_normal((features_out, features_in), dtype=np.float32)
        x = rng.standard_normal((rows, features_in), dtype=np.float32)
        g = rng.standard_normal((rows, features_out), dtype=np.float32)
        yield f"forward {features_in}->{features_out}", x, weight.T, count
        yield f"grad input {features_out}->{features_in}", g, weight, count
        yield f"grad weight {features_out}x{features_in}", g.T, x, count


def panel_gemm(kernel, a, b, threads):
    """a @ b on the panel GEMM, packing included (as matmul._panel_gemm, with a thread count)."""
    import numpy as np
    (m, k), n = a.shape, b.shape[1]
    a_rows, row_stride, col_stride = (a, k, 1) if a.flags.c_contiguous else (a.T, 1, m)
    packed = kernel.pack_weight(b, k, n, False) if b.flags.c_contiguous else kernel.pack_weight(b.T, n, k, True)
    out = np.empty((m, n), np.float32)
    kernel.gemm(a_rows, packed, out, m, k, n, row_stride, col_stride, False, threads)
    return out


def team_gemm(kernel, a, b, threads):
    """a @ b on the panel GEMM's ``matmul`` entry (B packed inside the call), shared on the spinning team."""
    import numpy as np
    (m, k), n = a.shape, b.shape[1]
    a_rows, row_stride, col_stride = (a, k, 1) if a.flags.c_contiguous else (a.T, 1, m)
    out = np.empty((m, n), np.float32)
    if b.flags.c_contiguous:
        kernel.matmul(a_rows, b, out, m, k, n, row_stride, col_stride, False, threads)
    else:
        kernel.matmul(a_rows, b.T, out, m, k, n, row_stride, col_stride, True, threads)
    return out


def interleaved_medians(choices, rounds, calls=5):
    """{name: median microseconds per call} over ``rounds`` rounds, each timing every choice once."""
    times = {name: [] for name in choices}
    for round_ in range(rounds):
        for name in (list(choices) if round_ % 2 else list(choices)[::-1]):
            choices[name]()  # warm: the previous choice's threads may have gone to sleep
            start = time.perf_counter()
            for _ in range(calls):
                choices[name]()
            times[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None):
    args = parse_args(argv)
    if args.steps:
        rows = args.steps.split(",")
        print(f"gemm_team A/B, {args.threads} threads, {args.rounds} rounds, "
              f"{'one process' if args.in_process else 'fresh processes'}, load {os.getloadavg()[0]:.2f}")
        if args.in_process:
            step_ab_in_process(rows, args.rounds, args.threads)
            return
        times = step_ab_fresh(rows, args.rounds, args.threads)
        for row, t in times.items():
            ratios = sorted(on / off for on, off in zip(t["on"], t["off"]))
            print(f"  {row}: on {statistics.median(t['on']) * 1e3:.2f} ms, off {statistics.median(t['off']) * 1e3:.2f}"
                  f" ms; on/off per round median {statistics.median(ratios):.3f} ({ratios[0]:.3f}-{ratios[-1]:.3f})")
        print(f"  load after: {os.getloadavg()[0]:.2f}")
        return
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)  # before NumPy and the kernels load
    import machine
    machine.keep_freed_memory()
    import numpy as np
    import torsh
    from torsh.backend import kernels
    torsh.set_num_threads(args.threads)
    kernel = kernels.get("lstm_cell")
    if kernel is None:
        sys.exit("the lstm_cell kernel family is not built")
    totals = {"blas": 0.0, "panel1": 0.0, "panel2": 0.0, "team2": 0.0}
    print(f"{args.rows} rows, {args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"median us per product over {args.rounds} rounds")
    for name, a, b, count in products(np.random.default_rng(0), args.rows):
        medians = interleaved_medians({"blas": lambda: np.matmul(a, b),
                                       "panel1": lambda: panel_gemm(kernel, a, b, 1),
                                       "panel2": lambda: panel_gemm(kernel, a, b, 2),
                                       "team2": lambda: team_gemm(kernel, a, b, 2)}, args.rounds)
        for choice, value in medians.items():
            totals[choice] += value * count
        print(f"  {name:26s} " + "  ".join(f"{choice} {value:7.0f}" for choice, value in medians.items()))
    print("  one W13.1 step's products, ms: " + "  ".join(f"{c} {v / 1e3:.1f}" for c, v in totals.items()))


if __name__ == "__main__":
    main()
