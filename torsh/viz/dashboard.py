"""Dashboard(model, optimizer): loss curve, step time, memory and dispatch counts of a training loop.

    dash = torsh.viz.Dashboard(model, opt)
    display(dash)
    with dash:
        for x, y in loader:
            ...
            dash.step(loss)              # or dash.log(loss=loss.item(), acc=...)
        dash.log(val_loss=..., val_acc=...)   # or dash.log(step, split="val", loss=..., acc=...)

Every metric gets a plot (``loss`` first, the others in the order they first appear);
validation values (a ``val_`` prefix, or ``log(..., split="val")``) are drawn on the plot of
the training metric of the same name, dashed. A new metric rebuilds the figure once.

Per step it appends one row (time, step time, metrics, live and peak bytes): O(1), a few
microseconds. Redraws happen at most once per ``interval`` seconds (default 0.5) and once at
the end, so drawing cost is bounded by the loop's wall time, not its step count. Dispatch
counting subscribes to the ``dispatch`` topic, which puts every op on the observed path
(several microseconds each), so by default it watches one step in ``dispatch_every`` (10)
and the panel shows the counts of those sampled steps; ``dispatch_every=1`` counts every
step. benchmarks/dashboard_overhead.py counts the whole cost. With ``memory=True``, starting
resets the peak (``torsh.backend.memory.reset_peak()``, as ``torch.cuda.reset_peak_memory_stats()``
would), so the peak line is the run's, not the process's.

Advice: one step in ``advise_every`` (default 200; 0 turns it off) is profiled
(``torsh.profiler.profile(record_shapes=True)`` around a ``ProfilerStep#N`` range, from one
``step()`` call to the next, so the wait for the next batch is in it) and ``prof.advise()`` runs
over it: ``advice`` holds the findings of the latest sampled step, shown under the plots and in
the saved frame. A sampled step is slower (the profiler's cost: its step-time point stands out);
no step is sampled while another profiler runs (the user's own ``profile`` comes first).
"""
import html
import textwrap

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..backend import memory
from ..profiler import profile, record_function
from ._dispatch_counts import DispatchCounter
from ._figure import Figure
from ._live import DEFAULT_BUDGET, LiveView, downsample, human_bytes, thin_in_place
from ._static import PLOTLY_MIME, plain_text, plotly_frame
from .dispatch_view import VARIANT_COLORS, VARIANTS
from .stats import CATEGORIES, categorized

MAX_POINTS = 1000  # points per curve sent to the browser
MARKERS_UP_TO = 40  # a metric curve shows its points as markers up to this many (sparse validation points)
LOSS, STEP_TIME, LIVE, PEAK = 0, 1, 2, 3  # figure.data indices; dispatch bars follow, one per variant,
# then one trace per other (metric, split) series in the order they first appeared
TRAIN, VAL_PREFIX = "train", "val_"
METRIC_COLORS = ("#4c78a8", "#54a24b", "#b279a2", "#9d755d", "#72b7b2", "#eeca3b", "#ff9da6", "#bab0ac")
NOT_METRICS = ("step", "time", "step_time", "live_bytes", "peak_bytes", "split")
ADVICE_SHOWN = 4  # findings in the saved frame (the live panel shows them all), each in up to 3 lines
NOTE_WIDTH = 130  # characters per line of the saved frame's advice note


def _array(values):
    return np.asarray(values, dtype=np.float64)


def series_of(name, split=None):
    """(plot, split) of a logged metric: ``val_loss`` -> ("loss", "val"); ``loss`` -> ("loss", "train");
    with ``split="val"``, ``loss`` or ``val_loss`` -> ("loss", "val")."""
    if split is not None and split != TRAIN:
        prefix = split + "_"
        return (name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else name), split
    if name.startswith(VAL_PREFIX) and len(name) > len(VAL_PREFIX):
        return name[len(VAL_PREFIX):], "val"
    return name, TRAIN


def _number(value):
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


