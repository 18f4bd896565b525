"""Memory by module x phase x category (``ModuleNode.memory``, ``torsh.viz.module_memory``) and the
checkpoint advice (``ModuleTree.checkpoint_advice``, ``prof.advise()``'s ``activation_memory`` finding).

References: which tensors a module keeps for backward is PyTorch's choice, read in torch 2.13 through
``torch.autograd.graph.saved_tensors_hooks`` (each saved storage charged to the module whose forward
produced it); the optimizer state per parameter is torch.optim.Adam's; what ``utils.checkpoint`` of a
block saves is checked both against PyTorch's saved tensors with and without checkpoint and in a real
torsh run (the peak of a step with the block checkpointed).
"""
import re

import pytest

import torsh
import torsh.viz as viz
from torsh.profiler import profile
from torsh.utils.checkpoint import checkpoint

from helpers import needs_torch, torch_ref

BATCH, WIDTH = 512, 256


def _mlp(lib):
    nn = lib.nn
    lib.manual_seed(0)
    return nn.Sequential(nn.Linear(32, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.Tanh(), nn.Linear(WIDTH, 32))


def _profiled_step(model, x, optimizer=None):
    model(x).sum().backward()  # warm: first-call allocations are not the step's
    if optimizer is not None:
        optimizer.step()  # the optimizer state exists from the first step on
    model.zero_grad(set_to_none=True)
    with profile(with_modules=True, profile_memory=True) as prof:
        model(x).sum().backward()
    return prof


def _torch_saved_by_producer(model, x):
    """{module path: bytes of the storages PyTorch saves for backward that this module's forward
    produced} (parameters and the input are nobody's), for leaf modules."""
    torch = torch_ref
    producer, path_of = {}, {m: p for p, m in model.named_modules()}
    outputs = []  # kept alive so that no later output reuses a freed output's address

    def note(module, args, out):
        outputs.append(out)
        producer.setdefault(out.untyped_storage().data_ptr(), path_of[module])
    hooks = [m.register_forward_hook(note) for m in model.modules() if not list(m.children())]
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).sum()
    for h in hooks:
        h.remove()
    by_module = {}
    for ptr, nbytes in saved.items():
        if ptr not in params and ptr in producer:
            by_module[producer[ptr]] = by_module.get(producer[ptr], 0) + nbytes
    del loss, outputs
    return by_module


@needs_torch
def test_activations_per_module_are_the_tensors_pytorch_saves():
    model, x = _mlp(torsh), torsh.randn(BATCH, 32)
    tree = viz.module_tree(_profiled_step(model, x), model)
    expected = _torch_saved_by_producer(_mlp(torch_ref), torch_ref.randn(BATCH, 32))
    assert expected == {"1": BATCH * WIDTH * 4, "3": BATCH * WIDTH * 4}  # ReLU's and Tanh's outputs
    for node in tree.nodes()[1:]:  # the leaves (the Sequential is first)
        assert node.memory()[("forward", "activations")] == expected.get(node.path, 0), node.label
    # the Sequential's own cell is empty; with its children it holds theirs
    assert tree.nodes()[0].memory()[("forward", "activations")] == 0
    assert tree.nodes()[0].memory(total=True)[("forward", "activations")] == sum(expected.values())


@needs_torch
def test_parameters_gradients_and_optimizer_state_per_module():
    model, x = _mlp(torsh), torsh.randn(BATCH, 32)
    optimizer = torsh.optim.Adam(model.parameters(), lr=1e-3)
    tree = viz.module_tree(_profiled_step(model, x, optimizer), model, optimizer)
    reference = _mlp(torch_ref)
    torch_optimizer = torch_ref.optim.Adam(reference.parameters(), lr=1e-3)
    reference(torch_ref.randn(BATCH, 32)).sum().backward()
    torch_optimizer.step()
    for path, module in reference.named_modules():
        if not path:
            continue
        cells = tree.find(path).memory()
        own = list(module.parameters(recurse=False))
        param_bytes = sum(p.untyped_storage().nbytes() for p in own)
        state_bytes = sum(v.untyped_storage().nbytes() for p in own for v in torch_optimizer.state[p].values())
        assert cells[("resident", "parameters")] == param_bytes, path
        assert cells[("optimizer", "optimizer_state")] == state_bytes, path  # exp_avg, exp_avg_sq, step
        assert cells[("backward", "gradients")] == sum(p.grad.untyped_storage().nbytes() for p in own), path
        assert all(nbytes >= 0 for nbytes in cells.values())
    assert tree.find("1").memory()[("backward", "gradients")] == 0  # ReLU has no parameter


class Block(torsh.nn.Module):
    def __init__(self, inner):
        super().__init__()
        nn = torsh.nn
        self.layers = nn.Sequential(nn.Linear(32, inner), nn.ReLU(), nn.Linear(inner, inner), nn.ReLU(),
                                    nn.Linear(inner, 32))

    def forward(self, x):
        return self.layers(x)


