"""torch.backends.cuda: torsh is not built with CUDA; the matmul precision flags are kept and change nothing."""


class _MatmulFlags:
    """torch.backends.cuda.matmul (PyTorch's defaults)."""
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    return False
