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


def _sdp_switch(backend):
    """The (query, setter) pair PyTorch names <kernel>_sdp_enabled / enable_<kernel>_sdp, for one backend."""
    def enabled():
        return _sdp_enabled(backend)

    def enable(enabled):
        _set_sdp_enabled(backend, enabled)
    return enabled, enable


flash_sdp_enabled, enable_flash_sdp = _sdp_switch(SDPBackend.FLASH_ATTENTION)
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _sdp_switch(SDPBackend.EFFICIENT_ATTENTION)
math_sdp_enabled, enable_math_sdp = _sdp_switch(SDPBackend.MATH)
cudnn_sdp_enabled, enable_cudnn_sdp = _sdp_switch(SDPBackend.CUDNN_ATTENTION)


def is_flash_attention_available():
    """False: the flash kernel PyTorch means here is its CUDA one."""
    return False
