"""Errors that used to be silent wrong results or raw NumPy/Python messages (issue "Hardening").

Each case is ``fn(lib)`` that must raise in torsh the exception type and message PyTorch 2.13 raises
(``check_same_error`` runs the same code in torch).
"""
import math

import pytest

import torsh

from helpers import check_same_error, needs_torch

inf, nan = math.inf, math.nan


def _embedding_cases():
    def F(lib):
        import importlib
        return importlib.import_module(lib.__name__ + ".nn.functional")

    weight = lambda lib: lib.ones(4, 3)  # noqa: E731
    return [
        ("embedding_negative_index", lambda lib: F(lib).embedding(lib.tensor([0, -1]), weight(lib))),
        ("embedding_index_past_end", lambda lib: F(lib).embedding(lib.tensor([[4]]), weight(lib))),
        ("embedding_padding_idx_past_end", lambda lib: F(lib).embedding(lib.tensor([0]), weight(lib), padding_idx=4)),
        ("embedding_padding_idx_before_start",
         lambda lib: F(lib).embedding(lib.tensor([0]), weight(lib), padding_idx=-5)),
        ("Embedding_padding_idx_past_end", lambda lib: lib.nn.Embedding(4, 3, padding_idx=4)),
        ("Embedding_padding_idx_before_start", lambda lib: lib.nn.Embedding(4, 3, padding_idx=-5)),
        ("Embedding_module_negative_index", lambda lib: lib.nn.Embedding(4, 3)(lib.tensor([-1]))),
    ]


FILL_CASES = [
    ("full_nan_int64", lambda lib: lib.full((2,), nan, dtype=lib.int64)),
    ("full_inf_int64", lambda lib: lib.full((2,), inf, dtype=lib.int64)),
    ("full_minus_inf_int32", lambda lib: lib.full((2,), -inf, dtype=lib.int32)),
    ("full_1e30_int32", lambda lib: lib.full((2,), 1e30, dtype=lib.int32)),
    ("full_300_uint8", lambda lib: lib.full((2,), 300, dtype=lib.uint8)),
    ("full_minus_256_uint8", lambda lib: lib.full((2,), -256, dtype=lib.uint8)),
    ("full_minus_half_uint8", lambda lib: lib.full((2,), -0.5, dtype=lib.uint8)),
    ("full_128_int8", lambda lib: lib.full((2,), 128, dtype=lib.int8)),
    ("full_40000_int16", lambda lib: lib.full((2,), 40000, dtype=lib.int16)),
    ("full_2pow63_int64", lambda lib: lib.full((2,), 2 ** 63, dtype=lib.int64)),
    ("full_2pow64_int64", lambda lib: lib.full((2,), 2 ** 64, dtype=lib.int64)),
    ("full_below_int64_min", lambda lib: lib.full((2,), -2 ** 63 - 1, dtype=lib.int64)),
    ("full_1e300_float32", lambda lib: lib.full((2,), 1e300, dtype=lib.float32)),
    ("full_70000_float16", lambda lib: lib.full((2,), 70000., dtype=lib.float16)),
    ("full_1e39_bfloat16", lambda lib: lib.full((2,), 1e39, dtype=lib.bfloat16)),
    ("full_complex_into_float32", lambda lib: lib.full((2,), 1 + 2j, dtype=lib.float32)),
    ("full_1e300_complex64", lambda lib: lib.full((2,), 1e300, dtype=lib.complex64)),
    ("full_tensor_nan_int64", lambda lib: lib.full((2,), lib.tensor(nan), dtype=lib.int64)),
    ("full_like_inf_int64", lambda lib: lib.full_like(lib.zeros(2, dtype=lib.int64), inf)),
    ("fill_nan_int64", lambda lib: lib.zeros(2, dtype=lib.int64).fill_(nan)),
    ("fill_inf_int64", lambda lib: lib.zeros(2, dtype=lib.int64).fill_(inf)),
    ("fill_256_uint8", lambda lib: lib.zeros(2, dtype=lib.uint8).fill_(256)),
    ("fill_1e10_float16", lambda lib: lib.zeros(2, dtype=lib.float16).fill_(1e10)),
    ("fill_40000_int16_0dim", lambda lib: lib.tensor(1, dtype=lib.int16).fill_(40000)),
]

_S = lambda lib: lib.tensor(2.0)  # noqa: E731 - a 0-dim tensor

