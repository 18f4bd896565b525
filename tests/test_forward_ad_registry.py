"""Forward-mode AD of every differentiable op of the registry: each OpDef (torsh/_ops/registry.py) gets a small
float64 sample, and ``gradcheck(check_forward_ad=True)`` compares its forward-mode Jacobian (the op's jvp rule, or
the double-vjp fallback on its backward) with central finite differences. An op is either sampled here,
known not to be differentiable, or known to have no forward AD in PyTorch (then torsh raises PyTorch's error):
a new op must join one of the lists. Complex ops are checked through real inputs and view_as_real outputs."""
import numpy as np
import pytest

import torsh
from torsh._ops import registry
from torsh.autograd import forward_ad
from helpers import needs_torch, torch_ref

IDX = [[0, 2], [1, 1], [2, 0]]


def _rand(*shape, low=0.2, high=0.9, seed=0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# generic call patterns, tried in order on every op without an explicit sample: (name, shapes), f(*tensors)
GENERIC = [
    ("unary", [(3, 4)], lambda f, a: f(a)),
    ("binary", [(3, 4), (3, 4)], lambda f, a, b: f(a, b)),
    ("dim", [(3, 4)], lambda f, a: f(a, 1)),
    ("matmul", [(3, 4), (4, 3)], lambda f, a, b: f(a, b)),
    ("square", [(3, 3)], lambda f, a: f(a + 2 * torsh.eye(3, dtype=a.dtype))),
    ("ternary", [(3, 3), (3, 3), (3, 3)], lambda f, a, b, c: f(a, b, c)),
    ("vector", [(4,), (4,)], lambda f, a, b: f(a, b)),
    ("list", [(3, 4), (3, 4)], lambda f, a, b: f([a, b])),
]


def _idx(*rows):
    return torsh.tensor(rows if rows else IDX)


def _cplx(a, b):
    return torsh.complex(a, b)


_R = torsh.view_as_real
_CONST = torsh.tensor(_rand(3, 4, seed=7), dtype=torsh.float64)
_TAU = torsh.tensor(_rand(3, seed=8), dtype=torsh.float64)  # Householder scalars for orgqr/ormqr
# explicit samples: name -> (shapes, f(op, *tensors)); a domain as shapes' companion when needed
SAMPLES = {
    "acosh": ([(3, 4)], lambda f, a: f(a + 1.2)),
    "nn_functional_bilinear": ([(2, 3), (2, 4), (5, 3, 4), (5,)], lambda f, a, b, w, c: f(a, b, w, c)),
    "where": ([(3, 4), (3, 4)], lambda f, a, b: f(a > 0.5, a, b)),
    "polygamma": ([(3, 4)], lambda f, a: f(1, a)),
    "positive": ([(3, 4)], lambda f, a: f(a) * 1),
    "to": ([(3, 4)], lambda f, a: f(a, torsh.float64, copy=True)),
    "type_as": ([(3, 4), (3, 4)], lambda f, a, b: f(a, b) * 1),
    "double": ([(3, 4)], lambda f, a: f(a) * 1),
    "cpu": ([(3, 4)], lambda f, a: f(a) * 1),
    "real": ([(3, 4), (3, 4)], lambda f, a, b: f(_cplx(a, b)) * 1),
    "imag": ([(3, 4), (3, 4)], lambda f, a, b: f(_cplx(a, b)) * 1),
    "conj": ([(3, 4), (3, 4)], lambda f, a, b: _R(f(_cplx(a, b) * 1).resolve_conj())),
    "resolve_conj": ([(3, 4), (3, 4)], lambda f, a, b: _R(f(_cplx(a, b).conj()))),
    "resolve_neg": ([(3, 4)], lambda f, a: f(a) * 1),
    "view_as_real": ([(3, 4), (3, 4)], lambda f, a, b: f(_cplx(a, b)) * 1),
    "view_as_complex": ([(3, 2)], lambda f, a: _R(f(a * 1) * f(a * 2))),
    "complex": ([(3, 4), (3, 4)], lambda f, a, b: _R(f(a, b) * f(b, a))),
    "polar": ([(3, 4), (3, 4)], lambda f, a, b: _R(f(a, b))),
    "index_put": ([(3, 4), (2,)], lambda f, a, v: f(a, (_idx(0, 2),), v.unsqueeze(-1))),
    "masked_fill": ([(3, 4)], lambda f, a: f(a, a > 0.5, 2.0)),
    "bmm": ([(2, 3, 4), (2, 4, 2)], lambda f, a, b: f(a, b)),
    "mv": ([(3, 4), (4,)], lambda f, a, b: f(a, b)),
    "view": ([(3, 4)], lambda f, a: f(a, 4, 3) * 1),
    "reshape": ([(3, 4)], lambda f, a: f(a, (2, 6)) * 1),
    "transpose": ([(3, 4)], lambda f, a: f(a, 0, 1) * 1),
    "swapaxes": ([(3, 4)], lambda f, a: f(a, 0, 1) * 1),
    "permute": ([(2, 3, 4)], lambda f, a: f(a, 2, 0, 1) * 1),
    "unflatten": ([(3, 4)], lambda f, a: f(a, 1, (2, 2)) * 1),
    "expand": ([(3, 1)], lambda f, a: f(a, 3, 4) * 1),
    "contiguous": ([(4, 3)], lambda f, a: f(a.t()) * 1),
    "narrow": ([(3, 4)], lambda f, a: f(a, 1, 1, 2) * 1),
    "select": ([(3, 4)], lambda f, a: f(a, 1, 2) * 1),
    "movedim": ([(2, 3, 4)], lambda f, a: f(a, 0, 2) * 1),
    "copy": ([(3, 4), (3, 4)], lambda f, a, b: f(a * 1, b) * 1),
    "fill": ([(3, 4)], lambda f, a: f(a * 1, 2.0) + a),
    "zero": ([(3, 4)], lambda f, a: f(a * 1) + a),
    "unfold": ([(3, 4)], lambda f, a: f(a, 1, 2, 1) * 1),
    "split_with_sizes": ([(3, 4)], lambda f, a: f(a, [1, 3], 1)),
    "unsafe_split_with_sizes": ([(3, 4)], lambda f, a: f(a, [1, 3], 1)),
    "as_strided": ([(3, 4)], lambda f, a: f(a, (2, 2), (1, 2), 1) * 1),
    "diagonal_scatter": ([(3, 3), (3,)], lambda f, a, b: f(a, b)),
    "broadcast_to": ([(3, 1)], lambda f, a: f(a, (3, 4)) * 1),
    "atleast_1d": ([()], lambda f, a: f(a) * 1),
    "dsplit": ([(2, 2, 4)], lambda f, a: f(a, 2)),
    "gather": ([(3, 4)], lambda f, a: f(a, 1, _idx())),
    "scatter": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx([0, 2], [1, 3], [2, 0]), b)),
    "scatter_add": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx(), b)),
    "scatter_reduce": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx([0, 2], [1, 3], [2, 0]), b, "sum")),
    "index_select": ([(3, 4)], lambda f, a: f(a, 1, _idx(0, 2))),
    "index_add": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx(0, 2), b)),
    "index_copy": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx(0, 2), b)),
    "index_fill": ([(3, 4)], lambda f, a: f(a, 1, _idx(0, 2), 2.0)),
    "index_reduce": ([(3, 4), (3, 2)], lambda f, a, b: f(a, 1, _idx(0, 2), b, "prod")),
    "take": ([(3, 4)], lambda f, a: f(a, _idx(0, 5, 11))),
    "take_along_dim": ([(3, 4)], lambda f, a: f(a, _idx(), 1)),
    "masked_select": ([(3, 4)], lambda f, a: f(a, torsh.tensor(_rand(3, 4, seed=9) > 0.5))),
    "masked_scatter": ([(3, 4), (12,)], lambda f, a, b: f(a, torsh.tensor(_rand(3, 4, seed=9) > 0.5), b)),
    "put": ([(3, 4), (3,)], lambda f, a, b: f(a, _idx(0, 5, 11), b)),
    "select_scatter": ([(3, 4), (4,)], lambda f, a, b: f(a, b, 0, 1)),
    "as_strided_scatter": ([(3, 4), (2, 2)], lambda f, a, b: f(a, b, (2, 2), (4, 1))),
    "segment_reduce": ([(5,)], lambda f, a: f(a, "sum", lengths=torsh.tensor([2, 3]))),
    "stft": ([(16,)], lambda f, a: _R(f(a, 8, hop_length=4, window=torsh.hann_window(8, dtype=a.dtype),
                                        return_complex=True))),
    "lu_unpack": ([(3, 3)], lambda f, a: f(*torsh.linalg.lu_factor(a + 2 * torsh.eye(3, dtype=a.dtype)))),
    "lu_solve": ([(3, 3), (3, 2)], lambda f, a, b: f(b, *torsh.linalg.lu_factor(a + 2 * torsh.eye(3, dtype=a.dtype)))),
    "cholesky": ([(3, 3)], lambda f, a: f(a @ a.mT + torsh.eye(3, dtype=a.dtype))),
    "cholesky_inverse": ([(3, 3)], lambda f, a: f(a.tril() + 2 * torsh.eye(3, dtype=a.dtype))),
    "cholesky_solve": ([(3, 2), (3, 3)], lambda f, b, a: f(b, a.tril() + 2 * torsh.eye(3, dtype=a.dtype))),
    "triangular_solve": ([(3, 2), (3, 3)], lambda f, b, a: f(b, a.triu() + 2 * torsh.eye(3, dtype=a.dtype))),
    "qr": ([(4, 3)], lambda f, a: f(a)),
    "lu": ([(3, 3)], lambda f, a: f(a + 2 * torsh.eye(3, dtype=a.dtype))),
    "orgqr": ([(4, 3)], lambda f, a: f(a, _TAU)),
    "ormqr": ([(4, 3), (4, 2)], lambda f, a, c: f(a, _TAU, c)),
    "renorm": ([(3, 4)], lambda f, a: f(a, 2, 0, 1.0)),
    "addmv": ([(3,), (3, 4), (4,)], lambda f, a, b, c: f(a, b, c, beta=0.5, alpha=2)),
    "addr": ([(3, 4), (3,), (4,)], lambda f, a, b, c: f(a, b, c, beta=0.5, alpha=2)),
    "baddbmm": ([(2, 3, 2), (2, 3, 4), (2, 4, 2)], lambda f, a, b, c: f(a, b, c, beta=0.5, alpha=2)),
    "addbmm": ([(3, 2), (2, 3, 4), (2, 4, 2)], lambda f, a, b, c: f(a, b, c, beta=0.5, alpha=2)),
    "einsum": ([(3, 4), (4, 2)], lambda f, a, b: f("ij,jk->ik", a, b)),
    "vander": ([(3,)], lambda f, a: f(a, 4)),
    "matrix_power": ([(3, 3)], lambda f, a: f(a, 3)),
    "combinations": ([(4,)], lambda f, a: f(a, 2)),
    "mvlgamma": ([(3, 4)], lambda f, a: f(a + 2, 2)),
    # linalg
    "linalg_cross": ([(3, 3), (3, 3)], lambda f, a, b: f(a, b)),
    "linalg_householder_product": ([(4, 3)], lambda f, a: f(a, _TAU)),
    "linalg_lu_solve": ([(3, 3), (3, 2)], lambda f, a, b: f(*torsh.linalg.lu_factor(a + 2 * _EYE), b)),
    "linalg_matrix_power": ([(3, 3)], lambda f, a: f(a, 3)),
    "linalg_multi_dot": ([(3, 4), (4, 2), (2, 3)], lambda f, a, b, c: f([a, b, c])),
    "linalg_solve": ([(3, 3), (3, 2)], lambda f, a, b: f(a + 2 * _EYE, b)),
    "linalg_solve_ex": ([(3, 3), (3, 2)], lambda f, a, b: f(a + 2 * _EYE, b)[0]),
    "linalg_solve_triangular": ([(3, 3), (3, 2)], lambda f, a, b: f(a.triu() + 2 * _EYE, b, upper=True)),
    "linalg_tensorinv": ([(4, 2, 2)], lambda f, a: f(a + 2 * _EYE4.reshape(4, 2, 2), ind=1)),
    "linalg_tensorsolve": ([(4, 2, 2), (4,)], lambda f, a, b: f(a + 2 * _EYE4.reshape(4, 2, 2), b)),
    "linalg_cholesky": ([(3, 3)], lambda f, a: f(a @ a.mT + _EYE)),
    "linalg_cholesky_ex": ([(3, 3)], lambda f, a: f(a @ a.mT + _EYE)[0]),
    "linalg_eigh": ([(3, 3)], lambda f, a: _gauge_free_eigh(f(a + a.mT))),
    "linalg_eigvalsh": ([(3, 3)], lambda f, a: f(a + a.mT)),
    "linalg_qr": ([(4, 3)], lambda f, a: f(a)),
    "linalg_svd": ([(4, 3)], lambda f, a: _gauge_free_svd(f(a, full_matrices=False))),
    "svd": ([(4, 3)], lambda f, a: _gauge_free_svd(f(a))),
    "linalg_svdvals": ([(4, 3)], lambda f, a: f(a)),
    "special_polygamma": ([(3, 4)], lambda f, a: f(1, a)),
    "special_zeta": ([(3, 4)], lambda f, q: f(_CONST + 1.5, q)),  # PyTorch differentiates q only
    "nn_functional_instance_norm": ([(2, 3, 5)], lambda f, a: f(a)),
    "nn_functional_threshold": ([(3, 4)], lambda f, a: f(a, 0.5, -1.0)),
    # nn.functional (input first; a weight as a second tensor where the op has one)
    "nn_functional_adaptive_avg_pool2d": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_adaptive_avg_pool3d": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_adaptive_max_pool2d": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_adaptive_max_pool2d_with_indices": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)[0]),
    "nn_functional_adaptive_max_pool3d": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_adaptive_max_pool3d_with_indices": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)[0]),
    "nn_functional_affine_grid": ([(1, 2, 3)], lambda f, a: f(a, [1, 1, 3, 3], align_corners=False)),
    "nn_functional_avg_pool2d": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_avg_pool3d": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_batch_norm": ([(4, 3), (3,), (3,)], lambda f, a, w, b: f(a, None, None, w, b, training=True)),
    "nn_functional_conv1d": ([(1, 2, 5), (3, 2, 2)], lambda f, a, w: f(a, w)),
    "nn_functional_conv2d": ([(1, 2, 4, 4), (3, 2, 2, 2), (3,)], lambda f, a, w, b: f(a, w, b, padding=1)),
    "nn_functional_conv3d": ([(1, 1, 3, 3, 3), (2, 1, 2, 2, 2)], lambda f, a, w: f(a, w)),
    "nn_functional_conv_tbc": ([(4, 1, 2), (2, 2, 3), (3,)], lambda f, a, w, b: f(a, w, b)),
    "nn_functional_conv_transpose1d": ([(1, 2, 4), (2, 3, 2)], lambda f, a, w: f(a, w)),
    "nn_functional_conv_transpose2d": ([(1, 2, 3, 3), (2, 3, 2, 2)], lambda f, a, w: f(a, w, stride=2)),
    "nn_functional_conv_transpose3d": ([(1, 1, 2, 2, 2), (1, 2, 2, 2, 2)], lambda f, a, w: f(a, w)),
    "nn_functional_embedding": ([(5, 3)], lambda f, w: f(_idx(0, 4, 2), w)),
    "nn_functional_embedding_bag": ([(5, 3)], lambda f, w: f(_idx(0, 4, 2, 1), w, torsh.tensor([0, 2]))),
    "nn_functional_fold": ([(1, 4, 4)], lambda f, a: f(a, (3, 3), 2)),
    "nn_functional_unfold": ([(1, 1, 3, 3)], lambda f, a: f(a, 2)),
    "nn_functional_grid_sample": ([(1, 1, 3, 3), (1, 2, 2, 2)], lambda f, a, g: f(a, g * 0.8 - 0.4, align_corners=False)),
    "nn_functional_interpolate": ([(1, 1, 3, 3)], lambda f, a: f(a, scale_factor=2, mode="bilinear")),
    "nn_functional_upsample": ([(1, 1, 3, 3)], lambda f, a: f(a, scale_factor=2, mode="bilinear")),
    "nn_functional_upsample_bilinear": ([(1, 1, 3, 3)], lambda f, a: f(a, scale_factor=2)),
    "nn_functional_upsample_nearest": ([(1, 1, 3, 3)], lambda f, a: f(a, scale_factor=2)),
    "nn_functional_layer_norm": ([(3, 4), (4,), (4,)], lambda f, a, w, b: f(a, (4,), w, b)),
    "nn_functional_local_response_norm": ([(1, 4, 3)], lambda f, a: f(a, 2)),
    "nn_functional_lp_pool1d": ([(1, 2, 4)], lambda f, a: f(a, 2.0, 2)),
    "nn_functional_lp_pool2d": ([(1, 1, 4, 4)], lambda f, a: f(a, 2.0, 2)),
    "nn_functional_lp_pool3d": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2.0, 2)),
    "nn_functional_max_pool2d": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_max_pool2d_with_indices": ([(1, 2, 4, 4)], lambda f, a: f(a, 2)[0]),
    "nn_functional_max_pool3d": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)),
    "nn_functional_max_pool3d_with_indices": ([(1, 1, 2, 4, 4)], lambda f, a: f(a, 2)[0]),
    "nn_functional_max_unpool1d": ([(1, 1, 2)], lambda f, a: f(a, _idx([[1, 2]]), 2)),
    "nn_functional_max_unpool2d": ([(1, 1, 1, 2)], lambda f, a: f(a, _idx([[[1, 2]]]), 2, output_size=(2, 4))),
    "nn_functional_max_unpool3d": ([(1, 1, 1, 1, 2)], lambda f, a: f(a, _idx([[[[1, 2]]]]), 2,
                                                                        output_size=(2, 2, 4))),
    "nn_functional_multi_margin_loss": ([(3, 4)], lambda f, a: f(a, _idx(0, 3, 1))),
    "nn_functional_multilabel_margin_loss": ([(2, 4)], lambda f, a: f(a, _idx([3, 0, -1, 1], [1, 2, 3, -1]))),
    "nn_functional_nll_loss": ([(3, 4)], lambda f, a: f(a, _idx(0, 3, 1))),
    "nn_functional_pad": ([(1, 2, 3)], lambda f, a: f(a, (1, 2), mode="reflect")),
    "nn_functional_pixel_shuffle": ([(1, 4, 2, 2)], lambda f, a: f(a, 2) * 1),
    "nn_functional_channel_shuffle": ([(1, 4, 2, 2)], lambda f, a: f(a, 2) * 1),  # PyTorch needs > 2 dims
    "nn_functional_native_channel_shuffle": ([(1, 4, 2, 2)], lambda f, a: f(a, 2) * 1),
    "nn_functional_pixel_unshuffle": ([(1, 1, 4, 4)], lambda f, a: f(a, 2) * 1),
    "nn_functional_prelu": ([(2, 3, 4), (3,)], lambda f, a, w: f(a - 0.5, w)),
    "prelu": ([(2, 3, 4), (3,)], lambda f, a, w: f(a - 0.5, w)),
    "nn_functional_threshold_": ([(3, 4)], lambda f, a: f(a * 1, 0.5, -1.0)),
    "nn_functional_ctc_loss": ([(4, 1, 3)], lambda f, a: f(a.log_softmax(2), _idx([1, 2]), (4,), (2,))),
    "nn_functional_multi_head_attention_forward": (
        [(2, 1, 4), (12, 4), (4, 4)],
        lambda f, q, w_in, w_out: f(q, q, q, 4, 2, w_in, None, None, None, False, 0.0, w_out, None,
                                    need_weights=False)[0]),
}
_EYE = torsh.eye(3, dtype=torsh.float64)
_EYE4 = torsh.eye(4, dtype=torsh.float64)


