"""The recording side of the profiler: raw, timestamped facts while a profile runs, events at the end.

One ``Collector`` per recording window. It times op calls (handed over by ``_instrument``) and
backward nodes (the autograd engine calls ``run_node`` for each node while a profile records),
and subscribes to the core's topics: ``range`` (record_function, DataLoader, optimizer steps),
``autograd`` (the node each forward op creates), ``dispatch`` (kernel variant decisions) and
``memory`` (allocations and frees).

Recording appends flat entries to a per-thread log and nothing else (the cost that counts: it is
paid on every op call): ``(name, t)`` when an op begins (``(name, inputs, t)`` with record_shapes),
the int ``t`` when it ends, and tuples headed by a mark for the rest. ``_replay`` turns a thread's
log into RawEvents (nesting, self memory, dispatch decisions, forward-op links) when the results
are wanted: at stop, at ``prof.step()`` with ``keep_steps``, at the end of a warm-up. Ops on
DataLoader or user threads land in their own log, on their own tid. Times are ``perf_counter_ns``.
Turning RawEvents into FunctionEvents (self times, memory sums) happens once, at the end, in
``function_events.build``.
"""
import gc
import itertools
import operator
import os
import sys
import threading
import time
from collections import deque

from ..autograd import graph as autograd_graph  # node_runner: the engine's one call per backward node
from ..autograd.graph import Node, PROFILER_TOPIC as AUTOGRAD_TOPIC  # graph.record emits node creations
from .._tensor import Tensor
from ..backend import dispatch, events, memory, ranges
from .._ops import flops
from . import _instrument, _module_scopes
from .summary import RunSummary

_PROFILER_DIR = os.path.dirname(os.path.abspath(__file__))
_TORSH_DIR = os.path.dirname(_PROFILER_DIR) + os.sep  # frames under it are torsh's own, not the caller's
_MAX_STACK_DEPTH = 128


class RawEvent:
    """One timed range on one thread: an op, a user/library range, a module scope or a backward node.

    Made by ``_replay`` from a thread's log. No __slots__: the rarely set fields are class-level defaults.
    """

    start_ns = end_ns = 0
    cat = "cpu_op"  # ops and backward nodes: only ranges and module scopes set another category
    inputs = None  # record_shapes: the arguments' raw facts, flat (record_inputs), described when read
    stack = source = None  # source: (file, line) of the user's call
    flops = 0
    sequence_nr = -1  # autograd sequence number: of the node a forward op created, or a backward node's
    dispatch = None  # [DispatchRecord] decided while this event was innermost
    self_memory = 0  # bytes allocated minus freed while this event was innermost
    node = None  # _RAN for a backward node's events (and the engine's evaluate_function around it), else None
    children_ns = children_memory = 0  # summed by summary.RunSummary.fold_step from the calls inside

    def __init__(self, name, cat, tid, parent):
        self.name = name
        self.cat = cat  # "cpu_op" (ops, backward nodes), "user_annotation" (ranges), "python_function" (modules)
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


_new_object = object.__new__  # RawEvent(...) minus its __init__ frame, for replay's per-call events


class MemoryRecord:
    __slots__ = ("time_ns", "tid", "kind", "nbytes", "live_bytes", "address", "op")

    def __init__(self, time_ns, tid, kind, nbytes, live_bytes, address, op):
        self.time_ns, self.tid, self.kind, self.nbytes = time_ns, tid, kind, nbytes
        self.live_bytes, self.address, self.op = live_bytes, address, op


# The heads of a log's less frequent entries (an op's begin starts with its name, a str; a node's with
# its two event names, a tuple; an int is the end of the innermost open op or node)
_LINK = object()  # (_LINK, sequence_nr): the op running now created that autograd node
_DISPATCH = object()  # (_DISPATCH, DispatchRecord, t)
_RAW_DECISION = dispatch.RAW_DECISION  # (_RAW_DECISION, op, variant, why, numel, np_dtype, elapsed_ns, t): dispatch's own
_MEMORY = object()  # (_MEMORY, kind, nbytes, live_bytes, address, t)
_FLOPS = object()  # (_FLOPS, count): of the innermost open op, counted after it returned
_RANGE = object()  # (_RANGE, name, t)
_RANGE_END = object()  # (_RANGE_END, name, t)
_SCOPE = object()  # (_SCOPE, name, t): a module scope (with_modules)
_SCOPE_END = object()  # (_SCOPE_END, t): the innermost open module scope ends


