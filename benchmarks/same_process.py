"""run.py --same-process: every library imported into one process, measured one after another.

BIASED, kept only to reproduce the numbers of the earlier RESULTS.md sections: PyTorch's W9
took 2.7 ms in a process of its own but 11.5-15.2 ms here after torsh's workloads ran (idle
thread pools, OpenMP and BLAS threads of one library compete with the other's). The cells are
measured by the same function as solo.py's, so the two modes differ only in the process.
"""
import importlib
import os
import sys

import machine
import solo


def import_libraries(names, threads):
    """{name: module} for ``names``, with ``threads`` threads each (set before NumPy's BLAS starts)."""
    for variable in solo.THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    modules = {name: importlib.import_module(name) for name in names}
    for module in modules.values():
        solo.set_threads(module, threads)
    return modules


def measure(rows, libraries, args, settings):
    """{row id: {library: [record per round]}}, like run.measure_solo but all in this process."""
    modules = import_libraries(libraries, args.threads)
    if not args.return_memory:
        machine.keep_freed_memory()
    records = {w.id: {name: [] for name in libraries} for w in rows}
    for round_index in range(args.rounds):
        for workload in rows:
            order = libraries if round_index % 2 == 0 else list(reversed(libraries))
            for name in order:
                record = solo.measure(workload, modules[name], settings)
                record.update(lib=name, version=getattr(modules[name], "__version__", "n/a"), pid=os.getpid(),
                              loaded=solo.loaded_libraries(), malloc=machine.malloc_setting)
                records[workload.id][name].append(record)
            print(f"  round {round_index + 1}/{args.rounds} measured {workload.id} {workload.name}", file=sys.stderr)
    return records