def _gauge_free_eigh(result):
    """eigenvalues and V diag(L) V^T: the eigenvectors' signs are arbitrary (PyTorch's gradcheck does the same)."""
    values, vectors = result
    return values, (vectors * values.unsqueeze(-2)) @ vectors.mT


def _gauge_free_svd(result):
    u, s, vh = result
    return s, (u * s.unsqueeze(-2)) @ vh

# outputs without a gradient (integer/bool results, predicates, random draws, index computations)
NOT_DIFFERENTIABLE = {
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "nextafter", "heaviside", "gcd", "lcm",
    "bitwise_left_shift", "bitwise_right_shift", "signbit", "isposinf", "isneginf", "isreal", "isclose",
    "allclose", "equal", "int", "long", "short", "char", "byte", "bool", "nonzero", "argwhere", "argmax", "argmin",
    "all", "any", "count_nonzero", "uniform", "normal", "type", "is_nonzero", "isin", "tril_indices",
    "triu_indices", "is_conj", "is_neg", "is_same_size", "is_signed", "is_inference", "bernoulli", "multinomial",
    "argsort", "unique", "unique_consecutive", "bincount", "histc", "histogram", "searchsorted", "bucketize",
    "nonzero_static", "unravel_index", "histogramdd",
    # factories and random draws: no tensor input to differentiate
    "arange", "empty", "eye", "fft_fftfreq", "fft_rfftfreq", "from_dlpack", "from_numpy", "full", "linspace",
    "logspace", "ones", "zeros", "rand", "randn", "randint", "randperm", "nn_functional_one_hot",
    "nn_functional_dropout3d",  # random
    "nn_functional_fractional_max_pool2d", "nn_functional_fractional_max_pool2d_with_indices",  # random windows
    "nn_functional_fractional_max_pool3d", "nn_functional_fractional_max_pool3d_with_indices",
    "nn_functional_grouped_mm", "nn_functional_scaled_grouped_mm", "nn_functional_scaled_mm",  # low precision
    "istft",  # its input is complex: the sample would need complex tangents gradcheck does not make
    # quantization: integer (quantized) results and their quantizer's parameters
    "quantize_per_tensor", "quantize_per_tensor_dynamic", "quantize_per_channel", "int_repr", "q_scale", "q_zero_point", "q_per_channel_scales",
    "q_per_channel_zero_points", "q_per_channel_axis", "qscheme",
}
# outputs in a lower precision (gradcheck needs float64 ones) or drawn at random
NOT_CHECKED = {"float": "float32 output", "dequantize": "float32 output", "half": "float16 output", "bfloat16": "bfloat16 output",
               "cfloat": "complex64 output", "poisson": "random", "binomial": "random",
               "geqrf": "no derivative (PyTorch has none: NO_FORWARD_AD)",
               "nn_functional_dropout": "random", "nn_functional_dropout1d": "random",
               "nn_functional_dropout2d": "random", "nn_functional_gumbel_softmax": "random",
               "linalg_ldl_factor": "no derivative (as PyTorch)", "linalg_ldl_factor_ex": "no derivative (as PyTorch)",
               "linalg_ldl_solve": "no derivative (as PyTorch)",
               "special_gammainc": "igamma: no forward AD in PyTorch", "special_gammaincc": "igammac: ditto",
               "igamma": "no forward AD in PyTorch: NO_FORWARD_AD", "igammac": "no forward AD in PyTorch: NO_FORWARD_AD",
               "sparse_coo_tensor": "sparse output (torsh.sparse: reverse mode only)",
               "to_sparse": "sparse output (torsh.sparse: reverse mode only)",
               "fake_quantize_per_tensor_affine": "a step function: its straight-through gradient is no derivative",
               "fake_quantize_per_channel_affine": "a step function: its straight-through gradient is no derivative"}

