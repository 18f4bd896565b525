"""Cells, ratios, tables and the Markdown page from per-round worker records (solo.py's JSON).

Both run.py modes produce ``{row id: {library: [record per round]}}``; ``summarize`` turns one
row's records into the result row that the JSON output and the tables use:

    {"id": "W9.1", "key": "W9", "workload": "...", "metric": "seconds", "work": ..., "unit": ...,
     "target": 1.0, "copy_target": None, "speedup_target": None, "torsh_variant": "numpy, pythran_simd",
     "cells": {"torsh": {"status": "ok", "median": 0.0105, "min": ..., "max": ..., "rounds": [...],
                         "processes": [{"pid": 123, "loaded": ["numpy", "torsh"]}, ...]},
               "torch": {...}, "numpy": {"status": "n/a"}},
     "ratio": {"median": 0.92, "min": 0.89, "max": 0.95}}   # torsh/PyTorch; None if either is missing

A cell is "ok", "n/a" (the row has no version for that library, or it is not installed) or
"fails" with the worker's error ("fails: AttributeError: ..." in the tables).
"""
import statistics

LIBRARIES = ("torsh", "torch", "numpy")  # column order
UNIT_SCALE = {"GFLOP/s": 1e9, "GB/s": 1e9, "batches/s": 1.0}  # work per second -> shown unit


def cell(records):
    """One library's records over the rounds -> its cell."""
    failed = [r for r in records if r["status"] == "fails"]
    if failed:
        return {"status": "fails", "error": failed[0]["error"], "processes": processes(failed)}
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"status": "n/a", "processes": processes(records)}
    values = [r["value"] for r in ok]
    result = {"status": "ok", "median": statistics.median(values), "min": min(values), "max": max(values),
              "rounds": values, "processes": processes(ok)}
    if "process_peak_mb" in ok[0]:
        result["process_peak_mb"] = statistics.median(r["process_peak_mb"] for r in ok)
    return result


def processes(records):
    return [{"pid": r.get("pid"), "loaded": r.get("loaded")} for r in records if "pid" in r]


def ratio(cells):
    """torsh/PyTorch: the ratio of the medians, and the range of the per-round ratios."""
    torsh, torch = cells.get("torsh"), cells.get("torch")
    if not torsh or not torch or torsh["status"] != "ok" or torch["status"] != "ok" or not torch["median"]:
        return None
    per_round = [a / b for a, b in zip(torsh["rounds"], torch["rounds"]) if b]
    return {"median": torsh["median"] / torch["median"], "min": min(per_round, default=None),
            "max": max(per_round, default=None)}


def variants(records):
    """The kernel variants torsh's dispatcher chose, over all rounds."""
    seen = sorted({r["torsh_variant"] for r in records if r.get("torsh_variant")})
    return " / ".join(seen) or "-"


def summarize(workload, records_by_library):
    cells = {name: cell(records_by_library.get(name, [])) for name in LIBRARIES}
    return {"id": workload.id, "key": workload.key, "workload": workload.name, "metric": workload.metric,
            "work": workload.work, "unit": workload.unit, "target": workload.target,
            "copy_target": workload.copy_target, "speedup_target": workload.speedup_target,
            "torsh_variant": variants(records_by_library.get("torsh", [])),
            "cells": cells, "ratio": ratio(cells)}


