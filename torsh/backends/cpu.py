"""torch.backends.cpu: the widest SIMD level this CPU offers, named as ATen names it."""
import functools

__all__ = ["get_cpu_capability"]


@functools.cache
def get_cpu_capability():
    """'AVX512', 'AVX2' or 'DEFAULT' (x86), as PyTorch picks its kernels' level; 'DEFAULT' elsewhere."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover  (NumPy < 2)
        return "DEFAULT"
    if all(features.get(f) for f in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")):
        return "AVX512"
    if features.get("AVX2") and features.get("FMA3"):
        return "AVX2"
    return "DEFAULT"
