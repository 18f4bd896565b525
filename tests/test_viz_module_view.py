"""torsh.viz.module_view: time and memory per nn.Module from profile(with_modules=True).

The module scopes are named and nested as PyTorch's profiler names them (``nn.Module: Linear_0``,
checked against torch 2.13 with with_stack=True); the tree follows the model's module tree; self
<= total and children within their parent, forward and backward; backward time lands on the
modules with parameters; memory on the module that allocated it; and the checkpoint suggestion's
estimate matches what torsh.utils.checkpoint saves in a real run (max_memory_allocated).
"""
import re

import pytest

import torsh
import torsh.nn as nn
import torsh.viz as viz
from torsh.profiler import profile
from torsh.utils.checkpoint import checkpoint

from helpers import needs_torch, torch_ref

WIDE = 512  # the wide layer whose output the memory test looks for


def _model(lib):
    nn_ = lib.nn

    class Block(nn_.Module):  # a nested module with its own children
        def __init__(self, width, inner):
            super().__init__()
            self.fc = nn_.Linear(width, inner)
            self.act = nn_.ReLU()
            self.out = nn_.Sequential(nn_.Linear(inner, width), nn_.ReLU())

        def forward(self, x):
            return self.out(self.act(self.fc(x)))

    lib.manual_seed(0)
    return nn_.Sequential(nn_.Linear(8, 16), nn_.ReLU(), Block(16, WIDE), nn_.Linear(16, 4))


def _profile(model, x, steps=1, **options):
    with profile(with_modules=True, **options) as prof:
        for _ in range(steps):
            model(x).sum().backward()
    return prof


def _scopes(events, prefix="nn.Module: "):
    """(name, enclosing module scope name) of each module scope event, in start order."""
    found = []
    for e in events:
        if e.name.startswith(prefix):
            parent = e.cpu_parent
            while parent is not None and not parent.name.startswith(prefix):
                parent = parent.cpu_parent
            found.append((e.name, parent.name if parent is not None else None))
    return found


@needs_torch
def test_module_scopes_are_named_and_nested_as_pytorch_names_them():
    model, x = _model(torsh), torsh.randn(4, 8)
    prof = _profile(model, x)
    reference = _model(torch_ref)
    with torch_ref.profiler.profile(with_stack=True, with_modules=True) as ref:
        reference(torch_ref.randn(4, 8)).sum().backward()
    assert _scopes(prof.events()) == _scopes(ref.events())
    assert {e.category for e in prof.events() if e.name.startswith("nn.Module: ")} == {"python_function"}
    trace = prof.trace()["traceEvents"]
    assert sum(e.get("cat") == "python_function" for e in trace) == len(_scopes(prof.events())) == 10


def test_without_with_modules_no_scopes_and_module_view_says_why():
    model, x = _model(torsh), torsh.randn(4, 8)
    with profile() as prof:
        model(x).sum().backward()
    assert not any(e.name.startswith("nn.Module: ") for e in prof.events())
    with pytest.raises(RuntimeError, match=r"with_modules=True"):
        viz.module_tree(prof)


def _module_structure(module, path=""):
    return [(name if not path else f"{path}.{name}", type(child).__name__, _module_structure(child, name if not path else f"{path}.{name}"))
            for name, child in module.named_children()]


def _tree_structure(node):
    return [(child.path, child.type, _tree_structure(child)) for child in node.children]


def test_tree_follows_the_module_tree_with_consistent_times():
    model, x = _model(torsh), torsh.randn(64, 8)
    tree = viz.module_tree(_profile(model, x, steps=2), model)
    (top,) = tree.root.children
    assert (top.type, top.path, top.calls) == ("Sequential", "", 2)
    assert _tree_structure(top) == _module_structure(model)
    for node in tree.root.walk():
        assert 0 <= node.forward_self_us <= node.forward_us + 1e-6
        assert 0 <= node.backward_self_us <= node.backward_us + 1e-6
        assert sum(c.forward_us for c in node.children) <= node.forward_us + 1e-6
        assert sum(c.backward_us for c in node.children) <= node.backward_us + 1e-6
    for node in tree.nodes():  # modules with their own parameters ran backward nodes; ReLUs too
        assert node.forward_us > 0 and node.calls == 2
        if node.type in ("Linear", "ReLU"):
            assert node.backward_self_us > 0, node.label
        assert (node.parameters_self > 0) == (node.type == "Linear")
    assert tree.find("2.fc").parameters_self == (16 * WIDE + WIDE) * 4