# ops PyTorch has no forward AD for: (sample as in SAMPLES, the torch function)
NO_FORWARD_AD = {
    "igamma_input": ([(3, 4), (3, 4)], lambda lib, a, b: lib.igamma(a, b)),
    "igammac_input": ([(3, 4), (3, 4)], lambda lib, a, b: lib.igammac(a, b)),
    "igamma_other": ([(3, 4), (3, 4)], lambda lib, a, b: lib.igamma(b, a)),
    "geqrf": ([(4, 3)], lambda lib, a: lib.geqrf(a)[0]),
    "binomial": ([(3, 4), (3, 4)], lambda lib, a, b: lib.binomial(a * 10, b)),
}


def _inputs(shapes):
    return tuple(torsh.tensor(_rand(*s, seed=k), dtype=torsh.float64, requires_grad=True)
                 for k, s in enumerate(shapes))


def _has_gradient(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return any(isinstance(o, torsh.Tensor) and o.grad_fn is not None for o in outs)


def _sample_for(entry):
    """(how, shapes, call) for ``entry``: its explicit sample, else the first generic pattern it takes and
    differentiates through; ("no gradient", ...) when the patterns that fit give outputs without a grad_fn
    (the op has no backward); None when no pattern fits."""
    if entry.name in SAMPLES:
        shapes, call = SAMPLES[entry.name]
        return "explicit", shapes, call
    fits = None
    for how, shapes, call in GENERIC:
        try:
            out = call(entry.fn, *_inputs(shapes))
        except Exception:  # noqa: BLE001  (this pattern does not fit the op's signature)
            continue
        if _has_gradient(out):
            return how, shapes, call
        fits = fits or ("no gradient", shapes, call)
    return fits


ENTRIES = {e.name: e for e in registry.entries()}
SAMPLED = {name: _sample_for(e) for name, e in ENTRIES.items()
           if name not in NOT_DIFFERENTIABLE and name not in NOT_CHECKED}
CHECKED = {name: s for name, s in SAMPLED.items() if s is not None and s[0] != "no gradient"}


def test_every_op_is_checked_or_listed():
    unsampled = sorted(name for name, sample in SAMPLED.items() if sample is None)
    assert unsampled == [], "ops without a forward-AD sample: add one to SAMPLES or list them"
    stale = sorted((set(SAMPLES) | NOT_DIFFERENTIABLE | set(NOT_CHECKED)) - set(ENTRIES))
    assert stale == []


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_forward_ad_matches_finite_differences(name):
    _, shapes, call = CHECKED[name]
    entry = ENTRIES[name]
    inputs = _inputs(shapes)
    out = call(entry.fn, *inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    assert _has_gradient(out), f"{name}: the sample does not differentiate through the op"
    assert all(bool(o.isfinite().all()) for o in outs if isinstance(o, torsh.Tensor) and o.is_floating_point())
    assert torsh.autograd.gradcheck(lambda *xs: call(entry.fn, *xs), inputs, check_forward_ad=True,
                                    check_backward_ad=False)


def _rule_kind(entry):
    return "rule" if entry.jvp is not None else "double-vjp"


HOT_OPS = ["add", "sub", "mul", "div", "exp", "log", "sin", "tanh", "sigmoid", "relu", "matmul", "mm", "bmm",
           "addmm", "dot", "sum", "mean", "logsumexp", "softmax", "log_softmax", "nn_functional_conv1d",
           "nn_functional_conv2d", "nn_functional_conv3d", "nn_functional_layer_norm", "nn_functional_gelu",
           "nn_functional_silu", "nn_functional_leaky_relu", "nn_functional_elu", "nn_functional_softplus",
           "nn_functional_hardtanh", "nn_functional_mish", "nn_functional_hardswish", "nn_functional_logsigmoid"]


@pytest.mark.parametrize("name", HOT_OPS)
def test_hot_ops_have_native_rules(name):
    """Their rule is declared on the entry and is the one forward AD runs for the op's node."""
    entry = ENTRIES[name]
    assert _rule_kind(entry) == "rule"
    shapes, call = CHECKED[name][1:]
    out = call(entry.fn, *_inputs(shapes))
    node = (out[0] if isinstance(out, (tuple, list)) else out).grad_fn
    while type(node) not in forward_ad.RULES and type(node).__name__ in ("ViewBackward0", "ReshapeAliasBackward0"):
        node = node.next_functions[0][0]  # an op composed with a reshape (matmul of 1-D operands)
    assert type(node) in forward_ad.RULES


@needs_torch
@pytest.mark.parametrize("name", sorted(NO_FORWARD_AD))
def test_ops_without_forward_ad_raise_pytorch_error(name):
    shapes, call = NO_FORWARD_AD[name]

    def run(lib):
        fw = lib.autograd.forward_ad
        with fw.dual_level():
            primals = [lib.tensor(_rand(*s, seed=k), dtype=lib.float64) for k, s in enumerate(shapes)]
            with pytest.raises(Exception) as info:
                call(lib, fw.make_dual(primals[0], lib.ones_like(primals[0])), *primals[1:])
        return info.value
    ours, ref = run(torsh), run(torch_ref)
    assert type(ours) is type(ref) and str(ours) == str(ref)
    assert forward_ad._current_level == -1
