"""trace_view(prof_or_trace): a profiler trace as a zoomable flame chart, with the op table below it.

The chart has one horizontal bar per complete (``ph: "X"``) event: x is time in ms from the
first event, each thread gets a band of rows, and a call sits one row below the call that
encloses it. Instant events (``ph: "i"``: memory allocations, dispatch decisions) are small
triangles above their thread's band; flow events (``ph: "s"``/``"f"``, torsh writes one per
backward node) are arrows from a forward op to its backward node. A search box highlights the
calls whose name contains the text and keeps the matching table rows. The table is
``prof.key_averages()`` for a profile object; for a trace file (or dict) the same columns are
computed from the trace's events; a trace with torsh's summaries of several steps (``profile(
keep_steps=N)``, see torsh/profiler/summary.py) takes them, so the table counts every step while
the chart draws the steps whose calls were kept. With ``with_stack=True`` each row links to the
line of user code where the op spent the most time (``a.torsh-source-link``: the JupyterLab
extension opens the file at that line). It takes the output's width (names wrap).
"""
import gzip
import html
import json
import os

import ipywidgets as widgets
import plotly.graph_objects as go

from ..profiler import chrome_trace
from ..profiler.chrome_trace import for_display
from ._figure import WHEEL_ZOOM, Figure
from ._static import widget_bundle

CATEGORY_COLORS = {"cpu_op": "#4c78a8", "user_annotation": "#f58518", "python_function": "#72b7b2"}
BACKWARD_COLOR = "#e45756"
FLOW_COLOR = "#d62728"
TRACE_MIME = "application/vnd.torsh.trace+json"
BARS, INSTANTS, FLOWS = 0, 1, 2  # figure.data indices
NS_ROUNDING_US = 1e-3  # ts and dur are rounded to ns apart: a box may end 1 ns after the next one starts


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
            while stack and stack[-1]["end"] <= e["ts"] + NS_ROUNDING_US:  # calls that finished before this one started
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


def op_sources(bars):
    """Per op name: (file, line) of the call site where its calls spent the most time (with_stack traces)."""
    time_at = {}
    for bar in bars:
        file, line = bar["args"].get("Source file"), bar["args"].get("Source line")
        if file is not None and line is not None:
            sites = time_at.setdefault(bar["name"], {})
            sites[(file, line)] = sites.get((file, line), 0.0) + bar["dur"]
    return {name: max(sites, key=sites.get) for name, sites in time_at.items()}


def _summary_rows(summary):
    """Rows from torsh's running summaries: every step, also those whose calls were not kept."""
    ops = summary["ops"]
    if any(op["cat"] == "cpu_op" for op in ops):
        ops = [op for op in ops if op["cat"] == "cpu_op"]
    return [{"name": op["name"], "calls": op["count"], "self_ms": op["self_us"] / 1000.0,
             "total_ms": op["total_us"] / 1000.0, "avg_us": op["total_us"] / max(op["count"], 1), "dispatch": ""}
            for op in ops]


def table_rows(bars, averages=None, limit=30, summary=None):
    """Op table rows (name, calls, self ms, total ms, avg us, dispatch, source), most self time first."""
    rows = []
    if summary is not None:
        rows = _summary_rows(summary)
    elif averages is not None:
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
    sources, cells = op_sources(bars), source_cells(bars)
    for row in rows:
        row["source"] = sources.get(row["name"])
        row["cell"] = cells.get(row["source"][0]) if row["source"] else None
    rows.sort(key=lambda r: -r["self_ms"])
    return rows[:limit]


def source_cells(bars):
    """Per source file: the notebook cell it was compiled from (args ``Source cell``, an execution count)."""
    return {bar["args"]["Source file"]: bar["args"]["Source cell"] for bar in bars if "Source cell" in bar["args"]}


def source_link_html(source, cell=None):
    """``file.py:line`` (or ``cell [N], line L`` for code run in a notebook cell) as the link the JupyterLab
    extension opens: the file in its editor at that line, or the cell of the open notebook (data-cell)."""
    if source is None:
        return ""
    file, line = source
    where = html.escape(f"{file}:{line}", quote=True)
    if cell is not None:
        return (f"<a class='torsh-source-link' href='#' data-file='{html.escape(file, quote=True)}' data-line='{line}' "
                f"data-cell='{cell}' title='select cell [{cell}] ({where})'>cell [{cell}], line {line}</a>")
    return (f"<a class='torsh-source-link' href='#' data-file='{html.escape(file, quote=True)}' data-line='{line}' "
            f"title='open {where} in JupyterLab'>{html.escape(file.rsplit('/', 1)[-1])}:{line}</a>")


