"""torch.cuda.jiterator: CUDA kernels compiled from C++ strings; not in a CPU build."""
__all__ = ["_create_jit_fn", "_create_multi_output_jit_fn"]


def _create_jit_fn(code_string, **kwargs):
    raise RuntimeError("CUDA is not available")


def _create_multi_output_jit_fn(code_string, num_outputs, **kwargs):
    raise RuntimeError("CUDA is not available")
