"""Dashboard(model, optimizer): loss curve, step time, memory and dispatch counts of a training loop.

    dash = torsh.viz.Dashboard(model, opt)
    display(dash)
    with dash:
        for x, y in loader:
            ...
            dash.step(loss)              # or dash.log(loss=loss.item(), acc=...)

Per step it appends one row (time, step time, metrics, live and peak bytes): O(1), a few
microseconds. Redraws happen at most once per ``interval`` seconds (default 0.5) and once at
the end, so drawing cost is bounded by the loop's wall time, not its step count. Dispatch
counting subscribes to the ``dispatch`` topic, which puts every op on the observed path
(several microseconds each), so by default it watches one step in ``dispatch_every`` (10)
and the panel shows the counts of those sampled steps; ``dispatch_every=1`` counts every
step. benchmarks/dashboard_overhead.py counts the whole cost. With ``memory=True``, starting
resets the peak (``torsh.backend.memory.reset_peak()``, as ``torch.cuda.reset_peak_memory_stats()``
would), so the peak line is the run's, not the process's.
"""
import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..backend import memory
from ._dispatch_counts import DispatchCounter
from ._figure import Figure
from ._live import DEFAULT_BUDGET, LiveView, downsample, human_bytes, thin_in_place
from .dispatch_view import VARIANT_COLORS, VARIANTS
from .stats import CATEGORIES, categorized

MAX_POINTS = 1000  # points per curve sent to the browser
LOSS, STEP_TIME, LIVE, PEAK = 0, 1, 2, 3  # figure.data indices; dispatch bars follow, one per variant


def _array(values):
    return np.asarray(values, dtype=np.float64)


def _number(value):
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


