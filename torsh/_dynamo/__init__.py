"""torch._dynamo, the parts user code touches: ``reset``, ``config`` flags, ``disable``, the ``mark_*`` shape
hints, ``OptimizedModule``. torsh has no bytecode tracer (see torsh.compiler), so the hints change nothing and
``is_dynamo_supported()`` says so."""
import types

from .._compile.compiled import OptimizedModule
from ..compiler import (allow_in_graph, assume_constant_result, disable, is_compiling, list_backends, reset,
                        set_stance, substitute_in_graph)

__all__ = ["OptimizedModule", "allow_in_graph", "assume_constant_result", "config", "disable",
           "disallow_in_graph", "forbid_in_graph", "graph_break", "is_compiling", "is_dynamo_supported",
           "list_backends", "mark_dynamic", "mark_static", "mark_static_address", "maybe_mark_dynamic", "reset",
           "set_stance", "substitute_in_graph"]

# the flags scripts set (PyTorch's defaults); nothing in torsh reads them
config = types.SimpleNamespace(suppress_errors=False, cache_size_limit=8, recompile_limit=8,
                               accumulated_cache_size_limit=256, verbose=False, capture_scalar_outputs=False,
                               capture_dynamic_output_shape_ops=False, optimize_ddp=True,
                               automatic_dynamic_shapes=True, assume_static_by_default=True,
                               inline_inbuilt_nn_modules=True)


def is_dynamo_supported():
    """False: torsh compiles elementwise chains, not Python bytecode."""
    return False


def mark_dynamic(t, index, *, min=None, max=None, specialize_on=None):  # noqa: A002 - PyTorch's names
    """A shape hint for the tracer; torsh has none, so nothing to record."""


def maybe_mark_dynamic(t, index):
    """A shape hint for the tracer; nothing to record."""


def mark_static(t, index=None):
    """A shape hint for the tracer; nothing to record."""


def mark_static_address(t, guard=True):
    """An address hint for CUDA graphs; nothing to record."""


def graph_break():
    """Ends the captured graph in PyTorch; torsh captures none."""


def disallow_in_graph(fn):
    return fn


def forbid_in_graph(fn):
    return fn
