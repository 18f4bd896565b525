"""MemoryTimeline: live tensor bytes and peak over time while a block runs, stacked by category.

    with torsh.viz.MemoryTimeline(model, optimizer) as mt:
        train(...)
    mt          # or display(mt) before the loop to watch it move

Every ``memory`` event (alloc/free, backend/memory.py) is appended as (time, kind, bytes,
live bytes): O(1) per event. The split into categories (parameters, gradients, activations
saved for backward, optimizer state, temporaries; ``memory.categorized_bytes``) walks the
model, so it is sampled at each redraw (at most one per ``interval``), at start and at stop.
Times are seconds since ``start``.
"""
import threading

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..backend import events, memory
from ._figure import Figure
from ._live import DEFAULT_BUDGET, LiveView, downsample, human_bytes, thin_in_place
from .stats import CATEGORIES, categorized

CATEGORY_COLORS = {"parameters": "#54a24b", "gradients": "#f58518", "saved_activations": "#4c78a8",
                   "optimizer_state": "#b279a2", "temporaries": "#bab0ac"}
LIVE_TRACE, PEAK_TRACE = len(CATEGORIES), len(CATEGORIES) + 1  # figure.data: categories first


class MemoryTimeline(LiveView):
    """Widget + context manager; ``.widget`` is a VBox(header, FigureWidget).

    Data: ``events`` [(t, kind, nbytes, live_bytes)], ``samples`` [{"t", <category>: bytes,
    "total"}], ``peak_bytes`` (max over both). Unlike PyTorch's memory snapshot, nothing is
    kept per storage and no stack traces are recorded.
    """

    def __init__(self, model=None, optimizer=None, interval=0.5, max_points=2000, max_events=200_000,
                 budget=DEFAULT_BUDGET):
        super().__init__(interval, budget)
        self._model, self._optimizer = model, optimizer
        self.max_points = max_points  # drawn
        self.max_events = max_events  # kept: past it, every second event is dropped (the peak stays)
        self.events = []
        self.samples = []
        self.peak_bytes = 0
        self._lock = threading.Lock()
        self.header = widgets.HTML("<i>memory timeline: not started</i>")
        traces = [go.Scatter(x=[], y=[], name=name.replace("_", " "), stackgroup="categories", mode="lines",
                             line={"width": 0.5, "color": CATEGORY_COLORS[name]}) for name in CATEGORIES]
        traces.append(go.Scatter(x=[], y=[], name="live bytes", mode="lines+markers", hoverinfo="text",
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
        if event.kind == "alloc":  # frees come from GC callbacks: never draw from inside one
            self.maybe_redraw()

    def sample(self):
        """Record the category split now (also done at each redraw, start and stop)."""
        split = categorized(self._model, self._optimizer)
        if split is None:
            return None
        split["t"] = self.clock() - self._t0
        self.samples.append(split)
        self.peak_bytes = max(self.peak_bytes, split["total"])
        return split

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
        with self.figure.batch_update():
            times = np.array([s["t"] for s in self.samples])  # numpy: validated without a loop per point
            for index, name in enumerate(CATEGORIES):
                self.figure.data[index].update(x=times, y=np.array([s[name] for s in self.samples], dtype=np.float64))
            self.figure.data[LIVE_TRACE].update(
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