_REPLAY_WITH_GC_OFF = 2000  # log entries above which a replay runs with the cyclic GC off


class _ThreadLog:
    """One thread's log, and what replaying it so far left open (its stack of open RawEvents)."""

    __slots__ = ("tid", "log", "stack", "done")

    def __init__(self, tid):
        self.tid = tid
        self.log = []
        self.stack = []
        self.done = 0  # entries of log replayed so far


class Collector:
    SCOPE, SCOPE_END = _SCOPE, _SCOPE_END  # the entries _module_scopes logs

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_dispatch=True, with_modules=False, keep_steps=None):
        self.keep_steps = keep_steps  # None: every event; N: full detail for the last N steps only
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_dispatch = with_dispatch
        # what an op call notes besides its name and times: 0 nothing, 1 its inputs, 2 more (_detailed_call)
        self.details = 2 if (with_stack or with_flops) else 1 if record_shapes else 0
        self.events = []  # finished RawEvents, all threads (filled by replaying the logs)
        self.memory = []  # MemoryRecords
        self.orphan_dispatch = []  # (time_ns, tid, DispatchRecord) decided outside any recorded event
        self.threads = {}  # tid -> thread name
        self.forward_ops = {}  # autograd sequence number -> the forward RawEvent that created the node
        self.module_paths = {}  # with_modules: scope name ("Linear_0") -> dotted module path
        self._modules = _module_scopes.ModuleScopes(self) if with_modules else None
        self.stop_ns = 0
        self.base_time_ns = 0  # wall clock (ns since epoch) minus perf_counter_ns, for absolute times
        self._local = threading.local()  # .log: this thread's log (a list)
        self._logs = []  # _ThreadLog per thread that recorded anything
        self._logs_lock = threading.Lock()
        self._unsubscribe = []
        self._node_runner = None  # the closure the engine calls per backward node while recording
        self._running = False
        self._replayed = False  # stop() replayed the logs into events
        self.summary = RunSummary()
        self._step_marks = []  # see clear()
        self._retained = deque()
        self.window_start_ns = self._step_start_ns = 0

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
            self._subscribe(AUTOGRAD_TOPIC, self._on_autograd)  # keeps backward formulas on torsh ops, recorded
            self._node_runner = _make_node_runner(self)
            autograd_graph.node_runner = self._node_runner
            self._unsubscribe.append(self._remove_node_runner)
            if self.with_dispatch:
                self._subscribe(dispatch.TOPIC, self._on_dispatch)
                dispatch.log_decisions(self._local)  # raw into this thread's log while no one else listens
                self._unsubscribe.append(_stop_logging_decisions)
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

    def _remove_node_runner(self):
        if autograd_graph.node_runner is self._node_runner:
            autograd_graph.node_runner = None

    def clear(self):
        """Forget what was recorded so far (end of warm-up); the window starts now."""
        self._drain()  # what is still open stays open (on its thread's replay stack), as it runs on
        self.events = []
        self.memory = []
        self.orphan_dispatch = []
        self.forward_ops = {}
        self.window_start_ns = self._step_start_ns = time.perf_counter_ns()
        self.summary = RunSummary()
        # keep_steps None: (step, tid, start_ns, end_ns, [(thread log, its length)]) per step, made
        # (step, tid, start_ns, end_ns, end index in events) at stop
        self._step_marks = []
        self._retained = deque()  # keep_steps N: (StepSummary, events, memory, orphan_dispatch) per step

    def stop(self):
        for unsubscribe in reversed(self._unsubscribe):
            unsubscribe()
        self._unsubscribe = []
        _instrument.disable(self)
        self._running = False
        self.stop_ns = time.perf_counter_ns()
        _frame_cache.clear()  # it holds code objects (notebook cells...): keep them only while recording
        if self._replayed:
            return
        self._replayed = True
        if self.keep_steps is None:  # each step's calls, in the order they finished, then the rest
            marks = []
            for step, tid, start_ns, end_ns, lengths in self._step_marks:
                self._drain(lengths)
                marks.append((step, tid, start_ns, end_ns, len(self.events)))
            self._step_marks = marks
        self._drain()

    # -- steps: running summaries, and the ring buffer of detailed steps ------------------
    def end_step(self, step):
        """``prof.step()``: step ``step`` ended now. With ``keep_steps`` its calls are folded into the
        summaries and kept in the ring buffer (the oldest step beyond N loses its detail)."""
        now = time.perf_counter_ns()
        tid = threading.get_native_id()
        if self.keep_steps is None:  # replayed and folded once at the end: a mark per step here
            self._step_marks.append((step, tid, self._step_start_ns, now,
                                     [(thread_log, len(thread_log.log)) for thread_log in self._logs]))
        else:
            self._drain()
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
        for raw in events:  # forget the forward ops of dropped steps
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

    # -- per-thread logs -----------------------------------------------------------------------
    def _log(self):
        """This thread's log (made, and the thread named, on first use)."""
        try:
            return self._local.log
        except AttributeError:
            thread_log = _ThreadLog(threading.get_native_id())
            with self._logs_lock:
                self._logs.append(thread_log)
                self.threads.setdefault(thread_log.tid, threading.current_thread().name)
            self._local.log = thread_log.log
            return thread_log.log

    def _drain(self, lengths=None):
        """Replay each thread's log (up to ``lengths``: [(thread log, length)] of a step mark, else all of
        it) into ``events``/``memory``/``orphan_dispatch``. A whole drain then drops the replayed entries
        (a long keep_steps run stays bounded). Only the thread that steps or stops the profile drains;
        the others only append meanwhile."""
        whole = lengths is None
        if whole:
            with self._logs_lock:
                lengths = []
                for thread_log in self._logs:
                    lengths.append((thread_log, len(thread_log.log)))
        if len(lengths) == 1:  # one thread (a prof.step() with keep_steps): the plain path, for a few calls
            thread_log, length = lengths[0]
            if length > _REPLAY_WITH_GC_OFF:
                self._replay_gc_off(lengths)
            elif length > thread_log.done:
                self._replay(thread_log, length)
        else:
            memory_before, orphans_before = len(self.memory), len(self.orphan_dispatch)
            self._replay_gc_off(lengths)
            # records of several threads: in time order, as they happened
            self.memory[memory_before:] = sorted(self.memory[memory_before:], key=_time_of)
            self.orphan_dispatch[orphans_before:] = sorted(self.orphan_dispatch[orphans_before:], key=_first)
        if whole:
            for thread_log, length in lengths:
                del thread_log.log[:length]  # one operation: the thread may be appending meanwhile
                thread_log.done = 0

    def _replay_gc_off(self, lengths):
        gc_was_enabled = gc.isenabled()
        gc.disable()  # replay makes an event per call, all kept: cyclic GC passes over them would cost more
        try:
            for thread_log, length in lengths:
                if length > thread_log.done:
                    self._replay(thread_log, length)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _replay(self, thread_log, length):
        """Turn ``thread_log.log[done:length]`` into RawEvents: closed ones appended to ``events`` in the
        order they finished, open ones left on the thread's stack for a later replay."""
        log, stack, tid = thread_log.log, thread_log.stack, thread_log.tid
        closed, forward_ops, new = self.events, self.forward_ops, _new_object
        for entry in itertools.islice(log, thread_log.done, length):
            if entry.__class__ is int:  # the innermost open op or node ended (ranges left open inside stay)
                at = len(stack) - 1
                while at >= 0 and stack[at].cat != "cpu_op":
                    at -= 1
                if at < 0:  # it began before the window did
                    continue
                event = stack.pop(at)
                if at > 0 and stack[at - 1] is event:  # an alias calling its op (F.relu -> Tensor.relu): one call
                    continue
                event.end_ns = entry
                closed.append(event)
                if event.node is not None:  # a backward node's event: its evaluate_function event ends too
                    outer = stack.pop(at - 1)
                    outer.end_ns = entry
                    closed.append(outer)
                continue
            head = entry[0]
            if head.__class__ is str:  # an op began: (name, t), (name, inputs, t), (name, inputs, stack, source, t)
                parent = stack[-1] if stack else None
                if parent is not None and parent.name == head:  # an alias calling its op: one call, as in PyTorch
                    stack.append(parent)
                    continue
                event = new(RawEvent)  # cat: RawEvent's default, cpu_op
                event.name, event.tid, event.parent, event.start_ns = head, tid, parent, entry[-1]
                if len(entry) > 2:
                    event.inputs = entry[1]
                    if len(entry) > 3:
                        event.stack, event.source = entry[2], entry[3]
                stack.append(event)
            elif head.__class__ is tuple:  # a backward node began: ((outer name, inner name), seq, inputs, t)
                outer = new(RawEvent)
                outer.name, outer.tid, outer.parent = head[0], tid, stack[-1] if stack else None
                inner = new(RawEvent)
                inner.name, inner.tid, inner.parent = head[1], tid, outer
                outer.node = inner.node = _RAN
                inner.inputs = entry[2]
                outer.start_ns = inner.start_ns = entry[3]
                if entry[1] != _NO_SEQUENCE:
                    outer.sequence_nr = inner.sequence_nr = entry[1]
                stack.append(outer)
                stack.append(inner)
            elif head is _LINK:  # the innermost forward op running created node number entry[1]
                for event in reversed(stack):
                    if event.cat == "cpu_op" and event.node is None:
                        if event.sequence_nr < 0:
                            event.sequence_nr = entry[1]
                            forward_ops[entry[1]] = event
                        break
            elif head is _RAW_DECISION or head is _DISPATCH:
                record = dispatch.record_of(entry) if head is _RAW_DECISION else entry[1]
                if stack:
                    event = stack[-1]
                    if event.dispatch is None:
                        event.dispatch = [record]
                    else:
                        event.dispatch.append(record)
                else:
                    self.orphan_dispatch.append((entry[-1], tid, record))
            elif head is _MEMORY:
                _, kind, nbytes, live_bytes, address, time_ns = entry
                nbytes = nbytes if kind == "alloc" else -nbytes
                op = None
                if stack:
                    stack[-1].self_memory += nbytes
                    op = stack[-1].name
                self.memory.append(MemoryRecord(time_ns, tid, kind, nbytes, live_bytes, address, op))
            elif head is _FLOPS:
                at = len(stack) - 1
                while at >= 0 and stack[at].cat != "cpu_op":
                    at -= 1
                if at >= 0:
                    stack[at].flops = entry[1]
            elif head is _RANGE or head is _SCOPE:
                event = RawEvent(entry[1], "user_annotation" if head is _RANGE else _module_scopes.CATEGORY, tid,
                                 stack[-1] if stack else None)
                event.start_ns = entry[2]
                stack.append(event)
            elif head is _RANGE_END:  # the innermost open range of that name (none: it began before the window)
                for at in range(len(stack) - 1, -1, -1):
                    event = stack[at]
                    if event.cat == "user_annotation" and event.name == entry[1]:
                        event.end_ns = entry[2]
                        del stack[at]
                        closed.append(event)
                        break
            elif head is _SCOPE_END:  # the innermost open module scope
                for at in range(len(stack) - 1, -1, -1):
                    event = stack[at]
                    if event.cat == _module_scopes.CATEGORY:
                        event.end_ns = entry[1]
                        del stack[at]
                        closed.append(event)
                        break
        thread_log.done = length

    # -- ops ---------------------------------------------------------------------------------
    # The timing wrapper _instrument puts in place of each op while this collector records: one factory per
    # kind of detail (made per op binding, cached by the registry per factory), so that a call does only
    # what its profile asks for. Each reads _instrument._observer per call, so a wrapper serves every
    # later collector of the same kind.
    @property
    def make_wrapper(self):
        return _DETAIL_WRAPPERS[self.details]

    def _detailed_call(self, log, fn, name, attribute, args, kwargs):
        """An op call with with_stack and/or with_flops: its Python stack noted before it runs, its
        FLOPs counted after (outside its time)."""
        inputs = record_inputs(args, kwargs) if self.record_shapes else None
        stack, source = python_stack() if self.with_stack else (None, None)
        log.append((name, inputs, stack, source, time.perf_counter_ns()))
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            log.append(time.perf_counter_ns())
            raise
        end_ns = time.perf_counter_ns()
        if self.with_flops:
            log.append((_FLOPS, flops.count(attribute, args, kwargs, result)))
        log.append(end_ns)
        return result

    # -- backward nodes: the engine's autograd_graph.node_runner while recording --------------
    def run_node(self, node, grads, args):
        """Run ``node.apply(*args)`` as a recorded backward node: the node's event inside the engine's
        evaluate_function event, with PyTorch's input shapes of a node (``grads``, the gradients that
        flowed in; [] where none did) under record_shapes. (What the engine calls is ``_node_runner``'s
        closure, the same steps with fewer lookups.)"""
        return self._node_runner(node, grads, args)

    # -- subscriptions ---------------------------------------------------------------------
    def _on_range(self, record):
        try:
            log = self._local.log
        except AttributeError:
            log = self._log()
        log.append((_RANGE if record.kind == "begin" else _RANGE_END, record.name, record.time_ns))

    def _on_autograd(self, record):
        # ("record", node): a forward op created `node`. Begin/end of a node arrive only when another
        # listener of the topic made the engine emit them; run_node records the node itself.
        if record[0] == "record":
            try:
                log = self._local.log
            except AttributeError:
                log = self._log()
            log.append((_LINK, record[1]._sequence_nr))

    def _on_dispatch(self, record):
        try:
            log = self._local.log
        except AttributeError:
            log = self._log()
        log.append((_DISPATCH, record, time.perf_counter_ns()))

    def _on_memory(self, record):
        try:
            log = self._local.log
        except AttributeError:
            log = self._log()
        log.append((_MEMORY, record.kind, record.nbytes, record.live_bytes, record.address, time.perf_counter_ns()))


