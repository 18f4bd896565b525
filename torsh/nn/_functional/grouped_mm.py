"""grouped_mm (products of matrix groups cut by cumulative offsets) and the float8 scaled products, as
PyTorch runs them on a CPU: scaled_mm needs float8 operands (torsh has none) and scaled_grouped_mm has no CPU
kernel, so both raise PyTorch's errors."""
import enum

from ..._ops.tensor.shape.views import cat, stack

__all__ = ["grouped_mm", "scaled_mm", "scaled_grouped_mm", "ScalingType", "SwizzleType"]


class ScalingType(enum.IntEnum):
    """The scale layouts scaled_mm names (PyTorch's values)."""
    TensorWise = 0
    RowWise = 1
    BlockWise1x16 = 2
    BlockWise1x32 = 3
    BlockWise1x128 = 4
    BlockWise128x128 = 5


class SwizzleType(enum.IntEnum):
    NO_SWIZZLE = 0
    SWIZZLE_32_4_4 = 1

_GROUPED_DTYPES = ("float32", "bfloat16", "float16")
_DTYPE_WORDS = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}


def _check_grouped(mat_a, mat_b, offs, bias, out_dtype):
    for name, mat in (("mat_a", mat_a), ("mat_b", mat_b)):
        if mat.ndim not in (2, 3):
            raise RuntimeError(f"{name} has to be 2 or 3d")
    if (offs is None) != (mat_a.ndim == 3 and mat_b.ndim == 3):
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if both matrices are 3d")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    dtype = str(mat_a.dtype).split(".")[-1]
    if dtype not in _GROUPED_DTYPES:
        raise RuntimeError(f"Expected mat_a to be Float32, BFloat16 or Float16 matrix, got {_DTYPE_WORDS.get(dtype, dtype)}")
    if out_dtype is not None and out_dtype is not mat_a.dtype:
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")


def _groups(offs):
    """(start, end) of each group from the cumulative end offsets."""
    ends = [int(e) for e in offs.tolist()]
    return list(zip([0] + ends[:-1], ends))


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """3d x 3d: a batched product; otherwise the 2d operand's shared dim is cut into groups at ``offs``:
    2d x 3d groups mat_a's rows (group g times mat_b[g]), 3d x 2d groups mat_b's columns, 2d x 2d groups the
    contraction dim (one (M, N) result per group)."""
    _check_grouped(mat_a, mat_b, offs, bias, out_dtype)
    if offs is None:
        return mat_a.matmul(mat_b)
    groups = _groups(offs)
    if mat_a.ndim == 2 and mat_b.ndim == 3:
        return cat([mat_a[s:e].matmul(mat_b[g]) for g, (s, e) in enumerate(groups)], 0)
    if mat_a.ndim == 3:
        return cat([mat_a[g].matmul(mat_b[:, s:e]) for g, (s, e) in enumerate(groups)], 1)
    return stack([mat_a[:, s:e].matmul(mat_b[s:e]) for s, e in groups], 0)


def scaled_mm(mat_a, mat_b, scale_a, scale_recipe_a, scale_b, scale_recipe_b, swizzle_a=None, swizzle_b=None,
              bias=None, output_dtype=None, contraction_dim=(), use_fast_accum=False):
    """PyTorch's scaled products take float8 operands only; torsh has no float8 dtype, so every call is refused
    with PyTorch's message."""
    raise ValueError("Invalid scaling configuration.\n"
                     "- For TensorWise scaling, a and b should be float8, scales should be float and singletons.\n"
                     "- For RowWise scaling, a and b should be float8, scales should be float, scale_a should be "
                     f"({mat_a.shape[0]}, 1) and scale_b should be (1, {mat_b.shape[-1]}), and both should be "
                     f"contiguous.\nGot mat_a.dtype()={mat_a.dtype}, mat_b.dtype()={mat_b.dtype}")


def scaled_grouped_mm(mat_a, mat_b, scale_a, scale_recipe_a, scale_b, scale_recipe_b, swizzle_a=None,
                      swizzle_b=None, bias=None, offs=None, output_dtype=None, contraction_dim=(),
                      use_fast_accum=False):
    """No CPU kernel in PyTorch."""
    raise NotImplementedError("Could not run 'aten::_scaled_grouped_mm_v2' with arguments from the 'CPU' backend. "
                              "This could be because the operator doesn't exist for this backend, or was omitted "
                              "during the selective/custom build process (if using custom build).")
