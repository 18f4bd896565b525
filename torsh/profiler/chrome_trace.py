"""The one producer of profiler trace JSON (Chrome Trace Event Format; Perfetto, chrome://tracing).

``build_trace(result)`` returns the JSON object; ``export_chrome_trace`` writes it. The
JupyterLab viewer reads the same object, so its shape is documented here:

- top level: ``traceEvents`` plus ``schemaVersion``, ``displayTimeUnit``, ``baseTimeNanoseconds``
  (wall clock of ts=0, so absolute time = baseTimeNanoseconds + ts*1000), ``deviceProperties``,
  ``traceName``, the profile options and ``producer``.
- ``"M"`` metadata: ``process_name``, ``process_labels``, ``thread_name``, ``thread_sort_index``.
- ``"X"`` complete events (``ts``/``dur`` in microseconds of the monotonic clock, ``pid``/``tid``):
  ops (``cat: cpu_op``, ``aten::add``), backward nodes (``autograd::engine::evaluate_function: X``
  enclosing ``X``), ranges (``cat: user_annotation``: record_function, ProfilerStep#N,
  DataLoader.__next__, Optimizer.step#SGD.step). Args: ``External id``, ``Sequence number``,
  ``Fwd thread id``, ``Input Dims``, ``Input type``, ``flops``, ``Dispatch``: the kernel
  variant decisions made directly inside the call (op, variant, reason, numel, dtype, us); with
  ``with_stack``, ``Call stack`` (frames innermost first, ';'-separated, as PyTorch) and ``Source
  file`` / ``Source line``: the user's line that called the op (first frame outside torsh).
- ``"s"``/``"f"`` flow events (``cat: fwdbwd``): forward op -> backward node of the same sequence number.
- ``"i"`` instants ``[memory]`` (args ``Addr``, ``Bytes`` (negative for a free), ``Total Allocated``,
  ``Op``) and ``dispatch::<op>`` for decisions made outside any recorded call.
- ``"C"`` counter ``CPU Memory`` with arg ``Live Bytes``: the live-bytes track.
- Summaries (summary.py), for traces that scale: with more than one step (``prof.step()``), a
  track (tid 0, ``steps``) of one ``"X"`` ``ProfilerStep#N`` per recorded step, ``cat:
  step_summary``, args ``Step``, ``Ops`` (calls), ``Op self us``, ``Self memory``, ``Detailed``
  (0 when ``keep_steps`` dropped its calls); and the top-level ``torshSummary``: ``steps``,
  ``keepSteps``, ``detailedSteps`` ([first, last] step with full detail) and ``ops`` (per op
  name and cat: count, total_us, self_us, min_us, max_us, memory, self_memory, over all steps).
  Viewers read these first and the detailed events after (Perfetto ignores the extra key).
"""
import json

from ._files import write_text_atomically

SCHEMA_VERSION = 1
MIME_TYPE = "application/vnd.torsh.trace+json"  # notebooks: docs/schemas/trace.schema.json
MEMORY_COUNTER = "CPU Memory"
STEP_TRACK_TID = 0  # the summary track of steps: no real thread has native id 0


def _us(ns):
    return round(ns / 1000.0, 3)


def _duration_us(event):
    return round(event.time_range.end - event.time_range.start, 3)


def _event_args(event):
    args = {"External id": event.id, "Ev Idx": event.id}
    if event.sequence_nr >= 0:
        args["Sequence number"] = event.sequence_nr
    if getattr(event, "is_backward", False):
        args["Fwd thread id"] = event.fwd_thread
    if event.input_types is not None:
        args["Input Dims"] = event.input_shapes
        args["Input type"] = event.input_types
    if event.flops:
        args["flops"] = event.flops
    if event.dispatch:
        args["Dispatch"] = event.dispatch
    if event.stack:  # with_stack: as PyTorch's Kineto trace, frames innermost first, ';'-separated
        args["Call stack"] = ";".join(event.stack)
    if event.source is not None:
        args["Source file"], args["Source line"] = event.source
    return args


