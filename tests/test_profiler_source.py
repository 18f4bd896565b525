"""Source links: with ``with_stack=True`` each op records the user's line that called it (the first
frame outside torsh), in ``FunctionEvent.source`` and in the Chrome trace's args."""
import inspect
import json

from IPython.core.interactiveshell import InteractiveShell
from ipykernel.compiler import XCachingCompiler

import torsh
from torsh.profiler import profile
from torsh.viz import _trace_view

from helpers import needs_torch, torch_ref
from test_profiler_trace_format import check_trace


def _next_line():
    return inspect.currentframe().f_back.f_lineno + 1


def test_source_is_the_line_of_user_code_that_called_the_op(tmp_path):
    linear = torsh.nn.Linear(3, 2)
    x = torsh.ones(4, 3)
    with profile(with_stack=True) as prof:
        line = _next_line()
        y = linear(x).relu()  # aten::linear runs inside torsh.nn: its source is still this line
    by_name = {e.name: e for e in prof.events()}
    assert by_name["aten::linear"].source == (__file__, line)
    assert by_name["aten::relu"].source == (__file__, line)
    assert any("torsh/nn" in frame for frame in by_name["aten::linear"].stack)  # the stack keeps torsh frames
    path = tmp_path / "t.trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    check_trace(trace)
    [event] = [e for e in trace["traceEvents"] if e["name"] == "aten::relu" and e["ph"] == "X"]
    assert event["args"]["Source file"] == __file__ and event["args"]["Source line"] == line
    assert event["args"]["Call stack"].split(";") == by_name["aten::relu"].stack
    assert y.shape == (4, 2)


def test_without_stack_there_is_no_source_nor_call_stack():
    with profile() as prof:
        torsh.ones(2).add(1)
    [add] = [e for e in prof.events() if e.name == "aten::add"]
    assert add.source is None and add.stack == []
    [event] = [e for e in prof.trace()["traceEvents"] if e["name"] == "aten::add"]
    assert "Call stack" not in event["args"] and "Source file" not in event["args"]


def _calls_from_two_lines(lib, x):
    a = x.mul(2)  # first call site
    b = x.mul(3)  # second call site
    return a, b


def test_group_by_stack_n_separates_call_sites_and_key_averages_keep_the_source():
    with profile(with_stack=True) as prof:
        _calls_from_two_lines(torsh, torsh.ones(2))
    groups = [a for a in prof.key_averages(group_by_stack_n=1) if a.key == "aten::mul"]
    first = inspect.getsourcelines(_calls_from_two_lines)[1] + 1
    assert sorted(a.source[1] for a in groups) == [first, first + 1]
    assert all(a.count == 1 and a.source[0] == __file__ for a in groups)
    [merged] = [a for a in prof.key_averages() if a.key == "aten::mul"]
    assert merged.count == 2


@needs_torch
def test_key_averages_group_by_stack_n_needs_with_stack_as_pytorch():
    """Both libraries accept group_by_stack_n on a with_stack profile and count the same calls."""
    counts = {}
    for lib in (torsh, torch_ref):
        x = lib.ones(2)
        with lib.profiler.profile(with_stack=True) as prof:
            _calls_from_two_lines(lib, x)
        counts[lib] = sum(a.count for a in prof.key_averages(group_by_stack_n=2) if a.key == "aten::mul")
    assert counts[torsh] == counts[torch_ref] == 2


def test_trace_view_table_links_each_op_to_its_call_site():
    x = torsh.ones(3)
    with profile(with_stack=True) as prof:
        for _ in range(3):
            line = _next_line()
            x.mul(2)
    view = _trace_view.trace_view(prof)
    [row] = [r for r in view.rows if r["name"] == "aten::mul"]
    assert row["source"] == (__file__, line) and row["calls"] == 3
    assert (f"class='torsh-source-link' href='#' data-file='{__file__}' data-line='{line}'" in view.table.value)


def test_trace_view_table_counts_every_step_of_a_keep_steps_run():
    x = torsh.ones(3)
    with profile(keep_steps=2) as prof:
        for _ in range(20):
            x.mul(2)
            prof.step()
    view = _trace_view.trace_view(prof)
    [row] = [r for r in view.rows if r["name"] == "aten::mul"]
    assert row["calls"] == 20  # from the summaries; key_averages holds the 2 kept steps only
    assert [a.count for a in prof.key_averages() if a.key == "aten::mul"] == [2]


def test_ops_called_from_a_notebook_cell_name_the_cell():
    """Under ipykernel a cell runs as /tmp/ipykernel_*/<hash>.py: the trace and trace_view's table name the
    cell by its execution count (IPython's In [N]) and the line in it."""
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(compiler_class=XCachingCompiler)
    try:
        shell.run_cell("import torsh\nfrom torsh.profiler import profile\nx = torsh.ones(3)", store_history=True)
        shell.run_cell("with profile(with_stack=True) as prof:\n    y = x.mul(2)\n", store_history=True).raise_error()
        cell = shell.execution_count - 1
        [event] = [e for e in shell.user_ns["prof"].trace()["traceEvents"] if e["name"] == "aten::mul"]
        assert "/ipykernel_" in event["args"]["Source file"] and event["args"]["Source line"] == 2
        assert event["args"]["Source cell"] == cell == 2
        view = _trace_view.trace_view(shell.user_ns["prof"])
        assert f"data-cell='{cell}'" in view.table.value and f">cell [{cell}], line 2</a>" in view.table.value
    finally:
        InteractiveShell.clear_instance()
    with profile(with_stack=True) as prof:  # outside IPython: a file, no cell
        torsh.ones(2).mul(2)
    assert all("Source cell" not in e.get("args", {}) for e in prof.trace()["traceEvents"])
