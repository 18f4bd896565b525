"""``torsh.profiler.profile``: PyTorch's profiler API over torsh's recording (see _collector.py).

Documented behaviour where PyTorch leaves room:
- One profiler at a time in the process: starting a second while one runs (nested, or on
  another thread) raises RuntimeError. Ops on every thread are recorded, each on its tid.
- Without ``schedule`` everything between start and stop is recorded, ``step()`` only counts
  steps (as in PyTorch) and ``on_trace_ready`` runs once at stop.
- ``step()`` on a profiler that is not running raises RuntimeError.
- Results (``events()``, ``key_averages()``, the exports) are those of the last completed
  cycle; asking before any cycle completed raises RuntimeError saying why. A cycle that
  recorded no events exports a valid trace holding only metadata.
- Exports write to a temporary file and rename it: a failed export (unwritable path)
  raises OSError naming the path and leaves no partial file.
- ``activities`` other than CPU are ignored with a warning (torsh runs on the CPU only);
  ``experimental_config`` is accepted and ignored; an ``execution_trace_observer`` gets the recorded ops.
- ``with_modules=True`` records each ``nn.Module`` call as a ``python_function`` event named as
  PyTorch's Python tracer names it (``nn.Module: Linear_0``; PyTorch records those with
  ``with_stack=True``, torsh only these scopes and only with ``with_modules``); see _module_scopes.py.
- ``keep_steps=N`` (torsh; default None keeps everything, as PyTorch): full event detail only for the
  last N steps (``prof.step()`` calls) of a recorded window, a ring buffer with bounded memory; every
  step is still counted in running per-op and per-step summaries (summary.py), which the trace
  carries (``torshSummary`` and a step track), so a 10,000-step run exports a trace of a few MB.
  ``events()`` and ``key_averages()`` cover the kept steps; ``prof.summary()`` covers all. With a
  schedule, the bound applies per recorded cycle (``acc_events=True`` accumulates N steps a cycle).
"""
import enum
import threading
import warnings
from functools import partial

from . import _collector, _results, chrome_trace, memory_timeline, stacks
from .advise import advise_result
from .function_events import EventList
from .record_function import record_function
from .schedule import ProfilerAction, _default_schedule_fn

_active_lock = threading.Lock()
_active = None  # the profile currently running in this process


class ProfilerActivity(enum.Enum):
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities():
    """The activities torsh can profile: the CPU."""
    return {ProfilerActivity.CPU}