ZERO_DIM_CASES = [
    ("flatten_start_1", lambda lib: _S(lib).flatten(1)),
    ("flatten_end_1", lambda lib: _S(lib).flatten(0, 1)),
    ("prod_dim_1", lambda lib: _S(lib).prod(1)),
    ("roll_dim_1", lambda lib: _S(lib).roll(1, 1)),
    ("roll_dim_0", lambda lib: _S(lib).roll(1, 0)),
    ("roll_dim_minus_1", lambda lib: _S(lib).roll(1, -1)),
    ("sum_dim_1", lambda lib: _S(lib).sum(1)),
    ("cumsum_dim_1", lambda lib: _S(lib).cumsum(1)),
    ("softmax_dim_1", lambda lib: _S(lib).softmax(1)),
    ("squeeze_dim_1", lambda lib: _S(lib).squeeze(1)),
    ("unsqueeze_dim_2", lambda lib: _S(lib).unsqueeze(2)),
    ("transpose_dim_1", lambda lib: _S(lib).transpose(0, 1)),
    ("flip_dim_1", lambda lib: _S(lib).flip(1)),
    ("argmax_dim_1", lambda lib: _S(lib).argmax(1)),
    ("mean_dim_1", lambda lib: _S(lib).mean(1)),
    ("max_dim_1", lambda lib: _S(lib).max(1)),
    ("logsumexp_dim_1", lambda lib: _S(lib).logsumexp(1)),
    ("unbind_dim_0", lambda lib: _S(lib).unbind(0)),
    ("unbind_dim_1", lambda lib: _S(lib).unbind(1)),
    ("select_0dim", lambda lib: _S(lib).select(0, 0)),
    ("narrow_0dim", lambda lib: _S(lib).narrow(0, 0, 1)),
    ("chunk_0dim", lambda lib: _S(lib).chunk(1, 0)),
    ("split_0dim", lambda lib: _S(lib).split(1, 0)),
    ("movedim_dim_1", lambda lib: _S(lib).movedim(1, 0)),
    ("tensor_split_0dim", lambda lib: _S(lib).tensor_split(1)),
]

SPLIT_CASES = [
    ("split_negative_size", lambda lib: lib.zeros(4).split(-1)),
    ("split_zero_size_of_nonempty", lambda lib: lib.zeros(5).split(0)),
    ("chunk_zero_chunks", lambda lib: lib.zeros(4).chunk(0)),
]

_BINARY_FLOAT_OPS = ["add", "sub", "mul", "div", "true_divide", "pow", "float_power", "remainder", "floor_divide",
                     "atan2", "fmod", "hypot", "logaddexp", "logaddexp2", "maximum", "minimum", "fmax", "fmin",
                     "xlogy", "copysign", "nextafter", "heaviside", "eq", "ne", "lt", "le", "gt", "ge",
                     "logical_and", "logical_or", "logical_xor", "ldexp", "isclose"]
_BINARY_INT_OPS = ["bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm", "bitwise_left_shift",
                   "bitwise_right_shift", "remainder", "floor_divide", "pow", "fmod"]

