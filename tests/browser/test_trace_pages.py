"""A paged trace in JupyterLab: opening it reads the main file only (summary, step track, last page's
detail); selecting a step or zooming in with the wheel fetches that step range's page from the server
(contents API) and draws its calls. And a source link of an op run in a notebook cell selects that cell."""
import json
import subprocess
import sys

import nbformat

from .conftest import shot
from .test_jupyterlab import LOAD_MS, open_lab, run_all_cells
from .test_trace_scale import OPEN_AND_TIME

STEPS = 300
RUN = """\
import sys
import torsh
from torsh.profiler import profile

x = torsh.ones(4)
with profile(with_stack=True) as prof:
    for _ in range({steps}):
        y = x.mul(2.0)
        y.add(1.0)
        prof.step()
prof.export_chrome_trace(sys.argv[1], pages=True, page_events=100)
"""
DOC = ".jp-MimeDocument"


def _write_paged_trace(lab, name):
    script = lab.root / "paged_run.py"
    script.write_text(RUN.format(steps=STEPS))
    subprocess.run([sys.executable, str(script), name], cwd=lab.root, check=True, timeout=600)
    main = json.loads((lab.root / name).read_text())
    pages = [json.loads((lab.root / main["torshPages"]["dir"] / p["file"]).read_text()) if p["file"] else main
             for p in main["torshPages"]["pages"]]
    return main, pages


def _muls(doc):
    return sum(1 for e in doc["traceEvents"] if e["ph"] == "X" and e["name"] == "aten::mul")


def _open(page, lab, name, requests):
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{lab.url}/lab?token={lab.token}&reset", timeout=LOAD_MS)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('docmanager:open')",
                           timeout=LOAD_MS)
    page.evaluate(OPEN_AND_TIME, name)
    return page.locator(DOC).filter(has=page.locator(".torsh-trace")).first


def _page_requests(requests):
    return [url for url in requests if ".pages/" in url or ".pages%2F" in url]


def _found(doc, page, query):
    doc.locator("input.torsh-trace-search").fill(query)
    page.wait_for_timeout(300)
    text = doc.locator(".torsh-trace-found").inner_text()
    return int(text.split()[0]) if text else 0


def test_paged_trace_opens_on_its_main_file_and_pages_in_a_selected_step(page, lab):
    main, pages = _write_paged_trace(lab, "paged.trace.json")
    index = main["torshPages"]["pages"]
    assert len(index) > 4
    requests = []
    doc = _open(page, lab, "paged.trace.json", requests)
    page.wait_for_timeout(800)  # a page-in would have started by now
    assert any("paged.trace.json" in url and "/api/contents/" in url for url in requests)
    assert _page_requests(requests) == []  # the initial load read the main file only
    svg = doc.locator("svg.torsh-trace")
    assert svg.get_attribute("data-pages-loaded") == "1"
    assert _found(doc, page, "aten::mul") == _muls(main)  # the last page's calls, from the main file
    # select step 3 (first page): a click on its box on the step track
    first = index[0]
    assert first["steps"][0] <= 3 <= first["steps"][1]
    _found(doc, page, "ProfilerStep#3")
    doc.locator("g.torsh-slice.torsh-match", has=page.locator("title", has_text="ProfilerStep#3\n")).first.click()
    page.wait_for_function("document.querySelector('.jp-MimeDocument svg.torsh-trace').dataset.pagesLoaded === '2'",
                           timeout=LOAD_MS)
    assert [url.rsplit("/", 1)[-1].split("?")[0] for url in _page_requests(requests)] == [first["file"]]
    assert _found(doc, page, "aten::mul") == _muls(main) + _muls(pages[0])
    drawn = doc.locator("g.torsh-slice.torsh-match").count()
    assert 1 <= drawn <= 3  # the selected step's call (and a neighbour's at the margin), drawn from the page
    assert doc.locator("g.torsh-slice title", has_text="aten::add").count() >= 1
    shot(page, "trace-paged-step")
    # the wheel, zooming into the middle of the third page: that page is read and drawn
    third = index[2]
    doc.locator("input.torsh-trace-search").fill("")
    page.dblclick(f"{DOC} svg.torsh-trace", position={"x": 5, "y": 5})  # reset to the whole run
    view_from, view_to = map(float, svg.get_attribute("data-view").split(","))
    box = svg.bounding_box()
    target = (third["ts"][0] + third["ts"][1]) / 2
    x = box["x"] + (target - view_from) / (view_to - view_from) * box["width"]
    page.mouse.move(x, box["y"] + 30)
    for _ in range(3):  # each wheel notch zooms by e^-0.8: the view spans ~9% of the run, inside the page
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(30)
    page.wait_for_function("document.querySelector('.jp-MimeDocument svg.torsh-trace').dataset.pagesLoaded >= 3",
                           timeout=LOAD_MS)
    read = [url.rsplit("/", 1)[-1].split("?")[0] for url in _page_requests(requests)]
    assert third["file"] in read and index[-1]["file"] is None
    view_from, view_to = map(float, svg.get_attribute("data-view").split(","))
    in_view = [e for e in pages[2]["traceEvents"] if e["ph"] == "X" and e["name"] == "aten::mul"
               and view_from <= e["ts"] <= view_to]
    assert in_view, "the zoomed view shows calls of the third page"
    assert _found(doc, page, "aten::mul") >= _muls(main) + _muls(pages[0]) + _muls(pages[2])
    assert doc.locator("g.torsh-slice.torsh-match").count() >= len(in_view)
    shot(page, "trace-paged-zoom")
    assert not page.errors, page.errors


