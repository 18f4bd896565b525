"""One benchmark cell in a process of its own: one library, one workload row.

    python benchmarks/solo.py --lib torsh --workload W9.1 --threads 2 [--budget 0.5] [--min-repeat 0.01]

run.py starts one of these per (workload row, library, round). It imports only the library it
measures (torsh, torch or numpy; NumPy itself is in every worker: the workloads build their
inputs from NumPy arrays, and torsh is built on it), sets the thread count before that import,
warms up, times (``timing.median_within_budget``: the median of repeats over ``--budget``
seconds after warm-up) and prints one line ``SOLO-RESULT {json}`` on stdout, with the modules
it had loaded (``loaded``) so that a test can check that torch never shared a process with torsh.

Why a process per cell: PyTorch's W9 (LSTM fwd+bwd, 2 threads) took 2.7 ms in a process of its
own but 11.5-15.2 ms in run.py's old single process after torsh's workloads ran: idle thread
pools, OpenMP and BLAS threads of one library compete with the other's.

A workload that raises (a feature torsh lacks) gives ``"status": "fails"`` and the error text
instead of a crash; the traceback goes to stderr.
"""
import argparse
import importlib
import json
import os
import resource
import sys
import traceback

import machine
from timing import median_within_budget

LIBRARY_NAMES = ("torsh", "torch", "numpy")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RESULT_PREFIX = "SOLO-RESULT "
DEFAULT_SETTINGS = {"budget_seconds": 0.5, "min_repeat_seconds": 0.01, "warmup_calls": 3}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True, choices=LIBRARY_NAMES)
    parser.add_argument("--workload", required=True, metavar="ID", help="a row id of workloads.py, e.g. W9.1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=DEFAULT_SETTINGS["budget_seconds"],
                        help="seconds of timed repeats after warm-up")
    parser.add_argument("--min-repeat", type=float, default=DEFAULT_SETTINGS["min_repeat_seconds"],
                        help="each repeat times a batch of calls lasting at least this long")
    parser.add_argument("--warmup", type=int, default=DEFAULT_SETTINGS["warmup_calls"])
    parser.add_argument("--return-memory", action="store_true",
                        help="keep glibc's default of handing freed blocks back (see machine.keep_freed_memory); "
                             "peak-memory rows always run with glibc's defaults")
    parser.add_argument("--tiny", action="store_true", help="the row's tiny sizes (workloads.Workload.tiny)")
    return parser.parse_args(argv)


def error_text(error):
    """'TypeError: first line of the message', short enough for a table cell."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}"[:300]


def failure(error):
    traceback.print_exc(file=sys.stderr)
    return {"status": "fails", "error": error_text(error)}


def torsh_variants(lib, fn):
    """Call ``fn`` once (a warm-up call for every library); for torsh, the kernel variants its
    dispatcher chose during that call, e.g. "numpy, pythran_omp"."""
    if lib.__name__ != "torsh":
        fn()
        return None
    from torsh.backend import dispatch
    with dispatch.record() as records:
        fn()
    return ", ".join(sorted({r.variant for r in records})) or "-"


def status_kb(field):
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), or None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Make VmHWM start again from the current RSS (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(fn):
    """MB by which the process's peak RSS grows during one call of ``fn`` (the first: a training
    step allocates gradients, optimizer state and activations), plus the absolute peak."""
    before = status_kb("VmRSS")
    if before is not None and reset_peak_rss():
        fn()
        peak = status_kb("VmHWM")
    else:  # no /proc: ru_maxrss (kB on Linux) is the peak since the start, so only growth shows
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"value": max(peak - before, 0) / 1024, "process_peak_mb": peak / 1024}


def measure(workload, lib, settings, params=None):
    """One cell: {"status": "ok", "value": seconds per call or MB, ...}, "n/a" where the row has
    no version for ``lib`` (its setup returns None), or "fails" with the error."""
    try:
        fn = workload.setup(lib, **(params or {}))
    except Exception as error:  # a missing feature: recorded, not fatal
        return failure(error)
    if fn is None:
        return {"status": "n/a"}
    try:
        if workload.metric == "peak_mb":
            return {"status": "ok", **peak_memory(fn)}
        variant = torsh_variants(lib, fn)
        seconds, repeats = median_within_budget(fn, settings["budget_seconds"], settings["min_repeat_seconds"],
                                                settings["warmup_calls"])
    except Exception as error:
        return failure(error)
    return {"status": "ok", "value": seconds, "repeats": repeats, "torsh_variant": variant}


def set_threads(lib, n):
    if lib.__name__ in ("torsh", "torch"):
        lib.set_num_threads(n)


def thread_count(lib):
    if lib.__name__ in ("torsh", "torch"):
        return lib.get_num_threads()
    return int(os.environ["OPENBLAS_NUM_THREADS"])


def loaded_libraries():
    """Which of the benchmarked libraries this process has imported."""
    return sorted(name for name in LIBRARY_NAMES if name in sys.modules)


def main(argv=None):
    args = parse_args(argv)
    for variable in THREAD_VARIABLES:  # before NumPy/BLAS/OpenMP load: they read these once
        os.environ[variable] = str(args.threads)
    import workloads  # imports NumPy: after the thread variables are set
    row = workloads.by_id(args.workload)
    if not args.return_memory and row.metric == "seconds":  # peak memory is measured as a user runs
        machine.keep_freed_memory()
    lib = importlib.import_module(args.lib)
    set_threads(lib, args.threads)
    settings = {"budget_seconds": args.budget, "min_repeat_seconds": args.min_repeat, "warmup_calls": args.warmup}
    result = measure(row, lib, settings, row.tiny if args.tiny else None)
    result.update(lib=args.lib, version=getattr(lib, "__version__", "n/a"), workload=row.id, pid=os.getpid(),
                  loaded=loaded_libraries(), threads=thread_count(lib), malloc=machine.malloc_setting,
                  load_average_1min=round(os.getloadavg()[0], 2))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
