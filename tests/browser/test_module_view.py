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
