"""The recording side of the profiler: raw, timestamped events while a profile runs.

One ``Collector`` per recording window. It times op calls (handed over by ``_instrument``),
and subscribes to the core's topics: ``range`` (record_function, DataLoader, optimizer
steps), ``autograd`` (backward nodes, and the node each forward op creates), ``dispatch``
(kernel variant decisions) and ``memory`` (allocations and frees).

Each thread keeps its own stack of open events (thread-local), so ops on DataLoader or
user threads land on their own tid and nest correctly; finished events go to one shared
list (``list.append`` is atomic under the GIL). Times are ``perf_counter_ns``. Turning
the raw events into FunctionEvents (self times, memory sums) happens once, at the end,
in ``function_events.build``.
"""
import os
import sys
import threading
import time
from collections import deque

from ..autograd.graph import PROFILER_TOPIC as AUTOGRAD_TOPIC  # engine.py/graph.py emit node runs, creations
from .._tensor import Tensor
from ..backend import dispatch, events, memory, ranges
from .._ops import flops
from . import _instrument, _module_scopes
from .summary import RunSummary

_PROFILER_DIR = os.path.dirname(os.path.abspath(__file__))
_TORSH_DIR = os.path.dirname(_PROFILER_DIR) + os.sep  # frames under it are torsh's own, not the caller's
_MAX_STACK_DEPTH = 128


class RawEvent:
    """One timed range on one thread: an op, a user/library range or a backward node.

    No __slots__: the rarely set fields are class-level defaults, so making one (per op call,
    on the hot path) assigns four attributes only.
    """

    start_ns = end_ns = 0
    cat = "cpu_op"  # ops and backward nodes: only ranges and module scopes set another category
    inputs = None  # record_shapes: the arguments' raw facts, flat (record_inputs), described when read
    stack = source = None  # source: (file, line) of the user's call
    flops = 0
    sequence_nr = -1  # autograd sequence number: of the node a forward op created, or a backward node's
    dispatch = None  # [DispatchRecord] decided while this event was innermost
    self_memory = 0  # bytes allocated minus freed while this event was innermost
    node = None  # the autograd Node a backward event runs while open; _RAN once closed (None: not backward)
    children_ns = children_memory = 0  # summed by summary.RunSummary.fold_step from the calls inside

    def __init__(self, name, cat, tid, parent):
        self.name = name
        self.cat = cat  # "cpu_op" (ops, backward nodes) or "user_annotation" (ranges)
        self.tid = tid
        self.parent = parent

    @property
    def input_shapes(self):
        """PyTorch's ``Input Dims`` of the call (None without record_shapes)."""
        return None if self.inputs is None else [_shape_of(entry) for entry in _pairs(self.inputs)]

    @property
    def input_types(self):
        """PyTorch's ``Input type`` of the call (None without record_shapes)."""
        return None if self.inputs is None else [_type_of(entry) for entry in _pairs(self.inputs)]


_new_object = object.__new__  # RawEvent(...) minus its __init__ frame, for the per-op and per-node paths


class MemoryRecord:
    __slots__ = ("time_ns", "tid", "kind", "nbytes", "live_bytes", "address", "op")

    def __init__(self, time_ns, tid, kind, nbytes, live_bytes, address, op):
        self.time_ns, self.tid, self.kind, self.nbytes = time_ns, tid, kind, nbytes
        self.live_bytes, self.address, self.op = live_bytes, address, op


