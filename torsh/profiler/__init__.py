"""torsh.profiler: PyTorch's ``torch.profiler`` API for torsh.

    with torsh.profiler.profile(record_shapes=True, profile_memory=True) as prof:
        with torsh.profiler.record_function("forward"):
            loss = model(x).sum()
        loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")     # Perfetto / chrome://tracing

Recorded: every op called through a public name (``aten::``-prefixed, with input shapes,
flops, kernel dispatch decisions), backward nodes linked to their forward op, allocations
and frees, ``record_function`` ranges and the library's ranges (DataLoader, optimizer steps);
with ``with_stack=True`` each op's Python stack and source line (the user's line that called it).
Long runs: ``profile(keep_steps=N)`` keeps the calls of the last N steps and running summaries of
every step (summary.py, ``prof.summary()``), so a 10,000-step trace stays a few MB. A big trace is
exported in pages (``export_chrome_trace(path, pages=...)``: the summaries and the last page at
``path``, the rest in ``path + ".pages/"``) that viewers read on demand (chrome_trace.py).
Module map: profiler.py (the ``profile`` class and its schedule state machine),
_instrument.py (swaps op names for timing wrappers while a profiler runs), _collector.py
(records raw events), function_events.py / key_averages.py / table.py (results and their
table), summary.py (running per-op/per-step totals), chrome_trace.py (the trace JSON),
memory_timeline.py, stacks.py, schedule.py.
"""
from ..autograd import kineto_available
from ..optim import Optimizer, register_optimizer_step_post_hook
from .execution_trace import ExecutionTraceObserver, KinetoStepTracker
from .function_events import EventList, FunctionEvent
from .key_averages import FunctionEventAvg
from .profiler import ProfilerActivity, profile, supported_activities
from .record_function import record_function
from .schedule import ProfilerAction, schedule, tensorboard_trace_handler

__all__ = ["profile", "record_function", "schedule", "ProfilerAction", "ProfilerActivity",
           "supported_activities", "tensorboard_trace_handler", "EventList", "FunctionEvent", "FunctionEventAvg",
           "ExecutionTraceObserver", "KinetoStepTracker", "kineto_available"]
