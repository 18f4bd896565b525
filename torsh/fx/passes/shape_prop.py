"""``torch.fx.passes.shape_prop``: run a GraphModule on example inputs and record each node's tensor metadata
(``node.meta['tensor_meta']``: shape, dtype, requires_grad, stride, memory_format) and result type."""
from typing import Any, NamedTuple

import torsh
from ..interpreter import Interpreter
from ..node import map_aggregate


class TensorMetadata(NamedTuple):
    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple
    memory_format: Any
    is_quantized: bool
    qparams: dict


def _extract_tensor_metadata(result):
    memory_format = None
    for query in (torsh.contiguous_format, torsh.channels_last, torsh.channels_last_3d):
        if result.is_contiguous(memory_format=query):
            memory_format = query
            break
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(), memory_format,
                          False, {})


class ShapeProp(Interpreter):
    """``ShapeProp(gm).propagate(*example_inputs)`` fills ``node.meta['tensor_meta']`` for every node whose
    value holds tensors (a TensorMetadata, or the same structure of them) and ``node.meta['type']``."""

    def __init__(self, gm, fake_mode=None):
        super().__init__(gm)
        self.fake_mode = fake_mode

    def run_node(self, n):
        result = super().run_node(n)
        found_tensor = False

        def extract(obj):
            nonlocal found_tensor
            if isinstance(obj, torsh.Tensor):
                found_tensor = True
                return _extract_tensor_metadata(obj)
            return obj
        meta = map_aggregate(result, extract)
        if found_tensor:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args):
        return super().run(*args)
