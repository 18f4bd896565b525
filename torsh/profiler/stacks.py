"""``export_stacks``: folded stacks for flame graphs (flamegraph.pl, speedscope, inferno).

One line per op call that has a Python stack: ``outer;...;inner;aten::op value``, root
frame first, the op itself as the leaf, value an integer (microseconds for time metrics).
Calls whose value rounds to 0 are left out, as in PyTorch.
"""
from ._files import write_text_atomically

SUPPORTED_METRICS = ("self_cpu_time_total", "cpu_time_total", "self_cpu_memory_usage")
_TRANSLATE = str.maketrans(" ;\t\n", "____")  # the folded format splits on ';' and the last space


def folded_lines(events, metric="self_cpu_time_total"):
    if metric not in SUPPORTED_METRICS:
        raise ValueError(f"metric should be one of: {list(SUPPORTED_METRICS)}; got {metric!r}")
    lines = []
    for event in events:
        if not event.stack:
            continue
        value = int(getattr(event, metric))
        if value <= 0:
            continue
        frames = [frame.translate(_TRANSLATE) for frame in reversed(event.stack)]
        frames.append(event.name.translate(_TRANSLATE))
        lines.append(";".join(frames) + " " + str(value))
    return lines


def export_stacks(events, path, metric="self_cpu_time_total"):
    if not any(event.stack for event in events):
        raise RuntimeError("torsh.profiler: export_stacks needs Python stacks; profile with with_stack=True")
    lines = folded_lines(events, metric)
    write_text_atomically(path, "".join(line + "\n" for line in lines))
