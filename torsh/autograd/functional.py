"""torch.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp.

As in PyTorch, ``vjp``/``jvp``/``vhp``/``hvp`` and the reverse-mode ``jacobian`` use ``autograd.grad`` (``jvp``
and ``hvp`` by the double-backward trick: differentiate a vjp with respect to its cotangent);
``jacobian(strategy="forward-mode", vectorize=True)`` runs forward-mode AD once, batched over the standard
basis of the inputs (vmap's BatchedTensors), and ``hessian(outer_jacobian_strategy="forward-mode")`` is that
over a reverse-mode gradient. Reverse mode with ``vectorize=True`` runs the row loop.
"""
import importlib

from . import forward_ad, grad_mode
from .engine import grad as _autograd_grad_raw

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


class _LazyOps:
    """torsh._ops.<name>, imported on first use: torsh.autograd loads before the ops exist."""

    def __getattr__(self, name):
        return importlib.import_module(f"torsh._ops.{name}")


_ops = _LazyOps()


# ----------------------------------------------------------------------------- argument handling

def _is_tensor(x):
    from .._tensor import Tensor
    return isinstance(x, Tensor)


def _as_tuple(value, arg_name, fn_name):
    """(was it a tuple, the tensors as a tuple); PyTorch's TypeError for anything but tensors."""
    was_tuple = isinstance(value, tuple)
    items = value if was_tuple else (value,)
    for i, item in enumerate(items):
        if not _is_tensor(item):
            where = f"value at index {i}" if was_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the {where} has type {type(item)}.")
    return was_tuple, items


def _unpack(result, was_tuple):
    """Undo _as_tuple: ``was_tuple`` is one flag, or (outer, inner) for a tuple of tuples."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            result = tuple(row[0] for row in result)
        return result if outer else result[0]
    return result if was_tuple else result[0]


def _fresh_inputs(inputs, create_graph, need_graph):
    """New tensor objects for the inputs, so captured copies of them are told apart (PyTorch #32576)."""
    if create_graph:
        return tuple(t.view_as(t) if t.requires_grad else t.detach().requires_grad_(need_graph) for t in inputs)
    return tuple(t.detach().requires_grad_(need_graph) for t in inputs)


def _finish(tensors, create_graph):
    """Detach the results unless the caller asked for a differentiable graph (nested tuples allowed)."""
    if create_graph:
        return tensors
    return tuple(t.detach() if _is_tensor(t) else _finish(t, False) for t in tensors)


def _validate_v(v, reference, reference_is_tuple):
    if len(v) != len(reference):
        if reference_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(reference)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (vi, ri) in enumerate(zip(v, reference)):
        if vi.size() != ri.size():
            prefix = f"Entry {i} in " if reference_is_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {ri.size()} but got {vi.size()}.")


def _prepare_v(v, reference, reference_is_tuple, fn_name, create_graph, none_message):
    """v as a tuple of tensors checked against ``reference``; None only for a single one-element reference."""
    if v is None:
        if len(reference) != 1 or reference[0].nelement() != 1:
            raise RuntimeError(none_message)
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _fresh_inputs(v, create_graph, need_graph=False)
    _validate_v(v, reference, reference_is_tuple)
    return v


_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is a single Tensor "
                 "with a single element.")


# ----------------------------------------------------------------------------- strict-mode checks