class Collector:
    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_dispatch=True, with_modules=False, keep_steps=None):
        self.keep_steps = keep_steps  # None: every event; N: full detail for the last N steps only
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_dispatch = with_dispatch
        self.with_details = record_shapes or with_stack  # anything to note before an op runs
        self.events = []  # finished RawEvents, all threads
        self.memory = []  # MemoryRecords
        self.orphan_dispatch = []  # (time_ns, tid, DispatchRecord) decided outside any recorded event
        self.threads = {}  # tid -> thread name
        self.forward_ops = {}  # autograd sequence number -> the forward RawEvent that created the node
        self.module_paths = {}  # with_modules: scope name ("Linear_0") -> dotted module path
        self._modules = _module_scopes.ModuleScopes(self) if with_modules else None
        self.window_start_ns = 0
        self.stop_ns = 0
        self.base_time_ns = 0  # wall clock (ns since epoch) minus perf_counter_ns, for absolute times
        self._local = threading.local()
        self._unsubscribe = []
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------
    def start(self):
        if self.profile_memory:
            # counting's one-off start (gc.collect and a scan of all objects) happens now, outside
            # any recorded op: started lazily by the first allocation, it was charged to the first op
            memory.start_counting()
        self.base_time_ns = time.time_ns() - time.perf_counter_ns()
        _instrument.enable(self)
        try:
            self._subscribe(ranges.TOPIC, self._on_range)
            self._subscribe(AUTOGRAD_TOPIC, self._on_autograd)
            if self.with_dispatch:
                self._subscribe(dispatch.TOPIC, self._on_dispatch)
            if self.profile_memory:
                self._subscribe(memory.TOPIC, self._on_memory)
            if self._modules is not None:
                self._modules.start()
                self._unsubscribe.append(self._modules.stop)
        except BaseException:
            self.stop()
            raise
        self._running = True
        self.clear()

    def clear(self):
        """Forget what was recorded so far (end of warm-up); the window starts now."""
        self.events = []
        self.memory = []
        self.orphan_dispatch = []
        self.forward_ops = {}
        self.window_start_ns = self._step_start_ns = time.perf_counter_ns()
        self.summary = RunSummary()
        self._step_marks = []  # keep_steps None: (step, tid, start_ns, end_ns, end index in events)
        self._retained = deque()  # keep_steps N: (StepSummary, events, memory, orphan_dispatch) per step

    def stop(self):
        for unsubscribe in reversed(self._unsubscribe):
            unsubscribe()
        self._unsubscribe = []
        _instrument.disable(self)
        self._running = False
        self.stop_ns = time.perf_counter_ns()
        _frame_cache.clear()  # it holds code objects (notebook cells...): keep them only while recording

    # -- steps: running summaries, and the ring buffer of detailed steps ------------------
    def end_step(self, step):
        """``prof.step()``: step ``step`` ended now. With ``keep_steps`` its calls are folded into the
        summaries and kept in the ring buffer (the oldest step beyond N loses its detail)."""
        now = time.perf_counter_ns()
        tid = threading.get_native_id()
        if self.keep_steps is None:  # folded once at the end: nothing but a mark per step here
            self._step_marks.append((step, tid, self._step_start_ns, now, len(self.events)))
        else:
            self._keep_step(step, tid, self._step_start_ns, now)
        self._step_start_ns = now

    def _keep_step(self, step, tid, start_ns, end_ns):
        events, self.events = self.events, []
        memory, self.memory = self.memory, []
        orphans, self.orphan_dispatch = self.orphan_dispatch, []
        summary = self.summary.fold_step(step, tid, start_ns, end_ns, events)
        self._retained.append((summary, events, memory, orphans))
        while len(self._retained) > self.keep_steps:
            self._drop_detail(*self._retained.popleft())

    def _drop_detail(self, summary, events, memory, orphans):
        summary.detailed = False
        forward_ops = self.forward_ops
        for raw in events:  # forget the forward ops of dropped steps (they hold autograd nodes)
            if raw.sequence_nr >= 0 and raw.node is None and forward_ops.get(raw.sequence_nr) is raw:
                del forward_ops[raw.sequence_nr]

    def finish(self, step):
        """After stop: fold the last (partial) step; ``events``/``memory`` then hold the detail kept."""
        tid = threading.get_native_id()
        if self.keep_steps is None:
            marks = self._step_marks
            if self.events[marks[-1][4] if marks else 0:] or not marks:  # a last step that ran anything
                marks = marks + [(step, tid, self._step_start_ns, self.stop_ns, len(self.events))]
            begin = 0
            for mark_step, mark_tid, start_ns, end_ns, end in marks:
                self.summary.fold_step(mark_step, mark_tid, start_ns, end_ns, self.events[begin:end])
                begin = end
            return
        if self.events or not self._retained:
            self._keep_step(step, tid, self._step_start_ns, self.stop_ns)
        self.events = [raw for _, events, _, _ in self._retained for raw in events]
        self.memory = [record for _, _, memory, _ in self._retained for record in memory]
        self.orphan_dispatch = [item for _, _, _, orphans in self._retained for item in orphans]

    def _subscribe(self, topic, callback):
        self._unsubscribe.append(events.subscribe(topic, callback))

    # -- per-thread state ----------------------------------------------------------------
    def _stack(self):
        """This thread's stack of open events (made, and the thread named, on first use)."""
        try:
            return self._local.stack
        except AttributeError:
            self._local.stack = []
            self._local.tid = threading.get_native_id()
            self.threads.setdefault(self._local.tid, threading.current_thread().name)
            return self._local.stack

    def _open(self, name, cat):
        stack = self._stack()
        event = RawEvent(name, cat, self._local.tid, stack[-1] if stack else None)
        stack.append(event)
        return event

    @staticmethod
    def _close(stack, event):
        if stack and stack[-1] is event:
            stack.pop()
        else:  # a range left open inside an op (misused record_function): keep the stack sane
            stack.remove(event)

    # -- ops ---------------------------------------------------------------------------------
    @staticmethod
    def make_wrapper(fn, name, attribute):
        """The timing wrapper _instrument puts in place of op ``fn`` (inlined: it runs on every op call)."""
        perf_counter_ns = time.perf_counter_ns
        instrument = _instrument
        new_object = _new_object

        def op(*args, **kwargs):
            collector = instrument._observer
            if collector is None:  # a call that started as the profiler stopped
                return fn(*args, **kwargs)
            local = collector._local
            try:
                stack = local.stack
            except AttributeError:
                stack = collector._stack()
            parent = stack[-1] if stack else None
            if parent is not None and parent.name == name:  # an alias calling its op (F.relu -> Tensor.relu)
                return fn(*args, **kwargs)  # is one call, as in PyTorch's tables
            event = new_object(RawEvent)  # RawEvent(name, "cpu_op", local.tid, parent), inlined
            event.name = name  # cat: RawEvent's default, cpu_op
            event.tid = local.tid
            event.parent = parent
            if collector.with_details:
                if collector.record_shapes:
                    event.inputs = record_inputs(args, kwargs)
                if collector.with_stack:
                    event.stack, event.source = python_stack()
            stack.append(event)
            event.start_ns = perf_counter_ns()
            try:
                result = fn(*args, **kwargs)
            finally:
                event.end_ns = perf_counter_ns()
                if stack[-1] is event:
                    stack.pop()
                else:  # a range left open inside the op (misused record_function): keep the stack sane
                    stack.remove(event)
                collector.events.append(event)
            if collector.with_flops:
                event.flops = flops.count(attribute, args, kwargs, result)
            return result
        return op

    # -- subscriptions ---------------------------------------------------------------------
    def _on_range(self, record):
        if record.kind == "begin":
            event = self._open(record.name, "user_annotation")
            event.start_ns = record.time_ns
            return
        stack = self._stack()
        for event in reversed(stack):  # the innermost open range of that name
            if event.cat == "user_annotation" and event.name == record.name:
                event.end_ns = record.time_ns
                self._close(stack, event)
                self.events.append(event)
                return
        # an end without a begin (the range opened before the profiler started): nothing to close

    def _on_autograd(self, record):
        kind, node = record[0], record[1]  # ("record" | "end", node) or ("begin", node, incoming gradients)
        try:
            stack = self._local.stack
        except AttributeError:
            stack = self._stack()
        if kind == "record":  # a forward op created `node`: link them by sequence number
            for event in reversed(stack):
                if event.cat == "cpu_op" and event.node is None:
                    if event.sequence_nr < 0:
                        seq = event.sequence_nr = node._sequence_nr
                        self.forward_ops[seq] = event
                    return
            return
        now = time.perf_counter_ns()
        if kind == "begin":  # the node's event inside the engine's evaluate_function event
            outer_name, inner_name = _event_names.get(node.name()) or _node_event_names(node)
            tid = self._local.tid
            outer = _new_object(RawEvent)  # RawEvent(outer_name, "cpu_op", tid, stack[-1] if stack else None)
            outer.name, outer.tid, outer.parent = outer_name, tid, stack[-1] if stack else None  # cat: cpu_op
            inner = _new_object(RawEvent)  # RawEvent(inner_name, "cpu_op", tid, outer)
            inner.name, inner.tid, inner.parent = inner_name, tid, outer
            outer.node = inner.node = node
            if self.record_shapes:  # PyTorch's input shapes of a node: the gradients flowing in ([] where none)
                inner.inputs = record_inputs(record[2], None)  # a tuple or list: record_inputs only iterates it
            outer.start_ns = inner.start_ns = now
            seq = node._sequence_nr
            if seq != _NO_SEQUENCE:
                outer.sequence_nr = inner.sequence_nr = seq
            stack.append(outer)
            stack.append(inner)
            return
        # "end": close the inner node event and its evaluate_function parent
        if len(stack) >= 2:
            inner, outer = stack[-1], stack[-2]
            if inner.node is node and outer.node is node:  # nothing left open inside: the usual case
                del stack[-2:]
                inner.end_ns = outer.end_ns = now
                inner.node = outer.node = _RAN  # the node no longer: kept, it would keep each step's graph alive
                self.events += (inner, outer)
                return
        closing = [e for e in stack if e.node is node][-2:]
        for event in closing:
            self._close(stack, event)
        for event in reversed(closing):
            event.end_ns = now
            event.node = _RAN
            self.events.append(event)

    def _on_dispatch(self, record):
        try:
            stack = self._local.stack
        except AttributeError:
            stack = self._stack()
        if stack:
            event = stack[-1]
            decisions = event.dispatch
            if decisions is None:
                event.dispatch = [record]
            else:
                decisions.append(record)
        else:
            self.orphan_dispatch.append((time.perf_counter_ns(), self._local.tid, record))

    def _on_memory(self, record):
        stack = self._stack()
        nbytes = record.nbytes if record.kind == "alloc" else -record.nbytes
        op = None
        if stack:
            stack[-1].self_memory += nbytes
            op = stack[-1].name
        self.memory.append(MemoryRecord(time.perf_counter_ns(), self._local.tid, record.kind, nbytes,
                                        record.live_bytes, record.address, op))


