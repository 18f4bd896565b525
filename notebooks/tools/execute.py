"""Run the tutorial notebooks top to bottom and save them with their outputs.

    .venv/bin/python notebooks/tools/execute.py                 # all of notebooks/0*.ipynb
    .venv/bin/python notebooks/tools/execute.py 04_profiling    # some of them

Each notebook runs in a fresh kernel ("python3", i.e. this interpreter) with the notebooks
folder as working directory, like `pytest --nbval` runs them. The torsh views (graph_view,
trace_view, MemoryTimeline, DispatchView, Dashboard) put a static frame beside their widget
(torsh/viz/_static.py: a torsh graph/trace document, a plotly figure or HTML, each drawn by a
JupyterLab renderer without a kernel); such outputs are saved as that frame alone, without the
widget view, which would show "Loading widget..." once no kernel holds its model. Other widgets
(progress bars) keep their saved state, except those built on plotly's FigureWidget: each of
those embeds the whole plotly.js bundle (~5 MB) in the saved state, so their state is dropped.
"""
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
HEAVY_STATE_BYTES = 200_000  # a model whose state is larger than this is not saved


def _references(state):
    """model id -> ids of the models it refers to ("IPY_MODEL_<id>" strings anywhere in its state)."""
    refs = {}
    for model_id, model in state.items():
        text = json.dumps(model.get("state", {}))
        refs[model_id] = {part[:32] for part in text.split("IPY_MODEL_")[1:]}
    return refs


def _closure(model_id, refs):
    seen, todo = set(), [model_id]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(refs.get(current, ()))
    return seen


def keep_static_frames(nb):
    """Drop the widget view of outputs that carry a static frame (any MIME type besides text/plain)."""
    dropped = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and set(data) - {WIDGET_VIEW, "text/plain"}:
                del data[WIDGET_VIEW]
                dropped += 1
    return dropped


def drop_heavy_widgets(nb):
    """Drop the state of widgets that contain a heavy model, and their widget-view outputs."""
    widgets_meta = nb.metadata.get("widgets", {}).get(WIDGET_STATE)
    if not widgets_meta:
        return 0
    state = widgets_meta["state"]
    refs = _references(state)
    heavy = {m for m, model in state.items() if len(json.dumps(model)) > HEAVY_STATE_BYTES}
    dropped, kept_roots = 0, []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            if _closure(view["model_id"], refs) & heavy:
                del output["data"][WIDGET_VIEW]
                dropped += 1
            else:
                kept_roots.append(view["model_id"])
    keep = set()
    for root in kept_roots:
        keep |= _closure(root, refs)
    widgets_meta["state"] = {m: model for m, model in state.items() if m in keep}
    if not widgets_meta["state"]:
        del nb.metadata["widgets"]
    return dropped


def execute(path, timeout=600):
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    seconds = time.perf_counter() - start
    frames = keep_static_frames(nb)
    dropped = drop_heavy_widgets(nb)
    nbformat.write(nb, path)
    print(f"{os.path.basename(path)}: {seconds:.0f} s, {os.path.getsize(path) / 1e6:.2f} MB"
          f"{f', {frames} views saved as their static frame' if frames else ''}"
          f"{f', {dropped} plotly widget outputs saved as text' if dropped else ''}")


def main(names):
    paths = [os.path.join(HERE, n if n.endswith(".ipynb") else n + ".ipynb") for n in names] or sorted(
        os.path.join(HERE, n) for n in os.listdir(HERE) if n[:2].isdigit() and n.endswith(".ipynb"))
    for path in paths:
        execute(path)


if __name__ == "__main__":
    main(sys.argv[1:])
