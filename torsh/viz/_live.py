"""What the live widgets share: start/stop as a context manager, display through their ``widget``,
and throttled redraws, only on the main thread.

Recording (the event callbacks, ``Dashboard.step``) stays O(1) per call; all the work of
turning records into plot data happens in ``redraw``, which runs at a bounded rate and once
more at ``stop``. A redraw waits for ``interval`` seconds after the previous one, and longer
if that one was slow: the gap is at least ``took * (1 - budget) / budget``, so drawing takes
at most ``budget`` (default 1%) of the loop's wall time whatever a redraw costs on this machine.
Views running together share that budget (``_Meter``): when one of them may draw, every running
view whose interval has passed draws with it, and the gap after them is set by their total
time, so three views take 1% together, not 1% each. The MemoryTimeline's category walks are
charged to the same meter. The default leaves room under the 5% goal for the recording itself
(events, per-step rows), which benchmarks/dashboard_overhead.py counts.
In Jupyter, widget updates made while a cell runs reach the browser at once, so the views
move while the loop runs. Each output also carries a static frame (``_static.py``), and a view
displayed before its loop replaces that output with its final frame when it stops.
"""
import math
import threading
import time

_MAIN_THREAD = threading.main_thread().ident
# most of the wall time the running views' redraws and walks may take together: recording costs
# ~1-2% of a 2.4 ms LeNet step with all three views (benchmarks/dashboard_overhead.py, counted)
DEFAULT_BUDGET = 0.01


class _Meter:
    """The background time (redraws, category walks) of the live views running on one clock.

    One budget for all of them: after ``took`` seconds of such work the next may start only
    ``took * (1 - budget) / budget`` later (``next_free``), ``budget`` being the smallest of the
    running views' budgets. ``spent`` (seconds, cumulative) lets the Dashboard leave the views'
    work out of its step times; ``busy`` keeps events caused by that work from starting more.
    """

    def __init__(self):
        self.views = []  # running views, in the order they started
        self.next_free = -math.inf
        self.spent = 0.0
        self.busy = False

    def fraction(self, view):
        return min([view.budget] + [v.budget for v in self.views])

    def charge(self, took, end, fraction):
        self.spent += took
        if fraction > 0:  # gaps add up: views started together repay all their first draws
            self.next_free = max(self.next_free, end) + took * (1.0 - fraction) / fraction


_meters = {}  # clock -> its _Meter (tests give a view a fake clock: its times are not comparable)


def meter_of(clock):
    meter = _meters.get(clock)
    if meter is None:
        meter = _meters[clock] = _Meter()
    return meter


class LiveView:
    """Base class: subclasses build ``self.widget`` and implement ``_subscribe`` and ``redraw``."""

    clock = staticmethod(time.perf_counter)  # seconds; tests substitute a fake clock

    def __init__(self, interval=0.5, budget=DEFAULT_BUDGET):
        self.interval = float(interval)
        self.budget = float(budget)
        self.redraws = 0  # how many times the figure was rebuilt (tests bound it by elapsed / interval)
        self.redraw_seconds = 0.0  # total time spent in redraw
        self.running = False
        self.started_at = None
        self._next_draw = -float("inf")  # this view's interval: the meter's budget also applies
        self._meter = None  # the _Meter of this view's clock, from the first draw or start
        self._unsubscribe = []
        self._displays = []  # IPython display handles of this view's outputs (updated at stop)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if self.running:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self.running = True
        self._meter = meter_of(self.clock)
        self._meter.views.append(self)
        self.started_at = self.clock()
        self._unsubscribe = self._subscribe()
        self.maybe_redraw(force=True)
        return self

    def stop(self):
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self.running = False
        self._leave_meter()
        self.maybe_redraw(force=True)
        self._reopen_figure()
        self._update_displays()

    def _leave_meter(self):
        meter = self._meter
        if meter is not None and self in meter.views:
            meter.views.remove(self)
            if not meter.views and _meters.get(self.clock) is meter:
                del _meters[self.clock]  # (its times are kept by this view for its last draw)

    def _reopen_figure(self):
        """Show the final state in a new figure whose comm opens with it.

        Redraws are update messages, and JupyterLab drops those that arrive while it is still
        loading plotly's widget module (seen in tests/browser: a timeline with no points when the
        loop ended within that time). A figure's opening state is never lost (see _figure.py), so
        the last picture is shown by a fresh figure put in the old one's place.
        """
        old = getattr(self, "figure", None)
        if old is None or not hasattr(self, "widget"):
            return
        from ._figure import Figure
        fresh = Figure(data=old.data, layout=old.layout, config=getattr(old, "_config", None))
        self.widget.children = tuple(fresh if child is old else child for child in self.widget.children)
        self.figure = fresh
        old.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    # -- drawing ---------------------------------------------------------------------------
    def maybe_redraw(self, force=False):
        """Redraw if the throttle allows it now (always when ``force``); main thread only.

        Unforced, the other running views on this clock whose interval has passed draw too, and
        the shared budget's gap follows their total time."""
        meter = self._meter
        if meter is None:
            meter = self._meter = meter_of(self.clock)
        if meter.busy or threading.get_ident() != _MAIN_THREAD:
            return False
        now = self.clock()
        if not force and (now < self._next_draw or now < meter.next_free):
            return False
        views = [self] if force else [self] + [v for v in meter.views if v is not self and now >= v._next_draw]
        fraction = meter.fraction(self)
        meter.busy = True
        try:
            for view in views:
                view._draw()
        finally:
            meter.busy = False
            end = self.clock()
            meter.charge(end - now, end, fraction)
        return True

    def _draw(self):
        start = self.clock()
        try:
            self.redraw()
            self.redraws += 1
        finally:
            end = self.clock()
            self.redraw_seconds += end - start
            self._next_draw = end + self.interval

    def redraw(self):
        raise NotImplementedError

    def _subscribe(self):
        """Subscribe to the event topics; return the unsubscribe functions."""
        return []

    # -- display ---------------------------------------------------------------------------
    def static_bundle(self):
        """The view's last frame as MIME data a renderer draws without a kernel, with a text/plain summary."""
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ._static import widget_bundle
        return widget_bundle(self.widget, self.static_bundle(), include=include, exclude=exclude)

    def _ipython_display_(self):
        """display(view): the bundle under a display id, so ``stop`` can put the final frame in its place."""
        from IPython.display import display
        handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        if handle is not None:
            self._displays.append(handle)

    def _update_displays(self):
        if self._displays:
            bundle = self._repr_mimebundle_()
            for handle in self._displays:
                handle.update(bundle, raw=True)


def downsample(n, limit):
    """Indices of at most ``limit`` of ``n`` points, evenly spread, first and last kept."""
    if n <= limit:
        return range(n)
    step = (n - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def thin_in_place(rows, keep_index=None):
    """Drop every second row (the first, last and ``keep_index`` rows stay): amortised O(1) when a
    list is thinned each time it doubles past a cap, and the rows keep their order."""
    keep = set(range(0, len(rows), 2)) | {len(rows) - 1}
    if keep_index is not None:
        keep.add(keep_index)
    rows[:] = [rows[i] for i in sorted(keep)]