def node_name(node):
    """PyTorch's name for a backward node in traces (the leaf sink is a C++ class there)."""
    name = node.name()
    return "torch::autograd::AccumulateGrad" if name == "AccumulateGrad" else name


_RAN = True  # a closed backward event's node: only `node is not None` is read after closing
_NO_SEQUENCE = float("inf")  # the sequence number of nodes made outside any forward op
_event_names = {}  # node.name() -> (evaluate_function event name, node event name): built once per name


def _node_event_names(node):
    names = _event_names.get(node.name())
    if names is None:
        name = node_name(node)
        names = _event_names[node.name()] = ("autograd::engine::evaluate_function: " + name, name)
    return names


# C++ scalar type names, as PyTorch's "Input type" column prints them
_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
               "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
               "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


_type_name_cache = {}  # np.dtype -> C++ name; dtype.name is slow Python code in NumPy 2


def _type_name(np_dtype):
    name = _type_name_cache.get(np_dtype)
    if name is None:
        name = _type_name_cache[np_dtype] = _TYPE_NAMES.get(np_dtype.name, np_dtype.name)
    return name


# record_inputs' entries for arguments that are not tensors: (shape, type) as PyTorch describes them
_SCALAR, _NONE, _SCALAR_LIST = ((), "Scalar"), ((), ""), ((), "ScalarList")
_TENSOR, _SEQUENCE = object(), object()  # _kind_of_type's marks for tensor types, and lists and tuples
_kind_of_type = {type(None): _NONE, int: _SCALAR, float: _SCALAR, bool: _SCALAR, complex: _SCALAR, str: _SCALAR,
                 tuple: _SEQUENCE, list: _SEQUENCE}