def build_trace(result, trace_name=""):
    """The trace of one ProfileResult as a JSON-ready dict."""
    pid = result.pid
    trace = []
    trace.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "ts": 0, "args": {"name": "python"}})
    trace.append({"ph": "M", "name": "process_labels", "pid": pid, "tid": 0, "ts": 0, "args": {"labels": "CPU"}})
    for index, (tid, name) in enumerate(sorted(result.threads.items())):
        trace.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0,
                      "args": {"name": f"{name} (thread {tid})"}})
        trace.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "ts": 0,
                      "args": {"sort_index": index}})

    summary = getattr(result, "summary", None)
    if summary is not None and len(summary.steps) > 1:
        trace += _step_track(pid, summary.steps)
    for event in result.events:
        trace.append({"ph": "X", "cat": event.category, "name": event.name, "pid": pid, "tid": event.thread,
                      "ts": round(event.time_range.start, 3), "dur": _duration_us(event),
                      "args": _event_args(event)})
    for event in result.events:  # arrows from each forward op to the backward node it created
        forward = getattr(event, "forward_op", None)
        if forward is None:
            continue
        flow = {"cat": "fwdbwd", "name": "fwdbwd", "id": event.id, "pid": pid}
        trace.append(dict(flow, ph="s", tid=forward.thread, ts=round(forward.time_range.start, 3)))
        trace.append(dict(flow, ph="f", bp="e", tid=event.thread, ts=round(event.time_range.start, 3)))

    for record in result.memory:
        ts = _us(record.time_ns)
        trace.append({"ph": "i", "s": "t", "cat": "cpu_instant_event", "name": "[memory]", "pid": pid,
                      "tid": record.tid, "ts": ts,
                      "args": {"Addr": record.address, "Bytes": record.nbytes, "Total Allocated": record.live_bytes,
                               "Op": record.op}})
        trace.append({"ph": "C", "name": MEMORY_COUNTER, "pid": pid, "ts": ts,
                      "args": {"Live Bytes": record.live_bytes}})
    for time_ns, tid, decision in result.orphan_dispatch:
        trace.append({"ph": "i", "s": "t", "cat": "dispatch", "name": "dispatch::" + decision["op"], "pid": pid,
                      "tid": tid, "ts": _us(time_ns), "args": decision})

    return {
        "schemaVersion": SCHEMA_VERSION,
        "producer": "torsh.profiler",
        "deviceProperties": [],
        "displayTimeUnit": "ms",
        "baseTimeNanoseconds": result.base_time_ns,
        "traceName": trace_name,
        "record_shapes": int(bool(result.options.get("record_shapes"))),
        "profile_memory": int(bool(result.options.get("profile_memory"))),
        "with_stack": int(bool(result.options.get("with_stack"))),
        "with_flops": int(bool(result.options.get("with_flops"))),
        "torshSummary": summary.to_json(getattr(result, "keep_steps", None)) if summary is not None else None,
        "traceEvents": trace,
    }


def _step_track(pid, steps):
    """The ``steps`` track: one box per step, also for the steps whose detail was dropped."""
    track = [{"ph": "M", "name": "thread_name", "pid": pid, "tid": STEP_TRACK_TID, "ts": 0,
              "args": {"name": "steps (every step, summarized)"}},
             {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": STEP_TRACK_TID, "ts": 0,
              "args": {"sort_index": -1}}]
    for step in steps:
        track.append({"ph": "X", "cat": "step_summary", "name": f"ProfilerStep#{step.step}", "pid": pid,
                      "tid": STEP_TRACK_TID, "ts": _us(step.start_ns), "dur": _us(step.end_ns - step.start_ns),
                      "args": {"Step": step.step, "Ops": step.ops, "Op self us": _us(step.op_self_ns),
                               "Self memory": step.self_memory, "Detailed": int(step.detailed)}})
    return track


DISPLAY_MAX_CALLS = 100_000  # a notebook output embeds at most this many calls (the export has all)


def for_display(trace, max_calls=DISPLAY_MAX_CALLS):
    """The trace a notebook output embeds: the whole trace, or, for a run of several steps with more
    than ``max_calls`` calls, its summaries (every step) with the calls of the last steps that fit;
    the dropped steps show as summarized (``Detailed`` 0) and ``torshDisplay`` says what was left out."""
    events = trace["traceEvents"]
    steps = sorted((e for e in events if e.get("cat") == "step_summary"), key=lambda e: e["ts"])
    calls = [e for e in events if e["ph"] == "X" and e.get("cat") != "step_summary"]
    if len(calls) <= max_calls or len(steps) < 2:
        return trace
    latest_starts = sorted(e["ts"] for e in calls)[len(calls) - max_calls:]
    shown = [step for step in steps if step["ts"] >= latest_starts[0]] or steps[-1:]
    cutoff = shown[0]["ts"]
    early_flows = {e["id"] for e in events if e["ph"] in ("s", "f") and e["ts"] < cutoff}
    kept = []
    for event in events:
        if event.get("cat") == "step_summary":
            detailed = int(event["ts"] >= cutoff and event["args"]["Detailed"])
            event = dict(event, args=dict(event["args"], Detailed=detailed))
        elif event["ph"] in ("s", "f"):
            if event["id"] in early_flows:
                continue
        elif event["ph"] != "M" and event["ts"] < cutoff:
            continue
        kept.append(event)
    summary = dict(trace["torshSummary"], detailedSteps=[shown[0]["args"]["Step"], shown[-1]["args"]["Step"]])
    shown_calls = sum(1 for e in kept if e["ph"] == "X" and e.get("cat") != "step_summary")
    return dict(trace, traceEvents=kept, torshSummary=summary,
                torshDisplay={"calls": len(calls), "callsShown": shown_calls,
                              "note": "the notebook shows the last steps' calls; export_chrome_trace writes all"})


def export_chrome_trace(result, path):
    """Write the trace of ``result`` to ``path`` (gzip when it ends in .gz), atomically."""
    text = json.dumps(build_trace(result, trace_name=str(path)), separators=(",", ":"), default=str)
    write_text_atomically(path, text)
