"""Interleaved A/B of one torsh module setting on one workload, all in one process.

    ../.venv/bin/python ab_setting.py W7 torsh._ops.nn.conv.DIRECT_MAX_TAPS 0 32 1e9
    ../.venv/bin/python ab_setting.py W5 torsh._ops.nn.conv.DIRECT_MAX_TAPS 0 32 --row 1

Each round times the workload once per value of the setting, then PyTorch, all in one process
(the same libraries loaded, the same allocator state), so a slow spell of the host hits every
variant of that round alike; the medians over the rounds are printed with each round's times.
Used for the choices that a size threshold cannot express (nn_conv.DIRECT_MAX_TAPS, ...).
The torsh variants compare fairly with each other; the PyTorch column shares the process with
torsh and is biased (see run.py --same-process): compare with PyTorch through run.py instead.
"""
import argparse
import importlib
import importlib.util
import statistics
import sys

import machine
import same_process
from timing import median_within_budget
from workloads import WORKLOADS

BUDGET_SECONDS, MIN_REPEAT_SECONDS = 1.0, 0.02


def seconds_per_call(fn):
    return median_within_budget(fn, BUDGET_SECONDS, MIN_REPEAT_SECONDS)[0]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", help="a workload key of workloads.py, e.g. W7")
    parser.add_argument("setting", help="module.attribute, e.g. torsh._ops.nn.conv.DIRECT_MAX_TAPS")
    parser.add_argument("values", nargs="+", type=float, help="values to try (whole numbers become ints)")
    parser.add_argument("--row", type=int, default=0, help="which row of the workload key (default: the first)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    module_name, attribute = args.setting.rsplit(".", 1)
    libraries = same_process.import_libraries(
        ["torsh"] + (["torch"] if importlib.util.find_spec("torch") else []), args.threads)
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    values = [int(v) if v.is_integer() else v for v in args.values]
    workload = [w for w in WORKLOADS if w.key == args.workload][args.row]
    machine.keep_freed_memory()
    times = {f"{attribute}={v}": [] for v in values}
    if "torch" in libraries:
        times["PyTorch (same process: biased)"] = []
    try:
        for _ in range(args.rounds):
            for value in values:
                setattr(module, attribute, value)
                times[f"{attribute}={value}"].append(seconds_per_call(workload.setup(libraries["torsh"])))
            if "torch" in libraries:
                times["PyTorch (same process: biased)"].append(seconds_per_call(workload.setup(libraries["torch"])))
    finally:
        setattr(module, attribute, original)
    print(f"{workload.key} {workload.name}, {args.threads} threads, {args.rounds} rounds")
    for name, seconds in times.items():
        rounds = " ".join(f"{s * 1e3:.2f}" for s in seconds)
        print(f"  {name:32s} median {statistics.median(seconds) * 1e3:.2f} ms   rounds {rounds}")


if __name__ == "__main__":
    sys.exit(main())
