"""trace_view(prof_or_trace): a profiler trace as a zoomable flame chart, with the op table beside it.

The chart has one horizontal bar per complete (``ph: "X"``) event: x is time in ms from the
first event, each thread gets a band of rows, and a call sits one row below the call that
encloses it. The table is ``prof.key_averages()`` for a profile object; for a trace file
(or dict) the same columns are computed from the trace's events.
"""
import gzip
import html
import json

import ipywidgets as widgets
import plotly.graph_objects as go

from ._figure import WHEEL_ZOOM, Figure

CATEGORY_COLORS = {"cpu_op": "#4c78a8", "user_annotation": "#f58518", "python_function": "#72b7b2"}
BACKWARD_COLOR = "#e45756"


def load_trace(prof_or_trace):
    """(trace dict, key_averages or None) from a profile, a trace dict, or a path (.json / .json.gz)."""
    if hasattr(prof_or_trace, "trace") and hasattr(prof_or_trace, "key_averages"):
        return prof_or_trace.trace(), prof_or_trace.key_averages()
    if isinstance(prof_or_trace, dict):
        return prof_or_trace, None
    path = str(prof_or_trace)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f), None


def flame_rows(trace):
    """The X events with their row (thread band + nesting depth) and self time, in start order.

    Returns (bars, bands): bars are dicts (name, cat, tid, ts, dur, row, self, args); bands maps
    tid -> (first row, number of rows). Nesting is by time containment on one thread.
    """
    events = [e for e in trace.get("traceEvents", []) if e.get("ph") == "X"]
    by_thread = {}
    for e in events:
        by_thread.setdefault(e.get("tid", 0), []).append(e)
    bars, bands, next_row = [], {}, 0
    for tid in sorted(by_thread):
        stack, depth_max = [], 0
        for e in sorted(by_thread[tid], key=lambda e: (e["ts"], -e["dur"])):
            end = e["ts"] + e["dur"]
            while stack and stack[-1]["end"] <= e["ts"]:  # calls that finished before this one started
                stack.pop()
            bar = {"name": e["name"], "cat": e.get("cat", ""), "tid": tid, "ts": e["ts"], "dur": e["dur"],
                   "depth": len(stack), "self": e["dur"], "args": e.get("args", {}), "end": end}
            if stack:
                stack[-1]["self"] -= e["dur"]
            stack.append(bar)
            bars.append(bar)
            depth_max = max(depth_max, bar["depth"])
        bands[tid] = (next_row, depth_max + 1)
        for bar in bars:
            if bar["tid"] == tid:
                bar["row"] = next_row + bar["depth"]
        next_row += depth_max + 2  # one empty row between threads
    return bars, bands


def table_rows(bars, averages=None, limit=30):
    """Op table rows (name, calls, self ms, total ms, avg us, dispatch), most self time first."""
    rows = []
    if averages is not None:
        for a in averages:
            dispatch = ", ".join(f"{variant} x{n}" for (_, variant), n in sorted(a.dispatch.items()))
            rows.append({"name": a.key, "calls": a.count, "self_ms": a.self_cpu_time_total / 1000.0,
                         "total_ms": a.cpu_time_total / 1000.0, "avg_us": a.cpu_time_total / max(a.count, 1),
                         "dispatch": dispatch})
    else:
        totals = {}
        for bar in bars:
            row = totals.setdefault(bar["name"], {"name": bar["name"], "calls": 0, "self_ms": 0.0, "total_ms": 0.0,
                                                  "dispatch": {}})
            row["calls"] += 1
            row["self_ms"] += bar["self"] / 1000.0
            row["total_ms"] += bar["dur"] / 1000.0
            for decision in bar["args"].get("Dispatch", ()):
                row["dispatch"][decision["variant"]] = row["dispatch"].get(decision["variant"], 0) + 1
        for row in totals.values():
            row["avg_us"] = row["total_ms"] * 1000.0 / row["calls"]
            row["dispatch"] = ", ".join(f"{v} x{n}" for v, n in sorted(row["dispatch"].items()))
            rows.append(row)
    rows.sort(key=lambda r: -r["self_ms"])
    return rows[:limit]


