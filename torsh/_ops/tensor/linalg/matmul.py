"""Matrix products: matmul (NumPy broadcasting rules, as PyTorch), mm, bmm, mv, dot, outer."""
import math
import os

import ml_dtypes
import numpy as np

from ...._tensor import wrap
from .... import _autocast, _dtype
from ....autograd.graph import Node, PROFILER_TOPIC, backward_on_arrays, needs_grad, record
from ....backend import events, kernels, threads
from ....backend.threads import gemm_threads
from ..._helpers import broadcast_shapes, check_dtype_support, dtype_name, sum_to
from ...registry import register


def _check_same_dtype(a, b, op):
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_c_name(a.dtype)} != {_c_name(b.dtype)}"
            if op != "dot" else
            f"dot : expected both vectors to have same dtype, but found {dtype_name(a.dtype)} and {dtype_name(b.dtype)}")


def check_bool_kernel(kernel, *operands):
    """PyTorch's dispatch error for bool operands: its CPU product kernels (``kernel``) have no bool version. A product
    with an empty operand runs no kernel (it is zero-filled), so PyTorch computes it."""
    if operands[0]._data.dtype.char == "?" and all(t._data.size for t in operands):
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _c_name(d):
    return _dtype.C_TYPE_NAMES[d.name]


class MmBackward0(Node):
    """Backward of a (batched, broadcasting) product of operands with >= 2 dims."""

    def backward(self, grad):
        return _product_grads(self, grad, self.next_functions[0][0] is not None, self.next_functions[1][0] is not None)


class AddmmBackward0(Node):
    """Backward of ``bias + a @ b`` as one node (nn.Linear's addmm(bias, x, weight.t()), as in PyTorch)."""

    def backward(self, grad):
        edges = self.next_functions
        grad_bias = sum_to(grad, self.bias_shape) if edges[0][0] is not None else None
        return (grad_bias, *_product_grads(self, grad, edges[1][0] is not None, edges[2][0] is not None))


def _is_transposed_matrix(data):
    """True for a 2-D array laid out column-major (``weight.t()``).

    nn.Linear multiplies by ``weight.t()``; its gradient flows back through TBackward0, so a
    row-major product would reach ``weight.grad`` transposed and be copied into row order
    there (2.7 ms of a 20 ms MLP step). The backward computes such an operand's gradient as
    the transposed product instead, so that it arrives row-major, as PyTorch's mm backward
    does by looking at the operand's strides.
    """
    return data.ndim == 2 and data.flags.f_contiguous and not data.flags.c_contiguous


def _product_grads(node, grad, need_a, need_b):
    a, b = node.saved_tensors
    # grad_a = grad @ b^H, grad_b = a^H @ grad: the adjoints (operands not needed are not saved)
    a, b = (None if t is None else t.conj() for t in (a, b))
    a_transposed, b_transposed = node.transposed
    if backward_on_arrays() and grad._data.ndim == 2 and len(node.shapes[0]) == len(node.shapes[1]) == 2:
        return _matrix_product_grads(a, b, grad._data, a_transposed, b_transposed, need_a, need_b)
    grad_a = grad_b = None
    if need_a:
        grad_a = sum_to(b.matmul(grad.mT).mT if a_transposed else grad.matmul(b.mT), node.shapes[0])
    if need_b:
        grad_b = sum_to(grad.mT.matmul(a).mT if b_transposed else a.mT.matmul(grad), node.shapes[1])
    return grad_a, grad_b


def _matrix_product_grads(a, b, g, a_transposed, b_transposed, need_a, need_b):
    """_product_grads of a 2-D product where graph.backward_on_arrays allows: the same GEMMs on
    the arrays, without the torsh transposes around them (a Linear layer's backward made 12 views)."""
    grad_a = grad_b = None
    if need_a:
        grad_a = wrap(_gemm(b._data, g.T)).mT if a_transposed else wrap(_gemm(g, b._data.T))
    if need_b:  # a transposed operand's gradient is the transpose of a row-major product, as above
        grad_b = wrap(_gemm(g.T, a._data)).mT if b_transposed else wrap(_gemm(a._data.T, g))
    return grad_a, grad_b


# Float32 products of at least PANEL_GEMM_MIN_MACS multiply-adds and PANEL_GEMM_MIN_ROWS rows run on the
# lstm_cell family's panel GEMM (its AVX-512 tile, where NumPy's OpenBLAS runs its AVX2 kernel): at one thread
# alone, at several shared with the kernel's spinning helper threads while threads.gemm_team() is on
# (threads.panel_gemm_threads decides, threads.explain_gemm / dispatch.explain("matmul", (m, k, n)) say why).
PANEL_GEMM_MIN_MACS = threads.PANEL_GEMM_MIN_MACS
PANEL_GEMM_MIN_ROWS = threads.PANEL_GEMM_MIN_ROWS
if os.environ.get("TORSH_GEMM_TEAM_SPIN_US") and kernels.get("lstm_cell") is not None:  # A/B of the helpers' spin
    kernels.get("lstm_cell").set_spin_us(int(os.environ["TORSH_GEMM_TEAM_SPIN_US"]))


