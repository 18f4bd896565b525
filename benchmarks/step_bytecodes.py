"""Python bytecodes executed per training step: a load-independent measure of torsh's per-step overhead.

    python benchmarks/step_bytecodes.py [--rows W1.2,W6.1] [--top N] [--steps K] [--json FILE]

For each workload row (default: W1.1, W1.2, W6.1, W6.2, W9.1, W12.1, W13.1 of benchmarks/workloads.py) counts
the bytecodes one call executes with ``sys.settrace`` opcode events, after warm-up, at one thread. On a shared
machine wall-clock A/Bs of Python overhead are noise; these counts are not, so they show whether a change to
the engine, graph construction, ``Module.__call__`` or the optimizer made the step's Python cheaper. The count
is not the time (the compiled kernels execute no bytecode), but the Python part of a step scales with it.

``--top N`` breaks each row down by file and by function (the N largest); ``--json`` writes the totals and
the per-file counts, to compare two commits (``--compare OLD.json``).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from profiler_bytecodes import OpcodeCounter, describe  # noqa: E402

ROWS = ("W1.1", "W1.2", "W6.1", "W6.2", "W9.1", "W12.1", "W13.1")


def count_row(lib, row_id, steps=2, warmup=2, tiny=False):
    """(bytecodes per call, Counter per code object) of workload ``row_id``'s callable."""
    from workloads import by_id
    row = by_id(row_id)
    step = row.setup(lib, **(row.tiny if tiny else {}))
    for _ in range(warmup):
        step()
    with OpcodeCounter() as counter:
        for _ in range(steps):
            step()
    return counter.total / steps, counter.counts


def per_file(counts, steps=1):
    files = collections.Counter()
    for code, n in counts.items():
        files[os.path.relpath(code.co_filename)] += n / steps
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated workload row ids")
    parser.add_argument("--top", type=int, default=0, help="list the N files and functions executing most")
    parser.add_argument("--steps", type=int, default=2, help="calls counted per row (the count is per call)")
    parser.add_argument("--json", help="write {row: {total, files}} here")
    parser.add_argument("--compare", help="a JSON file written by --json (an older commit): print the differences")
    args = parser.parse_args(argv)
    import torsh
    torsh.set_num_threads(1)
    old = json.load(open(args.compare)) if args.compare else {}
    out = {}
    for row_id in args.rows.split(","):
        total, counts = count_row(torsh, row_id, steps=args.steps)
        files = per_file(counts, args.steps)
        out[row_id] = {"total": total, "files": dict(files)}
        line = f"{row_id:6s} {total:10,.0f} bytecodes per step"
        if row_id in old:
            before = old[row_id]["total"]
            line += f"   (was {before:,.0f}: {total - before:+,.0f}, x{total / before:.3f})"
        print(line, flush=True)
        if args.top:
            for filename, n in files.most_common(args.top):
                was = old.get(row_id, {}).get("files", {}).get(filename)
                print(f"    {n:9,.0f}  {filename}" + (f"  (was {was:,.0f})" if was is not None else ""))
            functions = collections.Counter({code: n / args.steps for code, n in counts.items()})
            print("    functions:")
            for code, n in functions.most_common(args.top):
                print(f"    {n:9,.0f}  {describe(code)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
