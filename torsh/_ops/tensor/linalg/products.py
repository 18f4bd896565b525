"""Products beyond matmul: the add*-fused BLAS forms (addmm, addmv, addr, baddbmm, addbmm), einsum,
tensordot, kron, cross, trace, inner, vdot, cdist, chain_matmul.

Most are composites of differentiable ops (as several are in PyTorch), so they need no backward of
their own; einsum has one node for its core contraction, whose backward is again an einsum.
"""
import string

import numpy as np

from .... import _dtype
from .... import _autocast
from ...._autocast import float32_policy
from ...._tensor import wrap
from ....autograd.graph import Node, needs_grad, record
from ..._helpers import broadcast_shapes, dtype_name, normalize_dim, shape_str
from . import matmul as linalg
from .matmul import bmm, check_bool_kernel, dot, matmul, mm, mv
from ...registry import register


def _scaled(t, factor):
    return t if factor == 1 else t * factor


def _add_scaled(input, product, beta, alpha):
    """beta * input + alpha * product, broadcasting input to product's shape (beta == 0 ignores input)."""
    if _is_integral(product):  # PyTorch casts the scalars to the integer type (truncating 0.5 to 0)
        beta, alpha = int(beta), int(alpha)
    product = _scaled(product, alpha)
    if beta == 0:  # input's values are ignored (NaN included), its gradient is zero, as in PyTorch
        if not needs_grad(input):
            return product
        from ..creation import ones
        return product + input.expand(product._data.shape).masked_fill(ones((), dtype=_dtype.bool), 0)
    return product + _scaled(input.expand(product._data.shape), beta)


def _is_integral(t):
    return not (t.dtype.is_floating_point or t.dtype.is_complex)


def _need_matrix(t, what):
    if t._data.ndim != 2:
        raise RuntimeError(f"{what} must be a matrix, got {t._data.ndim}-D tensor")


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, mat1, mat2 = _autocast.lower_precision(input, mat1, mat2)
    _need_matrix(mat1, "mat1")
    _need_matrix(mat2, "mat2")
    if beta == 1 and alpha == 1 and out is None and hasattr(input, "_data") and mat1._data.dtype == mat2._data.dtype:
        fused = linalg.addmm_fused(input, mat1, mat2)  # one AddmmBackward0 node, as PyTorch records
        if fused is not None:
            return fused
    return _add_scaled(input, mm(mat1, mat2), beta, alpha)
register(addmm, inplace=True, out="copy")


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    if mat._data.ndim != 2 or vec._data.ndim != 1 or input._data.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, {mat._data.ndim}, "
                           f"{vec._data.ndim}")
    if mat._data.shape[1] != vec._data.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat._data.shape[0]}), mat "
                           f"({mat._data.shape[0]}x{mat._data.shape[1]}), vec ({vec._data.shape[0]})")
    if input._data.ndim == 1 and input._data.shape[0] not in (1, mat._data.shape[0]):
        raise RuntimeError(f"size mismatch, got input ({input._data.shape[0]}), mat "
                           f"({mat._data.shape[0]}x{mat._data.shape[1]}), vec ({vec._data.shape[0]})")
    return _add_scaled(input, mv(mat, vec), beta, alpha)
register(addmv, inplace=True, out="copy")


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    if vec1._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {vec1._data.ndim}-D"
                           if vec1._data.ndim != 1 else f"addr: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    outer = vec1.unsqueeze(1) * vec2.unsqueeze(0)
    for name, value in (("beta", beta), ("alpha", alpha)):
        if _is_integral(outer) and isinstance(value, float):
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point number.")
    return _add_scaled(input, outer, beta, alpha)
register(addr, inplace=True, out="copy")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, batch1, batch2 = _autocast.lower_precision(input, batch1, batch2)
    check_bool_kernel("baddbmm", batch1, batch2)
    return _add_scaled(input, bmm(batch1, batch2), beta, alpha)
register(baddbmm, inplace=True, out="copy")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if _autocast.state.enabled:  # torch.autocast: PyTorch's lower-precision op list
        input, batch1, batch2 = _autocast.lower_precision(input, batch1, batch2)
    check_bool_kernel("addmm_impl_cpu_", batch1, batch2)
    return _add_scaled(input, bmm(batch1, batch2).sum(0), beta, alpha)
register(addbmm, inplace=True, out="copy")


# -- einsum ---------------------------------------------------------------------------------------
_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _parse_einsum(equation, operands):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(specs) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for c in eq.replace("...", "").replace(",", "").replace("-", "").replace(">", ""):
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
    free = [c for c in _LETTERS if c not in eq]
    ell_dims = 0
    for i, (spec, t) in enumerate(zip(specs, operands)):
        named = len(spec.replace("...", ""))
        if "..." in spec:
            if named > t._data.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) is more than the "
                                   f"number of dimensions ({t._data.ndim}) for operand {i}")
            ell_dims = max(ell_dims, t._data.ndim - named)
        elif named != t._data.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({t._data.ndim}) for operand {i} and no ellipsis was given")
    ell = "".join(free[:ell_dims])
    full = []
    for spec, t in zip(specs, operands):
        if "..." in spec:
            n = t._data.ndim - len(spec.replace("...", ""))
            spec = spec.replace("...", ell[ell_dims - n:])
        full.append(spec)
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if not any(c in s for s in full):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
        if len(set(out)) != len(out):
            c = next(c for c in out if out.count(c) > 1)
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
    else:
        counts = {}
        for s in full:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return full, out