def _table_html(rows):
    head = "".join(f"<th style='text-align:{a};padding:0 6px'>{h}</th>" for h, a in
                   (("Name", "left"), ("Calls", "right"), ("Self ms", "right"), ("Total ms", "right"),
                    ("Avg us", "right"), ("Dispatch", "left")))
    body = "".join(
        f"<tr><td style='padding:0 6px'>{html.escape(r['name'])}</td><td style='text-align:right'>{r['calls']}</td>"
        f"<td style='text-align:right'>{r['self_ms']:.3f}</td><td style='text-align:right'>{r['total_ms']:.3f}</td>"
        f"<td style='text-align:right'>{r['avg_us']:.1f}</td><td style='padding:0 6px'>{html.escape(r['dispatch'])}</td></tr>"
        for r in rows)
    return f"<table style='font-size:12px;border-collapse:collapse'><tr>{head}</tr>{body}</table>"


def _color(bar):
    if bar["name"].startswith("autograd::") or "Backward" in bar["name"]:
        return BACKWARD_COLOR
    return CATEGORY_COLORS.get(bar["cat"], "#9d755d")


def _hover(bar):
    parts = [f"<b>{html.escape(bar['name'])}</b>", f"{bar['dur']:.1f} us (self {bar['self']:.1f} us)",
             f"thread {bar['tid']}"]
    if "Input Dims" in bar["args"]:
        parts.append(f"inputs {html.escape(str(bar['args']['Input Dims']))}")
    for decision in bar["args"].get("Dispatch", ())[:3]:
        parts.append(html.escape(f"{decision['op']}: {decision['variant']} ({decision.get('reason', '')})"))
    return "<br>".join(parts)


class TraceView(widgets.HBox):
    """HBox(VBox(title, FigureWidget flame chart), table HTML). ``figure.data[0]`` holds one bar per X event."""

    def __init__(self, trace, averages=None, row_limit=30, max_bars=20_000):
        self.trace = trace
        self.bars, self.bands = flame_rows(trace)
        drawn = self.bars
        if len(drawn) > max_bars:  # a browser draws ~20k bars smoothly: leave out the shortest calls
            drawn = sorted(sorted(drawn, key=lambda b: -b["dur"])[:max_bars], key=lambda b: b["ts"])
        self.drawn = drawn
        t0 = min((b["ts"] for b in self.bars), default=0.0)
        rows = max((b["row"] for b in self.bars), default=0) + 1
        self.figure = Figure(  # built whole: see _figure.py
            data=[go.Bar(
                orientation="h", base=[(b["ts"] - t0) / 1000.0 for b in drawn],
                x=[b["dur"] / 1000.0 for b in drawn], y=[b["row"] for b in drawn],
                text=[b["name"] for b in drawn], textposition="inside", insidetextanchor="start",
                hovertext=[_hover(b) for b in drawn], hoverinfo="text",
                marker={"color": [_color(b) for b in drawn], "line": {"width": 0.5, "color": "white"}}, width=0.9)],
            layout={"barmode": "overlay", "showlegend": False, "height": min(700, 140 + 22 * rows),
                    "dragmode": "zoom", "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
                    "xaxis": {"title": {"text": "time (ms)"}},
                    "yaxis": {"autorange": "reversed", "fixedrange": True,  # zoom and pan move along time only
                              "tickvals": [first for first, _ in self.bands.values()],
                              "ticktext": [f"thread {tid}" for tid in self.bands], "zeroline": False}},
            config=WHEEL_ZOOM)
        self.rows = table_rows(self.bars, averages, row_limit)
        self.table = widgets.HTML(_table_html(self.rows))
        span = max((b["end"] for b in self.bars), default=t0) - t0
        left_out = f" ({len(self.bars) - len(drawn)} shortest not drawn)" if len(drawn) < len(self.bars) else ""
        title = widgets.HTML(f"<b>{len(self.bars)} calls</b>{left_out} over {span / 1000.0:.2f} ms on "
                             f"{len(self.bands)} thread(s); drag to zoom, double-click to reset")
        super().__init__([widgets.VBox([title, self.figure], layout={"flex": "3 1 0%", "min_width": "400px"}),
                          widgets.VBox([widgets.HTML("<b>Ops (key_averages, by self time)</b>"), self.table],
                                       layout={"flex": "2 1 0%", "overflow": "auto", "max_height": "700px"})])


def trace_view(prof_or_trace_path, row_limit=30, max_bars=20_000):
    """A widget: flame chart of a profile's trace (a ``profile``, a trace dict or a .json/.json.gz path) + op table.

    Over ``max_bars`` calls, the shortest are left out of the chart (the table counts them all).
    """
    trace, averages = load_trace(prof_or_trace_path)
    return TraceView(trace, averages, row_limit, max_bars)