def _strict_check(tensors, kind, strict):
    """PyTorch's strict-mode errors for outputs / gradients that do not depend on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                               "This is not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is independent of the "
                "input. This is not allowed in strict mode. You should ensure that your function is thrice "
                "differentiable and that the hessian depends on the inputs.")
        if kind == "jacobian":
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided function with "
                f"respect to input {i} is independent of the input. This is not allowed in strict mode. You "
                "should ensure that your function is twice differentiable and that the jacobian depends on the "
                "inputs (this would be violated by a linear function for example).")
        if kind == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the inputs of the "
                               "user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The outputs "
                           "must be computed in a differentiable manner from the input when running in strict mode.")


_MISSING_GRAD = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _zeros_for_missing(grads, refs, strict, create_graph, stage):
    """Replace None gradients by zeros shaped like ``refs`` (or raise PyTorch's strict-mode error)."""
    filled = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_MISSING_GRAD[stage].format(i=i))
            g = _batchable("zeros_like", _ops.tensor.creation.zeros_like, refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        filled.append(g)
    return tuple(filled)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad that skips outputs without a graph and returns None for every input when none has one."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    outs, gouts = zip(*kept)
    if any(isinstance(t, _ops.transforms.batched_tensor.BatchedTensor) for t in (*outs, *gouts, *inputs)):
        return _batched_grad(outs, inputs, gouts, create_graph, retain_graph)
    return _autograd_grad_raw(outs, inputs, gouts, allow_unused=True, create_graph=create_graph,
                              retain_graph=retain_graph)


def _batched_grad(outputs, inputs, grad_outputs, create_graph, retain_graph):
    """_grad under the forward-mode jacobian's vmap (a forward-over-reverse Hessian): autograd.grad on
    the physical tensors, whose samples are independent, each gradient batched as its input."""
    batched = _ops.transforms.batched_tensor
    outs, gouts = [], []
    for o, g in zip(outputs, grad_outputs):
        po, levels = batched.physical(o)
        pg = _ops.tensor.creation.ones_like(po) if g is None else batched.align_levels(*batched.physical(g), levels)
        outs.append(po)
        gouts.append(pg)
    physical_inputs = [batched.physical(x) for x in inputs]
    grads = _autograd_grad_raw(outs, [p for p, _ in physical_inputs], gouts, allow_unused=True,
                               create_graph=create_graph, retain_graph=retain_graph)
    return tuple(None if g is None else batched.from_physical(g, levels)
                 for g, (_, levels) in zip(grads, physical_inputs))


def _batchable(name, fn, *args, **kwargs):
    """``fn`` called through vmap's dispatch: the _ops functions called directly here are not the
    bindings vmap intercepts, and their arguments may be batched (forward-over-reverse Hessian)."""
    return _ops.transforms.batched_tensor.dispatch(name, fn, args, kwargs)


def _call(func, inputs, fn_name, strict):
    outputs = func(*inputs)
    was_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    _strict_check(outputs, "outputs", strict)
    return was_tuple, outputs


def _differentiable_inputs(inputs, create_graph, fn_name):
    """(was it a tuple, fresh copies of the inputs that require grad)."""
    was_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    return was_tuple, _fresh_inputs(inputs, create_graph, need_graph=True)


def _inputs_v_outputs(func, inputs, v, create_graph, strict, fn_name):
    """jvp/vhp/hvp's first steps: the inputs, v checked against them (before func runs), func's outputs."""
    inputs_tuple, inputs = _differentiable_inputs(inputs, create_graph, fn_name)
    v = _prepare_v(v, inputs, inputs_tuple, fn_name, create_graph, _V_NONE_INPUT)
    outputs_tuple, outputs = _call(func, inputs, fn_name, strict)
    return inputs_tuple, inputs, v, outputs_tuple, outputs


def _scalar_output_checks(outputs, outputs_tuple, fn_name):
    if outputs_tuple or not _is_tensor(outputs[0]):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")


def _scalar_gradient(outputs, outputs_tuple, inputs, strict, fn_name):
    """vhp/hvp: the gradient of func's single-element output, kept differentiable for the second pass."""
    _scalar_output_checks(outputs, outputs_tuple, fn_name)
    gradient = _grad(outputs, inputs, create_graph=True)
    _strict_check(gradient, "jacobian", strict)
    return gradient


def _last_backward(outputs, inputs, v, refs, strict, create_graph, stage):
    """The product's final pass, recorded only if create_graph asks for it (or grad mode is on outside)."""
    with grad_mode.set_grad_enabled(create_graph or grad_mode.is_grad_enabled()):
        grads = _grad(outputs, inputs, v, create_graph=create_graph)
        return _zeros_for_missing(grads, refs, strict, create_graph, stage)


def _outputs_and_product(outputs, outputs_tuple, product, product_tuple, create_graph):
    """(func's outputs, the product), detached unless create_graph, each unpacked as its argument came."""
    return (_unpack(_finish(outputs, create_graph), outputs_tuple),
            _unpack(_finish(product, create_graph), product_tuple))


# ----------------------------------------------------------------------------- public API

def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    with grad_mode.enable_grad():
        inputs_tuple, inputs = _differentiable_inputs(inputs, create_graph, "vjp")
        outputs_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _prepare_v(v, outputs, outputs_tuple, "vjp", create_graph,
                       "The vector v can only be None if the user-provided function returns a single Tensor "
                       "with a single element.")
    result = _last_backward(outputs, inputs, v, inputs, strict, create_graph, "back")
    return _outputs_and_product(outputs, outputs_tuple, result, inputs_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), by the double-backward trick: J v = d/du (u^T J) v for a dummy cotangent u."""
    with grad_mode.enable_grad():
        _, inputs, v, outputs_tuple, outputs = _inputs_v_outputs(func, inputs, v, create_graph, strict, "jvp")
        # u's value never reaches the result (the vjp is linear in u); zeros keep inf/nan out
        cotangents = tuple(_ops.tensor.creation.zeros_like(o, requires_grad=True) for o in outputs)
        vjps = _grad(outputs, inputs, cotangents, create_graph=True)
        _strict_check(vjps, "grad_inputs", strict)
    result = _last_backward(vjps, cotangents, v, outputs, strict, create_graph, "back_trick")
    return _outputs_and_product(outputs, outputs_tuple, result, outputs_tuple, create_graph)


def _forward_mode_jacobian(func, inputs, strict, vectorize):
    """PyTorch's _jacfwd: one jvp per input element, all of them in one forward pass batched over the
    standard basis (vmap of a dual-level call), each output's tangents split back per input."""
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are '
                           'not supported together (yet). Please either set `strict=False` or '
                           '`strategy="reverse-mode"`.')
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                                  "only implemented for `vectorize=True`.")
    numels = tuple(x.numel() for x in inputs)
    outputs_info = []

    def push_forward(basis_rows):
        with forward_ad.dual_level():
            duals = tuple(_batched_dual(x, row.view_as(x)) for x, row in zip(inputs, basis_rows))
            outputs_tuple, outputs = _as_tuple(func(*duals), "outputs", None)
            outputs_info[:] = [outputs_tuple, [tuple(o.shape) for o in outputs]]
            return tuple(_batched_tangent(o) for o in outputs)

    per_output = _vmap_over_rows(push_forward, _standard_basis(inputs, numels))
    outputs_tuple, out_shapes = outputs_info
    result = []
    for jac, out_shape in zip(per_output, out_shapes):  # jac: (sum of numels,) + output shape
        blocks = jac.split(numels, dim=0)
        result.append([b.permute(*range(1, b.dim()), 0).reshape(out_shape + tuple(x.shape))
                       for b, x in zip(blocks, inputs)])
    return _unpack(result, (outputs_tuple, inputs_tuple))  # lists, as PyTorch's _jacfwd returns


