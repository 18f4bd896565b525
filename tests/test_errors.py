"""Error types and messages match PyTorch's (issue "Foundation", part 6).

Each case is ``fn(lib)`` that must raise; the expected type and message are computed by
running the same code in torch, or, without torch, taken from the fallback (PyTorch's wording).
"""

import pytest

from helpers import check_same_error, error_of, torch_ref

ERROR_CASES = [
    # --------------------------------------------------------------- broadcasting
    ("add_shape_mismatch", lambda lib: lib.ones(2, 3) + lib.ones(2, 4), RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1"),
    ("mul_shape_mismatch_dim0", lambda lib: lib.ones(3) * lib.ones(4), RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0"),
    ("sub_shape_mismatch_rank", lambda lib: lib.ones(5, 2, 3) - lib.ones(4, 1, 3), RuntimeError,
     "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 0"),
    ("where_shape_mismatch", lambda lib: lib.where(lib.ones(2, 3) > 0, lib.ones(2, 3), lib.ones(2)),
     RuntimeError, "The size of tensor a (3) must match the size of tensor b (2) at non-singleton "
     "dimension 1"),
    ("expand_mismatch", lambda lib: lib.ones(2, 3).expand(3, 3), RuntimeError,
     "The expanded size of the tensor (3) must match the existing size (2) at non-singleton "
     "dimension 0.  Target sizes: [3, 3].  Tensor sizes: [2, 3]"),
    # --------------------------------------------------------------- matmul
    ("matmul_shape", lambda lib: lib.ones(2, 3) @ lib.ones(4, 5), RuntimeError,
     "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ("mm_shape", lambda lib: lib.mm(lib.ones(2, 3), lib.ones(4, 5)), RuntimeError,
     "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ("bmm_shape", lambda lib: lib.bmm(lib.ones(2, 2, 3), lib.ones(2, 4, 5)), RuntimeError,
     "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4]."),
    ("matmul_dtype", lambda lib: lib.ones(2, 3) @ lib.ones(3, 4, dtype=lib.float64), RuntimeError,
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    ("mm_dtype", lambda lib: lib.mm(lib.ones(2, 3, dtype=lib.float64), lib.ones(3, 4)), RuntimeError,
     "expected m1 and m2 to have the same dtype, but got: double != float"),
    # --------------------------------------------------------------- view / reshape
    ("view_size", lambda lib: lib.ones(6).view(5), RuntimeError,
     "shape '[5]' is invalid for input of size 6"),
    ("view_size_inferred", lambda lib: lib.ones(2, 3).view(4, -1), RuntimeError,
     "shape '[4, -1]' is invalid for input of size 6"),
    ("reshape_size", lambda lib: lib.ones(2, 3).reshape(5), RuntimeError,
     "shape '[5]' is invalid for input of size 6"),
    ("view_two_inferred", lambda lib: lib.ones(2, 3).view(-1, -1), RuntimeError,
     "only one dimension can be inferred"),
    ("view_non_contiguous", lambda lib: lib.ones(2, 3).t().view(6), RuntimeError,
     "view size is not compatible with input tensor's size and stride (at least one dimension "
     "spans across two contiguous subspaces). Use .reshape(...) instead."),
    # --------------------------------------------------------------- cat / stack
    ("cat_sizes", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]), RuntimeError,
     "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for "
     "tensor number 1 in the list."),
    ("cat_sizes_dim1", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(3, 3), lib.ones(2, 1)], dim=1),
     RuntimeError, "Sizes of tensors must match except in dimension 1. Expected size 2 but got "
     "size 3 for tensor number 1 in the list."),
    ("cat_ndim", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 3, 1)]), RuntimeError,
     "Tensors must have same number of dimensions: got 2 and 3"),
    ("stack_sizes", lambda lib: lib.stack([lib.ones(2, 3), lib.ones(2, 4)]), RuntimeError,
     "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [2, 4] at entry 1"),
    # --------------------------------------------------------------- dim out of range
    ("sum_dim", lambda lib: lib.ones(2, 3).sum(3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 3)"),
    ("sum_neg_dim", lambda lib: lib.ones(2, 3).sum(-3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("mean_dim", lambda lib: lib.ones(2, 3).mean(dim=2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("max_dim", lambda lib: lib.ones(2, 3).max(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("argmax_dim", lambda lib: lib.ones(4).argmax(1), IndexError,
     "Dimension out of range (expected to be in range of [-1, 0], but got 1)"),
    ("transpose_dim", lambda lib: lib.ones(2, 3).transpose(0, 2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("unsqueeze_dim", lambda lib: lib.ones(2, 3).unsqueeze(3), IndexError,
     "Dimension out of range (expected to be in range of [-3, 2], but got 3)"),
    ("squeeze_dim", lambda lib: lib.ones(2, 3).squeeze(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("size_dim", lambda lib: lib.ones(2, 3).size(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("cat_dim", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 3)], dim=2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    ("softmax_like_logsumexp_dim", lambda lib: lib.logsumexp(lib.ones(2, 3), dim=-3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    ("flatten_dim", lambda lib: lib.ones(2, 3).flatten(0, 3), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 3)"),
    # --------------------------------------------------------------- indexing
    ("index_oob", lambda lib: lib.ones(3)[5], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    ("index_oob_neg", lambda lib: lib.ones(3)[-4], IndexError,
     "index -4 is out of bounds for dimension 0 with size 3"),
    ("index_oob_dim1", lambda lib: lib.ones(3, 4)[0, 7], IndexError,
     "index 7 is out of bounds for dimension 1 with size 4"),
    ("index_tensor_oob", lambda lib: lib.ones(3)[lib.tensor([0, 5])], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    ("too_many_indices", lambda lib: lib.ones(3)[1, 2], IndexError,
     "too many indices for tensor of dimension 1"),
    ("mask_shape", lambda lib: lib.ones(2, 3)[lib.ones(3, dtype=lib.bool)], IndexError,
     "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3] "
     "at index 0"),
    # --------------------------------------------------------------- scalars / reductions
    ("item_many", lambda lib: lib.ones(3).item(), RuntimeError,
     "a Tensor with 3 elements cannot be converted to Scalar"),
    ("max_empty", lambda lib: lib.empty(0).max(), RuntimeError,
     "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
     "reduction dim with the 'dim' argument."),
    ("mean_int", lambda lib: lib.ones(2, dtype=lib.int64).mean(), RuntimeError,
     "mean(): could not infer output dtype. Input dtype must be either a floating point or "
     "complex dtype. Got: Long"),
]


def _setitem_oob(lib):
    t = lib.ones(3)
    t[3] = 0.0


ERROR_CASES.append(("setitem_oob", _setitem_oob, IndexError,
                    "index 3 is out of bounds for dimension 0 with size 3"))


@pytest.mark.parametrize("name,fn,exc_type,message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_type_and_message(name, fn, exc_type, message):
    if torch_ref is not None:  # keep the literal fallback honest: it must be torch's wording
        ref = error_of(lambda: fn(torch_ref))
        assert isinstance(ref, exc_type) and message in str(ref), f"stale fallback: {ref!r}"
    err = check_same_error(fn, exc_type, message)
    assert message in str(err)
