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
- Source cells: an op called from a notebook cell (IPython/ipykernel compile cells to files like
  ``/tmp/ipykernel_*/<hash>.py``) also has ``Source cell``: the cell's execution count (In [N]).
- Pages, for big traces (``export_chrome_trace(path, pages=...)``; by default above
  ``PAGED_ABOVE_EVENTS`` detail events): the file at ``path`` is a whole Chrome trace of the
  metadata, the step track, ``torshSummary`` and the detail (every event but those) of the last
  page; the detail of the other pages is in ``path + ".pages/NNNN.json"`` (``{"traceEvents": [...],
  "torshPage": entry}``), whole steps per page and a call tree never split. The index is the top-level
  ``torshPages``: ``version``, ``dir`` (relative to the main file), ``events`` (all detail events) and
  ``pages``: [{``file`` (null: in the main file), ``steps`` ([first, last] or null without steps),
  ``ts`` ([first start, last end] in us), ``events``}], in time order. Main file and pages together
  hold exactly the events of the unpaged export. Viewers fetch a page when the view reaches it.
"""
import bisect
import gzip
import json
import os
import re
import sys

from ._files import write_text_atomically

SCHEMA_VERSION = 1
MIME_TYPE = "application/vnd.torsh.trace+json"  # notebooks: docs/schemas/trace.schema.json
MEMORY_COUNTER = "CPU Memory"
STEP_TRACK_TID = 0  # the summary track of steps: no real thread has native id 0


def _us(ns):
    return round(ns / 1000.0, 3)


def _duration_us(event):
    return round(event.time_range.end - event.time_range.start, 3)


def notebook_cells():
    """{file name a cell was compiled to: its execution count} of this IPython/ipykernel session
    (IPython's own map, also behind its tracebacks' "In [N]"), or {} outside IPython."""
    ipython = sys.modules.get("IPython")  # never imported here: only read when the session runs it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return dict(getattr(getattr(shell, "compile", None), "_filename_map", None) or {})


def _event_args(event, cells):
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
        cell = cells.get(event.source[0])
        if cell is not None:
            args["Source cell"] = cell
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
    cells = notebook_cells() if result.options.get("with_stack") else {}
    for event in result.events:
        trace.append({"ph": "X", "cat": event.category, "name": event.name, "pid": pid, "tid": event.thread,
                      "ts": round(event.time_range.start, 3), "dur": _duration_us(event),
                      "args": _event_args(event, cells)})
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


PAGED_ABOVE_EVENTS = 200_000  # export_chrome_trace(pages=None) pages a trace with more detail events
PAGE_EVENTS = 50_000  # detail events per page (whole steps: a page of one big step may hold more)
PAGES_VERSION = 1
_PAGE_FILE = re.compile(r"^\d{4}\.json(\.gz)?$")


def _is_detail(event):
    """Everything but the metadata and the step track: what pages hold."""
    return event["ph"] != "M" and event.get("cat") != "step_summary"


def detail_events(trace):
    """How many events of ``trace`` are detail (what pages split)."""
    return sum(1 for e in trace["traceEvents"] if _is_detail(e))


def _page_times(detail):
    """Per detail event, the time that places it in a page: a call's outermost enclosing call's start
    (a call tree stays in one page), a flow's start for both ends, else its own time."""
    times = [e["ts"] for e in detail]
    by_thread = {}
    for index, event in enumerate(detail):
        if event["ph"] == "X":
            by_thread.setdefault((event["pid"], event.get("tid", 0)), []).append(index)
    for indices in by_thread.values():
        indices.sort(key=lambda i: (detail[i]["ts"], -detail[i]["dur"]))
        root_start, root_end = None, None
        for i in indices:
            event = detail[i]
            if root_end is None or event["ts"] >= root_end:  # outside the current tree: a new root
                root_start, root_end = event["ts"], event["ts"] + event["dur"]
            times[i] = root_start
    flow_starts = {(e.get("cat"), e.get("id")): e["ts"] for e in detail if e["ph"] == "s"}
    for index, event in enumerate(detail):
        if event["ph"] == "f":
            times[index] = flow_starts.get((event.get("cat"), event.get("id")), event["ts"])
    return times


