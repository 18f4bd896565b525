"""``prof.advise()``: why is it slow. Rules over a finished profile that name a cause and its fix.

Each rule reads the recorded ops (FunctionEvents), the kernel dispatch decisions attached to them
(``backend.dispatch``: which variant ran and why), the memory events (``profile_memory=True``)
and the ranges (``ProfilerStep#N``, ``DataLoader.__next__``), and yields Findings: a cause with
its evidence (numbers) and the fix, with the time at stake (an estimate of what the fix saves, in
microseconds). ``Advice`` holds them sorted by that estimate, and says which rules could not
run on this profile and why.

The rules and their thresholds (the numbers a reader may want to change are the constants below):
- python_overhead: many op calls shorter than TINY_CALL_US; at stake: their time minus the kernel
  time their dispatch records report (the Python around the kernels).
- numpy_fallback: dispatch decisions that ran NumPy for a reason other than size (dtype without a
  compiled kernel, layout, kernel family not built); at stake: their time.
- dtype_upcast: float64 ops in a program whose float ops are mostly float32; at stake: half their
  self time (float32 moves half the bytes).
- noncontiguous_copy: time in ``aten::contiguous`` / ``aten::copy_``; at stake: that time.
- allocator_churn: large allocations per step (``profile_memory=True``); at stake: the first
  touch of fresh pages, FRESH_PAGES_US_PER_MB per MB allocated.
- data_loading_stall: time in ``DataLoader.__next__``, or without a DataLoader the time inside
  steps outside any op or range; at stake: that time.
- idle_threads: kernels that ran on one thread although several cores are there and the op was
  large enough for its threaded variant; at stake: their time times (1 - 1/cores).
- activation_memory (memory, not time): blocks whose activations kept for backward are large
  (``with_modules=True, profile_memory=True``; ``_module_tree.checkpoint_advice``); at stake: the
  bytes ``torsh.utils.checkpoint`` of the block would save at the peak (``bytes_at_stake``), for
  the cost of recomputing its forward once more in backward. No time at stake: listed last.
A finding must put at least MIN_SHARE of the profiled wall time at stake, except dtype_upcast: a
float64 tensor in a float32 program is reported however little time it costs yet.
"""
import html
import os
import re
from collections import Counter

from ._module_tree import module_tree
from .table import format_memory, format_time

TINY_CALL_US = 50.0  # an op call shorter than this is mostly Python (each torsh op costs microseconds of it)
MIN_TINY_CALLS = 100
MIN_SHARE = 0.05  # of the profiled wall time, for a finding to be reported
LARGE_ALLOCATION = 1 << 20  # bytes: from here glibc maps fresh pages, touched (faulted in) on first write
MIN_LARGE_ALLOCATIONS_PER_STEP = 8
FRESH_PAGES_US_PER_MB = 100.0  # fresh 4 MB buffer filled vs a reused one, 2-core reference machine: 150 vs 50 us/MB
MIN_UNTRACKED_SHARE = 0.2  # of step time outside ops and ranges, to call it a stall when no DataLoader is seen
COPY_OPS = ("aten::contiguous", "aten::copy_")
STEP_NAME = re.compile(r"^ProfilerStep#\d+$")
LOADER_RANGE = "DataLoader.__next__"
COMPILED_VARIANTS = ("pythran_simd", "pythran_omp")
_FLOAT_NAMES = {"float": "float32", "double": "float64", "float32": "float32", "float64": "float64"}
_ITEM_SIZES = {"float": 4, "double": 8, "c10::Half": 2, "long int": 8, "int": 4, "bool": 1}


class Finding:
    """One cause of slowness: what (``cause``), the numbers behind it (``evidence``), what to do
    (``fix``) and ``time_at_stake_us``, the estimated time the fix saves."""

    def __init__(self, kind, title, cause, fix, time_at_stake_us, evidence, share, bytes_at_stake=None):
        self.kind, self.title, self.cause, self.fix = kind, title, cause, fix
        self.time_at_stake_us = time_at_stake_us
        self.evidence = evidence
        self.share = share  # time at stake / profiled wall time
        self.bytes_at_stake = bytes_at_stake  # memory findings: the peak bytes the fix saves

    def stake(self):
        """"~1.2 ms at stake (30% of the profiled time)", or the bytes of a memory finding."""
        if self.bytes_at_stake is not None:
            return f"~{format_memory(self.bytes_at_stake)} of peak memory at stake"
        return f"~{format_time(self.time_at_stake_us)} at stake ({self.share:.0%} of the profiled time)"

    def to_text(self):
        lines = [f"[{self.kind}] {self.title}: {self.stake()}", f"  cause: {self.cause}", f"  fix: {self.fix}"]
        lines += [f"    {key}: {_shown(value)}" for key, value in self.evidence.items()]
        return "\n".join(lines)

    def __repr__(self):
        return f"<Finding {self.kind}: {self.title}, {self.stake()}>"