BROADCAST_CASES = (
    [(f"{op}_float", (lambda op: lambda lib: getattr(lib, op)(lib.ones(3), lib.ones(4)))(op))
     for op in _BINARY_FLOAT_OPS]
    + [(f"{op}_int", (lambda op: lambda lib: getattr(lib, op)(lib.ones(3, dtype=lib.int64),
                                                           lib.ones(4, dtype=lib.int64)))(op))
       for op in _BINARY_INT_OPS]
    + [
        ("div_floor", lambda lib: lib.div(lib.ones(3), lib.ones(4), rounding_mode="floor")),
        ("div_trunc", lambda lib: lib.div(lib.ones(3), lib.ones(4), rounding_mode="trunc")),
        ("pow_operator_2d", lambda lib: lib.ones(2, 3) ** lib.ones(4, 3)),
        ("mod_operator_dim1", lambda lib: lib.ones(2, 3) % lib.ones(2, 4)),
        ("pow_rank3", lambda lib: lib.ones(5, 2, 3).pow(lib.ones(4, 1, 3))),
        ("floordiv_operator", lambda lib: lib.ones(2, 3) // lib.ones(4, 3)),
        ("lerp_end", lambda lib: lib.lerp(lib.ones(3), lib.ones(4), 0.5)),
        ("lerp_weight", lambda lib: lib.lerp(lib.ones(3), lib.ones(3), lib.ones(4))),
        ("lerp_three", lambda lib: lib.ones(2, 3).lerp(lib.ones(4, 3), lib.ones(5, 1, 1))),
        ("clamp_min_tensor", lambda lib: lib.clamp(lib.ones(3), lib.ones(4))),
        ("clamp_max_tensor", lambda lib: lib.clamp(lib.ones(3), max=lib.ones(4))),
        ("addcmul", lambda lib: lib.addcmul(lib.ones(3), lib.ones(4), lib.ones(4))),
        ("where", lambda lib: lib.where(lib.ones(3) > 0, lib.ones(3), lib.ones(4))),
    ]
)

RANGE_CASES = [
    ("arange_to_inf", lambda lib: lib.arange(0, inf)),
    ("arange_inf_end_only", lambda lib: lib.arange(inf)),
    ("arange_from_minus_inf", lambda lib: lib.arange(-inf, 0)),
    ("arange_to_nan", lambda lib: lib.arange(0, nan)),
    ("arange_from_nan", lambda lib: lib.arange(nan, 1)),
    ("arange_float_start_to_inf", lambda lib: lib.arange(0.5, inf)),
    ("arange_large_start_to_nan", lambda lib: lib.arange(1.5e10, nan)),
    ("arange_tensor_inf", lambda lib: lib.arange(lib.tensor(inf))),
    ("arange_step_zero", lambda lib: lib.arange(0, 10, 0)),
    ("arange_step_zero_float", lambda lib: lib.arange(0, 10, 0.0)),
    ("arange_step_nan", lambda lib: lib.arange(0, 1, nan)),
    ("arange_step_sign_negative", lambda lib: lib.arange(0, 10, -1)),
    ("arange_step_sign_positive", lambda lib: lib.arange(10, 0, 1)),
    ("arange_step_sign_float", lambda lib: lib.arange(0., 10., -1.)),
    ("arange_step_minus_inf", lambda lib: lib.arange(0, 10, -inf)),
    ("arange_size_overflow", lambda lib: lib.arange(0., 1e30, 1.)),
    ("arange_int_dtype_step_truncates_to_zero", lambda lib: lib.arange(0, 1, 0.1, dtype=lib.int64)),
    ("linspace_negative_steps", lambda lib: lib.linspace(0, 1, -1)),
    ("linspace_negative_steps_5", lambda lib: lib.linspace(0, 1, -5)),
    ("logspace_negative_steps", lambda lib: lib.logspace(0, 1, -1)),
]


def _F(lib):
    import importlib
    return importlib.import_module(lib.__name__ + ".nn.functional")


NORM_CASES = [
    ("batch_norm_train_eps_zero", lambda lib: _F(lib).batch_norm(lib.ones(3, 2), None, None, training=True, eps=0)),
    ("batch_norm_train_eps_negative",
     lambda lib: _F(lib).batch_norm(lib.ones(3, 2), lib.zeros(2), lib.ones(2), training=True, eps=-1)),
    ("batch_norm_eval_eps_negative",
     lambda lib: _F(lib).batch_norm(lib.ones(3, 2), lib.zeros(2), lib.ones(2), eps=-1.0)),
    ("BatchNorm1d_eps_zero", lambda lib: lib.nn.BatchNorm1d(2, eps=0)(lib.ones(3, 2))),
    ("group_norm_zero_groups", lambda lib: _F(lib).group_norm(lib.ones(2, 4, 3), 0)),
    ("group_norm_negative_groups", lambda lib: _F(lib).group_norm(lib.ones(2, 4, 3), -1)),
    ("group_norm_indivisible", lambda lib: _F(lib).group_norm(lib.ones(2, 4, 3), 3)),
    ("group_norm_one_value_per_group", lambda lib: _F(lib).group_norm(lib.ones(1, 2, 1), 2)),
    ("GroupNorm_indivisible", lambda lib: lib.nn.GroupNorm(3, 4)),
    ("GroupNorm_zero_groups", lambda lib: lib.nn.GroupNorm(0, 4)),
]

RNN_CASES = [
    (f"{mode}_{name}", (lambda mode, shape, kw: lambda lib: getattr(lib.nn, mode)(3, 5, **kw)(lib.zeros(*shape)))(
        mode, shape, kw))
    for mode in ("LSTM", "GRU", "RNN")
    for name, shape, kw in [("zero_length", (0, 2, 3), {}), ("zero_length_unbatched", (0, 3), {}),
                            ("zero_length_batch_first", (2, 0, 3), {"batch_first": True})]
]

ALL_CASES = (_embedding_cases() + FILL_CASES + ZERO_DIM_CASES + SPLIT_CASES + BROADCAST_CASES + RANGE_CASES
             + NORM_CASES + RNN_CASES)


@needs_torch
@pytest.mark.parametrize("name,fn", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_same_error_as_pytorch(name, fn):
    check_same_error(fn)


@needs_torch
def test_batch_norm_one_value_per_channel():
    # the message ends with the input's torch.Size (torsh.Size here): compare the stable part
    check_same_error(lambda lib: _F(lib).batch_norm(lib.ones(1, 4), None, None, training=True), ValueError,
                     "Expected more than 1 value per channel when training, got input size", exact=False)


BROADCAST_SHAPES_CASES = [((2, 1), (3,)), (3, (2, 1)), (), ((0, 1), (1, 4)), ([2, 3], (1, 1, 3)), (None, (2,))]


@needs_torch
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES_CASES, ids=[str(c) for c in BROADCAST_SHAPES_CASES])
def test_broadcast_shapes_matches_pytorch(shapes):
    import torch
    assert tuple(torsh.broadcast_shapes(*shapes)) == tuple(torch.broadcast_shapes(*shapes))
    assert type(torsh.broadcast_shapes(*shapes)) is torsh.Size


@needs_torch
@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2, 3), (4, 3)), ((1, -1), (2,))])
def test_broadcast_shapes_errors_match_pytorch(shapes):
    check_same_error(lambda lib: lib.broadcast_shapes(*shapes))
