"""Traces that scale and source links, in JupyterLab: a 10,000-step profiled run's trace opens in the
trace viewer (the op table counts every step from the summary, the chart draws every step and the
kept steps' calls) and an op's source link opens the line that called it in the editor.

Open times are measured as information (artifacts/browser/trace-open-times.json), not asserted.
"""
import json
import os
import subprocess
import sys

from .conftest import ARTIFACTS, shot
from .test_jupyterlab import LOAD_MS

STEPS = 10_000
RUN = """\
import sys
import torsh
from torsh.profiler import profile

keep = int(sys.argv[2]) if sys.argv[2] != "all" else None
x = torsh.ones(4)
with profile(keep_steps=keep, with_stack=True) as prof:
    for _ in range({steps}):
        y = x.mul(2.0)  # the line the source link opens
        y.add(1.0)
        prof.step()
prof.export_chrome_trace(sys.argv[1])
"""
MUL_LINE = RUN.splitlines().index("        y = x.mul(2.0)  # the line the source link opens") + 1

# open a file with the default viewer, resolve with the ms until its first flame-chart mark is drawn
OPEN_AND_TIME = """async (path) => {
  const t0 = performance.now();
  await window.jupyterapp.commands.execute('docmanager:open', { path });
  while (!document.querySelector('.jp-MimeDocument .torsh-trace g.torsh-slice')) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  return performance.now() - t0;
}"""


def _write_trace(lab, name, keep):
    script = lab.root / "long_run.py"
    script.write_text(RUN.format(steps=STEPS))
    subprocess.run([sys.executable, str(script), name, keep], cwd=lab.root, check=True, timeout=600)
    return json.loads((lab.root / name).read_text())


def _open_timed(page, lab, name):
    page.goto(f"{lab.url}/lab?token={lab.token}&reset", timeout=LOAD_MS)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LOAD_MS)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')",
                           timeout=LOAD_MS)
    return page.evaluate(OPEN_AND_TIME, name)


def _record_time(name, ms, size):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "trace-open-times.json")
    times = json.load(open(path)) if os.path.exists(path) else {}
    times[name] = {"open_ms": round(ms), "bytes": size}
    with open(path, "w") as f:
        json.dump(times, f, indent=1)
    print(f"\n{name}: {size / 1e6:.1f} MB opened in {ms:.0f} ms")


def test_ten_thousand_step_trace_opens_with_every_step_summarized(page, lab):
    trace = _write_trace(lab, "long.trace.json", "10")
    ms = _open_timed(page, lab, "long.trace.json")
    _record_time("keep_steps=10", ms, (lab.root / "long.trace.json").stat().st_size)
    doc = page.locator(".jp-MimeDocument").filter(has=page.locator(".torsh-trace")).first
    # the chart: the step track marks every pixel column its 10,000 steps cover, not 10,000 elements
    steps = doc.locator("g.torsh-slice title", has_text="ProfilerStep#")
    assert 200 < steps.count() < 5_000
    # the op table counts every step (from the summary), the search finds the kept calls and draws them
    mul_row = doc.locator("table.torsh-op-table tr[data-name='aten::mul']")
    assert mul_row.locator("td").nth(1).inner_text() == str(STEPS)
    kept = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["name"] == "aten::mul"]
    assert len(kept) == 10
    doc.locator("input.torsh-trace-search").fill("aten::mul")
    page.wait_for_timeout(300)
    assert doc.locator("g.torsh-slice.torsh-match").count() == len(kept)
    assert f"{STEPS}" in doc.locator(".torsh-caption").inner_text()
    # a step whose calls were kept is blue on the step track, a summarized one grey
    for step, fill in ((STEPS - 1, "#9ecae1"), (STEPS // 2, "#d9d9d9")):
        doc.locator("input.torsh-trace-search").fill(f"ProfilerStep#{step}")
        page.wait_for_timeout(300)
        match = doc.locator("g.torsh-slice.torsh-match", has=page.locator("title", has_text=f"ProfilerStep#{step}\n"))
        assert match.locator("rect").first.get_attribute("fill") == fill
    shot(page, "trace-10k-steps")
    assert not page.errors, page.errors


def test_source_link_opens_the_calling_line_in_the_editor(page, lab):
    _write_trace(lab, "long.trace.json", "10")
    _open_timed(page, lab, "long.trace.json")
    doc = page.locator(".jp-MimeDocument").filter(has=page.locator(".torsh-trace")).first
    link = doc.locator("table.torsh-op-table tr[data-name='aten::mul'] a.torsh-source-link")
    assert link.get_attribute("data-path") == "long_run.py"
    assert link.get_attribute("data-line") == str(MUL_LINE)
    assert link.inner_text() == f"long_run.py:{MUL_LINE}"
    link.click()
    page.wait_for_function("window.jupyterapp.shell.currentWidget?.context?.path === 'long_run.py'", timeout=LOAD_MS)
    page.wait_for_timeout(300)
    where = page.evaluate("""() => {
      const widget = window.jupyterapp.shell.currentWidget;
      const editor = widget.content.editor;
      const cursor = editor.getCursorPosition();
      return { factory: widget.context.path && widget.content.constructor.name, line: cursor.line,
               text: editor.getLine(cursor.line) };
    }""")
    assert where["line"] + 1 == MUL_LINE and "x.mul(2.0)" in where["text"], where
    # a link as torsh.viz.trace_view's table writes it (widget HTML: data-file and data-line only)
    page.evaluate("""([file, line]) => {
      const a = document.createElement('a');
      Object.assign(a.dataset, { file, line: String(line) });
      a.className = 'torsh-source-link';
      a.id = 'widget-link';
      a.href = '#';
      a.textContent = 'widget link';
      document.body.append(a);
      a.click();  // bubbles to the extension's document listener
    }""", [str(lab.root / "long_run.py"), MUL_LINE + 1])
    page.wait_for_function(
        "window.jupyterapp.shell.currentWidget?.context?.path === 'long_run.py' && "
        f"window.jupyterapp.shell.currentWidget.content.editor.getCursorPosition().line === {MUL_LINE}",
        timeout=LOAD_MS)
    shot(page, "trace-source-link")
    assert not page.errors, page.errors


def test_full_detail_ten_thousand_step_trace_opens(page, lab):
    """Without keep_steps every call is in the trace: the viewer still opens it (time recorded)."""
    trace = _write_trace(lab, "long_full.trace.json", "all")
    ms = _open_timed(page, lab, "long_full.trace.json")
    _record_time("full detail", ms, (lab.root / "long_full.trace.json").stat().st_size)
    doc = page.locator(".jp-MimeDocument").filter(has=page.locator(".torsh-trace")).first
    calls = sum(1 for e in trace["traceEvents"] if e["ph"] == "X" and e.get("cat") == "cpu_op")
    assert calls == 2 * STEPS
    drawn = doc.locator("g.torsh-slice").count()
    assert 0 < drawn < calls  # sub-pixel calls share one mark per pixel column
    mul_row = doc.locator("table.torsh-op-table tr[data-name='aten::mul']")
    assert mul_row.locator("td").nth(1).inner_text() == str(STEPS)
    assert not page.errors, page.errors