def _table_html(rows):
    """The op table at the output's width: fixed layout, the name column wraps."""
    columns = (("Name", "left", "30%"), ("Calls", "right", "8%"), ("Self ms", "right", "10%"),
               ("Total ms", "right", "10%"), ("Avg us", "right", "9%"), ("Dispatch", "left", "19%"),
               ("Source", "left", "14%"))
    head = "".join(f"<th style='text-align:{a};padding:0 6px;width:{w}'>{h}</th>" for h, a, w in columns)
    wrap = "padding:0 6px;overflow-wrap:anywhere"
    body = "".join(
        f"<tr><td style='{wrap}'>{html.escape(r['name'])}</td><td style='text-align:right'>{r['calls']}</td>"
        f"<td style='text-align:right'>{r['self_ms']:.3f}</td><td style='text-align:right'>{r['total_ms']:.3f}</td>"
        f"<td style='text-align:right'>{r['avg_us']:.1f}</td><td style='{wrap}'>{html.escape(r['dispatch'])}</td>"
        f"<td style='{wrap}'>{source_link_html(r.get('source'), r.get('cell'))}</td></tr>"
        for r in rows)
    return (f"<table style='font-size:12px;border-collapse:collapse;width:100%;table-layout:fixed'>"
            f"<tr>{head}</tr>{body}</table>")


def instant_events(trace):
    """The instant (``ph: "i"``/``"I"``) events, in time order."""
    return sorted((e for e in trace.get("traceEvents", []) if e.get("ph") in ("i", "I")), key=lambda e: e["ts"])


def flow_pairs(trace, bars):
    """[(forward bar, backward bar)] of the trace's flow events: each "s" paired with the "f" of the
    same cat and id, each end bound to the innermost bar of its thread that starts at its time."""
    starting = {}
    for bar in bars:  # bars come outer first, so the innermost bar starting at a time wins
        starting[(bar["tid"], bar["ts"])] = bar
    starts, pairs = {}, []
    for e in trace.get("traceEvents", []):
        key = (e.get("cat"), e.get("id"))
        if e.get("ph") == "s":
            starts[key] = e
        elif e.get("ph") == "f" and key in starts:
            s = starts.pop(key)
            source, target = starting.get((s.get("tid", 0), s["ts"])), starting.get((e.get("tid", 0), e["ts"]))
            if source is not None and target is not None:
                pairs.append((source, target))
    return pairs


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


PAGE_BUDGET = 300_000  # a view reads its pages once together they hold at most this many events


class TracePages:
    """The detail pages of a big trace (torshPages, see torsh/profiler/chrome_trace.py) that a TraceView
    reads when its view reaches them: from the files beside a paged trace file, or kept in the kernel
    for a big profile. ``on_disk``: the pages' directory as seen from the kernel's working directory."""

    def __init__(self, index, read_page, on_disk=None):
        self.index = index
        self._read_page = read_page  # page entry -> its events
        self.on_disk = on_disk
        self.loaded = {number for number, page in enumerate(index["pages"]) if page["file"] is None}

    def to_fetch(self, start_us, end_us, budget=None):
        """The unread pages overlapping [start_us, end_us]; none if together they exceed ``budget`` events."""
        budget = PAGE_BUDGET if budget is None else budget
        pages = self.index["pages"]
        wanted = [n for n, page in enumerate(pages)
                  if n not in self.loaded and page["ts"][1] >= start_us and page["ts"][0] <= end_us]
        return [] if sum(pages[n]["events"] for n in wanted) > budget else wanted

    def read(self, number):
        events = self._read_page(self.index["pages"][number])
        self.loaded.add(number)
        return events


