"""``torsh.viz.diff(a, b)``: where time moved between two runs of the same code.

Each run is a finished ``torsh.profiler.profile``, a trace JSON object, or a Chrome trace file
(``.json`` or ``.json.gz``) written by torsh's or PyTorch's ``export_chrome_trace``. Both
producers write the same Chrome Trace Event Format: ``"X"`` events with ``ts``/``dur`` in
microseconds, ``cat: cpu_op`` for ops (``aten::*``, backward nodes), ``cat: user_annotation``
for ranges (``ProfilerStep#N``, ``record_function``), and, in PyTorch with ``with_stack`` and
``with_modules``, ``cat: python_function`` events named ``nn.Module: Linear_0``.

How the runs are aligned:
- ops by name; self time is an op's duration minus the ranges directly inside it (per thread);
- steps (``ProfilerStep#N``) by position when both runs have them: the i-th recorded step of
  ``a`` against the i-th of ``b``, and only the ops of the paired steps are compared, so runs
  that recorded different numbers of steps still compare like for like;
- modules by the name of their ``nn.Module: <name>`` scope (a scope nested in one of the same
  name counts once).

Named ``_diff`` (not ``diff``): importing a submodule named like the ``torsh.viz.diff`` function
would rebind that attribute to the module.
"""
import gzip
import html
import json
import os
import re
from bisect import bisect_right

from ..profiler import chrome_trace
from ..profiler.table import format_time

STEP_NAME = re.compile(r"^ProfilerStep#(\d+)$")
MODULE_PREFIX = "nn.Module: "
_NESTING_SLACK_US = 0.002  # timestamps are rounded to ns (3 decimals of us): a child may overhang by that
_BAR_WIDTH = 80  # px on each side of the bar column's centre line
SLOWER_COLOR, FASTER_COLOR = "#e45756", "#54a24b"  # red: more time in b; green: less


class _Span:
    """One ``"X"`` event of a trace, nested under the span that encloses it on its thread."""

    __slots__ = ("name", "cat", "start", "end", "duration", "parent", "children")

    def __init__(self, name, cat, start, duration):
        self.name, self.cat = name, cat
        self.start, self.end = start, start + duration
        self.duration = duration  # as written: end - start loses digits on PyTorch's large timestamps
        self.parent = None
        self.children = []

    @property
    def self_time(self):
        return self.duration - sum(child.duration for child in self.children)

    def ancestors(self):
        span = self.parent
        while span is not None:
            yield span
            span = span.parent


# -- reading a run -------------------------------------------------------------------------

def load_trace(source):
    """The trace JSON object of ``source``: a profile, a trace dict, or a path to a trace file."""
    if hasattr(source, "trace") and hasattr(source, "key_averages"):  # a torsh.profiler.profile
        return source.trace()
    if isinstance(source, dict):
        trace = source
    elif isinstance(source, (str, bytes, os.PathLike)):
        trace = _read_trace_file(source)
    else:
        raise TypeError(f"torsh.viz.diff: expected a torsh.profiler.profile, a trace dict or the path of a "
                        f"Chrome trace file, got {type(source).__name__}")
    if not isinstance(trace.get("traceEvents"), list):
        raise ValueError("torsh.viz.diff: not a Chrome trace (no 'traceEvents' list)")
    return trace


def _read_trace_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: export_chrome_trace("x.json.gz") in either library
        raw = gzip.decompress(raw)
    try:
        trace = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"torsh.viz.diff: {os.fsdecode(path)} is not a JSON trace: {error}") from None
    if not isinstance(trace, dict):
        raise ValueError(f"torsh.viz.diff: {os.fsdecode(path)} is not a Chrome trace (no 'traceEvents' list)")
    if isinstance(trace.get("torshPages"), dict):  # a paged torsh trace: the older detail is in its page files
        trace = _with_pages(path, trace)
    return trace


def _with_pages(path, trace):
    """A paged trace's main file with the events of its other pages put back (chrome_trace.read_trace)."""
    events = list(trace["traceEvents"])
    for entry in trace["torshPages"]["pages"]:
        if entry["file"] is not None:
            events += chrome_trace.read_page(path, trace, entry)
    whole = {key: value for key, value in trace.items() if key != "torshPages"}
    whole["traceEvents"] = events
    return whole


def _is_module(event):
    return event.get("name", "").startswith(MODULE_PREFIX)


