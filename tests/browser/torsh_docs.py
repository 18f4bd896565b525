"""Graph and trace documents made by real torsh runs, for the extension's tests.

The TypeScript tests (schema + layout) and the browser tests read these files and notebooks,
so what the extension is tested on is what torsh writes, not hand-written JSON.
"""
import gc
import json
import os

import nbformat

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.viz import stats as viz_stats
from torsh.profiler import profile, record_function

GRAPH_MIME = "application/vnd.torsh.graph+json"
TRACE_MIME = "application/vnd.torsh.trace+json"


def mlp_graph():
    """Graph of an MLP's loss, parameters by name, nodes grouped by module."""
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Sequential(nn.Linear(8, 8), nn.ReLU()), nn.Linear(8, 3))
    x, y = torsh.randn(16, 4), torsh.tensor([0, 1, 2, 1] * 4)
    with viz.record_modules(model):
        loss = F.cross_entropy(model(x), y)
    return viz.graph(loss, model)


def blocks_graph(n_blocks=4, width=8):
    """Graph of a stack of identical blocks (an nn.Sequential of Sequential(Linear, ReLU)): the
    extension folds them into one "Sequential x 4" box."""
    torsh.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(n_blocks)],
                          nn.Linear(width, 3))
    x, y = torsh.randn(5, width), torsh.tensor([0, 1, 2, 0, 1])
    with viz.record_modules(model):
        loss = F.cross_entropy(model(x), y)
    return viz.graph(loss, model)


def expression_graph():
    """Graph of plain tensor code (user leaves, two outputs, no module)."""
    a = torsh.randn(5, 3, requires_grad=True)
    b = torsh.randn(3, requires_grad=True)
    h = (a * b).tanh()
    return viz.graph({"sum": h.sum(), "mean": (h @ b).exp().mean()})


def profiled_training(steps=3):
    """Profiler result of a few training steps: ranges, ops, backward nodes, memory."""
    torsh.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3))
    optimizer = torsh.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torsh.randn(64, 2), torsh.tensor([0, 1, 2, 0] * 16)
    with profile(profile_memory=True, record_shapes=True) as prof:
        for _ in range(steps):
            with record_function("step"):
                with record_function("forward"):
                    loss = F.cross_entropy(model(x), y)
                with record_function("backward"):
                    optimizer.zero_grad()
                    loss.backward()
                with record_function("optimizer"):
                    optimizer.step()
    return prof


def write_examples(directory):
    """Write *.graph.json and *.trace.json (the trace through prof.export_chrome_trace) into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, g in (("mlp", mlp_graph()), ("expression", expression_graph())):
        path = os.path.join(directory, f"{name}.graph.json")
        with open(path, "w") as f:
            json.dump(g.to_json(), f)
        paths.append(path)
    path = os.path.join(directory, "training.trace.json")
    profiled_training().export_chrome_trace(path)
    paths.append(path)
    path = os.path.join(directory, "kernel.stats.json")  # what the side panel reads
    with open(path, "w") as f:
        json.dump(viz.kernel_stats(), f)
    viz_stats.stop_counting()  # kernel_stats() starts process-wide dispatch counting: leave nobody listening
    paths.append(path)
    gc.collect()  # free the models' cyclic garbage now, not inside a later test that counts live bytes
    return paths


def saved_outputs_notebook(path):
    """A notebook whose cells hold saved graph and trace MIME outputs (as if run and saved).

    The outputs are the MIME bundles torsh's own objects display (Graph, profiler.profile).
    """
    graph = mlp_graph()
    prof = profiled_training()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Saved torsh outputs\nRendered by the torsh JupyterLab extension without a kernel."),
        nbformat.v4.new_code_cell("viz.graph(loss, model)", execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data=graph._repr_mimebundle_())]),
        nbformat.v4.new_code_cell("prof", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", data=prof._repr_mimebundle_())]),
        nbformat.v4.new_code_cell("viz.graph(loss, blocks)", execution_count=3, outputs=[
            nbformat.v4.new_output("display_data", data=blocks_graph()._repr_mimebundle_())]),
    ]
    nbformat.write(nb, path)
    del prof
    gc.collect()  # as in write_examples
    return graph
