"""What ``prof.events()`` returns: FunctionEvents (one per recorded call) in an EventList.

Built once per recording window from the collector's raw events: self time is the
event's time minus its children's (children are the events that were open directly
inside it on the same thread), memory is summed up the same way. Times are in
microseconds, as in PyTorch's ``torch.autograd.profiler_util``.
"""
from . import table as _table


class _CpuEventBase:
    """What a FunctionEvent and a FunctionEventAvg share: the CPU-only constants, ``*_str`` views of the time
    totals, and the per-call average ``cpu_time``."""

    is_async = False
    is_legacy = False
    node_id = -1
    device_type = "CPU"
    self_device_time_total = device_time_total = device_time = 0.0  # CPU only: no device columns
    device_memory_usage = self_device_memory_usage = 0

    @property
    def cpu_time(self):
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    @property
    def self_cpu_time_total_str(self):
        return _table.format_time(self.self_cpu_time_total)

    @property
    def cpu_time_total_str(self):
        return _table.format_time(self.cpu_time_total)

    @property
    def cpu_time_str(self):
        return _table.format_time(self.cpu_time)


class Interval:
    __slots__ = ("start", "end")

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start

    def __repr__(self):
        return f"Interval(start={self.start}, end={self.end})"


class FunctionEvent(_CpuEventBase):
    """One recorded call: an op (``aten::add``), a backward node, or a named range."""

    count = 1

    def __init__(self, id, name, thread, start_us, end_us, *, category="cpu_op", input_shapes=None,
                 input_types=None, stack=None, sequence_nr=-1, fwd_thread=0, flops=0, dispatch=None,
                 self_cpu_memory_usage=0, source=None):
        self.id = id
        self.name = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.category = category
        self.input_shapes = input_shapes
        self.input_types = input_types
        self.stack = stack
        self.source = source  # torsh, with_stack: (file, line) of the user code that called the op
        self.sequence_nr = sequence_nr
        self.fwd_thread = fwd_thread
        self.flops = flops
        self.dispatch = dispatch or []  # kernel variant decisions made directly inside this call
        self.self_cpu_memory_usage = self_cpu_memory_usage
        self.cpu_memory_usage = self_cpu_memory_usage  # plus the children's, filled in by build()
        self.cpu_children = []
        self.cpu_parent = None
        self.is_backward = False  # a backward node (or the engine's evaluate_function around it)
        self.forward_op = None  # for a backward node: the forward op event that created it (flow arrow)

    @property
    def key(self):
        return self.name

    @property
    def is_user_annotation(self):
        return self.category == "user_annotation"

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time={self.cpu_time_str} self_cpu_time={self.self_cpu_time_total_str} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage} "
                f"sequence_nr={self.sequence_nr}>")


class EventList(list):
    """A list of FunctionEvents with PyTorch's summaries (``table``, ``key_averages``)."""

    def __init__(self, *args, profile_memory=False, with_flops=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._profile_memory = profile_memory
        self._with_flops = with_flops

    @property
    def self_cpu_time_total(self):
        return sum(event.self_cpu_time_total for event in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        """The events as a text table in PyTorch's layout (see torsh.profiler.table)."""
        return _table.build_table(self, sort_by=sort_by, row_limit=row_limit, header=header,
                                  max_src_column_width=max_src_column_width,
                                  max_name_column_width=max_name_column_width,
                                  max_shapes_column_width=max_shapes_column_width,
                                  with_flops=self._with_flops, profile_memory=self._profile_memory,
                                  top_level_events_only=top_level_events_only, time_unit=time_unit)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0, group_by_overload_name=False):
        """One FunctionEventAvg per key (name; plus input shapes / top stack frames when asked)."""
        from .key_averages import key_averages
        averages = key_averages(self, group_by_input_shapes, group_by_stack_n)
        return EventList(averages, profile_memory=self._profile_memory, with_flops=self._with_flops)

    def total_average(self):
        from .key_averages import FunctionEventAvg
        total = FunctionEventAvg()
        for event in self:
            total.add(event)
        total.key = "Total"
        return total

    def export_stacks(self, path, metric="self_cpu_time_total"):
        from .stacks import export_stacks
        export_stacks(self, path, metric)

    def __str__(self):
        return self.table()


def dispatch_decision(record):
    """A backend.dispatch.DispatchRecord as the plain dict events and traces carry."""
    return {"op": record.op, "variant": record.variant, "reason": record.reason, "numel": record.numel,
            "dtype": record.dtype, "us": round(record.seconds * 1e6, 3)}


def build(collector, profile_memory=False, with_flops=False, record_shapes=False):
    """FunctionEvents from a stopped collector's raw events, ordered by start time."""
    depth = {}
    for raw in collector.events:
        chain = []
        node = raw
        while node is not None and id(node) not in depth:
            chain.append(node)
            node = node.parent
        base = -1 if node is None else depth[id(node)]
        for offset, item in enumerate(reversed(chain)):
            depth[id(item)] = base + 1 + offset
    # parents first, also when a parent and its child share both timestamps (evaluate_function + node)
    raws = sorted(collector.events, key=lambda e: (e.start_ns, -e.end_ns, depth[id(e)]))
    converted = {}
    result = EventList(profile_memory=profile_memory, with_flops=with_flops)
    for index, raw in enumerate(raws):
        raw.id = index
        fwd = collector.forward_ops.get(raw.sequence_nr) if raw.node is not None else None
        shapes = raw.input_shapes  # worded now from the raw facts recorded (_collector.record_inputs)
        event = FunctionEvent(
            index, raw.name, raw.tid, raw.start_ns / 1000.0, raw.end_ns / 1000.0, category=raw.cat,
            input_shapes=shapes if shapes is not None or not record_shapes else [],
            input_types=raw.input_types, stack=raw.stack or [],
            sequence_nr=raw.sequence_nr, fwd_thread=fwd.tid if fwd is not None else 0, flops=raw.flops,
            dispatch=[dispatch_decision(r) for r in raw.dispatch] if raw.dispatch else None,
            self_cpu_memory_usage=raw.self_memory, source=raw.source)
        event.is_backward = raw.node is not None
        converted[id(raw)] = event
        result.append(event)
    for raw in raws:
        if raw.node is not None and not raw.name.startswith("autograd::engine::"):
            forward = collector.forward_ops.get(raw.sequence_nr)
            if forward is not None:
                converted[id(raw)].forward_op = converted.get(id(forward))
    for raw in raws:
        if raw.parent is not None:
            parent = converted.get(id(raw.parent))
            if parent is not None:  # a parent still open at stop time is not in the results
                child = converted[id(raw)]
                child.cpu_parent = parent
                parent.cpu_children.append(child)
    for raw in sorted(raws, key=lambda e: -depth[id(e)]):  # deepest first: children before parents
        event = converted[id(raw)]
        if event.cpu_parent is not None:
            event.cpu_parent.cpu_memory_usage += event.cpu_memory_usage
    return result