def _stop_logging_decisions():
    dispatch.log_decisions(None)


def _time_of(record):
    return record.time_ns


def _first(item):
    return item[0]


def node_name(node):
    """PyTorch's name for a backward node in traces (the leaf sink is a C++ class there)."""
    name = node.name()
    return "torch::autograd::AccumulateGrad" if name == "AccumulateGrad" else name


_RAN = True  # a closed backward event's node: only `node is not None` is read after closing
_NO_SEQUENCE = float("inf")  # the sequence number of nodes made outside any forward op
_event_names = {}  # node.name() -> (evaluate_function event name, node event name): built once per name
_class_event_names = {}  # the same per node class, for the classes whose name() is their class name


def _node_event_names(node):
    names = _event_names.get(node.name())
    if names is None:
        name = node_name(node)
        names = _event_names[node.name()] = ("autograd::engine::evaluate_function: " + name, name)
    if type(node).name is Node.name:
        _class_event_names[type(node)] = names
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


_tensor_types = set()  # the tensor classes of _kind_of_type: record_inputs' path for calls on tensors only


def record_inputs(args, kwargs, _kinds=_kind_of_type, _tensor=_TENSOR, _sequence=_SEQUENCE, _scalar=_SCALAR,
                  _scalar_list=_SCALAR_LIST, _only_tensors=_tensor_types.issuperset, _map=map, _type=type,
                  _facts=operator.attrgetter("_data.shape", "_data.dtype"), _flatten=itertools.chain.from_iterable):
    """The raw facts of an op's arguments, taken on the op's path, flat: ``shape, np.dtype`` per tensor
    (the array's shape tuple), a constant ``shape, type name`` for anything else (no tuple per argument:
    fewer objects for the cycle collector while recording). ``describe_inputs`` turns them into
    PyTorch's ``Input Dims`` / ``Input type`` when somebody reads them. (The module constants are
    default arguments: locals, ~20% fewer bytecodes per call than global lookups, on every recorded op.)"""
    if not kwargs and _only_tensors(_map(_type, args)):  # the usual call, tensors only: C loops, no bytecode per argument
        return [*_flatten(_map(_facts, args))]
    return _mixed_inputs(args if not kwargs else args + tuple(kwargs.values()))