def _panel_gemm(a, b):
    """``a @ b`` of float32 matrices on the panel GEMM when threads.panel_gemm_threads gives it threads and the
    operands are laid out for it (``a`` C- or F-contiguous, ``b`` C-contiguous or the transpose of a C-contiguous
    matrix, as ``weight.t()``, packed from the weight itself); else None (the caller runs BLAS)."""
    if a.dtype != np.float32 or b.dtype != np.float32 or a.ndim != 2 or b.ndim != 2:
        return None
    (m, k), n = a.shape, b.shape[1]
    team = threads.panel_gemm_threads(m, k, n)
    if not team:
        return None
    kernel = kernels.get("lstm_cell")
    if kernel is None:
        return None
    if a.flags.c_contiguous:
        a_rows, row_stride, col_stride = a, k, 1
    elif a.flags.f_contiguous:  # a transposed matrix (g.T of a weight gradient): read through strides
        a_rows, row_stride, col_stride = a.T, 1, m
    else:
        return None
    if b.flags.c_contiguous:
        b_rows, transposed = b, False
    elif b.T.flags.c_contiguous:  # weight.t(): packed from the weight itself
        b_rows, transposed = b.T, True
    else:
        return None
    out = np.empty((m, n), np.float32)
    kernel.matmul(a_rows, b_rows, out, m, k, n, row_stride, col_stride, transposed, team)
    return out


BmmBackward0 = type("BmmBackward0", (MmBackward0,), {})
UnsafeViewBackward0 = type("UnsafeViewBackward0", (MmBackward0,), {})


def _macs_per_gemm(a_shape, b_shape):
    """Multiply-adds of one of the 2-D GEMMs np.matmul makes of (..., m, k) @ (..., k, n)."""
    return a_shape[-2] * a_shape[-1] * b_shape[-1] if len(a_shape) >= 2 and len(b_shape) >= 2 else 0


_HALF_DTYPES = (np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16))


def _gemm(a, b, bias=None):
    """``np.matmul(a, b)`` (+ ``bias``) of arrays on the BLAS threads that gemm_threads gives its size.

    Half-precision operands are multiplied in float32, the bias added there too, and the sum rounded
    back once, as PyTorch's CPU kernels accumulate them (NumPy's matmul would return bfloat16 products
    as float32)."""
    if a.dtype in _HALF_DTYPES:
        value = _gemm(a.astype(np.float32), b.astype(np.float32), None if bias is None else bias.astype(np.float32))
        return value.astype(a.dtype)
    value = _panel_gemm(a, b)
    if value is None and a.ndim > 2 and b.ndim >= 2 and threads.split_batched_matmul():  # the batch on the threads
        value = threads.batched_matmul(a, b, _macs_per_gemm(a.shape, b.shape))
    if value is None:
        with gemm_threads(_macs_per_gemm(a.shape, b.shape)):
            value = np.matmul(a, b)
    if bias is not None:
        value = np.asarray(value)
        value += bias  # into the fresh product
    return value


def _product(a, b, node_cls, bias=None):
    """``a @ b`` (plus ``bias``, added in place into the fresh product) and its autograd node."""
    try:
        value = _gemm(a._data, b._data, None if bias is None else bias._data)
    except ValueError:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a._data.shape[-2:]))} and "
            f"{'x'.join(map(str, b._data.shape[-2:]))})") from None
    result = wrap(np.asarray(value))
    if needs_grad(a, b, bias):
        node = node_cls()
        node.shapes = (a._data.shape, b._data.shape)
        node.transposed = (_is_transposed_matrix(a._data), _is_transposed_matrix(b._data))
        if bias is None:
            record(node, (a, b), (result,))
        else:
            node.bias_shape = bias._data.shape
            record(node, (bias, a, b), (result,))
        # each operand is needed only for the other's gradient
        node.save_for_backward(a if b._requires_grad else None, b if a._requires_grad else None)
    return result


def linear_without_graph(input, weight, bias):
    """``input @ weight.T + bias`` (F.linear of 2-D operands) when nothing needs a graph (inference), on
    the arrays: no weight.t() view tensor and no node (~1 us a layer of W14's batch-1 MLP). None when
    it does not apply (a graph or tangent to record, a profiler showing aten::t, mixed dtypes, a bias that
    broadcasts the product, shapes that do not multiply, bool operands): the caller takes addmm_fused's path, which
    also raises the errors."""
    x, w, b = input._data, weight._data, bias._data
    if (needs_grad(input, weight, bias) or PROFILER_TOPIC in events._subscribers
            or not x.dtype == w.dtype == b.dtype or x.dtype.char == "?" or x.ndim != 2 or w.ndim != 2
            or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],)):
        return None
    return wrap(np.asarray(_gemm(x, w.T, b)))


