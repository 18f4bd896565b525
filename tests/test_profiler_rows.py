"""The rows torch.profiler shows for the training steps' layers, and torsh's for the same program.

Each program runs once unprofiled (warm-up: parameters made, lazy imports done), then once under
``profile(record_shapes=True)`` in torsh and in PyTorch 2.13; the rows compared are those both libraries
should agree on (names, call counts, input shapes, parents in the trace)."""
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch


def profile_rows(lib, program):
    """{(name, input shapes as text): count} of one profiled run of ``program(lib, state)``."""
    lib.manual_seed(0)
    state = {}
    program(lib, state)
    with lib.profiler.profile(record_shapes=True) as prof:
        program(lib, state)
    rows = {}
    for average in prof.key_averages(group_by_input_shape=True):
        key = (average.key, str(average.input_shapes))
        rows[key] = rows.get(key, 0) + average.count
    return rows, prof


def rows_named(rows, names):
    return {key: count for key, count in rows.items() if key[0] in names}


def backward_rows(rows):
    return {key: count for key, count in rows.items()
            if key[0].endswith("Backward0") or key[0] == "torch::autograd::AccumulateGrad"}


def parents(prof, name):
    """The names of the events enclosing each ``name`` event, innermost first (one tuple per event)."""
    result = []
    for event in prof.events():
        if event.name == name:
            chain, parent = [], event.cpu_parent
            while parent is not None:
                chain.append(parent.name)
                parent = parent.cpu_parent
            result.append(tuple(chain))
    return result


# -- the programs (state keeps the modules built by the warm-up run) ------------------------------------------
def conv_bn(lib, state):
    if not state:
        state["conv"], state["bn"] = lib.nn.Conv2d(3, 8, 3), lib.nn.BatchNorm2d(8)
    x = lib.randn(2, 3, 8, 8)
    state["bn"](state["conv"](x)).sum().backward()


def lstm(lib, state):
    if not state:
        state["lstm"] = lib.nn.LSTM(32, 128)
    out, _ = state["lstm"](lib.randn(10, 4, 32))
    out.sum().backward()


def cross_entropy(lib, state):
    x = lib.randn(4, 10, requires_grad=True)
    lib.nn.functional.cross_entropy(x, lib.tensor([1, 2, 3, 4])).backward()


# -- 3. backward nodes' input shapes: the gradients flowing into each node ------------------------------------
@pytest.mark.parametrize("program", [conv_bn, lstm, cross_entropy])
def test_backward_node_rows_record_incoming_gradient_shapes(program):
    ours, _ = profile_rows(torsh, program)
    theirs, _ = profile_rows(torch_ref, program)
    ours, theirs = backward_rows(ours), backward_rows(theirs)
    assert ours == theirs


def test_conv_and_batch_norm_backward_shapes():
    ours, _ = profile_rows(torsh, conv_bn)
    theirs, _ = profile_rows(torch_ref, conv_bn)
    names = {"ConvolutionBackward0", "NativeBatchNormBackward0"}
    assert rows_named(ours, names) == rows_named(theirs, names) == {
        ("ConvolutionBackward0", "[[2, 8, 6, 6]]"): 1, ("NativeBatchNormBackward0", "[[2, 8, 6, 6]]"): 1}


def test_backward_node_shapes_only_with_record_shapes():
    lin = torsh.nn.Linear(3, 2)
    with torsh.profiler.profile() as prof:
        lin(torsh.randn(4, 3)).sum().backward()
    node_events = [e for e in prof.events() if e.name == "AddmmBackward0"]
    assert node_events and all(e.input_shapes in ([], None) for e in node_events)
