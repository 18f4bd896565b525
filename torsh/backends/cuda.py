"""torch.backends.cuda: torsh is not built with CUDA; the matmul precision flags are kept and change nothing.

The scaled-dot-product-attention flags (``enable_flash_sdp`` & co) are the process-wide ones of
``torsh.nn.attention``, which the CPU attention also obeys, as PyTorch's does."""
from ..nn.attention import SDPBackend, is_enabled as _sdp_enabled, set_enabled as _set_sdp_enabled


class _MatmulFlags:
    """torch.backends.cuda.matmul (PyTorch's defaults)."""
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    return False


def flash_sdp_enabled():
    return _sdp_enabled(SDPBackend.FLASH_ATTENTION)


def enable_flash_sdp(enabled):
    _set_sdp_enabled(SDPBackend.FLASH_ATTENTION, enabled)


def mem_efficient_sdp_enabled():
    return _sdp_enabled(SDPBackend.EFFICIENT_ATTENTION)


def enable_mem_efficient_sdp(enabled):
    _set_sdp_enabled(SDPBackend.EFFICIENT_ATTENTION, enabled)


def math_sdp_enabled():
    return _sdp_enabled(SDPBackend.MATH)


def enable_math_sdp(enabled):
    _set_sdp_enabled(SDPBackend.MATH, enabled)


def cudnn_sdp_enabled():
    return _sdp_enabled(SDPBackend.CUDNN_ATTENTION)


def enable_cudnn_sdp(enabled):
    _set_sdp_enabled(SDPBackend.CUDNN_ATTENTION, enabled)


def is_flash_attention_available():
    """False: the flash kernel PyTorch means here is its CUDA one."""
    return False