class Checkpointed(torsh.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return checkpoint(self.block, x, use_reentrant=False)


BLOCK_BATCH = 1024


def _blocks(lib, block):
    lib.manual_seed(0)  # the last block's backward holds the peak: checkpointing it would save nothing
    return lib.nn.Sequential(block(256), block(128), block(128), block(128))


def _peak_of_a_step(model, x):
    model.zero_grad(set_to_none=True)
    before = torsh.memory_allocated()
    torsh.reset_peak_memory_stats()
    model(x).sum().backward()
    return torsh.max_memory_allocated() - before


def _torch_checkpoint_saving(block_index):
    """Bytes PyTorch keeps for backward less with block ``block_index`` checkpointed."""
    torch = torch_ref
    nn = torch.nn

    class TorchBlock(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(32, inner), nn.ReLU(), nn.Linear(inner, inner), nn.ReLU(),
                                        nn.Linear(inner, 32))

        def forward(self, x):
            return self.layers(x)

    def saved_bytes(model, x):
        params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        saved = {}

        def pack(t):
            if t.untyped_storage().data_ptr() not in params:
                saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(x)
        return sum(saved.values())

    model, x = _blocks(torch, TorchBlock), torch.randn(BLOCK_BATCH, 32)
    plain = saved_bytes(model, x)
    block = model[block_index]
    model[block_index].forward = lambda x: torch.utils.checkpoint.checkpoint(block.layers, x, use_reentrant=False)
    return plain - saved_bytes(model, x)


@needs_torch
def test_checkpoint_advice_lists_the_wide_blocks_with_what_checkpointing_saves():
    model, x = _blocks(torsh, Block), torsh.randn(BLOCK_BATCH, 32)
    prof = _profiled_step(model, x)
    tree = viz.module_tree(prof, model)
    advised = tree.checkpoint_advice()
    assert [n.path for n in advised] == ["0", "1", "2"]
    for node in advised:
        # kept inside a block: its two ReLU outputs; its output is kept by the next block anyway
        assert node.checkpoint_saving == _torch_checkpoint_saving(int(node.path))
    # the claim, checked in a real run: checkpoint one advised block at a time, the step's peak drops by it
    plain = _peak_of_a_step(model, x)
    for node in advised:
        index = int(node.path)
        original = model[index]
        model[index] = Checkpointed(original)
        saved = plain - _peak_of_a_step(model, x)
        model[index] = original
        assert 0.75 * node.checkpoint_saving <= saved <= 1.25 * node.checkpoint_saving, (node.path, plain, saved)
    # prof.advise() says it too, as a memory finding after the time findings
    findings = prof.advise().of_kind("activation_memory")
    assert [f.bytes_at_stake for f in findings] == [n.checkpoint_saving for n in advised]
    assert re.search(r"recompute 0 \(Block_0\) with torsh.utils.checkpoint to save 2.00 MB", findings[0].fix)
    assert "of peak memory at stake" in findings[0].to_text()


def test_activation_rule_says_what_it_needs():
    with profile(profile_memory=True) as prof:
        torsh.nn.Linear(4, 4)(torsh.randn(2, 4)).sum().backward()
    assert prof.advise().skipped["activation_memory"] == "needs with_modules=True and profile_memory=True"


def test_memory_view_widget_and_static_frame():
    model, x = _blocks(torsh, Block), torsh.randn(BLOCK_BATCH, 32)
    optimizer = torsh.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    view = viz.module_memory(_profiled_step(model, x, optimizer), model, optimizer)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page, text = bundle["text/html"], bundle["text/plain"]
    paths = re.findall(r"class='torsh-memory-row' data-path='([^']*)'", page)
    assert paths[:3] == ["", "0", "0.layers"] and len(paths) == 1 + 4 * 7
    assert page.count("class='torsh-checkpoint-advice'") == 3
    for label in ("forward activations", "backward gradients", "backward temporaries", "parameters",
                  "optimizer state"):
        assert label in page and label in text
    assert "recompute 2 (Block_2) with torsh.utils.checkpoint" in text
    own = view.rows()
    view.scope.value = True  # with children: a block's row holds its layers' bytes
    rows = {n.path: cells for n, cells in view.rows()}
    # its two ReLU outputs and its output (kept by the next block's first Linear)
    assert rows["0"][("forward", "activations")] == 2 * BLOCK_BATCH * 256 * 4 + BLOCK_BATCH * 32 * 4
    assert dict((n.path, c) for n, c in own)["0"][("forward", "activations")] == 0
    assert rows["0"][("optimizer", "optimizer_state")] == rows["0"][("resident", "parameters")]  # momentum
    assert view.body.value != page  # the toggle redrew the table
    with pytest.raises(RuntimeError, match="recorded no memory events"):
        with profile(with_modules=True) as prof:
            model(x)
        viz.module_memory(prof)