CELLS = ["import torsh\nfrom torsh.profiler import profile\nfrom torsh.viz import trace_view\nx = torsh.ones(3)",
         "with profile(with_stack=True) as prof:\n    y = x.mul(2)\nprof",
         "trace_view(prof)"]
ACTIVE_CELL = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.activeCell;
  return { index: panel.content.activeCellIndex, line: cell.editor.getCursorPosition().line,
           count: cell.model.executionCount };
}"""


def test_source_link_of_an_op_run_in_a_cell_selects_that_cell(browser, lab):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(lab.root / "cell_links.ipynb"))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        open_lab(page, lab, "cell_links.ipynb")
        run_all_cells(page)
        # the profile's own output (the extension's trace renderer): "cell [2], line 2"
        output = page.locator(".jp-OutputArea-output", has=page.locator("svg.torsh-trace")).first
        link = output.locator("tr[data-name='aten::mul'] a.torsh-source-link")
        link.wait_for(timeout=LOAD_MS)
        assert link.inner_text() == "cell [2], line 2" and link.get_attribute("data-cell") == "2"
        page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
        link.click()
        page.wait_for_function("window.jupyterapp.shell.currentWidget.content.activeCellIndex === 1", timeout=LOAD_MS)
        assert page.evaluate(ACTIVE_CELL) == {"index": 1, "line": 1, "count": 2}
        # trace_view's table (an ipywidgets HTML: the extension's document listener opens its links)
        widget_link = page.locator(".widget-html a.torsh-source-link[data-cell='2']").first
        widget_link.wait_for(timeout=LOAD_MS)
        assert widget_link.inner_text() == "cell [2], line 2"
        page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2; }")
        widget_link.click()
        page.wait_for_function("window.jupyterapp.shell.currentWidget.content.activeCellIndex === 1", timeout=LOAD_MS)
        assert page.evaluate(ACTIVE_CELL)["line"] == 1
        shot(page, "trace-cell-link")
        assert not [e for e in page.errors if not e.startswith("[anywidget]")], page.errors
    finally:
        context.close()


WIDGET_CELLS = [RUN.format(steps=STEPS).replace("sys.argv[1]", "'widget_paged.trace.json'").replace("import sys\n", ""),
                "from torsh.viz import trace_view\nview = trace_view('widget_paged.trace.json')\nview"]


def test_trace_view_widget_reads_a_page_from_the_kernel_when_zoomed(browser, lab):
    """trace_view of a paged trace file: the widget draws the main part; a drag-zoom over the run's start
    goes to the kernel over the figure's comm, which reads that page and sends its bars."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in WIDGET_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(lab.root / "widget_pages.ipynb"))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        open_lab(page, lab, "widget_pages.ipynb")
        run_all_cells(page)
        status = page.locator(".widget-html", has_text="detail in").first
        status.wait_for(timeout=LOAD_MS)
        main = json.loads((lab.root / "widget_paged.trace.json").read_text())
        index = main["torshPages"]["pages"]
        assert f"detail in {len(index)} pages, 1 read" in status.inner_text()
        # The status line is drawn before Plotly has laid out the bars: wait for the main part's bars.
        before = sum(1 for e in main["traceEvents"] if e["ph"] == "X")
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .barlayer .point').length === {before}",
                               timeout=LOAD_MS)
        drag = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
        t0, t1 = index[0]["ts"][0], index[-1]["ts"][1]
        right = drag["x"] + drag["width"] * (index[0]["ts"][1] - t0) / (t1 - t0) * 0.8  # inside the first page
        y = drag["y"] + drag["height"] / 2
        page.mouse.move(drag["x"] + 3, y)
        page.mouse.down()
        page.mouse.move(right, y, steps=8)
        page.mouse.up()
        page.wait_for_function("[...document.querySelectorAll('.widget-html')].some(e => e.innerText.includes("
                               f"'detail in {len(index)} pages, 2 read'))", timeout=LOAD_MS)
        first_page = json.loads((lab.root / main["torshPages"]["dir"] / index[0]["file"]).read_text())
        expected = before + sum(1 for e in first_page["traceEvents"] if e["ph"] == "X")
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .barlayer .point').length === {expected}",
                               timeout=LOAD_MS)
        shot(page, "trace-view-widget-paged")
        assert not [e for e in page.errors if not e.startswith("[anywidget]")], page.errors
    finally:
        context.close()