def split_pages(trace, page_events=PAGE_EVENTS):
    """(head, pages): the events every page shares (metadata, step track) and the detail cut into
    pages of about ``page_events`` events, each ``{"steps", "ts", "events": [...]}``, in time order.
    With a step track, pages hold whole steps; detail before the first step joins the first page."""
    head = [e for e in trace["traceEvents"] if not _is_detail(e)]
    detail = [e for e in trace["traceEvents"] if _is_detail(e)]
    times = _page_times(detail)
    steps = sorted((e for e in head if e.get("cat") == "step_summary"), key=lambda e: e["ts"])
    starts = [e["ts"] for e in steps]
    pages, current, last_cut = [], None, None
    for index in sorted(range(len(detail)), key=times.__getitem__):
        time = times[index]
        step = max(bisect.bisect_right(starts, time) - 1, 0) if steps else None
        cut = step if steps else time  # a page may end where this changes
        if current is None or (len(current["events"]) >= page_events and cut != last_cut):
            current = {"first": step, "last": step, "events": []}
            pages.append(current)
        current["last"], last_cut = step, cut
        current["events"].append(detail[index])
    for page in pages:
        events = page["events"]
        page["ts"] = [min(e["ts"] for e in events), max(e["ts"] + e.get("dur", 0) for e in events)]
        first, last = page.pop("first"), page.pop("last")
        page["steps"] = [steps[first]["args"]["Step"], steps[last]["args"]["Step"]] if steps else None
    return head, pages


def paged_trace(trace, pages_dir, page_events=PAGE_EVENTS, suffix=""):
    """(main trace, [(file name, page document)]): the main trace keeps the head and the last page's
    detail and indexes every page under ``torshPages``; ``pages_dir`` is written relative to the main file."""
    head, pages = split_pages(trace, page_events)
    index, files = [], []
    for number, page in enumerate(pages):
        inline = number == len(pages) - 1
        entry = {"file": None if inline else f"{number:04d}.json{suffix}", "steps": page["steps"], "ts": page["ts"],
                 "events": len(page["events"])}
        index.append(entry)
        if not inline:
            files.append((entry["file"], {"traceEvents": page["events"], "torshPage": entry}))
    main = dict(trace, traceEvents=head + (pages[-1]["events"] if pages else []),
                torshPages={"version": PAGES_VERSION, "dir": pages_dir, "events": sum(e["events"] for e in index),
                            "pages": index})
    return main, files


def _dumps(document):
    return json.dumps(document, separators=(",", ":"), default=str)


def _clear_pages(directory):
    """Remove the page files a previous export left (only names this module writes)."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if _PAGE_FILE.match(name):
            os.unlink(os.path.join(directory, name))
    if not os.listdir(directory):
        os.rmdir(directory)


def export_chrome_trace(result, path, pages=None, page_events=PAGE_EVENTS):
    """Write the trace of ``result`` to ``path`` (gzip when it ends in .gz), atomically. ``pages``:
    None pages it when it holds more than PAGED_ABOVE_EVENTS detail events, True always, False never;
    the pages go to ``path + ".pages/"`` (gzip too for .gz), written before the main file."""
    trace = build_trace(result, trace_name=str(path))
    path = os.fspath(path)
    pages_dir = path + ".pages"
    _clear_pages(pages_dir)
    if pages is None:
        pages = detail_events(trace) > PAGED_ABOVE_EVENTS
    if pages:
        suffix = ".gz" if path.endswith(".gz") else ""
        trace, files = paged_trace(trace, os.path.basename(pages_dir), page_events, suffix)
        if files:
            os.makedirs(pages_dir, exist_ok=True)
        for name, document in files:
            write_text_atomically(os.path.join(pages_dir, name), _dumps(document))
    write_text_atomically(path, _dumps(trace))


def read_page(main_path, trace, entry):
    """The events of one page of a paged trace read from ``main_path`` (``entry``: of ``torshPages``)."""
    if entry["file"] is None:
        return [e for e in trace["traceEvents"] if _is_detail(e)]
    directory = os.path.join(os.path.dirname(os.fspath(main_path)), trace["torshPages"]["dir"])
    return _read_json(os.path.join(directory, entry["file"]))["traceEvents"]


def read_trace(path):
    """The whole trace at ``path`` (.json or .json.gz): of a paged trace, the main file with every page's
    events put back (``torshPages`` dropped), as the unpaged export would have written it."""
    trace = _read_json(os.fspath(path))
    if "torshPages" not in trace:
        return trace
    events = list(trace["traceEvents"])
    for entry in trace["torshPages"]["pages"]:
        if entry["file"] is not None:
            events += read_page(path, trace, entry)
    whole = {key: value for key, value in trace.items() if key != "torshPages"}
    whole["traceEvents"] = events
    return whole


def _read_json(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)
