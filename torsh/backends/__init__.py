"""What this build of torsh can run on (``torch.backends`` namesake)."""
from ..backend import kernels as _kernels


def kernels_available():
    """{kernel family: True when its compiled Pythran module imported}."""
    return _kernels.available()


def kernel_load_errors():
    """{kernel family: why it is missing} for the families that did not load."""
    return _kernels.load_errors()


def kernel_instruction_sets():
    """{kernel family: "x86-64-v3" (AVX2 + FMA build) or "baseline" (portable build)}."""
    return _kernels.instruction_sets()


from . import cuda, cudnn, mkldnn, mps, opt_einsum  # noqa: E402,F401  (PyTorch's backend flags, answered for the CPU)
from . import cpu, cusparselt, kleidiai, mha, miopen, mkl, nnpack, openmp, quantized, xeon  # noqa: E402,F401