class Advice:
    """The findings of ``prof.advise()``, largest time at stake first; ``skipped``: rule -> why it
    could not run on this profile (e.g. memory rules without profile_memory=True)."""

    def __init__(self, findings, skipped, wall_us):
        self.findings = sorted(findings, key=lambda f: -f.time_at_stake_us)
        self.skipped = dict(skipped)
        self.wall_us = wall_us

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)

    def __getitem__(self, index):
        return self.findings[index]

    def kinds(self):
        return [f.kind for f in self.findings]

    def of_kind(self, kind):
        return [f for f in self.findings if f.kind == kind]

    def _header(self):
        found = f"{len(self)} finding{'s' if len(self) != 1 else ''}" if self.findings else "no finding"
        return f"torsh profiler advice: {found} over {format_time(self.wall_us)} profiled"

    def to_text(self):
        lines = [self._header()]
        lines += [f.to_text() for f in self.findings]
        lines += [f"  (not checked: {kind}: {why})" for kind, why in self.skipped.items()]
        return "\n".join(lines)

    def __repr__(self):
        return self.to_text()

    def to_html(self):
        blocks = [f"<div><b>{html.escape(self._header())}</b></div>"]
        for f in self.findings:
            evidence = "".join(f"<tr><td style='padding:1px 8px;color:#555'>{html.escape(k)}</td>"
                               f"<td style='padding:1px 8px'>{html.escape(_shown(v))}</td></tr>"
                               for k, v in f.evidence.items())
            blocks.append(
                f"<div class='torsh-finding' style='margin:6px 0;padding:4px 8px;border-left:4px solid #e45756'>"
                f"<div><b>{html.escape(f.title)}</b> <code>{f.kind}</code>: {html.escape(f.stake())}</div>"
                f"<div>{html.escape(f.cause)}</div><div><b>Fix:</b> {html.escape(f.fix)}</div>"
                f"<table style='font-size:11px'>{evidence}</table></div>")
        if self.skipped:
            blocks.append("<div style='color:#777'>Not checked: " + "; ".join(
                f"{html.escape(k)} ({html.escape(v)})" for k, v in self.skipped.items()) + "</div>")
        return "".join(blocks)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.to_html(), "text/plain": self.to_text()}


def _shown(value):
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return str(value)


class _Skip(Exception):
    """A rule that cannot run on this profile; the message says what it needs."""


# -- what the rules read --------------------------------------------------------------------

class ProfileFacts:
    """A finished profile's results, indexed once for the rules."""

    def __init__(self, result):
        self.result = result
        self.options = result.options
        self.events = list(result.events)
        self.ops = [e for e in self.events if e.category == "cpu_op"]
        self.steps = [e for e in self.events if e.category == "user_annotation" and STEP_NAME.match(e.name)]
        self.memory = result.memory
        self.wall_us = max((result.stop_ns - result.start_ns) / 1000.0, 1e-9)
        self.decisions = [(e.name, d) for e in self.events for d in e.dispatch]
        self.decisions += [("", d) for _, _, d in result.orphan_dispatch]

    def share(self, us):
        return us / self.wall_us

    def step_of(self, time_us):
        """Index of the step holding ``time_us`` (0 for the whole window when there are no steps), or None."""
        if not self.steps:
            return 0
        for index, step in enumerate(self.steps):
            if step.time_range.start <= time_us <= step.time_range.end:
                return index
        return None


def _finding(facts, kind, title, cause, fix, at_stake_us, evidence, minimum_share=None):
    share = facts.share(at_stake_us)
    if share < (MIN_SHARE if minimum_share is None else minimum_share):
        return []
    return [Finding(kind, title, cause, fix, at_stake_us, evidence, share)]


def _top(counter, n=5):
    return dict(counter.most_common(n))


