"""MemoryTimeline: live tensor bytes and peak over time while a block runs, stacked by category.

    with torsh.viz.MemoryTimeline(model, optimizer) as mt:
        train(...)
    mt          # or display(mt) before the loop to watch it move

Every ``memory`` event (alloc/free, backend/memory.py) is appended raw, as its clock time and
fields, by memory.py itself into this view's ``RawSink``: no Python call, no lock, no check beyond
one comparison with the time of the next due work. Those raw facts
are folded into ``events`` (time, kind, bytes, live bytes) and the peak when work is due and
at each redraw. The split into categories (parameters, gradients, activations saved for
backward, optimizer state, temporaries; ``memory.categorized_bytes``) walks the model and the
live graphs (~40 us for a small MLP), so it is sampled at each redraw, start and stop and, at
allocations, within a time budget: by default the budget the running live views share
(``_live._Meter``, 1% of wall time for their redraws and walks together), or its own
``split_budget`` (e.g. 0.02: after a walk of ``w`` seconds the next waits
``w * (1 - split_budget) / split_budget``), which samples the activations saved mid-step more
often at that cost. Samples are kept in a bounded buffer (``max_samples``, thinned by half).
The areas are drawn as steps (each sample holds until the next): between samples nothing
is known, so no slope is invented. Times are seconds since ``start``.
"""
import threading

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..backend import memory
from ._figure import Figure
from ._live import _MAIN_THREAD, DEFAULT_BUDGET, LiveView, downsample, human_bytes, thin_in_place
from ._static import plain_text, plotly_frame
from .stats import CATEGORIES, categorized

CATEGORY_COLORS = {"parameters": "#54a24b", "gradients": "#f58518", "saved_activations": "#4c78a8",
                   "optimizer_state": "#b279a2", "temporaries": "#bab0ac"}
LIVE_TRACE, PEAK_TRACE = len(CATEGORIES), len(CATEGORIES) + 1  # figure.data: categories first
MARKERS_UP_TO = 40  # the live line shows a marker per event up to this many points: past it, a barcode


