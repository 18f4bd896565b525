"""``torch.autograd.profiler``: PyTorch's older profiler API, on torsh's profiler.

Programs written before ``torch.profiler`` existed still write
``with torch.autograd.profiler.profile(record_shapes=True) as prof: ...`` and read
``prof.function_events``, ``prof.key_averages().table(...)``, ``prof.self_cpu_time_total`` or
``prof.export_chrome_trace(path)``. This module maps that API onto ``torsh.profiler.profile`` (CPU
activity only), so both record the same events. It belongs to the tools layer (it imports the
profiler); ``torsh/__init__`` binds it as ``torsh.autograd.profiler``.
"""
import contextlib
import warnings

from .. import profiler as _profiler
from ..profiler import EventList, FunctionEvent, FunctionEventAvg
from ..profiler.profiler import ProfilerActivity
from . import kineto_available
from ..profiler.record_function import record_function

__all__ = ["profile", "record_function", "emit_itt", "emit_nvtx", "EventList", "FunctionEvent",
           "FunctionEventAvg", "ProfilerActivity", "kineto_available"]


class profile:
    """``torch.autograd.profiler.profile``: records CPU ops while the ``with`` block runs.

    ``enabled=False`` makes it a no-op (``with ... as prof`` binds None, as in PyTorch). ``use_cuda=True`` warns as
    PyTorch's CPU build does and records the CPU only."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None,
                 post_processing_timeout_s=None, activity_filters=None):
        self.enabled = enabled
        if not enabled:
            self._profile = None
            return
        if use_cuda:
            warnings.warn("The attribute `use_cuda` will be deprecated soon, please use ``use_device = 'cuda'`` "
                          "instead.", FutureWarning, stacklevel=2)
            warnings.warn("CUDA is not available, disabling CUDA profiling", stacklevel=2)
        if use_device not in (None, "cpu"):
            warnings.warn(f"{use_device} is not available, disabling {use_device} profiling", stacklevel=2)
        if not use_cpu:
            raise AssertionError("Device-only events supported only with Kineto (use_kineto=True)")
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self._profile = _profiler.profile(
            record_shapes=record_shapes, profile_memory=profile_memory, with_stack=with_stack,
            with_flops=with_flops, with_modules=with_modules, acc_events=acc_events,
            experimental_config=experimental_config)
        self._entered = False

    def __enter__(self):
        if not self.enabled:
            return None  # as PyTorch's: ``with profile(enabled=False) as prof`` binds None
        if self._entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self._entered = True
        self._profile.start()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self.enabled:
            self._profile.stop()
        return False

    @property
    def function_events(self):
        """Every recorded call (an EventList), None before the block ran or when disabled."""
        if self._profile is None or self._profile._results is None:
            return None
        return self._profile.events()

    def _events(self, what):
        events = self.function_events
        if events is None:
            raise RuntimeError(f"torch.autograd.profiler.profile.{what}: the profiler has not finished "
                               "recording (use its results after the with block)")
        return events

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        return self._events("table()").table(
            sort_by=sort_by, row_limit=row_limit, max_src_column_width=max_src_column_width,
            max_name_column_width=max_name_column_width, max_shapes_column_width=max_shapes_column_width,
            header=header, top_level_events_only=top_level_events_only)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        self._events("key_averages()")
        return self._profile.key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def total_average(self):
        return self._events("total_average()").total_average()

    @property
    def self_cpu_time_total(self):
        """Total self CPU time of every recorded call, in microseconds."""
        return self._events("self_cpu_time_total").self_cpu_time_total

    def export_chrome_trace(self, path):
        self._events("export_chrome_trace()")
        self._profile.export_chrome_trace(path)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        self._events("export_stacks()")
        self._profile.export_stacks(path, metric)

    def __str__(self):
        events = self.function_events
        return "<unfinished torch.autograd.profile>" if events is None else str(events)

    __repr__ = __str__


@contextlib.contextmanager
def emit_itt(enabled=True, record_shapes=False):
    """Intel ITT annotations for VTune: torsh emits none; the block runs unchanged, as PyTorch's does
    when no ITT collector is attached."""
    yield


class emit_nvtx:
    """NVTX ranges for nvprof/Nsight: need CUDA, which torsh (CPU only) does not have."""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            raise AssertionError("Torch not compiled with CUDA enabled")
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        return False