# -- the rules ----------------------------------------------------------------------------------

def python_overhead(facts):
    tiny = [e for e in facts.ops if e.cpu_time_total < TINY_CALL_US
            and not any(c.category == "cpu_op" for c in e.cpu_children)]
    if len(tiny) < MIN_TINY_CALLS:
        return []
    spent = sum(e.cpu_time_total for e in tiny)
    kernel = sum(d["us"] for e in tiny for d in e.dispatch)
    overhead = max(spent - kernel, 0.0)
    evidence = {"calls": len(tiny), "mean_us": spent / len(tiny), "time_us": spent, "kernel_us": kernel,
                "overhead_us": overhead, "ops": _top(Counter(e.name for e in tiny))}
    return _finding(
        facts, "python_overhead", "Ops dominated by Python overhead",
        f"{len(tiny):,} op calls shorter than {TINY_CALL_US:g} us each ({spent / len(tiny):.1f} us on average) "
        f"took {format_time(spent)}, of which their kernels did {format_time(kernel)}: the rest is the Python "
        "and dispatch work of each call",
        "Make fewer, larger calls: vectorise the loop (one op over a stacked tensor rather than one per "
        "element or row), use bigger batches, or fuse the elementwise chain with torsh.compile (one pass "
        "instead of one Python call per op).", overhead, evidence)


def numpy_fallback(facts):
    groups = {}
    for op_name, d in facts.decisions:
        if d["variant"] in COMPILED_VARIANTS or _is_size_choice(d["reason"]):
            continue
        calls, us, ops, dtypes = groups.get(d["reason"], (0, 0.0, Counter(), Counter()))
        ops[d["op"]] += 1
        dtypes[d["dtype"]] += 1
        groups[d["reason"]] = (calls + 1, us + d["us"], ops, dtypes)
    findings = []
    for reason, (calls, us, ops, dtypes) in groups.items():
        evidence = {"reason": reason, "calls": calls, "time_us": us, "ops": _top(ops), "dtypes": _top(dtypes)}
        findings += _finding(
            facts, "numpy_fallback", f"NumPy fallback: {reason}",
            f"{calls:,} kernel calls ({', '.join(ops)}) ran on NumPy because {reason}, "
            f"taking {format_time(us)}", _fallback_fix(reason), us, evidence)
    return findings


def _is_size_choice(reason):
    """NumPy chosen on purpose: too few elements for a compiled kernel to pay ('numel 10 < threshold 512')."""
    return reason.startswith("numel") and " < " in reason


def _fallback_fix(reason):
    if reason.startswith("dtype"):
        return ("Compiled kernels take float32 and float64: compute in float32 (.float()) and convert "
                "back only where that dtype is needed.")
    if "contiguous" in reason:
        return ("Give the kernel contiguous operands of one shape: make a transposed or sliced tensor "
                "contiguous once where it is built (outside loops), and expand a broadcast operand once "
                "if it is reused.")
    if "not compiled" in reason:
        return ("Build torsh's compiled kernels (reinstall with its meson build); "
                "torsh.backends.kernels_available() lists the families that loaded.")
    return "See torsh.backend.dispatch.explain(op, numel, dtype) for when the op runs a compiled kernel."


def dtype_upcast(facts):
    per_dtype = Counter()
    f64_events = []
    for e in facts.ops:
        dtypes = _float_dtypes(e)
        per_dtype.update(dtypes)
        if "float64" in dtypes:
            f64_events.append(e)
    if not facts.options.get("record_shapes") and not facts.decisions:
        raise _Skip("needs record_shapes=True or kernel dispatch records")
    if not f64_events or per_dtype["float32"] < per_dtype["float64"]:
        return []
    entries = Counter(e.name for e in f64_events if "float32" in _float_dtypes(e))
    first = min(f64_events, key=lambda e: e.time_range.start)
    f64_time = sum(e.self_cpu_time_total for e in f64_events)
    evidence = {"float64_calls": len(f64_events), "float32_calls": per_dtype["float32"], "float64_time_us": f64_time,
                "first_float64_op": first.name, "mixed_float32_float64_ops": dict(entries),
                "float64_ops": _top(Counter(e.name for e in f64_events))}
    where = f", first {first.name}" + (f"; float32 meets float64 in {', '.join(entries)}" if entries else "")
    return _finding(
        facts, "dtype_upcast", "float64 in a float32 program",
        f"{len(f64_events):,} op calls ran in float64 ({format_time(f64_time)} of self time) among "
        f"{per_dtype['float32']:,} float32 calls{where}: a float64 operand promotes everything computed from it",
        "Keep every tensor float32: build constants and buffers with dtype=torsh.float32 (torsh.from_numpy and "
        "torsh.tensor of a NumPy float64 array stay float64: add .float()), and check the dtype of the batches "
        "the data pipeline yields.", f64_time / 2, evidence, minimum_share=0.0)


