"""JupyterLab in headless Chromium draws what torsh writes: saved MIME outputs without
running anything, *.trace.json files from the file browser, and a tutorial run live with
the ToRSh side panel.
"""
import json

from .conftest import shot

LOAD_MS = 90_000


def open_lab(page, lab, path):
    page.goto(lab.page_url(path), timeout=LOAD_MS)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LOAD_MS)


def test_saved_notebook_renders_graph_and_trace_without_running(page, lab):
    with open(lab.root / "saved_outputs.ipynb") as f:
        saved = json.load(f)
    graph = saved["cells"][1]["outputs"][0]["data"]["application/vnd.torsh.graph+json"]
    trace = saved["cells"][2]["outputs"][0]["data"]["application/vnd.torsh.trace+json"]
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]

    open_lab(page, lab, "saved_outputs.ipynb")
    nodes = page.locator(".jp-OutputArea-output .torsh-graph g.torsh-node")
    nodes.first.wait_for(timeout=LOAD_MS)
    assert nodes.count() == len(graph["nodes"]) >= 10
    assert page.locator(".torsh-graph path.torsh-edge").count() == len(graph["edges"])
    assert page.locator(".torsh-graph g.torsh-group").count() == len(graph["groups"]) > 0
    labels = page.locator(".torsh-graph .torsh-node-label").all_text_contents()
    assert "0.weight" in labels and any(l.startswith("NllLoss") or l.startswith("LogSoftmax") for l in labels), labels
    shot(page, "saved-graph")

    bars = page.locator(".jp-OutputArea-output .torsh-trace g.torsh-slice rect")
    bars.first.wait_for(timeout=30_000)
    assert bars.count() == len(complete)  # the whole trace is in view before any zoom
    assert float(bars.first.get_attribute("width")) > 0
    assert page.locator(".torsh-trace path.torsh-memory").count() == 1
    assert page.locator(".torsh-op-table tbody tr").count() > 3
    page.locator(".torsh-trace").first.scroll_into_view_if_needed()
    shot(page, "saved-trace")
    # nothing ran: the execution counts are still the saved ones
    prompts = page.locator(".jp-InputArea-prompt").all_text_contents()
    assert "[1]:" in prompts and "[2]:" in prompts, prompts
    assert not page.errors, page.errors


def test_trace_file_opens_in_trace_viewer(page, lab):
    with open(lab.root / "training.trace.json") as f:
        trace = json.load(f)
    names = {e["name"] for e in trace["traceEvents"] if e["ph"] == "X"}

    open_lab(page, lab, "training.trace.json")
    bars = page.locator(".jp-MimeDocument .torsh-trace g.torsh-slice")
    bars.first.wait_for(timeout=LOAD_MS)
    assert bars.count() > 50
    titles = page.locator(".jp-MimeDocument .torsh-trace g.torsh-slice title").all_text_contents()
    drawn = {t.split("\n")[0] for t in titles}
    assert {"step", "forward", "backward", "optimizer"} <= drawn and drawn <= names
    # wheel zoom around the middle: fewer, wider bars
    svg = page.locator(".jp-MimeDocument .torsh-trace")
    box = svg.bounding_box()
    before = bars.count()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 60)
    for _ in range(6):
        page.mouse.wheel(0, -400)
    page.wait_for_timeout(300)
    assert bars.count() < before
    shot(page, "trace-file-viewer")
    assert not page.errors, page.errors
