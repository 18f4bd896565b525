"""torsh.viz.module_view's saved frame in JupyterLab (headless Chromium): the module tree is a
collapsible ``<details>`` tree, and folding or unfolding a module hides or shows its children's rows.

The notebook holds the output as a saved tutorial does (notebooks/tools/execute.py keeps the static
frame, not the widget view), so it renders without a kernel.
"""
import nbformat

import torsh
import torsh.nn as nn
import torsh.viz as viz
from torsh.profiler import profile

from .conftest import shot
from .test_jupyterlab import LOAD_MS, open_lab

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# the rows: leaf modules' grid divs and the summaries of modules with children; a row inside a folded
# <details> is not rendered (checkVisibility: Chromium keeps its box, content-visibility hidden). The sanitizer of an untrusted notebook drops data-* attributes, so a row is
# named by its label, "2.1 (Sequential_2)" -> "2.1" (the root, "Sequential_0", has the empty path)
VISIBLE_ROWS = """root => [...root.querySelectorAll('div.torsh-module, details.torsh-module > summary')]
  .filter(row => row.checkVisibility())
  .map(row => { const label = row.querySelectorAll('span')[1].textContent;
                return label.includes(' (') ? label.split(' (')[0] : ''; })"""


def _module_view_notebook(path):
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(),
                          nn.Sequential(nn.Linear(16, 32), nn.Sequential(nn.Linear(32, 32), nn.Tanh())),
                          nn.Linear(32, 4))
    x = torsh.randn(32, 8)
    with profile(with_modules=True, profile_memory=True) as prof:
        model(x).sum().backward()
    bundle = viz.module_view(prof, model)._repr_mimebundle_()
    bundle.pop(WIDGET_VIEW)  # as saved: the static frame and the text
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("torsh.viz.module_view(prof, model)", execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data=bundle)])]
    nbformat.write(nb, path)
    return bundle


def test_saved_module_view_is_a_tree_that_folds_and_unfolds(page, lab):
    _module_view_notebook(str(lab.root / "module_view.ipynb"))
    open_lab(page, lab, "module_view.ipynb")
    view = page.locator(".jp-OutputArea-output .torsh-module-view").first
    view.wait_for(timeout=LOAD_MS)
    everything = ["", "0", "1", "2", "2.0", "2.1", "2.1.0", "2.1.1", "3"]
    # opened down to the second level: 2.1's children are folded
    assert view.evaluate(VISIBLE_ROWS) == ["", "0", "1", "2", "2.0", "2.1", "3"]
    shot(page, "module-view-saved")

    def toggle(label, opened):
        summary = view.locator("summary", has_text=label).first
        summary.click()
        page.wait_for_function(f"el => el.parentElement.open === {'true' if opened else 'false'}",
                               arg=summary.element_handle())

    toggle("2.1 (Sequential_2)", opened=True)  # unfold 2.1: its two children appear
    assert view.evaluate(VISIBLE_ROWS) == everything
    toggle("2 (Sequential_1)", opened=False)  # fold 2: every row below it disappears
    assert view.evaluate(VISIBLE_ROWS) == ["", "0", "1", "2", "3"]
    toggle("2 (Sequential_1)", opened=True)  # unfold it again: 2.1 stayed open
    assert view.evaluate(VISIBLE_ROWS) == everything
    shot(page, "module-view-unfolded")
    assert not page.errors, page.errors


def test_saved_tutorial_08_shows_its_views_without_running(page, lab):
    """Tutorial 8 as saved: the trace, the advice, the module tree, the diff and the memory table draw
    without a kernel."""
    open_lab(page, lab, "08_finding_a_slowdown.ipynb")
    page.locator(".jp-OutputArea-output .torsh-trace").first.wait_for(timeout=LOAD_MS)
    outputs = page.locator(".jp-OutputArea-output")
    assert outputs.locator(".torsh-finding").count() >= 1  # before.advise()
    assert outputs.locator("details.torsh-module").count() >= 1  # module_view
    memory_rows = outputs.locator(".torsh-module-memory div.torsh-memory-row, .torsh-module-memory > div")
    assert memory_rows.count() > 10  # module_memory: a row per module of the wide model
    texts = " ".join(outputs.all_text_contents())
    assert "Loading widget" not in texts and "VBox(children" not in texts
    assert "recompute 0 (Block_0) with torsh.utils.checkpoint" in texts
    assert "Standardize_0" in texts  # the module rows of the diff
    shot(page, "saved-tutorial-08")
    assert not page.errors, page.errors