def _float_dtypes(event):
    """The float dtypes an op computed in: its tensor inputs' (a 0-d tensor does not promote a
    dimensioned one, so it does not count) and its kernels'."""
    shapes = event.input_shapes or ()
    names = {_FLOAT_NAMES.get(t) for i, t in enumerate(event.input_types or ())
             if not (i < len(shapes) and shapes[i] == [] and t != "Scalar")}
    names.update(_FLOAT_NAMES.get(d["dtype"]) for d in event.dispatch)
    names.discard(None)
    return names


def noncontiguous_copy(facts):
    copies = [e for e in facts.ops if e.name in COPY_OPS and not _has_ancestor_in(e, COPY_OPS)]
    if not copies:
        return []
    spent = sum(e.cpu_time_total for e in copies)
    evidence = {"calls": len(copies), "time_us": spent, "ops": _top(Counter(e.name for e in copies))}
    copied = sum(_input_bytes(e) for e in copies)
    if copied:
        evidence["bytes_copied"] = copied
    return _finding(
        facts, "noncontiguous_copy", "Copies into contiguous memory",
        f"{len(copies):,} calls of {' / '.join(sorted({e.name for e in copies}))} copied tensors into a "
        f"contiguous layout, taking {format_time(spent)}" + (f" ({format_memory(copied)})" if copied else ""),
        "Copy once: make the tensor contiguous where it is built, outside the loop, or keep the layout its "
        "consumer reads (permute weights or data once rather than every step).", spent, evidence)


def _has_ancestor_in(event, names):
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.cpu_parent
    return False


def _input_bytes(event):
    if not event.input_shapes or not event.input_types:
        return 0
    shape, type_name = event.input_shapes[0], event.input_types[0]
    if not isinstance(shape, list) or any(not isinstance(n, int) for n in shape):
        return 0
    count = 1
    for n in shape:
        count *= n
    return count * _ITEM_SIZES.get(type_name, 0)