def _spans_of(trace):
    """The trace's ops, ranges and module scopes, each nested under its enclosing span (per thread)."""
    by_thread = {}
    for event in trace["traceEvents"]:
        if event.get("ph") != "X":
            continue
        cat = event.get("cat")
        if cat not in ("cpu_op", "user_annotation") and not (cat == "python_function" and _is_module(event)):
            continue  # other Python frames (with_stack) and the profiler's own spans
        span = _Span(event["name"], cat, float(event["ts"]), float(event.get("dur", 0.0)))
        by_thread.setdefault((event.get("pid"), event.get("tid")), []).append(span)
    spans = []
    for thread_spans in by_thread.values():
        thread_spans.sort(key=lambda s: (s.start, -s.end))
        _nest(thread_spans)
        spans += _merge_duplicates(thread_spans)
    return spans


def _nest(spans):
    """Set each span's parent (the innermost open span containing it) and the parents' children."""
    open_spans = []
    for span in spans:
        while open_spans and span.end > open_spans[-1].end + _NESTING_SLACK_US:
            open_spans.pop()
        if open_spans:
            span.parent = open_spans[-1]
            span.parent.children.append(span)
        open_spans.append(span)


def _merge_duplicates(spans):
    """Fold an op that is the only child of an op of its name into it (an op re-dispatching to
    itself, e.g. aten::sum), as PyTorch's tables do (EventList._remove_dup_nodes)."""
    merged = set()
    for span in spans:  # parents come first, so a chain of duplicates folds into its top
        parent = span.parent
        if parent is not None and parent.name == span.name and len(parent.children) == 1:
            parent.children = span.children
            for child in span.children:
                child.parent = parent
            merged.add(id(span))
    return [span for span in spans if id(span) not in merged]


class Run:
    """One run's spans: its steps in order, ops, and module scopes."""

    def __init__(self, source, label=None):
        trace = load_trace(source)
        self.label = label or _default_label(source, trace)
        spans = _spans_of(trace)
        self.steps = sorted((s for s in spans if s.cat == "user_annotation" and STEP_NAME.match(s.name)),
                            key=lambda s: s.start)
        self.ops = [s for s in spans if s.cat == "cpu_op"]
        self.modules = [s for s in spans if s.name.startswith(MODULE_PREFIX)
                        and not any(a.name == s.name for a in s.ancestors())]

    def in_steps(self, spans, count):
        """The spans that start inside the first ``count`` steps."""
        steps = self.steps[:count]
        starts = [s.start for s in steps]
        inside = []
        for span in spans:
            i = bisect_right(starts, span.start) - 1
            if i >= 0 and span.start <= steps[i].end + _NESTING_SLACK_US:
                inside.append(span)
        return inside


def _default_label(source, trace):
    if isinstance(source, (str, bytes, os.PathLike)):
        return os.path.basename(os.fsdecode(source))
    if not isinstance(source, dict):
        return "torsh profile"
    if trace.get("producer") == "torsh.profiler":
        return "torsh trace"
    return "PyTorch trace" if "trace_id" in trace else "trace"


# -- comparing two runs ----------------------------------------------------------------------

class DeltaRow:
    """One op (or module) of both runs: calls, self and total time (us) in a and b."""

    __slots__ = ("name", "count_a", "count_b", "self_a", "self_b", "total_a", "total_b")

    def __init__(self, name):
        self.name = name
        self.count_a = self.count_b = 0
        self.self_a = self.self_b = self.total_a = self.total_b = 0.0

    @property
    def delta(self):
        """Self time of b minus a (us): > 0 where b spends more."""
        return self.self_b - self.self_a

    @property
    def ratio(self):
        """Self time of b over a; None when a spent nothing there."""
        return self.self_b / self.self_a if self.self_a else None

    def as_dict(self):
        return {"name": self.name, "count_a": self.count_a, "count_b": self.count_b, "self_a": self.self_a,
                "self_b": self.self_b, "total_a": self.total_a, "total_b": self.total_b,
                "delta": self.delta, "ratio": self.ratio}

    def __repr__(self):
        return (f"DeltaRow({self.name!r}, calls {self.count_a} -> {self.count_b}, "
                f"self {format_time(self.self_a)} -> {format_time(self.self_b)})")