def test_memory_is_attributed_to_the_module_that_allocated_it():
    model, x = _model(torsh), torsh.randn(64, 8)
    tree = viz.module_tree(_profile(model, x, profile_memory=True), model)
    wide = 64 * WIDE * 4  # the output of 2.fc (and of 2.act)
    fc, act, block = tree.find("2.fc"), tree.find("2.act"), tree.find("2")
    assert fc.forward_allocated_self >= wide and act.forward_allocated_self >= wide
    assert block.forward_allocated_self < wide  # its children's allocations are not its own
    assert block.total("forward_allocated_self") >= 2 * wide
    # ReLU keeps its output for backward; fc's output is freed once ReLU has run
    assert act.activations_self == wide and fc.activations_self == 0
    assert fc.backward_allocated_self > 0  # its gradients (input, weight)
    heaviest = max(tree.nodes(), key=lambda n: n.forward_allocated_self)
    assert heaviest.path in ("2.fc", "2.act")


def test_view_is_a_collapsible_tree_with_text_and_widget():
    model, x = _model(torsh), torsh.randn(64, 8)
    prof = _profile(model, x, profile_memory=True)
    view = viz.module_view(prof, model)  # children in call order
    bundle = view._repr_mimebundle_()
    page, text = bundle["text/html"], bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    paths = re.findall(r"data-path='([^']*)'", page)
    assert paths == ["", "0", "1", "2", "2.fc", "2.act", "2.out", "2.out.0", "2.out.1", "3"]
    assert page.count("<details") == 3  # the modules with children: Sequential_0, Block_0, 2.out
    assert "fwd self" in page and "bwd total" in page and "kept for bwd" in page
    assert "2.fc (Linear_1)" in text and "checkpoint" in text
    view.order.value = "memory"  # the dropdown re-sorts each node's children
    assert re.findall(r"data-path='([^']*)'", view.body.value)[1] == "2"  # the block allocates the most
    with pytest.raises(ValueError, match="sort must be one of"):
        viz.module_view(prof, sort="size")


# -- memory by module, and the checkpoint suggestion checked in a real run ------------------------
BATCH = 1024


class Block(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(32, inner), nn.ReLU(), nn.Linear(inner, inner), nn.ReLU(),
                                    nn.Linear(inner, 32))

    def forward(self, x):
        return self.layers(x)


class Checkpointed(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return checkpoint(self.block, x, use_reentrant=False)


def _blocks():
    torsh.manual_seed(0)  # the first block is the widest: the one worth recomputing
    return nn.Sequential(Block(256), Block(128), Block(128), Block(128))


def _peak_of_a_step(model, x):
    """Peak bytes above the live bytes before one forward + backward (gradients start as None)."""
    model.zero_grad(set_to_none=True)
    before = torsh.memory_allocated()
    torsh.reset_peak_memory_stats()
    model(x).sum().backward()
    return torsh.max_memory_allocated() - before


def test_checkpoint_suggestion_names_what_checkpointing_saves():
    model, x = _blocks(), torsh.randn(BATCH, 32)
    model(x).sum().backward()  # warm: first-call allocations are not the step's
    model.zero_grad(set_to_none=True)
    with profile(with_modules=True, profile_memory=True) as prof:
        model(x).sum().backward()
    tree = viz.module_tree(prof, model)
    best = tree.checkpoint_candidate()
    assert best.path == "0"
    # kept inside: the two ReLU outputs (BATCH x 256 floats each); its output is kept by the next block
    assert best.checkpoint_saving == 2 * BATCH * 256 * 4
    assert re.search(r"recompute 0 \(Block_0\) with torsh.utils.checkpoint to save 2.00 MB", tree.suggestion())

    plain = _peak_of_a_step(model, x)
    model[0] = Checkpointed(model[0])
    recomputed = _peak_of_a_step(model, x)
    saved = plain - recomputed
    assert 0.75 * best.checkpoint_saving <= saved <= 1.25 * best.checkpoint_saving, (plain, recomputed)
