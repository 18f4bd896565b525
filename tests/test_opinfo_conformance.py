"""OpInfo conformance, bounded: PyTorch's own op_db sample inputs for the ops that fully agree with PyTorch 2.13.

Runs tools/opinfo_sweep.py's comparison (exception vs none and its type, output structure, shape, dtype and
values) for float32 and float64 on the first samples of each op below, so ops fixed by the sweep stay fixed.
The list is the ops the full sweep (`python tools/opinfo_sweep.py`) found fully agreeing, leaving out
nn.functional (its own conformance tests), random, sparse and masked ops and the few whose sample generation
alone takes over 0.045 s, and ops without float dtypes. Forward only: the sweep's float64 gradient check stays in the tool. About 35 s on a loaded 2-core machine.
"""
import importlib.util
import pathlib

import pytest

from helpers import needs_torch, torch_ref

pytestmark = needs_torch

op_db_module = pytest.importorskip("torch.testing._internal.common_methods_invocations",
                                   reason="torch's op_db needs expecttest (requirements-dev.txt)")

SWEEP_PATH = pathlib.Path(__file__).resolve().parent.parent / "tools" / "opinfo_sweep.py"
DTYPES = ("float32", "float64")
SAMPLES_PER_DTYPE = 3

AGREEING = (
    'H', 'T', 'acos', 'acosh', 'addmm.decomposed', 'addmv', 'alias_copy', 'all', 'amax', 'amin', 'angle',
    'any', 'argmax', 'argmin', 'argwhere', 'asin', 'asinh', 'atan', 'atanh', 'atleast_1d', 'atleast_2d',
    'atleast_3d', 'baddbmm', 'bfloat16', 'block_diag', 'bmm', 'bmm.triton_optimized', 'bool', 'broadcast_shapes',
    'broadcast_tensors', 'broadcast_to', 'bucketize', 'byte', 'cartesian_prod', 'cdouble', 'ceil', 'cfloat', 'char',
    'clamp', 'clamp_min', 'clone', 'column_stack', 'complex', 'conj', 'conj_physical', 'contiguous',
    'copysign', 'cos', 'cosh', 'count_nonzero', 'cross', 'cummax', 'cummin', 'cumsum', 'cumulative_trapezoid',
    'deg2rad', 'diagflat', 'digamma', 'div.trunc_rounding', 'dot', 'double', 'dsplit',
    'dstack', 'empty', 'empty_like', 'equal', 'erf', 'erfc', 'erfinv', 'exp', 'exp2', 'expand_as', 'expand_copy',
    'expm1', 'fft.ifftshift', 'fft.rfftn', 'fill', 'flatten', 'fliplr', 'flipud', 'float', 'float_power', 'floor',
    'frac', 'frexp', 'full', 'full_like', 'gradient', 'grid_sampler_2d', 'gt', 'half', 'hsplit', 'hstack', 'hypot',
    'i0', 'igamma', 'igammac', 'index_add', 'index_copy', 'index_fill', 'index_put', 'index_select', 'inner', 'int',
    'isfinite', 'isin', 'isinf', 'isnan', 'isneginf', 'isposinf', 'isreal', 'kron', 'ldexp', 'le', 'lerp', 'lgamma',
    'linalg.cholesky_ex', 'linalg.cond', 'linalg.cross',
    'linalg.eigvals', 'linalg.eigvalsh', 'linalg.inv', 'linalg.inv_ex', 'linalg.ldl_factor', 'linalg.ldl_factor_ex',
    'linalg.lu_solve', 'linalg.matrix_norm', 'linalg.matrix_power', 'linalg.matrix_rank.hermitian',
    'linalg.multi_dot', 'linalg.norm', 'linalg.norm.subgradients_at_zero', 'linalg.pinv', 'linalg.slogdet',
    'linalg.solve', 'linalg.solve_ex', 'linalg.solve_triangular', 'linalg.svdvals', 'linalg.tensorinv',
    'linalg.tensorsolve', 'linalg.vecdot', 'linalg.vector_norm', 'log', 'log10', 'log1p', 'log2', 'logaddexp2',
    'logical_not', 'logical_or', 'logical_xor', 'logit', 'logsumexp', 'long', 'lt', 'lu_solve',
    'lu_unpack', 'mH', 'mT', 'masked_scatter', 'matmul', 'max.reduction_no_dim', 'mean', 'meshgrid.list_of_tensors',
    'meshgrid.variadic_tensors', 'min.binary', 'min.reduction_no_dim', 'minimum', 'mm', 'movedim', 'msort', 'mul',
    'mv', 'mvlgamma.mvlgamma_p_1', 'mvlgamma.mvlgamma_p_3', 'mvlgamma.mvlgamma_p_5', 'nan_to_num', 'nanmean',
    'nansum', 'narrow', 'narrow_copy', 'ne', 'neg', 'new_empty', 'new_empty_strided', 'new_full', 'new_ones',
    'new_zeros', 'norm', 'norm.fro', 'norm.inf', 'norm.nuc', 'ones', 'ones_like', 'outer', 'permute', 'permute_copy',
    'polar', 'positive', 'pow', 'rad2deg', 'ravel', 'real', 'reciprocal', 'renorm', 'repeat', 'repeat_interleave',
    'reshape', 'reshape_as', 'resize_', 'resize_as_', 'resolve_conj', 'resolve_neg', 'roll', 'round',
    'round.decimals_0', 'round.decimals_3', 'round.decimals_neg_3', 'rsqrt', 'rsub', 'scalar_tensor', 'scatter_add',
    'scatter_reduce.amax', 'scatter_reduce.amin', 'scatter_reduce.mean', 'select', 'select_scatter', 'sgn', 'short',
    'sigmoid', 'sign', 'signbit', 'sin', 'sinc', 'sinh', 'slice_scatter', 'special.airy_ai', 'special.bessel_j1',
    'special.bessel_y0', 'special.chebyshev_polynomial_t', 'special.chebyshev_polynomial_u',
    'special.chebyshev_polynomial_v', 'special.chebyshev_polynomial_w', 'special.entr', 'special.erfcx',
    'special.hermite_polynomial_h', 'special.hermite_polynomial_he', 'special.i0e', 'special.i1', 'special.i1e',
    'special.laguerre_polynomial_l', 'special.legendre_polynomial_p', 'special.log_ndtr',
    'special.modified_bessel_i0', 'special.modified_bessel_i1', 'special.modified_bessel_k0',
    'special.modified_bessel_k1', 'special.ndtr', 'special.ndtri', 'special.scaled_modified_bessel_k0',
    'special.scaled_modified_bessel_k1', 'special.shifted_chebyshev_polynomial_t',
    'special.shifted_chebyshev_polynomial_u', 'special.shifted_chebyshev_polynomial_v',
    'special.shifted_chebyshev_polynomial_w', 'special.spherical_bessel_j0', 'special.xlog1py', 'special.zeta',
    'split', 'split.list_args', 'split_with_sizes', 'split_with_sizes_copy', 'sqrt', 'square', 'squeeze',
    'squeeze.multiple', 'squeeze_copy', 'stack', 'std', 'std.unbiased', 'std_mean.unbiased', 'sum', 't', 't_copy',
    'take', 'take_along_dim', 'tan', 'tanh', 'tensor_split', 'tensordot', 'topk', 'trace', 'transpose',
    'transpose_copy', 'trapezoid', 'trapz', 'triangular_solve', 'true_divide', 'trunc', 'unbind',
    'unbind_copy', 'unflatten', 'unfold_copy', 'unsafe_split', 'unsqueeze', 'unsqueeze_copy', 'var', 'var.unbiased',
    'var_mean', 'var_mean.unbiased', 'vdot', 'view', 'view_as', 'view_as_complex', 'view_copy', 'vsplit', 'vstack',
    'xlogy', 'zero_', 'zeros', 'zeros_like'
)


def _load_sweep():
    spec = importlib.util.spec_from_file_location("opinfo_sweep", SWEEP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sweep = _load_sweep() if torch_ref is not None else None
OPINFOS = {sweep.op_key(op): op for op in op_db_module.op_db} if sweep else {}


def _report(result):
    lines = [f"{result['op']}: {result['diverging']} of {result['samples']} samples diverge from PyTorch"]
    for d in result["divergences"][:5]:
        lines.append(f"  {d['dtype']} sample #{d['sample']} ({d['input']}): {d['kind']}: {d['detail']}")
    if result["missing"]:
        lines.append(f"  missing: {result['missing']}")
    return "\n".join(lines)


@pytest.mark.parametrize("key", AGREEING)
def test_opinfo_samples_agree(key):
    assert key in OPINFOS, f"{key} is no OpInfo of this torch's op_db"
    result = sweep.sweep_op(OPINFOS[key], DTYPES, ["function"], with_grad=False, max_samples=SAMPLES_PER_DTYPE)
    assert result["missing"] is None and not result["diverging"], _report(result)
    assert result["samples"] > 0, f"{key}: no float32/float64 sample ran"