class TraceView(widgets.VBox):
    """VBox(title and search box, FigureWidget flame chart, table HTML).

    ``figure.data[0]`` holds one bar per drawn X event, ``data[1]`` the instant events,
    ``data[2]`` the flow arrows (one segment per forward -> backward pair, None-separated).
    """

    def __init__(self, trace, averages=None, row_limit=30, max_bars=20_000, pages=None):
        self.trace = trace  # of a paged trace: its main part (what the MIME bundle embeds)
        self.pages = pages  # TracePages: the rest of the detail, read when the view reaches it
        self._max_bars = max_bars
        self._events = list(trace.get("traceEvents", []))  # the events read so far
        self._lay_out()
        spans = [p["ts"] for p in pages.index["pages"]] if pages is not None else []
        t0 = min([b["ts"] for b in self.bars] + [first for first, _ in spans], default=0.0)
        self.t0 = t0
        rows = max((b["row"] for b in self.bars), default=0) + 1
        xaxis = {"title": {"text": "time (ms)"}}
        if spans:  # the whole run, also what is still in pages
            xaxis["range"] = [0.0, (max(last for _, last in spans) - t0) / 1000.0]
        self.figure = Figure(  # built whole: see _figure.py
            data=self._plots(),
            layout={"barmode": "overlay", "showlegend": False, "height": min(700, 140 + 22 * rows),
                    "dragmode": "zoom", "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
                    "xaxis": xaxis, "yaxis": dict(self._yaxis(), autorange="reversed", fixedrange=True,  # time only
                                                  zeroline=False)},
            config=WHEEL_ZOOM)
        if pages is not None:  # a zoom in the browser reaches the kernel over the figure's comm
            self.figure.layout.on_change(self._on_range, "xaxis.range")
        summary = trace.get("torshSummary")
        several_steps = summary is not None and summary.get("steps", 0) > 1
        self.rows = table_rows(self.bars, averages, row_limit, summary if several_steps else None)
        self.table = widgets.HTML(_table_html(self.rows), layout={"width": "100%"})
        span = max((b["end"] for b in self.bars), default=t0) - t0
        not_drawn = len(self.bars) - len(self.drawn)
        left_out = f" ({not_drawn} shortest not drawn)" if not_drawn else ""
        self.summary = (f"{len(self.bars)} calls{left_out} over {span / 1000.0:.2f} ms on {len(self.bands)} thread(s), "
                        f"{len(self.instants)} instant events, {len(self.flows)} forward->backward arrows")
        title = widgets.HTML(f"<b>{html.escape(self.summary)}</b>; drag to zoom, double-click to reset")
        self.page_status = widgets.HTML(self._page_status())
        self.search_box = widgets.Text(placeholder="search events by name", description="Search",
                                       continuous_update=True, layout={"width": "24em"})
        self.search_box.observe(lambda change: self.search(change["new"]), names="value")
        self.found = widgets.HTML()
        super().__init__([title, widgets.HBox([self.search_box, self.found, self.page_status]), self.figure,
                          widgets.HTML(f"<b>Ops ({'all ' + str(summary['steps']) + ' steps' if several_steps else 'key_averages'}"
                                       ", by self time)</b>"), self.table],
                         layout={"width": "100%"})

    def _lay_out(self):
        """Bars (at most max_bars drawn: the shortest calls left out), instants and arrows of the events read."""
        trace = {"traceEvents": self._events}
        self.bars, self.bands = flame_rows(trace)
        drawn = self.bars
        if len(drawn) > self._max_bars:  # a browser draws ~20k bars smoothly: leave out the shortest calls
            drawn = sorted(sorted(drawn, key=lambda b: -b["dur"])[:self._max_bars], key=lambda b: b["ts"])
        self.drawn = drawn
        self.instants = instant_events(trace)
        self.flows = flow_pairs(trace, drawn)

    def _plots(self):
        return [_bar_trace(self.drawn, self.t0), _instant_trace(self.instants, self.bands, self.t0),
                _flow_trace(self.flows, self.t0)]

    def _yaxis(self):
        return {"tickvals": [first for first, _ in self.bands.values()],
                "ticktext": [f"thread {tid}" for tid in self.bands]}

    def _page_status(self):
        if self.pages is None:
            return ""
        return (f"detail in {len(self.pages.index['pages'])} pages, {len(self.pages.loaded)} read "
                "(zoom in to read a range's page)")

    def _on_range(self, layout, x_range):
        if x_range is not None and None not in tuple(x_range):
            self.show_range(self.t0 + x_range[0] * 1000.0, self.t0 + x_range[1] * 1000.0)

    def show_range(self, start_us, end_us):
        """Read the pages the view [start_us, end_us] reaches (unless zoomed out over more than
        PAGE_BUDGET events) and redraw with their calls; returns the page numbers read."""
        wanted = self.pages.to_fetch(start_us, end_us) if self.pages is not None else []
        if not wanted:
            return []
        for number in wanted:
            self._events += self.pages.read(number)
        self._lay_out()
        with self.figure.batch_update():
            for plot, new in zip(self.figure.data, self._plots()):
                update = new.to_plotly_json()
                update.pop("type", None)
                plot.update(update)
            self.figure.layout.yaxis.update(self._yaxis())
        self.page_status.value = self._page_status()
        self.search(self.search_box.value)
        return wanted

    def search(self, query):
        """Highlight the drawn calls whose name contains ``query`` (case-insensitive), dim the others,
        and keep the table rows that match; an empty query shows everything. Returns the matching calls."""
        needle = query.strip().lower()
        hits = [needle in b["name"].lower() for b in self.drawn] if needle else [True] * len(self.drawn)
        self.figure.data[BARS].marker.opacity = [1.0 if hit else 0.25 for hit in hits]
        rows = [r for r in self.rows if needle in r["name"].lower()] if needle else self.rows
        self.table.value = _table_html(rows)
        self.found.value = f"{sum(hits)} calls match" if needle else ""
        return [b for b, hit in zip(self.drawn, hits) if hit] if needle else []

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and the trace document the torsh JupyterLab extension draws without a kernel (of a
        paged trace: its main part, the index pointing at the page files when they are on disk)."""
        return widget_bundle(super(), {TRACE_MIME: self._document(),
                                       "text/plain": f"torsh.viz.TraceView: {self.summary}"}, **kwargs)

    def _document(self):
        if self.pages is None:
            return for_display(self.trace)
        if self.pages.on_disk is None:  # pages kept in the kernel: a saved output has the main part only
            return {key: value for key, value in self.trace.items() if key != "torshPages"}
        return dict(self.trace, torshPages=dict(self.trace["torshPages"], dir=self.pages.on_disk))


def _bar_trace(drawn, t0):
    return go.Bar(
        orientation="h", base=[(b["ts"] - t0) / 1000.0 for b in drawn],
        x=[b["dur"] / 1000.0 for b in drawn], y=[b["row"] for b in drawn],
        text=[b["name"] for b in drawn], textposition="inside", insidetextanchor="start",
        hovertext=[_hover(b) for b in drawn], hoverinfo="text",
        marker={"color": [_color(b) for b in drawn], "line": {"width": 0.5, "color": "white"},
                "opacity": [1.0] * len(drawn)}, width=0.9)


def _instant_trace(instants, bands, t0):
    """Triangles in the gap row above each thread's band, at the instant's time."""
    shown = [e for e in instants if e.get("tid", 0) in bands]
    return go.Scatter(
        mode="markers", name="instant events", x=[(e["ts"] - t0) / 1000.0 for e in shown],
        y=[bands[e.get("tid", 0)][0] - 0.6 for e in shown], hoverinfo="text",
        hovertext=[html.escape(f"{e['name']} {json.dumps(e.get('args', {}), default=str)[:200]}") for e in shown],
        marker={"symbol": "triangle-down", "size": 7, "color": "#444"})


def _flow_trace(flows, t0):
    """One segment per forward -> backward pair, an arrowhead at the backward end."""
    x, y, size = [], [], []
    for source, target in flows:
        x += [(source["ts"] - t0) / 1000.0, (target["ts"] - t0) / 1000.0, None]
        y += [source["row"], target["row"], None]
        size += [0, 9, 0]
    return go.Scatter(mode="lines+markers", name="forward -> backward", x=x, y=y, hoverinfo="skip",
                      line={"color": FLOW_COLOR, "width": 1, "dash": "dot"},
                      marker={"symbol": "arrow", "angleref": "previous", "size": size, "color": FLOW_COLOR})


def trace_view(prof_or_trace_path, row_limit=30, max_bars=20_000, pages=None):
    """A widget: flame chart of a profile's trace (a ``profile``, a trace dict or a .json/.json.gz path) + op table.

    Over ``max_bars`` calls, the shortest are left out of the chart (the table counts them all). A paged
    trace file (``export_chrome_trace(path, pages=...)``) draws its main part, and the widget reads a
    page when a zoom reaches it; a profile or dict of more than chrome_trace.PAGED_ABOVE_EVENTS detail
    events (``pages=None``; True: always, False: never) is paged the same way in the kernel.
    """
    trace, averages = load_trace(prof_or_trace_path)
    trace, trace_pages = _paged(trace, prof_or_trace_path, pages)
    return TraceView(trace, averages, row_limit, max_bars, pages=trace_pages)


def _paged(trace, source, pages):
    """(trace to draw first, TracePages or None): a paged trace file's main part and its page files, or a
    big trace cut into pages kept in the kernel, or the trace itself."""
    index = trace.get("torshPages")
    if index is not None:
        if not isinstance(source, (str, os.PathLike)):
            return trace, None  # a paged trace dict without its file: only its main part can be drawn
        main_path = os.fspath(source)
        on_disk = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(main_path)), index["dir"]))
        return trace, TracePages(index, lambda entry: chrome_trace.read_page(main_path, trace, entry), on_disk)
    if pages is False or (pages is None and chrome_trace.detail_events(trace) <= chrome_trace.PAGED_ABOVE_EVENTS):
        return trace, None
    main, files = chrome_trace.paged_trace(trace, "", chrome_trace.PAGE_EVENTS)
    kept = {name: document["traceEvents"] for name, document in files}
    return main, TracePages(main["torshPages"], lambda entry: kept[entry["file"]])
