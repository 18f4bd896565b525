"""torch.backends.cuda: torsh is not built with CUDA; the matmul precision flags are kept and change nothing.

The scaled-dot-product-attention flags (``enable_flash_sdp`` & co) are the process-wide ones of
``torsh.nn.attention``, which the CPU attention also obeys, as PyTorch's does."""
import contextlib
import warnings

from ..cuda._unavailable import no_binding, not_compiled
from ..nn.attention import SDPBackend, is_enabled as _sdp_enabled, sdpa_kernel, set_enabled as _set_sdp_enabled


class _MatmulFlags:
    """torch.backends.cuda.matmul (PyTorch's defaults)."""
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True
    fp32_precision = "none"


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


# -- the rest of PyTorch's module, answered as its CPU build does -------------------------------------------------------
_fp16_bf16_reduction_math_sdp = [False]


def allow_fp16_bf16_reduction_math_sdp(enabled):
    _fp16_bf16_reduction_math_sdp[0] = bool(enabled)


def fp16_bf16_reduction_math_sdp_allowed():
    return _fp16_bf16_reduction_math_sdp[0]


def is_ck_sdpa_available():
    return False


class SDPAParams:
    """The parameters an SDPA backend check reads (torch.backends.cuda.SDPAParams)."""

    def __init__(self, query, key, value, attn_mask, dropout, is_causal, enable_gqa):
        self.query, self.key, self.value, self.attn_mask = query, key, value, attn_mask
        self.dropout, self.is_causal, self.enable_gqa = dropout, is_causal, enable_gqa


def can_use_flash_attention(params, debug=False):
    return False  # CUDA kernels


def can_use_efficient_attention(params, debug=False):
    return False


def can_use_cudnn_attention(params, debug=False):
    return False


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """Deprecated: ``torch.nn.attention.sdpa_kernel`` with the backends enabled here."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will be "
                  "removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with updated "
                  "signature.", FutureWarning, stacklevel=3)
    chosen = [backend for backend, on in ((SDPBackend.FLASH_ATTENTION, enable_flash),
                                          (SDPBackend.EFFICIENT_ATTENTION, enable_mem_efficient),
                                          (SDPBackend.MATH, enable_math), (SDPBackend.CUDNN_ATTENTION, enable_cudnn))
              if on]
    with sdpa_kernel(chosen) as context:
        yield context


cublas_workspace_size = no_binding("_cuda_getCublasWorkspaceSize")
cublaslt_workspace_size = no_binding("_cuda_getCublasLtWorkspaceSize")
blas_workspace_size = no_binding("_cuda_getCublasWorkspaceSize")

_LINALG = ("default", "cusolver", "magma")


def preferred_linalg_library(backend=None):
    """'default' only: cuSOLVER and MAGMA are CUDA libraries."""
    if backend is None or backend == "default":
        return "default"
    if backend not in _LINALG:
        raise RuntimeError("Unknown input value. Choose from: default, cusolver, magma.")
    name = {"cusolver": "cuSOLVER", "magma": "MAGMA"}[backend]
    raise RuntimeError(f"Cannot set preferred backend to {name} if PyTorch has not been compiled with {name}.")


def preferred_blas_library(backend=None):
    """'cublas' (PyTorch's default answer); cuBLASLt / CK cannot be chosen without CUDA."""
    if backend is None or backend == "cublas":
        return "cublas"
    if backend == "cublaslt":
        raise RuntimeError("Cannot set preferred backend to cuBLASLt if PyTorch has not been compiled with cuBLASLt.")
    raise RuntimeError("Unknown input value. Choose from: cublas, cublaslt, ck.")


def preferred_rocm_fa_library(backend=None):
    return "default"


class cuFFTPlanCache:
    """One device's cuFFT plan cache: every query needs CUDA."""

    def __init__(self, device_index):
        self.device_index = device_index

    size = property(lambda self: not_compiled())
    max_size = property(lambda self: not_compiled(), lambda self, value: not_compiled())

    def clear(self):
        not_compiled()


class cuFFTPlanCacheManager:
    """torch.backends.cuda.cufft_plan_cache: indexing by device (there are none); the attributes need CUDA."""

    def __getitem__(self, device):
        index = getattr(device, "index", device)
        raise RuntimeError(f"cufft_plan_cache: expected 0 <= device index < 0, but got device with index {index}")

    size = property(lambda self: not_compiled())
    max_size = property(lambda self: not_compiled(), lambda self, value: not_compiled())

    def clear(self):
        not_compiled()


cuFFTPlanCacheAttrContextProp = property
cufft_plan_cache = cuFFTPlanCacheManager()
cuBLASModule = _MatmulFlags
