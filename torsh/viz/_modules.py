"""record_modules(model): stamp each autograd node with the module whose forward created it.

While the context is active, forward pre-hooks / hooks on every module of ``model`` keep a
per-thread stack of dotted module paths, and a subscriber to the autograd topic (graph.py
emits ``("record", node)`` when an op links a node) writes the innermost path into
``node.metadata["module"]``. Outside the context nothing is registered, so it costs nothing.
"""
import contextlib
import sys
import threading
from collections import namedtuple

from ..autograd.graph import PROFILER_TOPIC as AUTOGRAD_TOPIC
from ..backend import events

MODULE_KEY = "module"  # node.metadata keys written here, read by torsh.viz.graph
MODULE_TYPE_KEY = "module_type"

_Entry = namedtuple("_Entry", "path type_name module call_frame")


class _ModuleStack(threading.local):
    def __init__(self):
        self.entries = []  # [_Entry], innermost module call last

    def innermost_live(self):
        """The innermost entry whose module call is still running, dropping those a raise left behind.

        A module's forward hook does not run when its forward raises; its entry is stale once
        the Python frame of that module call is no longer on the stack.
        """
        live = set()
        frame = sys._getframe()
        while frame is not None:
            live.add(id(frame))
            frame = frame.f_back
        while self.entries and id(self.entries[-1].call_frame) not in live:
            self.entries.pop()
        return self.entries[-1] if self.entries else None


@contextlib.contextmanager
def record_modules(model):
    """Stamp nodes created inside ``model``'s forward (and its submodules') with their module path.

    The path is the one ``model.named_modules()`` gives: ``"0"``, ``"encoder.layers.1"``, and
    ``""`` for ``model`` itself. A node keeps the first stamp it gets, so with nested
    ``record_modules`` contexts the one entered first wins.
    """
    stack = _ModuleStack()
    handles = []

    def push(module, args):
        # the caller is Module._call_impl, on the Python stack for as long as the forward runs
        stack.entries.append(_Entry(paths[id(module)], type(module).__name__, module, sys._getframe(1)))

    def pop(module, args, result):
        # pop down to this module's entry: an inner forward that raised left its entry behind
        for index in range(len(stack.entries) - 1, -1, -1):
            if stack.entries[index].module is module:
                del stack.entries[index:]
                break

    def stamp(record):
        kind, node = record[0], record[1]  # "begin" also carries the incoming gradients
        if kind != "record" or not stack.entries or MODULE_KEY in node.metadata:
            return
        entry = stack.innermost_live()
        if entry is not None:
            node.metadata[MODULE_KEY] = entry.path
            node.metadata[MODULE_TYPE_KEY] = entry.type_name

    paths = {}
    for path, module in model.named_modules():
        paths[id(module)] = path
        handles.append(module.register_forward_pre_hook(push))
        handles.append(module.register_forward_hook(pop))
    unsubscribe = events.subscribe(AUTOGRAD_TOPIC, stamp)
    try:
        yield model
    finally:
        stack.entries.clear()  # drop the Python frames it holds
        unsubscribe()
        for handle in handles:
            handle.remove()
