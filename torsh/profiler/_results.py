"""The outcome of one recording window, as the exporters read it."""
import gc
import os

from . import function_events


class ProfileResult:
    """FunctionEvents plus what the trace needs besides them (memory, threads, clock base)."""

    def __init__(self, collector, options):
        self.options = dict(options)  # record_shapes, profile_memory, with_stack, with_flops
        # building makes several objects per event, all kept: cyclic GC passes over them would
        # cost more than the build itself (they grow with the number of events)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.events = function_events.build(collector, options.get("profile_memory", False),
                                                options.get("with_flops", False), options.get("record_shapes", False))
        finally:
            if gc_was_enabled:
                gc.enable()
        self.memory = list(collector.memory)
        self.orphan_dispatch = [(t, tid, function_events.dispatch_decision(record))
                                for t, tid, record in collector.orphan_dispatch]
        self.threads = dict(collector.threads)
        self.module_paths = dict(collector.module_paths)  # with_modules: scope name -> module path
        self.summary = collector.summary  # per-op and per-step totals over every step (summary.py)
        self.keep_steps = collector.keep_steps
        self.base_time_ns = collector.base_time_ns
        self.start_ns = collector.window_start_ns
        self.stop_ns = collector.stop_ns
        self.pid = os.getpid()

    def merge(self, later):
        """This window followed by ``later`` (``acc_events=True``): events of both cycles."""
        offset = len(self.events)
        for event in later.events:
            event.id += offset
        self.events.extend(later.events)
        self.memory += later.memory
        self.orphan_dispatch += later.orphan_dispatch
        self.threads.update(later.threads)
        self.module_paths.update(later.module_paths)
        self.summary.merge(later.summary)
        self.stop_ns = later.stop_ns
        return self