class profile:
    """Profiler context manager; with ``schedule=``, call ``prof.step()`` once per training step."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, with_dispatch=True, keep_steps=None):
        activities = set(activities) if activities is not None else supported_activities()
        if use_cuda:
            activities.add(ProfilerActivity.CUDA)
        unsupported = activities - supported_activities()
        if unsupported:
            warnings.warn(f"torsh.profiler records CPU activity only; ignoring "
                          f"{sorted(a.name for a in unsupported)}", stacklevel=2)
        self.activities = activities & supported_activities()
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.with_dispatch = with_dispatch  # torsh: attach kernel dispatch decisions to op events
        self.acc_events = acc_events
        if keep_steps is not None and (not isinstance(keep_steps, int) or keep_steps < 1):
            raise ValueError(f"torsh.profiler: keep_steps must be a positive int or None, got {keep_steps!r}")
        self.keep_steps = keep_steps  # torsh: full detail for the last N steps only, summaries for all
        self.on_trace_ready = on_trace_ready
        self.execution_trace_observer = execution_trace_observer  # fed the ops of each recorded window
        self.record_steps = schedule is not None  # ProfilerStep#N ranges, as PyTorch marks scheduled steps
        self.schedule = schedule if schedule is not None else _default_schedule_fn
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self.step_rec_fn = None
        self._collector = None
        self._results = None
        self._running = False
        self._ever_recorded = False
        nothing = []
        self._action_map = {
            (ProfilerAction.NONE, ProfilerAction.NONE): nothing,
            (ProfilerAction.NONE, ProfilerAction.WARMUP): [self._prepare_trace],
            (ProfilerAction.NONE, ProfilerAction.RECORD): [self._prepare_trace, self._start_trace],
            (ProfilerAction.NONE, ProfilerAction.RECORD_AND_SAVE): [self._prepare_trace, self._start_trace],
            (ProfilerAction.WARMUP, ProfilerAction.NONE): [
                partial(warnings.warn, "Incorrect schedule: WARMUP followed by NONE"),
                self._start_trace, self._stop_trace],
            (ProfilerAction.WARMUP, ProfilerAction.WARMUP): nothing,
            (ProfilerAction.WARMUP, ProfilerAction.RECORD): [self._start_trace],
            (ProfilerAction.WARMUP, ProfilerAction.RECORD_AND_SAVE): [self._start_trace],
            (ProfilerAction.RECORD, ProfilerAction.NONE): [
                partial(warnings.warn, "Incorrect schedule: RECORD followed by NONE"), self._stop_trace],
            (ProfilerAction.RECORD, ProfilerAction.WARMUP): [
                partial(warnings.warn, "Incorrect schedule: RECORD followed by WARMUP"), self._stop_trace],
            (ProfilerAction.RECORD, ProfilerAction.RECORD): nothing,
            (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE): nothing,
            (ProfilerAction.RECORD_AND_SAVE, ProfilerAction.NONE): [self._stop_trace, self._trace_ready],
            (ProfilerAction.RECORD_AND_SAVE, ProfilerAction.WARMUP): [
                self._stop_trace, self._trace_ready, self._prepare_trace],
            (ProfilerAction.RECORD_AND_SAVE, ProfilerAction.RECORD): [
                self._stop_trace, self._trace_ready, self._prepare_trace, self._start_trace],
            (ProfilerAction.RECORD_AND_SAVE, ProfilerAction.RECORD_AND_SAVE): [
                self._stop_trace, self._trace_ready, self._prepare_trace, self._start_trace],
            (ProfilerAction.WARMUP, None): [self._start_trace, self._stop_trace],
            (ProfilerAction.RECORD, None): [self._stop_trace, self._trace_ready],
            (ProfilerAction.RECORD_AND_SAVE, None): [self._stop_trace, self._trace_ready],
            (ProfilerAction.NONE, None): nothing,
        }

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.stop()
        return False

    def start(self):
        global _active
        with _active_lock:
            if _active is self:
                raise RuntimeError("torsh.profiler: this profiler is already running")
            if _active is not None:
                raise RuntimeError("torsh.profiler: another profiler is already running; profilers cannot be "
                                   "nested or run concurrently (stop the other one first)")
            _active = self
        self._running = True
        if self.execution_trace_observer is not None:
            self.execution_trace_observer.start()
        try:
            self._transit(ProfilerAction.NONE, self.current_action)
        except BaseException:
            self._abandon()
            raise
        if self.record_steps:
            self._enter_step_range()

    def stop(self):
        if not self._running:
            raise RuntimeError("torsh.profiler: stop() called on a profiler that is not running")
        try:
            self._exit_step_range()
            self._transit(self.current_action, None)
        finally:
            self._abandon()
            if self.execution_trace_observer is not None:
                self.execution_trace_observer.stop()

    def step(self):
        """Signal that the next step starts; the schedule decides what this step records."""
        if not self._running:
            raise RuntimeError("torsh.profiler: step() called on a profiler that is not running; call it "
                               "inside the `with profile(...)` block, or between start() and stop()")
        self._exit_step_range()
        if self._collector is not None:
            self._collector.end_step(self.step_num)
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(previous, self.current_action)
        if self.record_steps:
            self._enter_step_range()

    def _abandon(self):
        """Leave no instrumentation behind, whatever went wrong."""
        global _active
        if self._collector is not None:
            self._collector.stop()
            self._collector = None
        self._running = False
        with _active_lock:
            if _active is self:
                _active = None

    def _transit(self, previous, current):
        for action in self._action_map.get((previous, current), ()):
            action()

    def _enter_step_range(self):
        self.step_rec_fn = record_function(f"ProfilerStep#{self.step_num}")
        self.step_rec_fn.__enter__()

    def _exit_step_range(self):
        if self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None

    def _options(self):
        return {"record_shapes": self.record_shapes, "profile_memory": self.profile_memory,
                "with_stack": self.with_stack, "with_flops": self.with_flops, "with_modules": self.with_modules}

    def _prepare_trace(self):
        if self._collector is None:
            self._collector = _collector.Collector(with_dispatch=self.with_dispatch, keep_steps=self.keep_steps,
                                                   **self._options())
            self._collector.start()

    def _start_trace(self):
        if self._collector is None:
            self._prepare_trace()
        self._collector.clear()  # drop the warm-up's events: the recorded window starts now
        self._ever_recorded = True

    def _stop_trace(self):
        collector, self._collector = self._collector, None
        if collector is None:
            return
        collector.stop()
        collector.finish(self.step_num)
        if self.execution_trace_observer is not None:
            self.execution_trace_observer._take(collector.events)
        result = _results.ProfileResult(collector, self._options())
        if self.acc_events and self._results is not None:
            result = self._results.merge(result)
        self._results = result

    def _trace_ready(self):
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # -- results -------------------------------------------------------------------------
    def _require_results(self, what):
        if self._results is not None:
            return self._results
        if self._running:
            raise RuntimeError(f"torsh.profiler: {what}: no results yet, the profiler is still recording; "
                               "use them after it stops (after the with block or stop()), or in on_trace_ready")
        if self._ever_recorded:
            raise RuntimeError(f"torsh.profiler: {what}: no cycle of the schedule completed")
        raise RuntimeError(f"torsh.profiler: {what}: nothing was recorded; the profiler has not run "
                           "(use it as a context manager, or call start() and stop()), or its schedule "
                           "never reached an active step")

    def events(self):
        """Every recorded call of the last completed cycle, as an EventList of FunctionEvents."""
        return self._require_results("events()").events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        """Recorded calls averaged per op name (and input shapes / top ``group_by_stack_n`` frames)."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("torsh.profiler: key_averages(group_by_input_shape=True) needs record_shapes=True")
        if group_by_stack_n > 0 and not self.with_stack:
            raise RuntimeError("torsh.profiler: key_averages(group_by_stack_n=...) needs with_stack=True")
        return self._require_results("key_averages()").events.key_averages(group_by_input_shape, group_by_stack_n)

    def summary(self):
        """Per-op and per-step totals over every step of the last cycle (a summary.RunSummary), also
        the steps whose detail ``keep_steps`` dropped."""
        return self._require_results("summary()").summary

    def export_chrome_trace(self, path, use_python_export=False, *, pages=None, page_events=chrome_trace.PAGE_EVENTS):
        """Write the trace (Chrome Trace Event Format JSON; gzip if ``path`` ends in .gz); ``use_python_export``
        is PyTorch's choice of exporter, torsh has one (the same file either way). torsh: a big
        trace (``pages=None``: over chrome_trace.PAGED_ABOVE_EVENTS detail events; True: always) keeps
        the summaries and its last page at ``path`` and the rest in ``path + ".pages/"`` (chrome_trace.py)."""
        chrome_trace.export_chrome_trace(self._require_results("export_chrome_trace()"), path, pages, page_events)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        """Write folded stacks for flame graphs (needs ``with_stack=True``)."""
        events = self._require_results("export_stacks()").events
        if not self.with_stack:
            raise RuntimeError("torsh.profiler: export_stacks needs Python stacks; profile with with_stack=True")
        stacks.export_stacks(events, path, metric)

    def export_memory_timeline(self, path, device=None):
        """Write live tensor bytes over time: JSON, or an HTML plot for ``.html`` (needs profile_memory=True)."""
        result = self._require_results("export_memory_timeline()")
        if not self.profile_memory:
            raise RuntimeError("torsh.profiler: export_memory_timeline needs profile_memory=True")
        memory_timeline.export_memory_timeline(result, path)

    def trace(self):
        """The trace JSON object itself (what export_chrome_trace writes), for viewers and notebooks."""
        return chrome_trace.build_trace(self._require_results("trace()"))

    def advise(self):
        """Why is it slow: an Advice of findings (cause, evidence, fix) over the recorded ops, dispatch
        decisions, memory and ranges, largest estimated time at stake first (torsh.profiler.advise)."""
        return advise_result(self._require_results("advise()"))

    def _repr_mimebundle_(self, include=None, exclude=None):
        """In Jupyter: the trace (application/vnd.torsh.trace+json) once results exist, plus a text summary."""
        if self._results is None:
            state = "recording" if self._running else "no results yet"
            return {"text/plain": f"<torsh.profiler.profile ({state})>"}
        trace = chrome_trace.for_display(chrome_trace.build_trace(self._results))  # bounded for long runs
        calls = sum(1 for e in trace["traceEvents"] if e["ph"] == "X")
        return {chrome_trace.MIME_TYPE: trace,
                "text/plain": f"<torsh.profiler.profile: {calls} calls recorded; trace_view(prof) draws them>"}


__all__ = ["profile", "ProfilerActivity", "supported_activities", "EventList"]