class StepRow:
    """The i-th recorded step of both runs."""

    __slots__ = ("index", "name_a", "name_b", "time_a", "time_b")

    def __init__(self, index, step_a, step_b):
        self.index = index
        self.name_a, self.name_b = step_a.name, step_b.name
        self.time_a, self.time_b = step_a.duration, step_b.duration

    @property
    def delta(self):
        return self.time_b - self.time_a


def _rows(spans_a, spans_b, name_of=lambda span: span.name):
    rows = {}
    for side, spans in (("a", spans_a), ("b", spans_b)):
        for span in spans:
            row = rows.get(name_of(span))
            if row is None:
                row = rows[name_of(span)] = DeltaRow(name_of(span))
            setattr(row, "count_" + side, getattr(row, "count_" + side) + 1)
            setattr(row, "self_" + side, getattr(row, "self_" + side) + span.self_time)
            setattr(row, "total_" + side, getattr(row, "total_" + side) + span.duration)
    return sorted(rows.values(), key=lambda r: (-abs(r.delta), r.name))


def _module_name(span):
    return span.name[len(MODULE_PREFIX):]


class RunDiff:
    """Two runs side by side: ``ops`` and ``modules`` (DeltaRows sorted by |delta| of self time),
    ``steps`` (StepRows, when both runs have ProfilerStep ranges), and ``notes`` on the alignment."""

    def __init__(self, run_a, run_b):
        self.label_a, self.label_b = run_a.label, run_b.label
        self.notes = []
        ops_a, ops_b, modules_a, modules_b = run_a.ops, run_b.ops, run_a.modules, run_b.modules
        self.steps = []
        if run_a.steps and run_b.steps:
            paired = min(len(run_a.steps), len(run_b.steps))
            if len(run_a.steps) != len(run_b.steps):
                self.notes.append(f"a recorded {len(run_a.steps)} steps, b {len(run_b.steps)}: "
                                  f"compared the first {paired} of each")
            self.steps = [StepRow(i, sa, sb) for i, (sa, sb) in enumerate(zip(run_a.steps, run_b.steps))]
            ops_a, ops_b = run_a.in_steps(ops_a, paired), run_b.in_steps(ops_b, paired)
            modules_a, modules_b = run_a.in_steps(modules_a, paired), run_b.in_steps(modules_b, paired)
        elif run_a.steps or run_b.steps:
            self.notes.append("only one run has ProfilerStep ranges: compared the whole runs")
        self.ops = _rows(ops_a, ops_b)
        self.modules = _rows(modules_a, modules_b, _module_name)

    @property
    def self_a(self):
        return sum(r.self_a for r in self.ops)

    @property
    def self_b(self):
        return sum(r.self_b for r in self.ops)

    def op(self, name):
        """The DeltaRow of op ``name`` (KeyError if neither run called it)."""
        for row in self.ops:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dataframe(self):
        """The op rows as a pandas DataFrame (pandas is optional: not a torsh dependency)."""
        try:
            import pandas
        except ImportError:
            raise ModuleNotFoundError("torsh.viz.diff(...).to_dataframe() needs pandas, which is not "
                                      "installed (pip install pandas)", name="pandas") from None
        return pandas.DataFrame([r.as_dict() for r in self.ops],
                                columns=["name", "count_a", "count_b", "self_a", "self_b", "total_a", "total_b",
                                         "delta", "ratio"])

    # -- rendering -------------------------------------------------------------------------
    def summary(self):
        change = self.self_b - self.self_a
        text = (f"torsh.viz.diff: a = {self.label_a}, b = {self.label_b}; op self time "
                f"{format_time(self.self_a)} -> {format_time(self.self_b)} ({_signed_time(change)})")
        if self.steps:
            text += f" over {len(self.steps)} aligned steps"
        return text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.to_html(), "text/plain": self.to_text()}

    def __repr__(self):
        return self.to_text()

    def to_text(self, max_rows=15):
        lines = [self.summary(), *self.notes, "",
                 f"{'op':<48} {'calls a':>8} {'calls b':>8} {'self a':>11} {'self b':>11} {'delta':>12} {'ratio':>7}"]
        lines += [f"{_clip(r.name, 48):<48} {r.count_a:>8} {r.count_b:>8} {format_time(r.self_a):>11} "
                  f"{format_time(r.self_b):>11} {_signed_time(r.delta):>12} {_ratio(r.ratio):>7}"
                  for r in self.ops[:max_rows]]
        if len(self.ops) > max_rows:
            lines.append(f"... {len(self.ops) - max_rows} more ops")
        if self.modules:
            lines += ["", f"{'module':<48} {'calls a':>8} {'calls b':>8} {'time a':>11} {'time b':>11} {'delta':>12}"]
            lines += [f"{_clip(r.name, 48):<48} {r.count_a:>8} {r.count_b:>8} {format_time(r.total_a):>11} "
                      f"{format_time(r.total_b):>11} {_signed_time(r.total_b - r.total_a):>12}"
                      for r in sorted(self.modules, key=lambda r: -abs(r.total_b - r.total_a))[:max_rows]]
        return "\n".join(lines)

    def to_html(self, max_rows=30):
        notes = "".join(f"<div><i>{html.escape(n)}</i></div>" for n in self.notes)
        parts = [f"<div><b>{html.escape(self.summary())}</b></div>{notes}",
                 _table_html("op", [(r.name, r.count_a, r.count_b, r.self_a, r.self_b, r.delta, r.ratio)
                                    for r in self.ops[:max_rows]], "self")]
        if len(self.ops) > max_rows:
            parts.append(f"<div><i>... {len(self.ops) - max_rows} more ops</i></div>")
        if self.steps:
            parts.append(_table_html("step", [(f"{s.name_a} / {s.name_b}", 1, 1, s.time_a, s.time_b, s.delta,
                                               s.time_b / s.time_a if s.time_a else None) for s in self.steps],
                                     "time"))
        if self.modules:
            rows = sorted(self.modules, key=lambda r: -abs(r.total_b - r.total_a))[:max_rows]
            parts.append(_table_html("module", [(r.name, r.count_a, r.count_b, r.total_a, r.total_b,
                                                 r.total_b - r.total_a,
                                                 r.total_b / r.total_a if r.total_a else None) for r in rows],
                                     "time"))
        return "".join(parts)