def _dashboard_notebook(path):
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 10))
    opt = torsh.optim.SGD(model.parameters(), lr=0.1)
    x, y = torsh.randn(16, 32), torsh.randint(0, 10, (16,))
    scale = torsh.ones(32, dtype=torsh.float64)  # a float64 constant: the up-cast advise() names
    dash = viz.Dashboard(model, opt, interval=float("inf"), advise_every=2)
    with dash:
        for _ in range(4):
            opt.zero_grad()
            loss = torsh.nn.functional.cross_entropy(model((x * scale).float()), y)
            loss.backward()
            opt.step()
            dash.step(loss)
    bundle = dash._repr_mimebundle_()
    bundle.pop(WIDGET_VIEW)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("dash", execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data=bundle)])]
    nbformat.write(nb, path)
    return dash


def test_saved_dashboard_shows_its_advice_under_the_plots(page, lab):
    dash = _dashboard_notebook(str(lab.root / "dashboard_advice.ipynb"))
    assert "dtype_upcast" in dash.advice.kinds()
    open_lab(page, lab, "dashboard_advice.ipynb")
    page.locator(".jp-Notebook .js-plotly-plot").first.wait_for(timeout=LOAD_MS)  # plotly's renderer, no kernel
    plot = page.locator(".jp-Notebook .js-plotly-plot").first
    notes = " ".join(plot.locator(".annotation-text").all_text_contents())
    assert "advice from step 2" in notes and "float64 in a float32 program" in notes
    # the note sits below the lowest plot, inside the figure
    boxes = plot.evaluate("""gd => { const note = [...gd.querySelectorAll('.annotation')]
        .find(a => a.textContent.includes('advice from step')).getBoundingClientRect();
      const plots = [...gd.querySelectorAll('.xtitle, .legend')].map(r => r.getBoundingClientRect());
      const fig = gd.getBoundingClientRect();
      return {noteTop: note.top, noteBottom: note.bottom, above: Math.max(...plots.map(r => r.bottom)),
              figBottom: fig.bottom, noteRight: note.right, figRight: fig.right}; }""")
    # below the axis titles and the legend, inside the figure
    assert boxes["above"] <= boxes["noteTop"] and boxes["noteBottom"] <= boxes["figBottom"] + 1, boxes
    assert boxes["noteRight"] <= boxes["figRight"] + 1, boxes
    shot(page, "saved-dashboard-advice")
    assert not page.errors, page.errors


def test_live_dashboard_shows_advice_while_the_loop_runs(page, lab):
    """The Dashboard's advice panel fills in while its cell still runs (widget updates reach the page
    during execution), naming the float64 up-cast of the loop."""
    open_lab(page, lab, "live_dashboard_advice.ipynb")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=LOAD_MS)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # not awaited
    panel = page.locator(".jp-OutputArea-output .torsh-dashboard-advice").first
    panel.wait_for(timeout=LOAD_MS)
    assert "float64 in a float32 program" in panel.text_content()
    prompts = page.locator(".jp-InputArea-prompt").all_text_contents()
    assert "[*]:" in prompts, prompts  # the loop is still running
    shot(page, "live-dashboard-advice")
    page.wait_for_function("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                           ".every(p => !p.textContent.includes('*'))", timeout=LOAD_MS)
    assert "dtype_upcast" in " ".join(page.locator(".jp-OutputArea-output").all_text_contents())
    assert not [e for e in page.errors if not e.startswith("[anywidget]")], page.errors