def record_inputs(args, kwargs, _kinds=_kind_of_type, _tensor=_TENSOR, _sequence=_SEQUENCE, _scalar=_SCALAR,
                  _scalar_list=_SCALAR_LIST):
    """The raw facts of an op's arguments, taken on the op's path, flat: ``shape, np.dtype`` per tensor
    (the array's shape tuple), a constant ``shape, type name`` for anything else (no tuple per argument:
    fewer objects for the cycle collector while recording). ``describe_inputs`` turns them into
    PyTorch's ``Input Dims`` / ``Input type`` when somebody reads them. (The module constants are
    default arguments: locals, ~20% fewer bytecodes per call than global lookups, on every recorded op.)"""
    raw = []
    for value in (args if not kwargs else args + tuple(kwargs.values())):
        kind = _kinds.get(value.__class__)
        if kind is _tensor:
            data = value._data
            raw += (data.shape, data.dtype)
        elif kind is _sequence:  # a list of sizes (stride=(1, 1)...), else looked into
            raw += _scalar_list if not value or _kinds.get(value[0].__class__) is _scalar else _other_input(value)
        elif kind is not None:
            raw += kind
        else:
            raw += _other_input(value)
    return raw


def _pairs(raw):
    """record_inputs' flat facts as one (shape, type) entry per argument."""
    return zip(raw[::2], raw[1::2])


