"""DispatchView: per op, which kernel variant ran, how often, on how many elements, and why NumPy.

    with torsh.viz.DispatchView() as dv:
        train(...)
    dv

One row per op: calls per variant (numpy / pythran_simd / pythran_omp), a log2 histogram of
numel with the op's thresholds (``dispatch.thresholds``) drawn on it, and the reasons calls
ran on NumPy (below threshold, dtype without a compiled kernel, non-contiguous operands,
kernel family not compiled). Each DispatchRecord costs a few dict updates (once optimizer steps
come, an append on the op's path and the count at the next step); the table is rebuilt at
most once per ``interval``.

While anybody listens on ``dispatch``, small ops take the observed path (they are recorded
too), which costs a microsecond or two per op (benchmarks/dashboard_overhead.py). So, as the
Dashboard does, the view watches one training step in ``every`` (default 10; 1 counts every
call): steps are optimizer steps (``torsh.optim.register_optimizer_step_post_hook``, any
optimizer), the first one is watched, and the header says how many steps the counts cover.
The counts are those of the watched steps, not scaled. Without optimizer steps (inference,
single ops) everything is counted.
"""
import html

import ipywidgets as widgets

from ..backend import dispatch, events
from ..optim.optimizer import register_optimizer_step_post_hook
from ._dispatch_counts import DispatchCounter
from ._live import DEFAULT_BUDGET, LiveView
from ._static import plain_text

VARIANTS = ("numpy", "pythran_simd", "pythran_omp")
VARIANT_COLORS = {"numpy": "#bab0ac", "pythran_simd": "#4c78a8", "pythran_omp": "#e45756"}


class DispatchView(LiveView):
    """Widget + context manager over the ``dispatch`` topic; ``.widget`` is a VBox(header, table)."""

    def __init__(self, interval=0.5, budget=DEFAULT_BUDGET, every=10):
        super().__init__(interval, budget)
        self.counter = DispatchCounter()
        self.every = max(1, int(every))
        self.steps = 0  # optimizer steps ended while running
        self.watched_steps = 0  # of them, those whose decisions were counted
        self._unwatch = None
        self.header = widgets.HTML("<i>dispatch: not started</i>")
        self.table = widgets.HTML()
        self.widget = widgets.VBox([self.header, self.table])

    @property
    def ops(self):
        return self.counter.ops

    def rows(self):
        return self.counter.rows()

    def _subscribe(self):
        self._watch(True)  # the first step is watched
        hook = register_optimizer_step_post_hook(self._on_step)
        return [hook.remove, lambda: self._watch(False)]

    def _watch(self, on):
        if on and self._unwatch is None:
            # once optimizer steps come, their hook redraws: the decisions are appended only (buffered) and
            # counted at the next step; before (inference, single ops) each one is counted and may redraw
            self._unwatch = (self.counter.subscribe(buffered=True) if self.steps
                             else events.subscribe(dispatch.TOPIC, self._on_record))
        elif not on and self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def _on_step(self, optimizer, args, kwargs):
        if self._unwatch is not None:
            self.watched_steps += 1
            self.counter.count_pending()
        first = not self.steps
        self.steps += 1
        watch = self.steps % self.every == 0
        if first and watch:  # from now on buffered (see _watch)
            self._watch(False)
        if watch != (self._unwatch is not None):
            self._watch(watch)
        self.maybe_redraw()

    def _on_record(self, rec):
        self.counter.record(rec)
        self.maybe_redraw()

    def static_bundle(self):
        return {"text/html": f"<div>{self.header.value}</div>{self.table.value}",
                "text/plain": "torsh.viz.DispatchView: " + plain_text(self.header.value)}

    def redraw(self):
        rows = self.rows()
        calls = sum(r["count"] for r in rows)
        state = "recording" if self.running else "stopped"
        self.header.value = (f"<b>dispatch</b> ({state}): {calls:,} decisions over {len(rows)} ops{self._coverage()}; "
                             f"thresholds from {html.escape(dispatch.thresholds_source)}")
        self.table.value = table_html(rows)

    def _coverage(self):
        """Which steps the counts cover: they are the watched steps' own, not scaled up."""
        if not self.steps or self.every == 1:
            return ""
        watching = self._unwatch is not None and self.running  # a step under way, counted so far
        return (f" in {self.watched_steps + watching} watched steps of {self.steps + watching} "
                f"(1 optimizer step in {self.every})")


def table_html(rows):
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>" for h in
                   ("op", "calls", "variants", "numel histogram (log2; | simd, || parallel threshold)",
                    "thresholds", "ran on NumPy because"))
    body = []
    for r in rows:
        variants = " ".join(f"<span style='color:{VARIANT_COLORS.get(v, '#333')}'>&#9632;</span>{html.escape(v)} {n:,}"
                            for v, n in sorted(r["variants"].items()))
        t = r["thresholds"]
        limits = f"simd {_fmt(t['simd'])}, parallel {_fmt(t['parallel'])}"
        reasons = "<br>".join(f"{html.escape(k)} ({n:,})" for k, n in
                              sorted(r["numpy_reasons"].items(), key=lambda item: -item[1]))
        body.append(f"<tr><td style='padding:2px 8px'><code>{html.escape(r['op'])}</code></td>"
                    f"<td style='text-align:right;padding:2px 8px'>{r['count']:,}</td><td style='padding:2px 8px'>{variants}</td>"
                    f"<td style='padding:2px 8px'>{histogram_svg(r['numel_histogram'], t)}</td>"
                    f"<td style='padding:2px 8px'>{limits}</td><td style='padding:2px 8px'>{reasons or '-'}</td></tr>")
    return f"<table style='font-size:12px;border-collapse:collapse'><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(value):
    return "never" if value is None else f"{value:,}"


def histogram_svg(histogram, thresholds, width=240, height=36, buckets=32):
    """Bars per log2(numel) bucket (0 .. 2**31), thresholds as vertical lines."""
    if not histogram:
        return ""
    top = max(histogram.values())
    step = width / buckets
    parts = []
    for low, n in histogram.items():
        b = (int(low).bit_length()) if low else 0  # bucket index from its lower bound
        h = max(1.0, n / top * (height - 4))
        parts.append(f"<rect x='{b * step:.1f}' y='{height - h:.1f}' width='{step - 1:.1f}' height='{h:.1f}' "
                     f"fill='#4c78a8'><title>numel {low:,}..{max(2 * low - 1, 0):,}: {n:,} calls</title></rect>")
    for name, dash in (("simd", ""), ("parallel", "3,2")):
        value = thresholds.get(name)
        if value is not None:  # bucket holding the threshold value, at its left edge
            x = (int(value).bit_length()) * step if value else 0
            parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='0' y2='{height}' stroke='#e45756' "
                         f"stroke-dasharray='{dash}'><title>{name} threshold {value:,}</title></line>")
    return f"<svg width='{width}' height='{height}' style='background:#f6f6f6'>{''.join(parts)}</svg>"
