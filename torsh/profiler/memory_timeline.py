"""``export_memory_timeline``: live tensor bytes over the profile, as JSON or a standalone HTML plot.

JSON (``.json``, or ``.json.gz``)::

    {"producer": "torsh.profiler", "schema": "torsh.memory_timeline/1",
     "baseTimeNanoseconds": ..., "peak_bytes": ..., "start_bytes": ...,
     "times_us": [...], "live_bytes": [...],           # one point per allocation or free
     "events": [{"ts": us, "kind": "alloc"|"free", "bytes": n, "live_bytes": n,
                 "addr": n, "tid": n, "op": "aten::add" or null}, ...]}

PyTorch writes ``[times, sizes-by-category]`` for .json; torsh does not categorise memory
(no tensor roles), so it writes the self-describing object above instead.
"""
import html
import json

from ._files import write_text_atomically


def build_timeline(result):
    records = result.memory
    start_bytes = records[0].live_bytes - records[0].nbytes if records else 0
    return {
        "producer": "torsh.profiler",
        "schema": "torsh.memory_timeline/1",
        "baseTimeNanoseconds": result.base_time_ns,
        "start_bytes": start_bytes,
        "peak_bytes": max([start_bytes] + [r.live_bytes for r in records]),
        "times_us": [round(r.time_ns / 1000.0, 3) for r in records],
        "live_bytes": [r.live_bytes for r in records],
        "events": [{"ts": round(r.time_ns / 1000.0, 3), "kind": r.kind, "bytes": r.nbytes,
                    "live_bytes": r.live_bytes, "addr": r.address, "tid": r.tid, "op": r.op} for r in records],
    }


def _html(timeline, title):
    times, live = timeline["times_us"], timeline["live_bytes"]
    width, height, pad = 900, 300, 40
    t0 = times[0] if times else 0.0
    span = (times[-1] - t0) if len(times) > 1 else 1.0
    top = max(timeline["peak_bytes"], 1)
    points, previous = [], timeline["start_bytes"]
    for t, b in zip(times, live):  # a step line: live bytes hold until the next event
        x = pad + (t - t0) / (span or 1.0) * (width - 2 * pad)
        points.append(f"{x:.1f},{height - pad - previous / top * (height - 2 * pad):.1f}")
        points.append(f"{x:.1f},{height - pad - b / top * (height - 2 * pad):.1f}")
        previous = b
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body style="font-family: sans-serif">
<h3>{html.escape(title)}</h3>
<p>Peak live bytes: {timeline["peak_bytes"]:,}; {len(times)} allocation/free events over {span:.1f} us.</p>
<svg width="{width}" height="{height}" style="border:1px solid #ccc">
<text x="{pad}" y="{pad - 10}" font-size="12">{top:,} B</text>
<text x="{pad}" y="{height - 10}" font-size="12">0 us</text>
<text x="{width - pad - 80}" y="{height - 10}" font-size="12">{span:.1f} us</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{' '.join(points)}"/>
</svg>
<script type="application/json" id="torsh-memory-timeline">{html.escape(json.dumps(timeline))}</script>
</body></html>
"""


def export_memory_timeline(result, path):
    """``.html`` -> a plot page; anything else -> the JSON above (gzip for ``.gz``)."""
    timeline = build_timeline(result)
    if str(path).endswith(".html"):
        write_text_atomically(path, _html(timeline, "torsh memory timeline"))
    else:
        write_text_atomically(path, json.dumps(timeline, separators=(",", ":")))