def _other_input(value):
    """record_inputs' entry for a value of a type it has not classified yet (types that decide their
    entry alone, tensors and scalars, are remembered; lists and tuples are looked into each time)."""
    data = getattr(value, "_data", None)
    if data is not None and hasattr(data, "shape"):
        if isinstance(value, Tensor):
            _kind_of_type[type(value)] = _TENSOR
        return (data.shape, data.dtype)
    if isinstance(value, (list, tuple)):
        if value and hasattr(value[0], "_data"):
            return (tuple(v._data.shape for v in value if hasattr(v, "_data")), "TensorList")
        return _SCALAR_LIST
    if not hasattr(value, "_data"):  # a type whose instances never hold a tensor's array
        _kind_of_type[type(value)] = _SCALAR
    return _SCALAR


def _shape_of(entry):
    shape, kind = entry
    return [list(s) for s in shape] if kind == "TensorList" else list(shape)


def _type_of(entry):
    kind = entry[1]
    return kind if kind.__class__ is str else _type_name(kind)


def describe_inputs(args, kwargs):
    """(shapes, types) of an op's arguments, in PyTorch's ``Input Dims`` / ``Input type`` form."""
    raw = list(_pairs(record_inputs(args, kwargs)))
    return [_shape_of(entry) for entry in raw], [_type_of(entry) for entry in raw]


_frame_cache = {}  # (code, line) -> (frame text or None for the profiler's own, whether it is user code)


def _frame_info(code, line):
    key = (code, line)
    info = _frame_cache.get(key)
    if info is None:
        filename = code.co_filename
        text = None if filename.startswith(_PROFILER_DIR) else f"{filename}({line}): {code.co_name}"
        info = _frame_cache[key] = (text, not filename.startswith(_TORSH_DIR))
    return info


def python_stack():
    """(frames, source): the Python call stack of the op, innermost first, as ``file(line): function``
    (the profiler's own frames left out), and ``(file, line)`` of the first frame outside torsh: the
    line of user code that called the op (None if torsh called it from nowhere else)."""
    frames = []
    source = None
    frame = sys._getframe(1)
    while frame is not None and len(frames) < _MAX_STACK_DEPTH:
        line = frame.f_lineno
        text, is_user = _frame_info(frame.f_code, line)
        if text is not None:
            frames.append(text)
            if source is None and is_user:
                source = (frame.f_code.co_filename, line)
        frame = frame.f_back
    return frames, source
