"""MemoryTimeline: live tensor bytes and peak over time while a block runs, stacked by category.

    with torsh.viz.MemoryTimeline(model, optimizer) as mt:
        train(...)
    mt          # or display(mt) before the loop to watch it move

Every ``memory`` event (alloc/free, backend/memory.py) is appended as (time, kind, bytes,
live bytes): O(1) per event. The split into categories (parameters, gradients, activations
saved for backward, optimizer state, temporaries; ``memory.categorized_bytes``) walks the
model and the live graphs (~40 us for a small MLP), so it is sampled at allocation events,
but at most ``split_budget`` (2%) of the wall time: after a walk that took ``w`` seconds the
next one waits ``w * (1 - split_budget) / split_budget``. Samples are also taken at start,
at stop and at each redraw, and kept in a bounded buffer (``max_samples``, thinned by half).
The areas are drawn as steps (each sample holds until the next): between samples nothing
is known, so no slope is invented. Times are seconds since ``start``.
"""
import threading

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..backend import events, memory
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
                 budget=DEFAULT_BUDGET, max_samples=20_000, split_budget=0.02):
        super().__init__(interval, budget)
        self._model, self._optimizer = model, optimizer
        self.max_points = max_points  # drawn
        self.max_events = max_events  # kept: past it, every second event is dropped (the peak stays)
        self.max_samples = max_samples  # category splits kept: past it, every second one is dropped
        self.split_budget = float(split_budget)
        self._next_split = -float("inf")  # clock time from which an allocation may take a sample
        self.events = []
        self.samples = []
        self.peak_bytes = 0
        self._lock = threading.Lock()
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
        self.events.append((0.0, "start", 0, start))
        self.peak_bytes = max(self.peak_bytes, start)
        return [events.subscribe(memory.TOPIC, self._on_event)]

    def _on_event(self, event):
        live = event.live_bytes
        with self._lock:  # one append of a tuple; the lock keeps times in order across threads
            self.events.append((self.clock() - self._t0, event.kind, event.nbytes, live))
            if live > self.peak_bytes:
                self.peak_bytes = live
            if len(self.events) > self.max_events:
                thin_in_place(self.events, max(range(len(self.events)), key=lambda i: self.events[i][3]))
        if event.kind == "alloc":  # frees come from GC callbacks: never sample or draw from inside one
            self._maybe_sample()
            self.maybe_redraw()

    def _maybe_sample(self):
        """Sample the split at this allocation if the walks' time budget allows it (main thread only:
        another thread's walk could meet the graphs while the main thread changes them)."""
        if self._drawing or threading.get_ident() != _MAIN_THREAD:
            return
        now = self.clock()
        if now < self._next_split:
            return
        self.sample()
        took = self.clock() - now
        self._next_split = now + took + took * (1.0 - self.split_budget) / self.split_budget

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
        self.sample()
        with self._lock:
            recorded = list(self.events)
        keep = set(downsample(len(recorded), self.max_points))
        if recorded:  # keep the highest point whatever the thinning
            keep.add(max(range(len(recorded)), key=lambda i: recorded[i][3]))
        shown = [recorded[i] for i in sorted(keep)]
        samples = [self.samples[i] for i in downsample(len(self.samples), self.max_points)]
        with self.figure.batch_update():
            times = np.array([s["t"] for s in samples])  # numpy: validated without a loop per point
            for index, name in enumerate(CATEGORIES):
                self.figure.data[index].update(x=times, y=np.array([s[name] for s in samples], dtype=np.float64))
            self.figure.data[LIVE_TRACE].update(
                mode="lines+markers" if len(shown) <= MARKERS_UP_TO else "lines",
                x=np.array([e[0] for e in shown]), y=np.array([e[3] for e in shown], dtype=np.float64),
                hovertext=[f"{e[1]} {human_bytes(e[2])}<br>live {human_bytes(e[3])}<br>t = {e[0] * 1e3:.2f} ms"
                           for e in shown])
            end = recorded[-1][0] if recorded else 0.0
            self.figure.data[PEAK_TRACE].update(x=[0.0, end], y=[self.peak_bytes, self.peak_bytes])
        state = "recording" if self.running else "stopped"
        last = self.samples[-1] if self.samples else None
        split = "" if last is None else " | " + ", ".join(
            f"{name.replace('_', ' ')} {human_bytes(last[name])}" for name in CATEGORIES)
        self.header.value = (f"<b>memory</b> ({state}): live {human_bytes(recorded[-1][3] if recorded else 0)}, "
                             f"peak {human_bytes(self.peak_bytes)}, {len(recorded) - 1} events{split}")
