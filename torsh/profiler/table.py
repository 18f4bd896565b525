"""The text table of ``key_averages().table()`` in PyTorch's layout.

Columns: Name | Self CPU % | Self CPU | CPU total % | CPU total | CPU time avg |
[CPU Mem | Self CPU Mem] | # of Calls | [Input Shapes] | [Total xFLOPs] | [Source Location],
framed by dashed separator lines and followed by ``Self CPU time total: ...``.
Percentages are shares of the summed self time, as in PyTorch.
"""
import math

SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "cpu_memory_usage",
             "self_cpu_memory_usage", "count", "flops", "device_time", "device_time_total",
             "self_device_time_total", "device_memory_usage", "self_device_memory_usage")
# PyTorch code written for GPUs sorts by cuda_time_total etc.; on the CPU those columns are all 0


def _sort_attribute(sort_by):
    return sort_by.replace("cuda", "device").replace("xpu", "device").replace("privateuse1", "device")
_COLUMN_WIDTH = 12
_SPACING = 2
_FLOP_UNITS = ("FLOPs", "KFLOPs", "MFLOPs", "GFLOPs", "TFLOPs", "PFLOPs")


def format_time(time_us, unit=None):
    if unit == "s" or (unit is None and time_us >= 1e6):
        return f"{time_us / 1e6:.3f}s"
    if unit == "ms" or (unit is None and time_us >= 1e3):
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def format_share(time_us, total_us):
    if total_us == 0:
        return "NaN"
    return f"{time_us * 100.0 / total_us:.2f}%"


def format_memory(nbytes):
    for limit, unit in ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB")):
        if abs(nbytes) >= limit:
            return f"{nbytes / limit:.2f} {unit}"
    return f"{nbytes} B"


def _flops_scale(smallest):
    """(multiplier, unit) so the smallest non-zero count prints in a readable unit."""
    power = max(0, min(int(math.floor(math.log10(smallest) / 3)), len(_FLOP_UNITS) - 1))
    return 10.0 ** (-3 * power), _FLOP_UNITS[power]


def _trim_left(text, width):
    if len(text) > width:
        text = "..." + text[len(text) - width + 3:]
    return text


def build_table(events, sort_by=None, row_limit=100, header=None, max_src_column_width=75,
                max_name_column_width=55, max_shapes_column_width=80, with_flops=False,
                profile_memory=False, top_level_events_only=False, time_unit=None):
    """Render FunctionEvents or FunctionEventAvgs; ``sort_by`` is one of SORT_KEYS (descending)."""
    if len(events) == 0:
        return ""
    if time_unit not in (None, "s", "ms", "us"):
        raise ValueError(f"time_unit should be one of None, 's', 'ms', 'us', got {time_unit!r}")
    if sort_by is not None:
        attribute = _sort_attribute(sort_by)
        if attribute not in SORT_KEYS:
            raise ValueError(f"sort_by should be one of {', '.join(SORT_KEYS)}; got {sort_by!r}")
        events = sorted(events, key=lambda event: getattr(event, attribute), reverse=True)

    has_shapes = any(event.input_shapes for event in events)
    stacks = [event.stack for event in events if event.stack]
    name_width = min(max(len(event.key) for event in events) + 4, max_name_column_width)
    shapes_width = min(max(len(str(event.input_shapes)) for event in events) + 4, max_shapes_column_width)
    src_width = min(max(len(frame) for stack in stacks for frame in stack) + 4,
                    max_src_column_width) if stacks else 0
    flops_scale = None
    if with_flops:
        counts = [event.flops for event in events if event.flops > 0]
        if counts:
            flops_scale, flops_unit = _flops_scale(min(counts))

    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    widths = [name_width] + [_COLUMN_WIDTH] * (len(headers) - 1)
    aligns = [">"] * len(headers)
    if has_shapes:
        headers.append("Input Shapes")
        widths.append(shapes_width)
        aligns.append(">")
    if flops_scale is not None:
        headers.append(f"Total {flops_unit}")
        widths.append(_COLUMN_WIDTH)
        aligns.append(">")
    if stacks:
        headers.append("Source Location")
        widths.append(src_width)
        aligns.append("<")

    row_format = "".join("{: " + align + str(width) + "}" + " " * _SPACING for align, width in zip(aligns, widths))
    separator = "".join("-" * width + " " * _SPACING for width in widths)
    line_length = sum(widths) + _SPACING * (len(widths) - 1)
    total_self = sum(event.self_cpu_time_total for event in events)

    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_events_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [separator, row_format.format(*headers), separator]
    shown = 0
    for event in events:
        if shown == row_limit:
            break
        if top_level_events_only and event.cpu_parent is not None:
            continue
        shown += 1
        name = event.key
        if len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        row = [name,
               format_share(event.self_cpu_time_total, total_self),
               format_time(event.self_cpu_time_total, time_unit),
               format_share(event.cpu_time_total, total_self),
               format_time(event.cpu_time_total, time_unit),
               format_time(event.cpu_time, time_unit)]
        if profile_memory:
            row += [format_memory(event.cpu_memory_usage), format_memory(event.self_cpu_memory_usage)]
        row.append(event.count)
        if has_shapes:
            row.append(str(event.input_shapes)[:shapes_width])
        if flops_scale is not None:
            row.append("--" if event.flops <= 0 else f"{event.flops * flops_scale:8.3f}")
        if stacks:
            frames = event.stack or []
            row.append(_trim_left(frames[0], src_width) if frames else "")
        lines.append(row_format.format(*row))
        if stacks and event.stack:  # further frames on their own lines under the source column
            blanks = [""] * (len(headers) - 1)
            for frame in event.stack[1:]:
                lines.append(row_format.format(*(blanks + [_trim_left(frame, src_width)])))
            lines.append(row_format.format(*([""] * len(headers))))
    lines += [separator, f"Self CPU time total: {format_time(total_self, time_unit)}"]
    return "\n".join(lines) + "\n"