def _table_html(kind, rows, measure):
    """Rows (name, calls a, calls b, time a, time b, delta, ratio) with a red/green bar per delta."""
    largest = max((abs(r[5]) for r in rows), default=0.0) or 1.0
    cell = "style='padding:2px 8px;text-align:right'"
    head = "".join(f"<th style='padding:2px 8px;text-align:left'>{h}</th>" for h in
                   (kind, "calls a", "calls b", f"{measure} a", f"{measure} b", "delta", "b/a",
                    "where time moved (red: more in b, green: less)"))
    body = "".join(
        f"<tr><td style='padding:2px 8px'><code>{html.escape(name)}</code></td><td {cell}>{calls_a:,}</td>"
        f"<td {cell}>{calls_b:,}</td><td {cell}>{format_time(a)}</td><td {cell}>{format_time(b)}</td>"
        f"<td {cell}>{_signed_time(delta)}</td><td {cell}>{_ratio(ratio)}</td>"
        f"<td style='padding:2px 8px'>{delta_bar(delta, largest)}</td></tr>"
        for name, calls_a, calls_b, a, b, delta, ratio in rows)
    return (f"<table class='torsh-diff' style='font-size:12px;border-collapse:collapse;margin-top:6px'>"
            f"<tr>{head}</tr>{body}</table>")


def delta_bar(delta, largest):
    """A bar from the centre line: right and red when b spends more, left and green when less."""
    width = round(_BAR_WIDTH * min(abs(delta) / largest, 1.0), 1) if largest else 0.0
    color = SLOWER_COLOR if delta > 0 else FASTER_COLOR
    x = _BAR_WIDTH if delta > 0 else _BAR_WIDTH - width
    return (f"<svg width='{2 * _BAR_WIDTH}' height='12'><line x1='{_BAR_WIDTH}' x2='{_BAR_WIDTH}' y1='0' y2='12' "
            f"stroke='#999'/><rect x='{x}' y='2' width='{width}' height='8' fill='{color}'>"
            f"<title>{_signed_time(delta)}</title></rect></svg>")


def _signed_time(us):
    return ("+" if us > 0 else "-" if us < 0 else "") + format_time(abs(us))


def _ratio(ratio):
    return "new" if ratio is None else f"{ratio:.2f}x"


def _clip(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


def diff(a, b, label_a=None, label_b=None):
    """Compare two runs (profiles or Chrome trace files of torsh or PyTorch): per-op, per-step and
    per-module time deltas of b against a; renders as a table with a red/green bar per row."""
    return RunDiff(Run(a, label_a), Run(b, label_b))