def _letter_sizes(specs, operands):
    sizes = {}
    for i, (spec, t) in enumerate(zip(specs, operands)):
        for c, n in zip(spec, t._data.shape):
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = n
            elif n != seen and n != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast "
                                   f"with previously seen size {seen}")
    return sizes


def _simplify_operand(t, spec, sizes, keep):
    """Take repeated-letter diagonals, drop broadcast size-1 dims and sum letters only this operand has.

    ``keep``: letters needed elsewhere (output or another operand). All steps are differentiable.
    """
    while len(set(spec)) != len(spec):
        c = next(c for c in spec if spec.count(c) > 1)
        p = spec.index(c)
        q = spec.index(c, p + 1)
        t = t.diagonal(0, p, q)
        spec = spec[:p] + spec[p + 1:q] + spec[q + 1:] + c
    for pos in reversed(range(len(spec))):
        c = spec[pos]
        if t._data.shape[pos] == 1 and sizes[c] != 1:
            t = t.squeeze(pos)
            spec = spec[:pos] + spec[pos + 1:]
    alone = [pos for pos, c in enumerate(spec) if c not in keep]
    if alone:
        t = t.sum(tuple(alone))
        spec = "".join(c for c in spec if c not in [spec[p] for p in alone])
    return t, spec


class EinsumBackward0(Node):
    def backward(self, grad):
        operands = self.saved_tensors
        grads = []
        for i, (fn, _) in enumerate(self.next_functions):
            if fn is None:
                grads.append(None)
                continue
            others = [o for j, o in enumerate(operands) if j != i]
            other_specs = [s for j, s in enumerate(self.specs) if j != i]
            eq = ",".join([self.out] + other_specs) + "->" + self.specs[i]
            g = einsum(eq, grad, *others)
            grads.append(g.expand(operands[i]._data.shape) if g._data.shape != operands[i]._data.shape else g)
        return tuple(grads)


def _einsum_core(specs, out, operands, rt):
    """The contraction itself: every letter is unique within an operand and appears in out or 2+ operands."""
    # bfloat16 (which np.einsum rejects) and float16 are contracted in float32, as PyTorch accumulates them
    work = np.dtype(np.float32) if rt.np in linalg._HALF_DTYPES else rt.np
    arrays = [o._data if o._data.dtype == work else o._data.astype(work) for o in operands]
    equation = ",".join(specs) + "->" + out
    value = np.einsum(equation, *arrays, optimize="greedy" if len(arrays) > 1 else False)
    value = np.asarray(value, dtype=rt.np)
    result = wrap(value if value.flags.c_contiguous else value.copy())
    if needs_grad(*operands):
        node = EinsumBackward0()
        node.specs, node.out = specs, out
        record(node, operands, (result,))
        node.save_for_backward(*[o if o.dtype is rt else o.to(rt) for o in operands])
    return result


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    specs, out = _parse_einsum(equation, operands)
    sizes = _letter_sizes(specs, operands)
    rt = _dtype.result_type_of(*operands)
    if len(operands) > 1 and set("".join(specs)) - set(out):  # a contraction: PyTorch's bmm
        check_bool_kernel("bmm", *operands)
    simple_ops, simple_specs = [], []
    for i, (t, spec) in enumerate(zip(operands, specs)):
        keep = set(out).union(*[set(s) for j, s in enumerate(specs) if j != i])
        t, spec = _simplify_operand(t, spec, sizes, keep)
        simple_ops.append(t)
        simple_specs.append(spec)
    missing = [c for c in out if not any(c in s for s in simple_specs)]  # broadcast size-1 output letters
    if missing:
        simple_specs[0] += "".join(missing)
        simple_ops[0] = simple_ops[0].reshape(simple_ops[0]._data.shape + (1,) * len(missing))
    return _einsum_core(simple_specs, out, simple_ops, rt)
register(einsum, method=False)


# -- tensordot / kron / cross / trace / inner / vdot / cdist ---------------------------------------
def _dims_list(x, name, position):
    """One of tensordot's dim lists as PyTorch's parser takes it (ints only; an int alone is a TypeError)."""
    if hasattr(x, "tolist"):
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"tensordot(): argument '{name}' (position {position}) must be tuple of ints, not "
                        f"{type(x).__name__}")
    return [int(d) for d in x]