class Dashboard(LiveView):
    """Widget + context manager for a training loop; ``.widget`` is a VBox(header, FigureWidget).

    ``history``: one dict per step {"step", "time", "step_time", "live_bytes", "peak_bytes", metrics...}.
    ``counter``: dispatch decisions of the watched steps (``dispatch_steps`` of them).
    """

    def __init__(self, model=None, optimizer=None, interval=0.5, memory=True, dispatch=True, max_history=100_000,
                 budget=DEFAULT_BUDGET, dispatch_every=10):
        super().__init__(interval, budget)
        self._model, self._optimizer = model, optimizer
        self.track_memory, self.track_dispatch = memory, dispatch
        self.dispatch_every = max(1, int(dispatch_every))
        self.dispatch_steps = 0  # steps whose dispatch decisions were counted
        self._unsubscribe_dispatch = None
        self.history = []
        self.steps = 0
        self.max_history = max_history  # past it, every second row is dropped (rows keep their "step")
        self.counter = DispatchCounter()
        self.memory_split = None
        self._last_step = None
        self.header = widgets.HTML("<i>dashboard: waiting for the first step</i>")
        fig = make_subplots(rows=2, cols=2, subplot_titles=("loss", "step time (ms)", "memory (bytes)",
                                                            "dispatch (calls per op, watched steps)"),
                            vertical_spacing=0.18, horizontal_spacing=0.1)
        fig.add_trace(go.Scatter(x=[], y=[], name="loss", mode="lines", line={"color": "#4c78a8"}), 1, 1)
        fig.add_trace(go.Scatter(x=[], y=[], name="step time", mode="lines", line={"color": "#f58518"}), 1, 2)
        fig.add_trace(go.Scatter(x=[], y=[], name="live", mode="lines", line={"color": "#222"}), 2, 1)
        fig.add_trace(go.Scatter(x=[], y=[], name="peak", mode="lines", line={"color": "#e45756", "dash": "dash"}),
                      2, 1)
        for variant in VARIANTS:
            fig.add_trace(go.Bar(x=[], y=[], name=variant, marker={"color": VARIANT_COLORS[variant]}), 2, 2)
        fig.update_layout(height=520, barmode="stack", margin={"l": 50, "r": 10, "t": 40, "b": 40},
                          legend={"orientation": "h", "y": -0.12})
        fig.update_xaxes(title_text="step", row=1, col=1)
        fig.update_xaxes(title_text="step", row=1, col=2)
        fig.update_xaxes(title_text="step", row=2, col=1)
        self.figure = Figure(data=fig.data, layout=fig.layout)  # built whole: see _figure.py
        self.widget = widgets.VBox([self.header, self.figure])

    # -- recording (O(1) per step) -----------------------------------------------------------
    def _subscribe(self):
        if self.track_memory:  # the peak line is this run's: not a peak from before the loop
            memory.live_bytes()  # (starts counting if nobody did)
            memory.reset_peak()
        self._last_step = self.clock()
        self._watch_dispatch(self.track_dispatch)  # step 0 is watched
        return [lambda: self._watch_dispatch(False)]

    def _watch_dispatch(self, on):
        """Count the dispatch decisions of the step that starts now (on) or not (off)."""
        if on and self._unsubscribe_dispatch is None:
            self._unsubscribe_dispatch = self.counter.subscribe()
        elif not on and self._unsubscribe_dispatch is not None:
            self._unsubscribe_dispatch()
            self._unsubscribe_dispatch = None

    def step(self, loss=None, **metrics):
        """End of one training step: record its time, ``loss`` (tensor or number) and other metrics."""
        now = self.clock()
        if self._last_step is None:  # used without `with`: the first step's time is unknown
            self._last_step = now
        row = {"step": self.steps, "time": now, "step_time": now - self._last_step}
        if loss is not None:
            row["loss"] = _number(loss)
        for name, value in metrics.items():
            row[name] = _number(value)
        if self.track_memory:
            row["live_bytes"] = memory.live_bytes()
            row["peak_bytes"] = memory.peak_bytes()
        self.history.append(row)
        self.steps += 1
        if len(self.history) > self.max_history:
            thin_in_place(self.history)
        if self._unsubscribe_dispatch is not None:
            self.dispatch_steps += 1  # this step's decisions were counted
        if self.running and self.track_dispatch:  # watch one step in dispatch_every
            watch = self.steps % self.dispatch_every == 0
            if watch != (self._unsubscribe_dispatch is not None):
                self._watch_dispatch(watch)
        self._last_step = now
        self.maybe_redraw()
        self._last_step = self.clock()  # a redraw is not part of the next step's time
        return row

    def log(self, **metrics):
        """Same as ``step(**metrics)``: call one of them once per step."""
        return self.step(**metrics)

    # -- drawing ----------------------------------------------------------------------------
    def redraw(self):
        rows = self.history
        shown = [rows[i] for i in downsample(len(rows), MAX_POINTS)]
        steps = [r["step"] for r in shown]
        if self.track_memory and (self._model is not None or self._optimizer is not None):
            self.memory_split = categorized(self._model, self._optimizer)
        ops = self.counter.rows()[:12]
        with self.figure.batch_update():  # numpy arrays: plotly validates them without a Python loop per point
            data = self.figure.data
            data[LOSS].update(x=_array([r["step"] for r in shown if "loss" in r]),
                              y=_array([r["loss"] for r in shown if "loss" in r]))
            data[STEP_TIME].update(x=_array(steps), y=_array([r["step_time"] * 1e3 for r in shown]))
            if self.track_memory:
                data[LIVE].update(x=_array(steps), y=_array([r["live_bytes"] for r in shown]))
                data[PEAK].update(x=_array(steps), y=_array([r["peak_bytes"] for r in shown]))
            for index, variant in enumerate(VARIANTS):
                data[PEAK + 1 + index].update(x=[o["op"] for o in ops], y=[o["variants"].get(variant, 0) for o in ops])
        self.header.value = self._summary()

    def _summary(self):
        if not self.history:
            return "<i>dashboard: waiting for the first step</i>"
        last = self.history[-1]
        times = [r["step_time"] for r in self.history[-50:] if r["step_time"] > 0]
        parts = [f"<b>step {last['step']}</b>"]
        if "loss" in last:
            parts.append(f"loss {last['loss']:.4g}")
        parts += [f"{k} {v:.4g}" for k, v in last.items()
                  if k not in ("step", "time", "step_time", "loss", "live_bytes", "peak_bytes")]
        if times:
            parts.append(f"step {sorted(times)[len(times) // 2] * 1e3:.2f} ms (median of last {len(times)})")
        if "live_bytes" in last:
            parts.append(f"memory {human_bytes(last['live_bytes'])}, peak {human_bytes(last['peak_bytes'])}")
        if self._optimizer is not None:
            parts.append(f"lr {self._optimizer.param_groups[0]['lr']:.3g}")
        text = " | ".join(parts)
        if self.memory_split:
            text += "<br>" + ", ".join(f"{name.replace('_', ' ')} {human_bytes(self.memory_split[name])}"
                                       for name in CATEGORIES)
        if self.counter.ops:
            calls = {v: 0 for v in VARIANTS}
            for s in self.counter.ops.values():
                for v, n in s.variants.items():
                    calls[v] = calls.get(v, 0) + n
            total = sum(calls.values())
            text += f"<br>dispatch ({self.dispatch_steps} watched steps, 1 in {self.dispatch_every}): " + ", ".join(
                f"{html.escape(v)} {n:,} ({100 * n / total:.0f}%)" for v, n in calls.items() if n)
        state = "" if self.running else " (stopped)"
        return text + state
