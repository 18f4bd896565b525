"""ExecutionTraceObserver (the op graph of a run as Chakra-style execution-trace JSON) and KinetoStepTracker."""
import gzip
import json
import os
import time
import warnings

from . import _collector

_SCHEMA = "1.1.1-chakra.0.0.4"
_ROOT = "[pytorch|profiler|execution_trace|process]"
_THREAD = "[pytorch|profiler|execution_trace|thread]"


class ExecutionTraceObserver:
    """Records every op called while running (start() .. stop(), or the recording window of a profile it is
    given to) with its input shapes and types; ``unregister_callback()`` writes the trace (gzipped for .gz)."""

    def __init__(self):
        self._registered = False
        self._execution_trace_running = False
        self.extra_resources_collection = False
        self.resources_dir = ""
        self.output_file_path = ""
        self.output_file_path_observer = ""
        self._collector = None
        self._events = []
        self._start_ts = self._finish_ts = 0

    def __del__(self):
        self.unregister_callback()

    @staticmethod
    def build_execution_trace_obs_from_env():
        if os.environ.get("ENABLE_PYTORCH_EXECUTION_TRACE", "0") != "1":
            return None
        path = os.environ.get("PYTORCH_EXECUTION_TRACE_FILE") or os.path.join(
            os.getcwd(), f"execution_trace_{os.getpid()}.json")
        return ExecutionTraceObserver().register_callback(path)

    def set_extra_resource_collection(self, val):
        self.extra_resources_collection = val

    def register_callback(self, output_file_path):
        if not self._registered:
            self.output_file_path = output_file_path
            self.output_file_path_observer = output_file_path
            self._registered = True
        return self

    def unregister_callback(self):
        if not getattr(self, "_registered", False):
            return
        self.stop()
        self._write()
        self._registered = False

    @property
    def is_registered(self):
        return self._registered

    def is_running(self):
        return self._execution_trace_running

    def start(self):
        if self._registered and not self._execution_trace_running:
            self._start_ts = time.time() * 1000
            from . import profiler
            if profiler._active is None:  # standalone: its own recorder; under a profile, the profile hands its ops
                self._collector = _collector.Collector(record_shapes=True, with_dispatch=False)
                self._collector.start()
            self._execution_trace_running = True

    def stop(self):
        if self._execution_trace_running:
            if self._collector is not None:
                self._collector.stop()
                self._take(self._collector.events)
                self._collector = None
            self._finish_ts = time.time() * 1000
            self._execution_trace_running = False

    def cleanup(self):
        self.unregister_callback()

    def get_output_file_path(self):
        return self.output_file_path or None

    def get_resources_dir(self, can_create=False):
        return None

    def _take(self, events):
        """Keep the op events recorded while this observer ran (called by a profile at its trace's end)."""
        if self._execution_trace_running:
            self._events.extend(sorted(events, key=lambda e: e.start_ns))

    def _nodes(self):
        nodes = [{"id": 1, "name": _ROOT, "ctrl_deps": 0, "inputs": _values(), "outputs": _values(), "attrs": []}]
        thread_ids, event_ids = {}, {}
        for event in self._events:
            if event.tid not in thread_ids:
                thread_ids[event.tid] = len(nodes) + 1
                nodes.append({"id": len(nodes) + 1, "name": _THREAD, "ctrl_deps": 1, "inputs": _values(),
                              "outputs": _values(), "attrs": [{"name": "tid", "type": "uint64", "value": event.tid}]})
            parent = event_ids.get(id(event.parent), thread_ids[event.tid])
            event_ids[id(event)] = len(nodes) + 1
            nodes.append({"id": len(nodes) + 1, "name": event.name, "ctrl_deps": parent,
                          "inputs": _values(event.input_shapes, event.input_types), "outputs": _values(),
                          "attrs": [{"name": "rf_id", "type": "uint64", "value": len(nodes)},
                                    {"name": "tid", "type": "uint64", "value": event.tid},
                                    {"name": "seq_id", "type": "int64", "value": event.sequence_nr}]})
        return nodes

    def _write(self):
        trace = {"schema": _SCHEMA, "pid": os.getpid(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "start_ts": self._start_ts, "nodes": self._nodes(), "finish_ts": self._finish_ts}
        text = json.dumps(trace)
        try:
            if self.output_file_path.endswith(".gz"):
                with gzip.open(self.output_file_path, "wt") as f:
                    f.write(text)
            else:
                with open(self.output_file_path, "w") as f:
                    f.write(text)
        except OSError as e:
            warnings.warn(f"Execution trace failed to save: {e}", stacklevel=2)
        self._events = []


def _values(shapes=None, types=None):
    shapes = [list(s) if s is not None else [] for s in shapes or ()]
    return {"values": [None] * len(shapes), "shapes": shapes, "types": list(types or [])}


class KinetoStepTracker:
    """Global step count over several requesters (ProfilerStep, each optimizer): the maximum of theirs."""

    _current_step = 0
    _step_dict = {}

    @classmethod
    def init_step_count(cls, requester):
        cls._step_dict[requester] = cls._current_step

    @classmethod
    def erase_step_count(cls, requester):
        return cls._step_dict.pop(requester, None) is not None

    @classmethod
    def increment_step(cls, requester):
        if requester not in cls._step_dict:
            cls.init_step_count(requester)
        cls._step_dict[requester] += 1
        new_step = max(cls._step_dict.values())
        if new_step > cls._current_step:
            delta = new_step - cls._current_step
            if delta > 1:
                warnings.warn("Profiler step count has increased more than 1 - "
                              f"current_step = {cls._current_step} step dict =  {cls._step_dict}", stacklevel=2)
            cls._current_step = new_step
        return cls._current_step

    @classmethod
    def current_step(cls):
        return cls._current_step