class MemoryTimeline(LiveView):
    """Widget + context manager; ``.widget`` is a VBox(header, FigureWidget).

    Data: ``events`` [(t, kind, nbytes, live_bytes)], ``samples`` [{"t", <category>: bytes,
    "total"}], ``peak_bytes`` (max over both). Unlike PyTorch's memory snapshot, nothing is
    kept per storage and no stack traces are recorded.
    """

    def __init__(self, model=None, optimizer=None, interval=0.5, max_points=2000, max_events=200_000,
                 budget=DEFAULT_BUDGET, max_samples=20_000, split_budget=None):
        super().__init__(interval, budget)
        self._model, self._optimizer = model, optimizer
        self.max_points = max_points  # drawn
        self.max_events = max_events  # kept: past it, every second event is dropped (the peak stays)
        self.max_samples = max_samples  # category splits kept: past it, every second one is dropped
        self.split_budget = None if split_budget is None else float(split_budget)  # None: the shared budget
        self._next_split = -float("inf")  # with its own split_budget: when an allocation may take a sample
        # events as columns (times, kinds, nbytes, live bytes) of floats, ints and interned strs: kept
        # for the whole run, they give the cycle collector nothing to count or traverse (tuples would)
        self._columns = ([], [], [], [])
        self.samples = []
        self.peak_bytes = 0
        self._sink = None  # memory.RawSink while running: its flat raw events are folded into the columns
        self.header = widgets.HTML("<i>memory timeline: not started</i>")
        traces = [go.Scatter(x=[], y=[], name=name.replace("_", " "), stackgroup="categories", mode="lines",
                             line={"width": 0.5, "color": CATEGORY_COLORS[name], "shape": "hv"})
                  for name in CATEGORIES]
        traces.append(go.Scatter(x=[], y=[], name="live bytes", mode="lines", hoverinfo="text",
                                 line={"color": "#222", "width": 1.5, "shape": "hv"}, marker={"size": 3}))
        traces.append(go.Scatter(x=[], y=[], name="peak", mode="lines", hoverinfo="name+y",
                                 line={"color": "#e45756", "dash": "dash"}))
        self.figure = Figure(data=traces, layout={  # built whole: see _figure.py
            "height": 320, "margin": {"l": 60, "r": 10, "t": 10, "b": 40}, "hovermode": "closest",
            "xaxis": {"title": {"text": "time (s)"}}, "yaxis": {"title": {"text": "bytes"}},
            "legend": {"orientation": "h", "y": -0.25}})
        self.widget = widgets.VBox([self.header, self.figure])

    def _subscribe(self):
        self._t0 = self.clock()
        start = memory.live_bytes()  # starts the counting (and its scan) if nobody did yet
        for column, value in zip(self._columns, (0.0, "start", 0, start)):
            column.append(value)
        self.peak_bytes = max(self.peak_bytes, start)
        # memory.py appends each event's numbers and kind to the sink's flat list itself (no Python call
        # per event), and calls _work only when the sink's wake time has come
        self._sink = memory.RawSink(self.clock, self._work, self.max_events * memory.RawSink.FIELDS)
        return [memory.add_sink(self._sink)]

    def _work(self, now, kind):
        """Fold the raw events; at an allocation, redraw or sample the split if due. Main thread only:
        another thread's walk could meet the graphs while the main thread changes them."""
        if self._meter.busy or threading.get_ident() != _MAIN_THREAD:
            return
        self._fold()
        if kind != "alloc":  # frees come from GC callbacks: never sample or draw from inside one
            return
        if not self.maybe_redraw() and self._split_due(now):
            self._walk(now)
        next_split = self._meter.next_free if self.split_budget is None else self._next_split
        self._sink.wake = min(next_split, max(self._next_draw, self._meter.next_free))

    def _split_due(self, now):
        return now >= (self._meter.next_free if self.split_budget is None else self._next_split)

    def _walk(self, now):
        """A sample at this allocation, its time charged to the shared budget or to split_budget."""
        meter = self._meter
        meter.busy = True
        try:
            self.sample()
        finally:
            meter.busy = False
        end = self.clock()
        took = end - now
        if self.split_budget is None:
            meter.charge(took, end, meter.fraction(self))
        else:
            meter.charge(took, end, 0.0)  # counted as the views' time, not gating their redraws
            self._next_split = now + took + took * (1.0 - self.split_budget) / self.split_budget

    @property
    def events(self):
        """[(t, kind, nbytes, live_bytes)]: seconds since start, "start"/"alloc"/"free", bytes, live bytes."""
        return list(zip(*self._columns))

    def _fold(self):
        """Move the raw events into the event columns (times since start) and the peak; thin past max_events."""
        if self._sink is None:
            return
        raw = self._sink.raw
        n = len(raw)
        if not n:
            return
        chunk = raw[:n]
        del raw[:n]  # (events appended meanwhile by another thread stay for the next fold)
        width = memory.RawSink.FIELDS
        fields = [chunk[i::width] for i in range(4)]  # times, kinds, nbytes, live bytes (not the address)
        times = fields[0]
        if any(a > b for a, b in zip(times, times[1:])):  # another thread's append came late: order by time
            order = sorted(range(len(times)), key=times.__getitem__)
            fields = [[field[i] for i in order] for field in fields]
        t0 = self._t0
        self._columns[0].extend([t - t0 for t in fields[0]])
        for column, field in zip(self._columns[1:], fields[1:]):
            column.extend(field)
        top = max(fields[3])
        if top > self.peak_bytes:
            self.peak_bytes = top
        live = self._columns[3]
        while len(live) > self.max_events:
            _thin_columns(self._columns, max(range(len(live)), key=live.__getitem__))

    def sample(self):
        """Record the category split now (also done at allocations, each redraw, start and stop)."""
        split = categorized(self._model, self._optimizer)
        if split is None:
            return None
        split["t"] = self.clock() - self._t0
        self.samples.append(split)
        self.peak_bytes = max(self.peak_bytes, split["total"])
        if len(self.samples) > self.max_samples:
            thin_in_place(self.samples)
        return split

    def static_bundle(self):
        header = plain_text(self.header.value)
        return {**plotly_frame(self.figure, header), "text/plain": f"torsh.viz.MemoryTimeline: {header}"}

    def redraw(self):
        if self.started_at is None:
            return
        self._fold()
        self.sample()
        at, kinds, sizes, live = self._columns  # (not `times`: the samples' times below)
        count = len(at)
        keep = set(downsample(count, self.max_points))
        if count:  # keep the highest point whatever the thinning
            keep.add(max(range(count), key=live.__getitem__))
        shown = sorted(keep)
        samples = [self.samples[i] for i in downsample(len(self.samples), self.max_points)]
        with self.figure.batch_update():
            times = np.array([s["t"] for s in samples])  # numpy: validated without a loop per point
            for index, name in enumerate(CATEGORIES):
                self.figure.data[index].update(x=times, y=np.array([s[name] for s in samples], dtype=np.float64))
            self.figure.data[LIVE_TRACE].update(
                mode="lines+markers" if len(shown) <= MARKERS_UP_TO else "lines",
                x=np.array([at[i] for i in shown]), y=np.array([live[i] for i in shown], dtype=np.float64),
                hovertext=[f"{kinds[i]} {human_bytes(sizes[i])}<br>live {human_bytes(live[i])}<br>"
                           f"t = {at[i] * 1e3:.2f} ms" for i in shown])
            end = at[-1] if count else 0.0
            self.figure.data[PEAK_TRACE].update(x=[0.0, end], y=[self.peak_bytes, self.peak_bytes])
        state = "recording" if self.running else "stopped"
        last = self.samples[-1] if self.samples else None
        split = "" if last is None else " | " + ", ".join(
            f"{name.replace('_', ' ')} {human_bytes(last[name])}" for name in CATEGORIES)
        self.header.value = (f"<b>memory</b> ({state}): live {human_bytes(live[-1] if count else 0)}, "
                             f"peak {human_bytes(self.peak_bytes)}, {count - 1} events{split}")


def _thin_columns(columns, keep_index):
    """thin_in_place over the rows the columns make: every second row dropped, the first, last and
    ``keep_index`` rows kept, in order."""
    count = len(columns[0])
    keep = sorted(set(range(0, count, 2)) | {count - 1, keep_index})
    for column in columns:
        column[:] = [column[i] for i in keep]
