"""``key_averages``: the recorded calls summed per key (op name, optionally shapes / stack)."""
from .function_events import _CpuEventBase


class FunctionEventAvg(_CpuEventBase):
    """Totals over every call of one key; ``cpu_time`` is the average per call."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.flops = 0
        self.input_shapes = None
        self.stack = None
        self.source = None  # torsh, with_stack: (file, line) of the first call's user code
        self.cpu_parent = None  # set on the first call's parent, for top_level_events_only
        self.is_user_annotation = False
        self.dispatch = {}  # (op, variant) -> number of decisions

    def add(self, event):  # a FunctionEvent or another FunctionEventAvg
        if self.key is None:
            self.key = event.key
            self.is_user_annotation = event.is_user_annotation
            self.cpu_parent = event.cpu_parent
            self.source = getattr(event, "source", None)
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        self.flops += event.flops
        if isinstance(event.dispatch, dict):  # another average
            for key, n in event.dispatch.items():
                self.dispatch[key] = self.dispatch.get(key, 0) + n
        else:
            for decision in event.dispatch:
                key = (decision["op"], decision["variant"])
                self.dispatch[key] = self.dispatch.get(key, 0) + 1
        return self

    def __iadd__(self, event):
        return self.add(event)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} count={self.count} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


def key_averages(events, group_by_input_shapes=False, group_by_stack_n=0):
    """FunctionEventAvgs in order of each key's first call."""
    groups = {}
    for event in events:
        key = (event.key, event.is_user_annotation)
        if group_by_input_shapes:
            key += (str(event.input_shapes),)
        if group_by_stack_n > 0:
            key += tuple((event.stack or [])[:group_by_stack_n])
        average = groups.get(key)
        if average is None:
            average = groups[key] = FunctionEventAvg()
            if group_by_input_shapes:
                average.input_shapes = event.input_shapes
            if group_by_stack_n > 0:
                average.stack = list((event.stack or [])[:group_by_stack_n])
        average.add(event)
    return list(groups.values())
