"""Running summaries: per-op and per-step totals over every recorded step, whatever detail is kept.

A long run (``profile(keep_steps=N)``) keeps full event detail only for its last N steps; the
calls of every step are folded into these totals as the step ends, so the table and the trace
still count all of them. Without ``keep_steps`` the same fold runs once at stop over all events.

Folding reads the collector's raw events in the order they finished: a call always finishes
before the call around it, so when a call is folded the time and memory of everything inside
it has already been added to it (``children_ns``, ``children_memory``): self time is exact, as
in ``key_averages``.
"""

_NS_PER_US = 1000.0


class OpSummary:
    """Totals of one key (name; ranges apart from ops), times in ns, memory in bytes."""

    __slots__ = ("name", "cat", "count", "total_ns", "self_ns", "min_ns", "max_ns", "memory", "self_memory")

    def __init__(self, name, cat):
        self.name, self.cat = name, cat
        self.count = self.total_ns = self.self_ns = self.memory = self.self_memory = 0
        self.min_ns = self.max_ns = None

    def add(self, duration_ns, self_ns, memory, self_memory):
        self.count += 1
        self.total_ns += duration_ns
        self.self_ns += self_ns
        self.memory += memory
        self.self_memory += self_memory
        self.min_ns = duration_ns if self.min_ns is None else min(self.min_ns, duration_ns)
        self.max_ns = duration_ns if self.max_ns is None else max(self.max_ns, duration_ns)

    def merge(self, other):
        self.count += other.count
        self.total_ns += other.total_ns
        self.self_ns += other.self_ns
        self.memory += other.memory
        self.self_memory += other.self_memory
        for attribute, pick in (("min_ns", min), ("max_ns", max)):
            mine, theirs = getattr(self, attribute), getattr(other, attribute)
            setattr(self, attribute, theirs if mine is None else mine if theirs is None else pick(mine, theirs))

    def to_json(self):
        return {"name": self.name, "cat": self.cat, "count": self.count,
                "total_us": round(self.total_ns / _NS_PER_US, 3), "self_us": round(self.self_ns / _NS_PER_US, 3),
                "min_us": round((self.min_ns or 0) / _NS_PER_US, 3), "max_us": round((self.max_ns or 0) / _NS_PER_US, 3),
                "memory": self.memory, "self_memory": self.self_memory}


class StepSummary:
    """One step: its time span (between two ``prof.step()`` calls), the ops it ran and their self time."""

    __slots__ = ("step", "tid", "start_ns", "end_ns", "ops", "op_self_ns", "self_memory", "detailed")

    def __init__(self, step, tid, start_ns, end_ns):
        self.step, self.tid, self.start_ns, self.end_ns = step, tid, start_ns, end_ns
        self.ops = self.op_self_ns = self.self_memory = 0
        self.detailed = True  # False once the ring buffer dropped the step's events


class RunSummary:
    """Per-op (``ops``: key -> OpSummary) and per-step (``steps``: [StepSummary]) totals."""

    def __init__(self):
        self.ops = {}
        self.steps = []

    def fold_step(self, step, tid, start_ns, end_ns, raw_events):
        """Add the calls that finished during one step (in finishing order) to the totals."""
        summary = StepSummary(step, tid, start_ns, end_ns)
        ops = self.ops
        for raw in raw_events:
            duration = raw.end_ns - raw.start_ns
            self_ns = duration - raw.children_ns
            memory = raw.self_memory + raw.children_memory
            parent = raw.parent
            if parent is not None:
                parent.children_ns += duration
                parent.children_memory += memory
            key = (raw.name, raw.cat)
            op = ops.get(key)
            if op is None:
                op = ops[key] = OpSummary(raw.name, raw.cat)
            op.add(duration, self_ns, memory, raw.self_memory)
            if raw.cat == "cpu_op":
                summary.ops += 1
                summary.op_self_ns += self_ns
                summary.self_memory += raw.self_memory
        self.steps.append(summary)
        return summary

    def merge(self, later):
        """This run followed by ``later`` (``acc_events=True``)."""
        for key, op in later.ops.items():
            mine = self.ops.get(key)
            if mine is None:
                self.ops[key] = op
            else:
                mine.merge(op)
        self.steps += later.steps
        return self

    def to_json(self, keep_steps=None):
        """The ``torshSummary`` object of the trace (see chrome_trace.py)."""
        ops = sorted(self.ops.values(), key=lambda op: -op.self_ns)
        detailed = [s.step for s in self.steps if s.detailed]
        return {"steps": len(self.steps), "keepSteps": keep_steps,
                "detailedSteps": [min(detailed), max(detailed)] if detailed else None,
                "ops": [op.to_json() for op in ops]}