_SLOT = object()  # a plan's template entry where a tensor's facts go
_plans = {}  # the argument types of a call -> its plan (see _mixed_inputs), for the types that decide every entry


def _mixed_inputs(values, _plans=_plans, _kinds=_kind_of_type, _scalar=_SCALAR, _map=map, _type=type,
                  _facts=operator.attrgetter("_data.shape", "_data.dtype"), _flatten=itertools.chain.from_iterable):
    """record_inputs of a call with arguments other than tensors (``values``: positional, then keyword). Once a
    call's argument types have decided every entry but the tensors', their plan (the entries as a template,
    the tensors' positions, the positions of lists of sizes) makes the next such call's inputs in C loops: a
    ``(template, tensor facts)`` tuple, merged by ``_pairs`` when read."""
    plan = _plans.get((*_map(_type, values),))
    if plan is not None:
        template, tensors, sequences = plan
        for at in sequences:  # still lists of scalars (or empty)?
            value = values[at]
            if value and _kinds.get(value[0].__class__) is not _scalar:
                return _each_input(values)
        return template, [*_flatten(_map(_facts, _map(values.__getitem__, tensors)))]
    return _each_input(values)


def _each_input(values, _kinds=_kind_of_type, _tensor=_TENSOR, _sequence=_SEQUENCE, _scalar=_SCALAR,
                _scalar_list=_SCALAR_LIST):
    """_mixed_inputs argument by argument (flat facts), making the plan of these argument types when they decide
    every entry (tensors, scalars, None, lists of sizes)."""
    raw = []
    template, tensors, sequences = [], [], []
    plannable = True
    for at, value in enumerate(values):
        kind = _kinds.get(value.__class__)
        if kind is _tensor:
            data = value._data
            raw += (data.shape, data.dtype)
            template += (_SLOT, _SLOT)
            tensors.append(at)
        elif kind is _sequence:  # a list of sizes (stride=(1, 1)...), else looked into
            if not value or _kinds.get(value[0].__class__) is _scalar:
                raw += _scalar_list
                template += _scalar_list
                sequences.append(at)
            else:
                raw += _other_input(value)
                plannable = False
        elif kind is not None:
            raw += kind
            template += kind
        else:
            raw += _other_input(value)
            plannable = False
    if plannable and len(_plans) < _MAX_PLANS:
        _plans[tuple(map(type, values))] = (tuple(template), tuple(tensors), tuple(sequences))
    return raw


