"""Finite-difference checks of analytical gradients (torch.autograd.gradcheck / gradgradcheck)."""
import numpy as np

from .. import _tensor
from . import forward_ad, grad_mode


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    return tuple(x) if isinstance(x, list) else (x,)  # a list of inputs counts as a tuple, as in PyTorch


def _differentiable_outputs(outputs):
    return [o for o in outputs if hasattr(o, "_data") and o._requires_grad]


def _numerical_jacobian(func, inputs, index, eps):
    """Column j: d outputs / d inputs[index].flat[j], by central differences."""
    x = inputs[index]
    flat = x._data.reshape(-1) if x._data.flags.c_contiguous else None
    if flat is None:
        raise GradcheckError("gradcheck expects contiguous inputs")
    columns = []
    # not under no_grad: gradgradcheck's function itself calls autograd.grad
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _as_tuple(func(*inputs)) if hasattr(o, "_data")]
        flat[j] = orig - eps
        minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _as_tuple(func(*inputs)) if hasattr(o, "_data")]
        flat[j] = orig
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    return columns


def _analytical_rows(outputs, inputs, index_of_output):
    from .engine import grad
    from .._ops.tensor.creation import zeros_like
    out = outputs[index_of_output]
    rows = []
    for k in range(out._data.size):
        seed = zeros_like(out)
        seed._data.reshape(-1)[k] = 1
        grads = grad(out, [inputs[i] for i in range(len(inputs))], seed, retain_graph=True, allow_unused=True)
        rows.append([None if g is None else g._data.astype(np.float64).reshape(-1).copy() for g in grads])
    return rows


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """True when ``func``'s autograd Jacobian matches central finite differences for every
    input that requires grad; otherwise raises GradcheckError (or returns False)."""
    inputs = _as_tuple(inputs)
    tensor_inputs = [i for i, t in enumerate(inputs) if hasattr(t, "_data") and t._requires_grad]
    if not tensor_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.")
    outputs = _as_tuple(func(*inputs))
    diff_outputs = [o for o in outputs if hasattr(o, "_data")]
    for mode_checked, mismatch in ((check_backward_ad, _backward_mismatch), (check_forward_ad, _forward_mismatch)):
        message = mismatch(func, inputs, tensor_inputs, diff_outputs, eps, atol, rtol) if mode_checked else None
        if message is not None:
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def _backward_mismatch(func, inputs, tensor_inputs, diff_outputs, eps, atol, rtol):
    """PyTorch's message for the first output/input pair whose reverse-mode Jacobian differs from central
    differences, or None."""
    for o_index, out in enumerate(diff_outputs):
        if not out._requires_grad:
            continue
        rows = _analytical_rows(diff_outputs, [inputs[i] for i in tensor_inputs], o_index)
        for pos, i in enumerate(tensor_inputs):
            columns = _numerical_jacobian(func, inputs, i, eps)
            numerical = np.array([c[o_index] for c in columns]).T if columns else np.zeros((out._data.size, 0))
            analytical = np.array([
                r[pos] if r[pos] is not None else np.zeros(inputs[i]._data.size) for r in rows
            ]) if rows else np.zeros((0, inputs[i]._data.size))
            numerical = numerical.reshape(out._data.size, inputs[i]._data.size)
            analytical = analytical.reshape(out._data.size, inputs[i]._data.size)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol, equal_nan=True):
                return (f"Jacobian mismatch for output {o_index} with respect to input {i},\n"
                        f"numerical:{numerical}\nanalytical:{analytical}\n")
    return None


def _forward_jacobian_columns(func, inputs, tensor_inputs, index):
    """Column j: the output tangents of ``func`` with a one-hot tangent on inputs[index].flat[j] (forward AD)."""
    x = inputs[index]
    columns = []
    for j in range(x._data.size):
        with forward_ad.dual_level():
            duals = list(inputs)
            for i in tensor_inputs:
                tangent = np.zeros(inputs[i]._data.shape, inputs[i]._data.dtype)
                if i == index:
                    tangent.reshape(-1)[j] = 1
                duals[i] = forward_ad.make_dual(inputs[i].detach(), _tensor.wrap(tangent))
            outs = [o for o in _as_tuple(func(*duals)) if hasattr(o, "_data")]
            columns.append([_flat_tangent(o) for o in outs])
    return columns


def _flat_tangent(out):
    tangent = forward_ad.unpack_dual(out).tangent
    if tangent is None:
        return np.zeros(out._data.size)
    return tangent._data.astype(np.float64).reshape(-1).copy()


def _forward_mismatch(func, inputs, tensor_inputs, diff_outputs, eps, atol, rtol):
    """PyTorch's message for the first output/input pair whose forward-mode Jacobian differs from central
    differences, or None."""
    for i in tensor_inputs:
        analytical_columns = _forward_jacobian_columns(func, inputs, tensor_inputs, i)
        numerical_columns = _numerical_jacobian(func, inputs, i, eps)
        for o_index, out in enumerate(diff_outputs):
            if not (out.dtype.is_floating_point or out.dtype.is_complex):
                continue
            shape = (out._data.size, inputs[i]._data.size)
            numerical = np.array([c[o_index] for c in numerical_columns]).T.reshape(shape)
            analytical = np.array([c[o_index] for c in analytical_columns]).T.reshape(shape)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol, equal_nan=True):
                return (f"Jacobian computed with forward mode mismatch for output {o_index} with respect to input "
                        f"{i},\nnumerical:{numerical}\nanalytical:{analytical}\n")
    return None


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Checks second derivatives: gradcheck of the function (inputs, grad_outputs) -> input grads."""
    from .engine import grad
    from .._ops.tensor.creation import randn
    from .. import _random
    inputs = _as_tuple(inputs)
    outputs = [o for o in _as_tuple(func(*inputs)) if hasattr(o, "_data") and o._requires_grad]
    if grad_outputs is None:
        gen = _random.Generator().manual_seed(0)
        grad_outputs = tuple(randn(o._data.shape, dtype=o.dtype, generator=gen, requires_grad=True) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    # the positions differentiated: forward mode's check passes them as detached dual tensors, which
    # are made to require grad again here, as PyTorch's gradgradcheck does
    diff_positions = [i for i, t in enumerate(inputs + grad_outputs) if hasattr(t, "_data") and t._requires_grad]

    def first_derivatives(*args):
        args = [a.requires_grad_() if i in diff_positions and not a._requires_grad else a for i, a in enumerate(args)]
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if hasattr(o, "_data") and o._requires_grad]
        wrt = [t for t in ins if hasattr(t, "_data") and t._requires_grad]
        grads = grad(outs, wrt, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)