# -- formatting ---------------------------------------------------------------------------------
def format_seconds(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_value(value, metric):
    return f"{value:.3g} MB" if metric == "peak_mb" else format_seconds(value)


def format_cell(c, metric, error_width=60):
    if c["status"] == "n/a":
        return "n/a"
    if c["status"] == "fails":
        error = c["error"] if len(c["error"]) <= error_width else c["error"][:error_width - 3] + "..."
        return "fails: " + error.replace("|", "\\|")
    text = format_value(c["median"], metric)
    if len(c["rounds"]) > 1:
        text += f" ({format_value(c['min'], metric)} - {format_value(c['max'], metric)})"
    return text


def format_ratio(r):
    if r is None:
        return "n/a"
    text = f"{r['median']:.2f}x"
    return text + (f" ({r['min']:.2f}-{r['max']:.2f})" if r["min"] is not None and r["min"] != r["max"] else "")


def cell_median(row, library):
    c = row["cells"][library]
    return c["median"] if c["status"] == "ok" else None


def throughput(row, library):
    seconds = cell_median(row, library)
    if seconds is None or row["work"] is None or row["metric"] != "seconds":
        return None
    return row["work"] / seconds / UNIT_SCALE.get(row["unit"], 1.0)


def format_throughput(row):
    """'torsh / PyTorch / NumPy unit', e.g. '41 / 52 / 50 GFLOP/s'."""
    if row["work"] is None or row["metric"] != "seconds":
        return ""
    values = [throughput(row, name) for name in LIBRARIES]
    return " / ".join("n/a" if v is None else f"{v:.3g}" for v in values) + f" {row['unit']}"


def torsh_over_numpy(row):
    torsh, numpy = cell_median(row, "torsh"), cell_median(row, "numpy")
    return "n/a" if torsh is None or not numpy else f"{torsh / numpy:.2f}x"


def table_rows(results):
    yield ("id", "workload", "torsh", "PyTorch", "NumPy", "torsh/PyTorch", "torsh/NumPy",
           "throughput torsh / PyTorch / NumPy", "torsh kernel")
    for r in results:
        yield (r["id"], r["workload"], *(format_cell(r["cells"][name], r["metric"]) for name in LIBRARIES),
               format_ratio(r["ratio"]), torsh_over_numpy(r), format_throughput(r), r["torsh_variant"])


def markdown_table(rows):
    """A Markdown pipe table: readable in a terminal and pasteable into RESULTS.md."""
    rows = list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- targets (issue 20) -----------------------------------------------------------------------
def copy_bandwidth(results, workload_name):
    """NumPy's np.copyto GB/s at the size named in ``workload_name`` ("1e6" or "1e7"), if measured."""
    size = next((tok.rstrip(",") for tok in workload_name.split() if tok.startswith("1e")), None)
    for r in results:
        if r["workload"].startswith("copy,") and size and size in r["workload"]:
            return throughput(r, "numpy")
    return None


def ratio_status(r, target):
    """met / missed, or "at the bound" when the rounds' range straddles the target."""
    if r["max"] is not None and r["min"] is not None and r["min"] <= target < r["max"]:
        return "at the bound (rounds straddle it)"
    return "met" if r["median"] <= target else "missed"


def ratio_target(r):
    """(target, measured, status) of the torsh/PyTorch ratio bound."""
    label = f"torsh/PyTorch <= {r['target']}"
    if r["ratio"] is None:
        return label, "n/a", "not measured"
    return label, format_ratio(r["ratio"]), ratio_status(r["ratio"], r["target"])


def copy_target(r, results):
    """(target, measured, status) of W2's bound to the machine's copy bandwidth."""
    copy, mine = copy_bandwidth(results, r["workload"]), throughput(r, "torsh")
    label = f"torsh GB/s >= copy GB/s / {r['copy_target']}"
    if copy is None or mine is None:
        return label, "n/a (copy row not run)", "not measured"
    factor = copy / mine
    return (label, f"{mine:.3g} vs {copy:.3g} GB/s (factor {factor:.2f})",
            "met" if factor <= r["copy_target"] else "missed")


def speedup_target(r, results):
    """(target, measured, status) of a row that must beat another row of torsh's by a factor."""
    other_id, factor = r["speedup_target"]
    label = f"torsh {other_id} time / this row's >= {factor}"
    other = next((o for o in results if o["id"] == other_id), None)
    mine, theirs = cell_median(r, "torsh"), other and cell_median(other, "torsh")
    if not mine or theirs is None:
        return label, f"n/a ({other_id} not run)" if other is None else "n/a", "not measured"
    speedup = theirs / mine
    return label, f"{speedup:.2f}x", "met" if speedup >= factor else "missed"


def target_rows(results):
    """(id, workload, target, measured, status): one line per target of every row that has any."""
    yield ("id", "workload", "target", "measured", "status")
    for r in results:
        if r["target"] is not None:
            yield (r["id"], r["workload"], *ratio_target(r))
        if r["copy_target"] is not None:
            yield (r["id"], r["workload"], *copy_target(r, results))
        if r.get("speedup_target") is not None:
            yield (r["id"], r["workload"], *speedup_target(r, results))


def targets_table(results):
    """The targets table, or a sentence when no selected row has a target."""
    rows = list(target_rows(results))
    return markdown_table(rows) if len(rows) > 1 else "(no selected row has a target)"


def failures(results):
    """(id, library, error) of every cell that failed."""
    for r in results:
        for name in LIBRARIES:
            if r["cells"][name]["status"] == "fails":
                yield r["id"], name, r["cells"][name]["error"]


def markdown_report(output):
    """The Markdown page for run.py's JSON ``output``: machine, command, numbers, targets."""
    load = output["load_average"]
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in output["machine"].items()]
    lines += [f"| mode | {output['mode']} |", f"| threads | {output['threads']} for every library |",
              f"| rounds | {output['rounds']} |", f"| torsh commit | {output['commit']} |",
              f"| load average before (1, 5, 15 min) | {load['before']} |",
              f"| load average after (1, 5, 15 min) | {load['after']} |", "",
              "## Command", "", "```", output["command"], "```", "",
              f"## Numbers ({output['finished']})", "",
              markdown_table(table_rows(output["results"])), "", "## Targets (issue 20)", "",
              targets_table(output["results"]), ""]
    failed = list(failures(output["results"]))
    if failed:
        lines += ["## Failures", ""] + [f"- {row_id} on {name}: {error}" for row_id, name, error in failed] + [""]
    return "\n".join(lines)