def allocator_churn(facts):
    if not facts.options.get("profile_memory"):
        raise _Skip("needs profile_memory=True")
    per_step, nbytes, by_op = Counter(), 0, Counter()
    for record in facts.memory:
        if record.kind != "alloc" or record.nbytes < LARGE_ALLOCATION:
            continue
        step = facts.step_of(record.time_ns / 1000.0)
        if step is None:
            continue
        per_step[step] += 1
        nbytes += record.nbytes
        by_op[record.op or "(outside ops)"] += 1
    steps = max(len(facts.steps), 1)
    count = sum(per_step.values())
    if count / steps < MIN_LARGE_ALLOCATIONS_PER_STEP:
        return []
    at_stake = nbytes / (1 << 20) * FRESH_PAGES_US_PER_MB
    evidence = {"large_allocations": count, "steps": steps, "per_step": count / steps,
                "bytes_per_step": nbytes // steps, "ops": _top(by_op)}
    return _finding(
        facts, "allocator_churn", "Allocator churn",
        f"{count / steps:.1f} allocations of at least {format_memory(LARGE_ALLOCATION)} per step "
        f"({format_memory(nbytes // steps)} a step); fresh pages are faulted in and zeroed on first touch",
        "Reuse buffers: write into preallocated outputs (out=), use in-place ops (add_, mul_) on temporaries, "
        "and keep shapes fixed from step to step so torsh's buffer pool can recycle them.",
        at_stake, evidence)


def data_loading_stall(facts):
    loads = [e for e in facts.events if e.name == LOADER_RANGE]
    if loads:
        waited = sum(e.cpu_time_total for e in loads)
        evidence = {"calls": len(loads), "time_us": waited, "mean_us": waited / len(loads)}
        return _finding(
            facts, "data_loading_stall", "Waiting for data",
            f"{len(loads):,} calls of DataLoader.__next__ waited {format_time(waited)} for batches "
            f"({format_time(waited / len(loads))} each) while no computation ran",
            "Load in the background: DataLoader(num_workers=2 or more, persistent_workers=True) prepares the "
            "next batches while the step runs; make __getitem__ cheaper (decode or augment once, cache).",
            waited, evidence)
    if not facts.steps:
        raise _Skip("needs ProfilerStep ranges (a schedule) or DataLoader ranges")
    step_time = sum(s.cpu_time_total for s in facts.steps)
    outside = sum(s.self_cpu_time_total for s in facts.steps)
    if outside < MIN_UNTRACKED_SHARE * step_time:
        return []
    evidence = {"steps": len(facts.steps), "step_time_us": step_time, "outside_ops_us": outside}
    return _finding(
        facts, "data_loading_stall", "Time between ops",
        f"{outside / step_time:.0%} of the steps' time ({format_time(outside)}) ran outside any op or "
        "range: Python between ops, such as data loaded by hand, logging or .item() conversions",
        "Move data preparation into a DataLoader with workers, and host-side work (logging, metrics) out of "
        "the step or to every Nth step.", outside, evidence)


def idle_threads(facts):
    cores = _cores()
    if cores < 2:
        raise _Skip("one core available")
    single = [(op, d) for op, d in facts.decisions
              if d["variant"] not in ("pythran_omp",) and _single_thread_cause(d["reason"])]
    if not single:
        return []
    spent = sum(d["us"] for _, d in single)
    causes = Counter(_single_thread_cause(d["reason"]) for _, d in single)
    cause = causes.most_common(1)[0][0]
    evidence = {"calls": len(single), "time_us": spent, "cores": cores, "cause": cause, "ops": _top(Counter(d["op"] for _, d in single))}
    fix = ("Run this work in the main process, or start worker processes with the 'spawn' start method "
           "(OpenMP cannot run in a fork() child)." if cause.startswith("forked")
           else f"torsh.set_num_threads({cores}) (or unset OMP_NUM_THREADS=1) so large kernels use every core.")
    return _finding(
        facts, "idle_threads", "Idle cores",
        f"{len(single):,} kernel calls large enough for the threaded variant ran on one thread "
        f"({format_time(spent)}) while {cores} cores were there: {cause}", fix, spent * (1 - 1 / cores), evidence)


def _single_thread_cause(reason):
    """What kept a kernel on one thread (threads.single_thread_reason's text in the record), or None."""
    for marker in ("one thread (", "forked process"):
        at = reason.find(marker)
        if at >= 0:
            return reason[at:]
    return None


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def activation_memory(facts):
    if not (facts.options.get("with_modules") and facts.options.get("profile_memory")):
        raise _Skip("needs with_modules=True and profile_memory=True")
    tree = module_tree(facts.result)
    findings = []
    for node in tree.checkpoint_advice():
        recompute_us = node.forward_us / max(node.calls, 1)
        evidence = {"block": node.label, "activations_kept_bytes": node.total("activations_self"),
                    "checkpoint_saving_bytes": node.checkpoint_saving,
                    "step_activations_bytes": tree.activations_per_step(), "recompute_us_per_call": recompute_us}
        findings.append(Finding(
            "activation_memory", f"Activations of {node.label}",
            f"{node.label} keeps {format_memory(node.total('activations_self'))} of activations for backward "
            f"(of {format_memory(tree.activations_per_step())} kept by all modules in a step); all but its "
            "output could be recomputed in backward",
            f"recompute {node.label} with torsh.utils.checkpoint to save {format_memory(node.checkpoint_saving)}: "
            f"y = checkpoint(block, x, use_reentrant=False), at the cost of running its forward again in "
            f"backward (~{format_time(recompute_us)} a call here)",
            0.0, evidence, 0.0, bytes_at_stake=node.checkpoint_saving))
    return findings


RULES = (python_overhead, numpy_fallback, dtype_upcast, noncontiguous_copy, allocator_churn, data_loading_stall,
         idle_threads, activation_memory)


def advise_result(result):
    """Run every rule over a ProfileResult; an Advice."""
    facts = ProfileFacts(result)
    findings, skipped = [], {}
    for rule in RULES:
        try:
            findings += rule(facts)
        except _Skip as why:
            skipped[rule.__name__] = str(why)
    return Advice(findings, skipped, facts.wall_us)