_MAX_PLANS = 4096  # argument type signatures planned (a bound: programs call with few)


def _merged(planned):
    """A plan's ``(template, tensor facts)`` as record_inputs' flat facts."""
    template, facts = planned
    raw, at = [], 0
    for index in range(0, len(template), 2):
        if template[index] is _SLOT:
            raw += facts[at:at + 2]
            at += 2
        else:
            raw += template[index:index + 2]
    return raw


_facts_of_tensor = operator.attrgetter("_data.shape", "_data.dtype")
_flatten = itertools.chain.from_iterable


def _plain_wrapper(fn, name, attribute):
    """An op's timing wrapper for a profile without details: ``(name, t)`` as the op begins, ``t`` as it ends."""
    perf_counter_ns = time.perf_counter_ns
    instrument = _instrument

    def op(*args, **kwargs):
        try:
            log = instrument._observer._local.log
        except AttributeError:  # this thread has no log yet, or (None) a call that started as the profiler stopped
            collector = instrument._observer
            if collector is None:
                return fn(*args, **kwargs)
            log = collector._log()
        log.append((name, perf_counter_ns()))
        try:
            return fn(*args, **kwargs)
        finally:
            log.append(perf_counter_ns())
    return op


def _shapes_wrapper(fn, name, attribute):
    """record_shapes: ``(name, inputs, t)`` as the op begins (the inputs noted before the clock starts;
    record_inputs' tensors-only path inlined: most calls take it), ``t`` as it ends."""
    perf_counter_ns = time.perf_counter_ns
    instrument = _instrument
    only_tensors, facts, flatten, mixed_inputs = _tensor_types.issuperset, _facts_of_tensor, _flatten, _mixed_inputs

    def op(*args, **kwargs):
        try:
            log = instrument._observer._local.log
        except AttributeError:  # as in _plain_wrapper
            collector = instrument._observer
            if collector is None:
                return fn(*args, **kwargs)
            log = collector._log()
        if kwargs or not only_tensors(map(type, args)):
            log.append((name, mixed_inputs(args if not kwargs else (*args, *kwargs.values())), perf_counter_ns()))
        else:
            log.append((name, [*flatten(map(facts, args))], perf_counter_ns()))
        try:
            return fn(*args, **kwargs)
        finally:
            log.append(perf_counter_ns())
    return op


