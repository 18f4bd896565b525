"""Each float32 product of a GPT step (W13.1 / W8.2's Linear layers) timed on three thread choices, interleaved.

    ../.venv/bin/python gemm_threads.py [--rows 512] [--rounds 25] [--threads 2]

The choices: ``blas``, NumPy's OpenBLAS on its own threads (what torsh runs at two threads); ``panel1``, the
lstm_cell family's panel GEMM on one thread (what torsh runs at one thread, packing included); ``panel2``, the
same GEMM with its rows split over two OpenMP threads. Each round times every choice in a short batch, the order
alternating, and each row prints the medians over the rounds, so a slow spell of the shared host hits all the
choices of a round alike. The last line weights the rows as one W13.1 step does (four layers, one head).

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
    return parser.parse_args(argv)


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
    totals = {"blas": 0.0, "panel1": 0.0, "panel2": 0.0}
    print(f"{args.rows} rows, {args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"median us per product over {args.rounds} rounds")
    for name, a, b, count in products(np.random.default_rng(0), args.rows):
        medians = interleaved_medians({"blas": lambda: np.matmul(a, b),
                                       "panel1": lambda: panel_gemm(kernel, a, b, 1),
                                       "panel2": lambda: panel_gemm(kernel, a, b, 2)}, args.rounds)
        for choice, value in medians.items():
            totals[choice] += value * count
        print(f"  {name:26s} " + "  ".join(f"{choice} {value:7.0f}" for choice, value in medians.items()))
    print("  one W13.1 step's products, ms: " + "  ".join(f"{c} {v / 1e3:.1f}" for c, v in totals.items()))


if __name__ == "__main__":
    main()
