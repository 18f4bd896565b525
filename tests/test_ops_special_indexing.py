"""Table tests: torsh.special, advanced indexing / index assignment with autograd, nonzero/argwhere/where,
and the error table of the gather/scatter/index/shape ops (PyTorch's exception type and message)."""
import pytest

from helpers import check_same_error
from opinfo import FLOATS, L, Op, S, T, UNARY, make_tests, tensor_of

POS = (0.2, 3.0)


def special(name, domain=(-2.0, 2.0), samples=UNARY, **kw):
    return Op("special_" + name, lambda lib, a: getattr(lib.special, name)(a), samples, domain=domain, **kw)


SPECIAL = [
    special("expit"), special("logit", (0.1, 0.9)), special("erf"), special("erfc"), special("erfinv", (-0.9, 0.9)),
    special("erfcx", (-1.0, 3.0)), special("i0"), special("i0e"), special("i1"), special("i1e"),
    special("gammaln", POS), special("digamma", POS), special("psi", POS), special("entr", (0.1, 2.0)),
    special("log_ndtr"), special("ndtr"), special("ndtri", (0.05, 0.95)), special("sinc"), special("expm1"),
    special("exp2"), special("log1p", (-0.5, 2.0)), special("round", (-3.0, 3.0)),
    Op("special_entr_edges", lambda lib, a: lib.special.entr(a.round() - 1), [S((3, 4))], differentiable=False),
    Op("special_polygamma", lambda lib, a, n: lib.special.polygamma(n, a), [S((3, 4), n=0), S((3, 4), n=3)],
       domain=POS),
    Op("special_multigammaln", lambda lib, a: lib.special.multigammaln(a, 2), [S((3, 4))], domain=(1.0, 3.0)),
    Op("special_xlogy", lambda lib, a, b: lib.special.xlogy(a, b), [S((3, 4), (3, 4)), S((3, 4), (4,))],
       domain=[(-2.0, 2.0), POS]),
    Op("special_xlog1py", lambda lib, a, b: lib.special.xlog1py(a, b), [S((3, 4), (3, 4)), S((), (4,))],
       domain=[(-2.0, 2.0), (-0.5, 2.0)]),
    Op("special_xlog1py_zero_x", lambda lib, a, b: lib.special.xlog1py(a * (a > 0), b), [S((3, 4), (3, 4))],
       domain=[(-2.0, 2.0), (-0.5, 2.0)]),
    Op("special_softmax", lambda lib, a, **kw: lib.special.softmax(a, **kw), [S((3, 4), dim=1), S((3, 4), dim=0)]),
    Op("special_log_softmax", lambda lib, a: lib.special.log_softmax(a, -1), [S((3, 4))]),
    Op("special_logsumexp", lambda lib, a: lib.special.logsumexp(a, 1), [S((3, 4))]),
]


def _assign(lib, a, v, key):
    b = a.clone()
    b[key(lib)] = v
    return b


INDEXING = [
    Op("adv_index_rows_cols", lambda lib, a: a[lib.tensor([[0, 2], [1, 1]]), lib.tensor([3, 0])], [S((3, 4))],
       dtypes=FLOATS + ("int64",)),
    Op("adv_index_mask_and_slice", lambda lib, a: a[a[:, 0] > 0, 1:], [S((5, 4))]),
    Op("adv_index_ellipsis", lambda lib, a: a[..., lib.tensor([2, 0, 2])], [S((2, 3, 4))]),
    Op("adv_index_none", lambda lib, a: a[None, lib.tensor([1, 0]), ::2], [S((3, 4))]),
    Op("adv_index_separated", lambda lib, a: a[lib.tensor([0, 1]), :, lib.tensor([2, 3])], [S((2, 3, 4))]),
    Op("adv_index_transposed", lambda lib, a: a[lib.tensor([3, 0])], [S((3, 4), prep=T)]),
    Op("adv_setitem_dupes_accumulate", lambda lib, a, v: a.index_put((lib.tensor([0, 0, 2]),), v, accumulate=True),
       [S((3, 4), (3, 4))]),
    Op("adv_setitem_tensor_value", lambda lib, a, v: _assign(lib, a, v, lambda lib: (lib.tensor([0, 2]), slice(1, 3))),
       [S((3, 4), (2, 2)), S((3, 4), (2,), name="broadcast_value")]),
    Op("adv_setitem_mask_tensor_value", lambda lib, a, v: _assign(lib, a, v, lambda lib: lib.tensor([True, False, True])),
       [S((3, 4), (4,))]),
    Op("nonzero", lambda lib, a: lib.nonzero(a.round()), UNARY, dtypes=FLOATS + ("int64",), differentiable=False),
    Op("nonzero_tuple", lambda lib, a: a.round().nonzero(as_tuple=True), [S((3, 4)), S((5,))], differentiable=False),
    Op("argwhere", lambda lib, a: lib.argwhere(a.round()), [S((3, 4)), S((), name="0d")], differentiable=False),
    Op("where_1arg", lambda lib, a: lib.where(a > 0), [S((3, 4)), S((2, 3, 2))], differentiable=False),
    Op("where_3arg", lambda lib, a, b: lib.where(a > b, a, b), [S((3, 4), (3, 4)), S((3, 1), (4,)), S((), (3,))]),
    Op("where_scalars", lambda lib, a: lib.where(a > 0, 1.0, -a), [S((3, 4))]),
    Op("where_", lambda lib, a, b: a.clone().where(a > 0, b), [S((3, 4), (3, 4))]),
]