def _detailed_wrapper(fn, name, attribute):
    """with_stack / with_flops: the call goes through ``Collector._detailed_call``."""
    instrument = _instrument

    def op(*args, **kwargs):
        collector = instrument._observer
        if collector is None:
            return fn(*args, **kwargs)
        try:
            log = collector._local.log
        except AttributeError:
            log = collector._log()
        return collector._detailed_call(log, fn, name, attribute, args, kwargs)
    return op


_DETAIL_WRAPPERS = (_plain_wrapper, _shapes_wrapper, _detailed_wrapper)  # by Collector.details


def _make_node_runner(collector):
    """The engine's ``node_runner`` while ``collector`` records: ``node.apply(*args)`` as a backward node's
    events, ``((outer name, inner name), sequence number, inputs or None, t)`` as it begins and ``t`` as
    it ends (inputs: PyTorch's input shapes of a node, the gradients that flowed in, under record_shapes)."""
    local, make_log = collector._local, collector._log
    perf_counter_ns = time.perf_counter_ns
    class_names = _class_event_names
    only_tensors, facts, flatten = _tensor_types.issuperset, _facts_of_tensor, _flatten

    if not collector.record_shapes:
        def run_node(node, grads, args):
            try:
                log = local.log
            except AttributeError:
                log = make_log()
            log.append((class_names.get(node.__class__) or _node_event_names(node), node._sequence_nr, None,
                        perf_counter_ns()))
            try:
                return node.apply(*args)
            finally:
                log.append(perf_counter_ns())
        return run_node

    def run_node(node, grads, args):
        try:
            log = local.log
        except AttributeError:
            log = make_log()
        log.append((class_names.get(node.__class__) or _node_event_names(node), node._sequence_nr,
                    [*flatten(map(facts, grads))] if only_tensors(map(type, grads)) else record_inputs(grads, None),
                    perf_counter_ns()))
        try:
            return node.apply(*args)
        finally:
            log.append(perf_counter_ns())
    return run_node


def _pairs(raw):
    """record_inputs' flat facts (or a plan's tuple of them) as one (shape, type) entry per argument."""
    if raw.__class__ is tuple:
        raw = _merged(raw)
    return zip(raw[::2], raw[1::2])


def _other_input(value):
    """record_inputs' entry for a value of a type it has not classified yet (types that decide their
    entry alone, tensors and scalars, are remembered; lists and tuples are looked into each time)."""
    data = getattr(value, "_data", None)
    if data is not None and hasattr(data, "shape"):
        if isinstance(value, Tensor):
            _kind_of_type[type(value)] = _TENSOR
            _tensor_types.add(type(value))
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
