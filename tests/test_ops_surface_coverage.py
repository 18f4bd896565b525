"""The op surface of issue 3 is complete: every op it names exists in torsh wherever PyTorch has it --
as ``torsh.<op>``, as ``Tensor.<op>`` and as the in-place ``Tensor.<op>_`` -- and in torsh.linalg,
torsh.fft and torsh.special. (Values, gradients and errors are checked by the tests/test_ops_*.py tables.)"""
import pytest

import torsh
from helpers import assert_close, torch_ref

ELEMENTWISE = """exp log log2 log10 log1p expm1 sqrt rsqrt sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh
arcsin arccos arctan arcsinh arccosh arctanh sigmoid erf erfc erfinv lgamma digamma polygamma abs sign sgn floor
ceil round trunc frac fix reciprocal square nan_to_num pow float_power atan2 arctan2 hypot maximum minimum fmax fmin
floor_divide remainder fmod xlogy logaddexp logaddexp2 lerp addcmul addcdiv copysign eq ne lt le gt ge greater
greater_equal less less_equal not_equal logical_and logical_or logical_xor logical_not isnan isinf isfinite isposinf
isneginf isreal isclose allclose equal bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift
bitwise_right_shift gcd lcm i0 sinc logit deg2rad rad2deg signbit nextafter heaviside ldexp positive neg negative
clamp clip where exp2 mvlgamma""".split()
REDUCTIONS = """sum mean prod var std var_mean std_mean max min amax amin aminmax argmax argmin median nanmedian mode
kthvalue quantile nanquantile cumsum cumprod cummax cummin logcumsumexp all any count_nonzero nansum nanmean
logsumexp""".split()
SHAPE = """movedim moveaxis swapaxes swapdims unflatten narrow unbind hstack vstack dstack column_stack row_stack
tensor_split hsplit vsplit dsplit flip fliplr flipud roll rot90 tile repeat repeat_interleave tril triu diag diagonal
diag_embed diagflat diagonal_scatter broadcast_to broadcast_tensors expand_as atleast_1d atleast_2d atleast_3d
meshgrid cartesian_prod block_diag squeeze""".split()
INDEXING = """gather scatter scatter_add scatter_reduce index_select index_add index_copy index_fill index_put take
take_along_dim masked_fill masked_select masked_scatter nonzero argwhere where put""".split()
PRODUCTS = """matmul mm bmm mv dot vdot inner outer addmm addmv addr baddbmm addbmm einsum tensordot kron cross trace
cdist chain_matmul det inverse logdet slogdet matrix_power pinverse""".split()
SORTING = """sort argsort topk msort unique unique_consecutive bincount histc histogram searchsorted
bucketize""".split()
RANDOM = """bernoulli multinomial normal rand_like randn_like randint_like uniform_ normal_ exponential_ random_
bernoulli_ geometric_ cauchy_ log_normal_""".split()
ACTIVATION = ["softmax", "log_softmax"]
LINALG = """inv det slogdet solve lstsq cholesky qr svd svdvals eig eigvals eigh eigvalsh norm vector_norm
matrix_norm pinv matrix_power matrix_rank cond multi_dot cross matmul vecdot LinAlgError""".split()
FFT = """fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn fftfreq rfftfreq fftshift
ifftshift""".split()
SPECIAL = """expit logit erf erfc erfinv erfcx i0 i0e i1 i1e gammaln digamma psi polygamma multigammaln xlogy xlog1py
entr log_ndtr ndtr ndtri sinc softmax log_softmax logsumexp exp2 expm1 log1p round""".split()

ALL = sorted(set(ELEMENTWISE + REDUCTIONS + SHAPE + INDEXING + PRODUCTS + SORTING + RANDOM + ACTIVATION))


@pytest.mark.parametrize("name", ALL)
def test_function_method_and_inplace_exist_where_torch_has_them(name):
    missing = []
    if hasattr(torch_ref, name) and not hasattr(torsh, name):
        missing.append(f"torsh.{name}")
    if hasattr(torch_ref.Tensor, name) and not hasattr(torsh.Tensor, name):
        missing.append(f"Tensor.{name}")
    if hasattr(torch_ref.Tensor, name + "_") and not hasattr(torsh.Tensor, name + "_"):
        missing.append(f"Tensor.{name}_")
    assert not missing, f"missing: {missing}"
    assert hasattr(torch_ref, name) or hasattr(torch_ref.Tensor, name), f"{name} is not a torch op (table error)"


@pytest.mark.parametrize("namespace,names", [("linalg", LINALG), ("fft", FFT), ("special", SPECIAL)])
def test_namespaces(namespace, names):
    ours, ref = getattr(torsh, namespace), getattr(torch_ref, namespace)
    assert [n for n in names if not hasattr(ref, n)] == [], "table error: not in torch"
    assert [n for n in names if not hasattr(ours, n)] == []


def test_no_inplace_variant_torch_lacks():
    """torsh binds no Tensor.<op>_ that PyTorch does not have (a typo would otherwise pass silently)."""
    extra = [n + "_" for n in ALL if hasattr(torsh.Tensor, n + "_") and not hasattr(torch_ref.Tensor, n + "_")]
    assert extra == ["where_"]  # where_ predates this issue (the foundation's in-place table) and is kept


def test_inplace_view_ops():
    for lib in (torsh, torch_ref):
        a = lib.ones(1, 3, 1)
        assert a.squeeze_(0) is a and tuple(a.shape) == (3, 1)
        assert tuple(a.swapaxes_(0, 1).shape) == (1, 3) and tuple(a.swapdims_(1, 0).shape) == (3, 1)
    x = torsh.ones(1, 3, requires_grad=True)
    y = x * 2
    y.squeeze_(0)
    y.sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0, 2.0]]


def test_counts():
    assert len(ALL) > 250


@pytest.mark.parametrize("fn", [
    lambda lib, o: lib.cumsum(lib.tensor([1.0, 2.0, 3.0]), 0, out=o),
    lambda lib, o: lib.atan2(lib.tensor([1.0, -1.0]), lib.tensor([2.0, 2.0]), out=o),
    lambda lib, o: lib.index_select(lib.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, lib.tensor([1]), out=o),
    lambda lib, o: lib.linalg.det(lib.tensor([[2.0, 1.0], [1.0, 3.0]]), out=o),
    lambda lib, o: lib.cross(lib.eye(3), lib.ones(3, 3), dim=1, out=o),
])
def test_out_argument(fn):
    ours_out, ref_out = torsh.empty(0), torch_ref.empty(0)
    ours, ref = fn(torsh, ours_out), fn(torch_ref, ref_out)
    assert ours is ours_out and ref is ref_out
    assert_close(ours, ref)


def test_out_argument_tuple_and_autograd_refusal():
    v, i = torsh.empty(0), torsh.empty(0, dtype=torsh.int64)
    assert torsh.sort(torsh.tensor([3.0, 1.0, 2.0]), out=(v, i)) == (v, i)
    assert v.tolist() == [1.0, 2.0, 3.0] and i.tolist() == [1, 2, 0]
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        torsh.cumsum(torsh.ones(3, requires_grad=True), 0, out=torsh.empty(3))