OPS = SPECIAL + INDEXING
test_forward, test_backward, test_gradcheck = make_tests(OPS)

_ERRORS = {
    "gather_out_of_range": lambda lib: lib.ones(2, 4).gather(1, lib.tensor([[0, 5]])),
    "gather_negative_index": lambda lib: lib.ones(5).gather(0, lib.tensor([-1])),
    "gather_index_dims": lambda lib: lib.ones(2, 4).gather(1, lib.tensor([0, 1])),
    "gather_index_too_big": lambda lib: lib.ones(2, 4).gather(1, lib.zeros(3, 2, dtype=lib.int64)),
    "gather_dim": lambda lib: lib.ones(2, 4).gather(2, lib.zeros(2, 2, dtype=lib.int64)),
    "gather_index_dtype": lambda lib: lib.ones(2, 4).gather(1, lib.zeros(2, 2)),
    "scatter_out_of_range": lambda lib: lib.ones(2, 4).scatter(1, lib.tensor([[0, 5]]), lib.ones(1, 2)),
    "scatter_src_dtype": lambda lib: lib.ones(2, 4).scatter(1, lib.tensor([[0, 1]]), lib.ones(1, 2, dtype=lib.float64)),
    "scatter_src_too_small": lambda lib: lib.ones(2, 4).scatter(1, lib.tensor([[0, 1]]), lib.ones(1, 1)),
    "scatter_reduce_mode": lambda lib: lib.ones(2, 4).scatter_reduce(1, lib.tensor([[0, 1]]), lib.ones(1, 2), "foo"),
    "index_select_out_of_range_dim0": lambda lib: lib.ones(4, 3).index_select(0, lib.tensor([5])),
    "index_select_out_of_range_dim1": lambda lib: lib.ones(2, 4).index_select(1, lib.tensor([0, 5])),
    "index_select_2d_index": lambda lib: lib.ones(2, 4).index_select(1, lib.tensor([[0, 1]])),
    "index_select_float_index": lambda lib: lib.ones(2, 4).index_select(1, lib.tensor([0.0, 1.0])),
    "index_add_out_of_range": lambda lib: lib.ones(2, 4).index_add(1, lib.tensor([0, 5]), lib.ones(2, 2)),
    "index_add_count": lambda lib: lib.ones(2, 4).index_add(1, lib.tensor([0, 1]), lib.ones(2, 3)),
    "index_copy_count": lambda lib: lib.ones(2, 4).index_copy(1, lib.tensor([0, 1]), lib.ones(2, 3)),
    "index_fill_out_of_range": lambda lib: lib.ones(2, 4).index_fill(1, lib.tensor([0, 7]), 1.0),
    "masked_select_shapes": lambda lib: lib.ones(2, 4).masked_select(lib.ones(3, 4, dtype=lib.bool)),
    "masked_select_mask_dtype": lambda lib: lib.ones(2, 4).masked_select(lib.ones(2, 4)),
    "take_out_of_range": lambda lib: lib.ones(2, 4).take(lib.tensor([8])),
    "take_along_dim_dtype": lambda lib: lib.ones(2, 4).take_along_dim(lib.ones(2, 1), 1),
    "flip_dim": lambda lib: lib.ones(2, 4).flip(5),
    "flip_repeated_dim": lambda lib: lib.ones(2, 4).flip(0, 0),
    "roll_dim": lambda lib: lib.ones(2, 4).roll(1, 3),
    "roll_align": lambda lib: lib.ones(2, 4).roll((1, 2), (0,)),
    "repeat_too_few": lambda lib: lib.ones(2, 4).repeat(2),
    "repeat_interleave_sizes": lambda lib: lib.ones(2, 4).repeat_interleave(lib.tensor([1, 2]), dim=1),
    "tril_1d": lambda lib: lib.tril(lib.ones(3)),
    "triu_1d": lambda lib: lib.ones(3).triu(),
    "cumsum_dim": lambda lib: lib.ones(2, 4).cumsum(2),
    "diagonal_same_dims": lambda lib: lib.ones(2, 4).diagonal(0, 0, 0),
    "broadcast_to": lambda lib: lib.broadcast_to(lib.ones(2, 4), (3, 4)),
    "broadcast_tensors": lambda lib: lib.broadcast_tensors(lib.ones(2, 4), lib.ones(3)),
    "fliplr_1d": lambda lib: lib.fliplr(lib.ones(3)),
    "flipud_0d": lambda lib: lib.flipud(lib.ones(())),
    "rot90_dims": lambda lib: lib.rot90(lib.ones(2, 2), 1, [0]),
    "rot90_same_dims": lambda lib: lib.rot90(lib.ones(2, 2), 1, [1, 1]),
    "addmm_1d": lambda lib: lib.addmm(lib.ones(3), lib.ones(3), lib.ones(3, 3)),
    "addmm_shapes": lambda lib: lib.addmm(lib.ones(3, 3), lib.ones(3, 2), lib.ones(3, 3)),
    "addmm_input_shape": lambda lib: lib.addmm(lib.ones(2, 3), lib.ones(3, 3), lib.ones(3, 3)),
    "addmv_shapes": lambda lib: lib.addmv(lib.ones(3), lib.ones(3, 3), lib.ones(2)),
    "baddbmm_shapes": lambda lib: lib.baddbmm(lib.ones(2, 2, 2), lib.ones(2, 2, 3), lib.ones(2, 2, 2)),
    "einsum_sizes": lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 4), lib.ones(3, 2)),
    "einsum_output_letter": lambda lib: lib.einsum("ij->ik", lib.ones(2, 4)),
    "einsum_subscript_count": lambda lib: lib.einsum("ijk->ik", lib.ones(2, 4)),
    "einsum_operand_count": lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 2)),
    "tensordot_sizes": lambda lib: lib.tensordot(lib.ones(3, 3), lib.ones(2, 2), 1),
    "trace_1d": lambda lib: lib.trace(lib.ones(3)),
    "cross_no_dim3": lambda lib: lib.cross(lib.ones(4, 2), lib.ones(4, 2)),
    "cdist_columns": lambda lib: lib.cdist(lib.ones(3, 2), lib.ones(4, 3)),
    "cdist_1d": lambda lib: lib.cdist(lib.ones(3), lib.ones(4, 3)),
    "inner_sizes": lambda lib: lib.inner(lib.ones(3, 3), lib.ones(2)),
    "vdot_sizes": lambda lib: lib.vdot(lib.ones(3), lib.ones(2)),
    "tensor_split_0d": lambda lib: lib.tensor_split(lib.ones(()), 2),
    "block_diag_3d": lambda lib: lib.block_diag(lib.ones(2, 2, 2)),
    "hstack_empty": lambda lib: lib.hstack([]),
    "unflatten_sizes": lambda lib: lib.ones(6).unflatten(0, (4, 2)),
}


def test_meshgrid_error():  # torch prints the offending tensor in its own format: compare the stable part
    check_same_error(lambda lib: lib.meshgrid(lib.ones(2, 2), lib.ones(2), indexing="ij"), exact=False,
                     fallback_msg="torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got")


@pytest.mark.parametrize("name", sorted(_ERRORS))
def test_errors(name):
    check_same_error(_ERRORS[name])