def _standard_basis(inputs, numels):
    """Per input, the rows of the identity of size sum(numels) that fall on that input's elements."""
    total = sum(numels)
    blocks, start = [], 0
    for x, n in zip(inputs, numels):
        block = _ops.tensor.creation.zeros((total, n), dtype=x.dtype)
        block.narrow(0, start, n).copy_(_ops.tensor.creation.eye(n, dtype=x.dtype))
        blocks.append(block)
        start += n
    return tuple(blocks)


def _vmap_over_rows(fn, rows):
    """fn(rows) once on BatchedTensors batched over dim 0 of every ``rows`` tensor (torch._vmap_internals'
    vmap, which autograd.functional uses); fn returns a tuple of tensors, returned batched over dim 0."""
    batched = _ops.transforms.batched_tensor
    size = rows[0].shape[0]
    if not batched.intercept():  # the profiler holds the op-call hook: one row at a time
        per_row = [fn(tuple(r[i] for r in rows)) for i in range(size)]
        return tuple(_ops.tensor.shape.views.stack(column, 0) for column in zip(*per_row))
    level = batched.push_level(size, "error")
    batched.randomness.install()
    try:
        outputs = fn(tuple(level.wrap(r) for r in rows))
        return tuple(_unbatched(o, level) for o in outputs)
    finally:
        batched.randomness.uninstall()
        batched.pop_level(level)
        batched.release()


def _unbatched(t, level):
    value, was_batched = _ops.transforms.batched_tensor.unwrap(t, level)
    return value if was_batched else value.unsqueeze(0).expand(level.size, *value.shape)