class Dashboard(LiveView):
    """Widget + context manager for a training loop; ``.widget`` is a VBox(header, FigureWidget).

    ``history``: one dict per step {"step", "time", "step_time", "live_bytes", "peak_bytes", metrics...}.
    ``eval_history``: one dict per ``log(split=...)`` call {"step", "split", metrics...}.
    ``series``: the (plot, split) pairs logged so far, in order; ``trace_of[(plot, split)]`` its figure.data index.
    ``counter``: dispatch decisions of the watched steps (``dispatch_steps`` of them).
    """

    def __init__(self, model=None, optimizer=None, interval=0.5, memory=True, dispatch=True, max_history=100_000,
                 budget=DEFAULT_BUDGET, dispatch_every=10, advise_every=200):
        super().__init__(interval, budget)
        self._model, self._optimizer = model, optimizer
        self.track_memory, self.track_dispatch = memory, dispatch
        self.dispatch_every = max(1, int(dispatch_every))
        self.dispatch_steps = 0  # steps whose dispatch decisions were counted
        self._unsubscribe_dispatch = None
        self.history = []
        self.eval_history = []
        self.series = [("loss", TRAIN)]  # the training loss always has its plot (figure.data[LOSS])
        self._figure_series = 1  # how many of them the current figure draws
        self.steps = 0
        self.max_history = max_history  # past it, every second row is dropped (rows keep their "step")
        self.counter = DispatchCounter()
        self.memory_split = None
        self._last_step = None
        self._views_spent = 0.0  # the live views' background seconds (_live._Meter.spent) at _last_step
        self.advise_every = max(0, int(advise_every))
        self.advice = None  # prof.advise() of the latest sampled step
        self.advice_step = None  # which step that was
        self._sample = None  # (profile, ProfilerStep range) while a step is being sampled
        self._advice_shown = None
        self.header = widgets.HTML("<i>dashboard: waiting for the first step</i>")
        self.figure = self._make_figure()
        self.advice_panel = widgets.HTML("")
        self.widget = widgets.VBox([self.header, self.figure, self.advice_panel])

    def _make_figure(self):
        """The figure for the series known now: one plot per metric, then step time, memory, dispatch."""
        plots = list(dict.fromkeys(plot for plot, _ in self.series))
        titles = [*plots, "step time (ms)", "memory (bytes)", "dispatch (calls per op, watched steps)"]
        rows = (len(titles) + 1) // 2
        fig = make_subplots(rows=rows, cols=2, subplot_titles=titles, vertical_spacing=0.36 / rows,
                            horizontal_spacing=0.1)
        cell = {title: (i // 2 + 1, i % 2 + 1) for i, title in enumerate(titles)}
        fig.add_trace(self._metric_trace("loss", TRAIN, 0), *cell["loss"])
        fig.add_trace(go.Scatter(x=[], y=[], name="step time", mode="lines", line={"color": "#f58518"}),
                      *cell["step time (ms)"])
        fig.add_trace(go.Scatter(x=[], y=[], name="live", mode="lines", line={"color": "#222"}), *cell["memory (bytes)"])
        fig.add_trace(go.Scatter(x=[], y=[], name="peak", mode="lines", line={"color": "#e45756", "dash": "dash"}),
                      *cell["memory (bytes)"])
        for variant in VARIANTS:
            fig.add_trace(go.Bar(x=[], y=[], name=variant, marker={"color": VARIANT_COLORS[variant]}), *cell[titles[-1]])
        self.trace_of = {("loss", TRAIN): LOSS}
        for plot, split in self.series[1:]:
            self.trace_of[(plot, split)] = len(fig.data)
            fig.add_trace(self._metric_trace(plot, split, plots.index(plot)), *cell[plot])
        fig.update_layout(height=260 * rows, barmode="stack", margin={"l": 50, "r": 10, "t": 40, "b": 40},
                          legend={"orientation": "h", "y": -0.24 / rows})
        for title in titles[:-1]:
            fig.update_xaxes(title_text="step", row=cell[title][0], col=cell[title][1])
        self._figure_series = len(self.series)
        return Figure(data=fig.data, layout=fig.layout)  # built whole: see _figure.py

    @staticmethod
    def _metric_trace(plot, split, index):
        color = METRIC_COLORS[index % len(METRIC_COLORS)]
        return go.Scatter(x=[], y=[], name=plot if split == TRAIN else f"{split} {plot}", mode="lines",
                          line={"color": color, "dash": "solid" if split == TRAIN else "dash"})

    def _rebuild_figure(self):
        """A new figure in the old one's place, for series that appeared since it was made."""
        old, self.figure = self.figure, self._make_figure()
        self.widget.children = tuple(self.figure if child is old else child for child in self.widget.children)
        old.close()

    def _note_series(self, names, split=None):
        for name in names:
            key = series_of(name, split)
            if key not in self.series:
                self.series.append(key)

    # -- recording (O(1) per step) -----------------------------------------------------------
    def _subscribe(self):
        if self.track_memory:  # the peak line is this run's: not a peak from before the loop
            memory.live_bytes()  # (starts counting if nobody did)
            memory.reset_peak()
        self._last_step = self.clock()
        self._views_spent = self._background_seconds()
        self._watch_dispatch(self.track_dispatch)  # step 0 is watched
        return [lambda: self._watch_dispatch(False), self._drop_sample]

    def _watch_dispatch(self, on):
        """Count the dispatch decisions of the step that starts now (on) or not (off)."""
        if on and self._unsubscribe_dispatch is None:  # buffered: one append per decision, counted at step()
            self._unsubscribe_dispatch = self.counter.subscribe(buffered=True)
        elif not on and self._unsubscribe_dispatch is not None:
            self._unsubscribe_dispatch()
            self._unsubscribe_dispatch = None

    def step(self, loss=None, **metrics):
        """End of one training step: record its time, ``loss`` (tensor or number) and other metrics."""
        now = self.clock()
        if self._sample is not None:  # the sampled step ends here (advised before this row is drawn)
            self._end_sample()
        if self._last_step is None:  # used without `with`: the first step's time is unknown
            self._last_step = now
            self._views_spent = self._background_seconds()
        # the live views' redraws and walks during the step (any view may draw them all) are not its time
        step_time = now - self._last_step - (self._background_seconds() - self._views_spent)
        row = {"step": self.steps, "time": now, "step_time": step_time}
        if loss is not None:
            row["loss"] = _number(loss)
        for name, value in metrics.items():
            row[name] = _number(value)
        if metrics:
            self._note_series(metrics)
        if self.track_memory:
            row["live_bytes"] = memory.live_bytes()
            row["peak_bytes"] = memory.peak_bytes()
        self.history.append(row)
        self.steps += 1
        if len(self.history) > self.max_history:
            thin_in_place(self.history)
        if self._unsubscribe_dispatch is not None:
            self.dispatch_steps += 1  # this step's decisions were counted
            self.counter.count_pending()
        if self.running and self.track_dispatch:  # watch one step in dispatch_every
            watch = self.steps % self.dispatch_every == 0
            if watch != (self._unsubscribe_dispatch is not None):
                self._watch_dispatch(watch)
        self._last_step = now
        self.maybe_redraw()
        if self.running and self.advise_every and self.steps % self.advise_every == 0:
            self._start_sample()  # after the redraw: the sampled step is the user's code alone
        self._last_step = self.clock()  # a redraw is not part of the next step's time
        self._views_spent = self._background_seconds()
        return row

    def _background_seconds(self):
        return 0.0 if self._meter is None else self._meter.spent

    def log(self, step=None, *, split=None, **metrics):
        """Record metrics. Training ones (no ``split``, or ``split="train"``) end a step, as
        ``step(**metrics)`` (call one of them once per step); ``val_<name>`` among them is drawn
        on ``<name>``'s plot. With another ``split`` (``"val"``, ``"test"``...) the metrics are an
        evaluation at ``step`` (default: the last step), drawn on the plots of the training
        metrics of the same names, and no step ends. ``step`` also sets the x of a training row."""
        if split is None or split == TRAIN:
            row = self.step(**metrics)
            if step is not None:
                row["step"] = step
            return row
        at = step if step is not None else (self.history[-1]["step"] if self.history else 0)
        row = {"step": at, "split": split, **{name: _number(value) for name, value in metrics.items()}}
        self.eval_history.append(row)
        if len(self.eval_history) > self.max_history:
            thin_in_place(self.eval_history)
        self._note_series(metrics, split)
        self.maybe_redraw()
        return row

    # -- advice: one profiled step in advise_every ---------------------------------------------
    def _start_sample(self):
        prof = profile(record_shapes=True)
        try:
            prof.start()
        except RuntimeError:  # another profiler is running (the user's): leave it alone
            return
        step_range = record_function(f"ProfilerStep#{self.steps}")
        step_range.__enter__()
        self._sample = (prof, step_range)

    def _end_sample(self):
        prof = self._close_sample()
        self.advice, self.advice_step = prof.advise(), self.steps  # the row this step() call records

    def _drop_sample(self):
        """At stop: a step sampled but not finished gives no advice."""
        if self._sample is not None:
            self._close_sample()

    def _close_sample(self):
        prof, step_range = self._sample
        self._sample = None
        step_range.__exit__(None, None, None)
        prof.stop()
        return prof

    def _advice_html(self):
        if self.advice is None:
            return ""
        return (f"<div class='torsh-dashboard-advice'><div style='font-size:12px;color:#555'>advice from step "
                f"{self.advice_step} (profiled; one step in {self.advise_every})</div>{self.advice.to_html()}</div>")

    def _advice_lines(self):
        """The findings as short lines for the saved frame (plotly text: <b> and <br> only)."""
        if self.advice is None:
            return []
        lines = [f"<b>advice from step {self.advice_step}</b>: {len(self.advice)} finding"
                 f"{'s' if len(self.advice) != 1 else ''}"]
        for finding in list(self.advice)[:ADVICE_SHOWN]:
            text = f"{finding.title} ({finding.stake()}): {finding.fix}"
            wrapped = textwrap.wrap(text, NOTE_WIDTH)[:3]
            lines.append("<b>" + html.escape(wrapped[0]) + "</b>")
            lines += [html.escape(line) for line in wrapped[1:]]
        return lines

    # -- drawing ----------------------------------------------------------------------------
    def static_bundle(self):
        header = plain_text(self.header.value)
        bundle = plotly_frame(self.figure, header)
        lines = self._advice_lines()
        if lines:  # below the plots: the saved frame is a plotly figure, so the advice is an annotation
            _add_note(bundle[PLOTLY_MIME], "<br>".join(lines), len(lines))
        text = f"torsh.viz.Dashboard: {header}"
        if self.advice is not None:
            text += f"\nadvice from step {self.advice_step}: " + (", ".join(self.advice.kinds()) or "no finding")
        return {**bundle, "text/plain": text}

    def redraw(self):
        rows = self.history
        shown = [rows[i] for i in downsample(len(rows), MAX_POINTS)]
        steps = [r["step"] for r in shown]
        if self.track_memory and (self._model is not None or self._optimizer is not None):
            self.memory_split = categorized(self._model, self._optimizer)
        ops = self.counter.rows()[:12]
        if len(self.series) != self._figure_series:
            self._rebuild_figure()
        points = self._metric_points(shown)
        with self.figure.batch_update():  # numpy arrays: plotly validates them without a Python loop per point
            data = self.figure.data
            for key, index in self.trace_of.items():
                xs, ys = points.get(key, ([], []))
                data[index].update(x=_array(xs), y=_array(ys),
                                   mode="lines+markers" if 0 < len(xs) <= MARKERS_UP_TO else "lines")
            data[STEP_TIME].update(x=_array(steps), y=_array([r["step_time"] * 1e3 for r in shown]))
            if self.track_memory:
                data[LIVE].update(x=_array(steps), y=_array([r["live_bytes"] for r in shown]))
                data[PEAK].update(x=_array(steps), y=_array([r["peak_bytes"] for r in shown]))
            for index, variant in enumerate(VARIANTS):
                data[PEAK + 1 + index].update(x=[o["op"] for o in ops], y=[o["variants"].get(variant, 0) for o in ops])
        self.header.value = self._summary()
        if self._advice_shown is not self.advice:  # new advice only: the panel's HTML is not resent each redraw
            self.advice_panel.value = self._advice_html()
            self._advice_shown = self.advice

    def _metric_points(self, shown):
        """{(plot, split): (steps, values)} of the shown training rows and the evaluations."""
        points = {}

        def add(row, split):
            for name, value in row.items():
                if name not in NOT_METRICS:
                    xs, ys = points.setdefault(series_of(name, split), ([], []))
                    xs.append(row["step"])
                    ys.append(value)
        for row in shown:
            add(row, None)
        for i in downsample(len(self.eval_history), MAX_POINTS):
            add(self.eval_history[i], self.eval_history[i]["split"])
        return points

    def _summary(self):
        if not self.history:
            return "<i>dashboard: waiting for the first step</i>"
        last = self.history[-1]
        times = [r["step_time"] for r in self.history[-50:] if r["step_time"] > 0]
        parts = [f"<b>step {last['step']}</b>"]
        if "loss" in last:
            parts.append(f"loss {last['loss']:.4g}")
        parts += [f"{k} {v:.4g}" for k, v in last.items() if k not in NOT_METRICS and k != "loss"]
        if self.eval_history:
            evaluation = self.eval_history[-1]
            parts += [f"{evaluation['split']} {k} {v:.4g}" for k, v in evaluation.items() if k not in NOT_METRICS]
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


def _add_note(figure, text, lines, line_px=16, legend_px=50):
    """Grow a plotly figure dict (``{"data", "layout"}``) by ``lines`` lines of text under its plots
    and their legend (``legend_px`` high, under the x axis titles)."""
    layout = figure.setdefault("layout", {})
    extra = line_px * lines + legend_px
    margin = dict(layout.get("margin") or {})
    margin["b"] = margin.get("b", 40) + extra
    layout["margin"] = margin
    layout["height"] = layout.get("height", 450) + extra
    layout.setdefault("annotations", [])
    layout["annotations"] = list(layout["annotations"]) + [
        {"text": text, "xref": "paper", "yref": "paper", "x": 0, "xanchor": "left", "y": 0, "yanchor": "top",
         "yshift": -(margin["b"] - extra + legend_px), "showarrow": False, "align": "left", "font": {"size": 11}}]