def addmm_fused(bias, mat1, mat2):
    """``bias + mat1 @ mat2`` with one AddmmBackward0 node, or None when ``bias`` does not fit the
    product as is (another dtype, or a shape that would broadcast the product): callers then add."""
    if (bias._data.dtype != mat1._data.dtype or mat1._data.ndim != 2 or mat2._data.ndim != 2
            or bias._data.ndim > 2 or mat1._data.shape[1] != mat2._data.shape[0]):
        return None
    out_shape = (mat1._data.shape[0], mat2._data.shape[1])
    if bias._data.shape != out_shape[1:]:  # nn.Linear's bias takes this path; others check broadcasting
        try:
            if np.broadcast_shapes(bias._data.shape, out_shape) != out_shape:
                return None
        except ValueError:
            return None  # the general path raises PyTorch's message
    check_bool_kernel("addmm_impl_cpu_", mat1, mat2)
    return _product(mat1, mat2, AddmmBackward0, bias)


def matmul(input, other, *, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, other = _autocast.lower_precision(input, other)
    _check_same_dtype(input, other, "matmul")
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    check_bool_kernel("addmv_impl_cpu" if db == 1 else "addmm_impl_cpu_" if db == 2 else "bmm", input, other)
    if da == 1:
        if db == 2 and input._data.shape[0] != other._data.shape[0]:  # PyTorch runs it as a 1-row mm
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{input._data.shape[0]} and "
                               f"{other._data.shape[0]}x{other._data.shape[1]})")
        return matmul(input.unsqueeze(0), other).squeeze(-2)
    if db == 1:
        if input._data.shape[-1] != other._data.shape[0]:
            rows = _rows(input)  # a >= 3-d input is folded into rows first, as PyTorch's mv sees it
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{input._data.shape[-1]}), "
                               f"vec ({other._data.shape[0]})")
        return matmul(input, other.unsqueeze(-1)).squeeze(-1)
    if db >= 3:  # PyTorch's batched path: the batch dims broadcast first, then bmm checks the inner sizes
        batch = broadcast_shapes(input._data.shape[:-2], other._data.shape[:-2])
        if input._data.shape[-1] != other._data.shape[-2]:
            n = math.prod(batch)
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{n}, {input._data.shape[-1]}] but got: [{n}, {other._data.shape[-2]}].")
    elif input._data.shape[-1] != other._data.shape[-2]:  # 2-d @ 2-d, or a >= 3-d input folded into rows
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_rows(input)}x{input._data.shape[-1]} and "
            f"{other._data.shape[-2]}x{other._data.shape[-1]})")
    return _product(input, other, MmBackward0 if da == 2 and db == 2 else UnsafeViewBackward0)
register(matmul)
register(matmul, namespace="torsh.linalg", method=False)  # torch.linalg.matmul: the same op


def _rows(t):
    shape = t._data.shape
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


def mm(input, mat2, *, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, mat2 = _autocast.lower_precision(input, mat2)
    if input._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix")
    _check_same_dtype(input, mat2, "mm")
    check_bool_kernel("addmm_impl_cpu_", input, mat2)
    if input._data.shape[1] != mat2._data.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({input._data.shape[0]}x{input._data.shape[1]} and "
            f"{mat2._data.shape[0]}x{mat2._data.shape[1]})")
    return _product(input, mat2, MmBackward0)
register(mm)


def bmm(input, mat2, *, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, mat2 = _autocast.lower_precision(input, mat2)
    if input._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2._data.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    _check_same_dtype(input, mat2, "bmm")
    check_bool_kernel("bmm", input, mat2)
    b, n, m = input._data.shape
    if mat2._data.shape[:2] != (b, m):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
            f"[{mat2._data.shape[0]}, {mat2._data.shape[1]}].")
    return _product(input, mat2, BmmBackward0)
register(bmm)


class DotBackward0(Node):
    def backward(self, grad):
        a, b = self.saved_tensors
        return (grad * b if self.next_functions[0][0] is not None else None,
                grad * a if self.next_functions[1][0] is not None else None)


def dot(input, other, *, out=None):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors")
    _check_same_dtype(input, other, "dot")
    check_dtype_support("dot", input._data.dtype)
    if input._data.dtype.char == "?":  # even on empty vectors
        raise NotImplementedError('"dot" not implemented for \'Bool\'')
    if input._data.shape != other._data.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input._data.shape[0]}] and src [{other._data.shape[0]}] "
            f"to have the same number of elements, but got {input._data.shape[0]} and {other._data.shape[0]} "
            "elements respectively")
    result = wrap(np.asarray(np.dot(input._data, other._data)))
    if needs_grad(input, other):
        node = DotBackward0()
        record(node, (input, other), (result,))
        node.save_for_backward(input, other)
    return result
register(dot, node_name="DotBackward0")


def mv(input, vec):
    if input._data.ndim == 0:  # PyTorch reads the matrix's size(0) first
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, {vec._data.ndim}")
    return matmul(input, vec)
register(mv)


def outer(input, vec2):
    for name, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)
register(outer, aliases=("ger",))


ger = outer