def tensordot(a, b, dims=2, out=None):
    """torch.functional.tensordot's dims forms (an int, two lists, a tensor), then ATen's: a contracted dim of
    size 1 on one side sums the other side over its dim."""
    if not isinstance(dims, (tuple, list, int)) and not hasattr(dims, "_data"):
        raise RuntimeError("tensordot expects dims to be int or tuple[list[int], list[int]] or list[list[int]] "
                           f"containing two lists, but got dims={dims}")
    if hasattr(dims, "_data") and dims._data.size > 1:
        if dims._data.shape[0] != 2:
            raise AssertionError(f"dims tensor must have size 2 in first dimension, got {dims._data.shape[0]}")
        dims = (dims[0], dims[1])
    if isinstance(dims, int) or hasattr(dims, "_data"):
        n = int(dims)
        if n < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={n}")
        if n > a._data.ndim or n > b._data.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        dims_a = list(range(-n, 0))
        dims_b = list(range(n))
    else:
        first, second = dims
        dims_a, dims_b = _dims_list(first, "dims_self", 3), _dims_list(second, "dims_other", 4)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    given = list(zip(dims_a, dims_b))  # the messages name the dims as given
    dims_a = [normalize_dim(d, a._data.ndim) for d in dims_a]
    dims_b = [normalize_dim(d, b._data.ndim) for d in dims_b]
    for da, db, (ga, gb) in zip(dims_a, dims_b, given):
        sa_, sb_ = a._data.shape[da], b._data.shape[db]
        if sb_ == 1:
            a = a.sum(da, keepdim=True)
        elif sa_ == 1:
            b = b.sum(db, keepdim=True)
        elif sa_ != sb_:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa_} in dim {ga} and "
                               f"second has size {sb_} in dim {gb}")
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(a._data.ndim)]
    sb = [next(letters) for _ in range(b._data.ndim)]
    for da, db in zip(dims_a, dims_b):
        sb[db] = sa[da]
    out_spec = [c for i, c in enumerate(sa) if i not in dims_a] + [c for i, c in enumerate(sb) if i not in dims_b]
    # PyTorch multiplies the operands reshaped to matrices, or to vectors when everything is contracted
    check_bool_kernel("addmm_impl_cpu_" if out_spec else "dot", a, b)
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out_spec), a, b)
register(tensordot, out="copy")


def kron(input, other, *, out=None):
    n = max(input._data.ndim, other._data.ndim)
    a = input.reshape((1,) * (n - input._data.ndim) + input._data.shape)
    b = other.reshape((1,) * (n - other._data.ndim) + other._data.shape)
    a_shape, b_shape = a._data.shape, b._data.shape
    a_x = a.reshape([s for k in a_shape for s in (k, 1)])
    b_x = b.reshape([s for k in b_shape for s in (1, k)])
    return (a_x * b_x).reshape([x * y for x, y in zip(a_shape, b_shape)])
register(kron, out="copy")


def _cross_along(a, b, d):
    a0, a1, a2 = (a.select(d, i) for i in range(3))
    b0, b1, b2 = (b.select(d, i) for i in range(3))
    from ..shape.views import stack
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def _broadcast_pair(a, b):
    if a._data.ndim != b._data.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions.")
    shape = broadcast_shapes(a._data.shape, b._data.shape)
    return a.expand(shape), b.expand(shape)


def _check_cross_operands(input, other, dim):
    ndim = input._data.ndim
    if ndim != other._data.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")


def linalg_cross(input, other, *, dim=-1, out=None):
    _check_cross_operands(input, other, dim)
    ndim = input._data.ndim
    d = normalize_dim(dim, ndim)
    if input._data.shape[d] != 3 or other._data.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input._data.shape[d]} and {other._data.shape[d]}")
    a, b = _broadcast_pair(input, other)
    if a._data.dtype.char == "?":
        raise NotImplementedError('"cross" not implemented for \'Bool\'')
    return _cross_along(a, b, d)
register(linalg_cross, "cross", namespace="torsh.linalg", method=False)


def cross(input, other, dim=None, *, out=None):
    if dim is None:  # deprecated default: the first dim of size 3
        dim = next((i for i, s in enumerate(input._data.shape) if s == 3), None)  # input's own shape, as PyTorch
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim)
register(cross, out="copy")


@float32_policy
def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    if input._data.dtype.char == "?":
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    d = input.diagonal()
    if d.dtype.is_floating_point or d.dtype.is_complex:
        return d.sum()
    return d.sum(dtype=_dtype.int64)
register(trace)


def inner(input, other, *, out=None):
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{shape_str(input._data.shape)} and {shape_str(other._data.shape)}")
    return tensordot(input, other, ([-1], [-1]))
register(inner, out="copy")


def vdot(input, other, *, out=None):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors")
    return dot(input.conj() if input.dtype.is_complex else input, other)
register(vdot, out="copy")


@float32_policy
def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D")
    if x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {dtype_name(x.dtype)}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    from .core import vector_norm
    return vector_norm(diff, p, -1)
register(cdist, method=False)


def chain_matmul(*matrices, out=None):
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    for m in matrices:
        if m._data.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m._data.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return matrices[0].clone()
    from .core import multi_dot
    return multi_dot(matrices)
register(chain_matmul, method=False, out="copy")


__all__ = ["addmm", "addmv", "addr", "baddbmm", "addbmm", "einsum", "tensordot", "kron", "cross", "trace", "inner",
           "vdot", "cdist", "chain_matmul"]