def _batched_dual(primal, tangent):
    """make_dual of a primal (unbatched or batched) and a batched tangent, on their physical tensors."""
    batched = _ops.transforms.batched_tensor
    p, p_levels = batched.physical(primal)
    t, t_levels = batched.physical(tangent)
    levels = [lv for lv in batched.active_levels() if lv in p_levels or lv in t_levels]
    p = batched.align_levels(p, p_levels, levels)
    t = batched.align_levels(t, t_levels, levels)
    return batched.from_physical(forward_ad.make_dual(p, t), levels)


def _batched_tangent(output):
    """The tangent of an output at the open level (zeros when it does not depend on the inputs)."""
    batched = _ops.transforms.batched_tensor
    phys, levels = batched.physical(output)
    primal, tangent = forward_ad.unpack_dual(phys)
    if tangent is None:
        tangent = _ops.tensor.creation.zeros_like(primal)
    return batched.from_physical(tangent, levels)


def _jacobian_rows(out, inputs, create_graph, strict, out_index, vectorize):
    """The rows d out.flatten()[k] / d inputs, one reverse pass each; a list (per input) of row lists."""
    flat = out.reshape(-1)

    def row(k):
        return _grad((flat[k],), inputs, retain_graph=True, create_graph=create_graph)

    per_input = [[] for _ in inputs]
    for k in range(flat.numel()):
        for j, (g, x) in enumerate(zip(row(k), inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {out_index} of the user-provided function is independent of "
                                       f"input {j}. This is not allowed in strict mode.")
                g = _batchable("zeros_like", _ops.tensor.creation.zeros_like, x)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input "
                                   f"{out_index}. This is not allowed in strict mode when create_graph=True.")
            per_input[j].append(g)
    return per_input


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: J[i][j] has shape outputs[i].shape + inputs[j].shape."""
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either '
                                      'set `create_graph=False` or `strategy="reverse-mode"`.')
        return _forward_mode_jacobian(func, inputs, strict, vectorize)
    with grad_mode.enable_grad():
        inputs_tuple, inputs = _differentiable_inputs(inputs, create_graph, "jacobian")
        outputs_tuple, outputs = _call(func, inputs, "jacobian", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        result = []
        for i, out in enumerate(outputs):
            rows = _jacobian_rows(out, inputs, create_graph, strict, i, vectorize)
            result.append(tuple(_stack_rows(r, out, x) for r, x in zip(rows, inputs)))
    return _unpack(_finish(tuple(result), create_graph), (outputs_tuple, inputs_tuple))


def _stack_rows(rows, out, x):
    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:  # an empty output: no rows to stack
        return _ops.tensor.creation.zeros(shape, dtype=x.dtype)
    return _batchable("stack", _ops.tensor.shape.views.stack, rows, 0).view(shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient. H[i][j] = d^2 f / d inputs[i] d inputs[j]."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*xs):
        out = func(*xs)
        out_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _strict_check(outs, "outputs", strict)
        _scalar_output_checks(outs, out_tuple, "hessian")
        return out.squeeze()

    def gradient(*xs):
        if outer_jacobian_strategy == "forward-mode":
            xs = tuple(x.requires_grad_(True) for x in xs)
        jac = jacobian(scalar_func, xs, create_graph=True)
        _strict_check(jac, "jacobian", strict)
        return jac

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpack(result, (inputs_tuple, inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar ``func``: the vjp of its gradient."""
    with grad_mode.enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs = _inputs_v_outputs(func, inputs, v, create_graph, strict,
                                                                            "vhp")
        gradient = _scalar_gradient(outputs, outputs_tuple, inputs, strict, "vhp")
    result = _last_backward(gradient, inputs, v, inputs, strict, create_graph, "double_back")
    return _outputs_and_product(outputs, outputs_tuple, result, inputs_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar ``func``, by the double-backward trick on the vhp."""
    with grad_mode.enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs = _inputs_v_outputs(func, inputs, v, create_graph, strict,
                                                                            "hvp")
        gradient = _scalar_gradient(outputs, outputs_tuple, inputs, strict, "hvp")
        cotangents = tuple(_ops.tensor.creation.zeros_like(x, requires_grad=True) for x in inputs)
        double_back = _grad(gradient, inputs, cotangents, create_graph=True)
        _strict_check(gradient, "hessian", strict)
    result = _last_backward(double_back, cotangents, v, inputs, strict, create_graph, "double_back_trick")
    return _outputs_and_product(outputs, outputs_tuple, result, inputs_tuple, create_graph)
