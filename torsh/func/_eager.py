"""torsh.func's differentiating transforms.

``grad``/``vjp``/``jacrev`` call ``autograd.grad`` on fresh copies of the differentiated inputs; ``jvp``,
``linearize``, ``jacfwd`` (vmap of jvp over the basis) and ``hessian`` (jacfwd of jacrev) run forward-mode AD
(``autograd.forward_ad``). A jvp inside an open dual level (forward mode does not nest) uses the double-vjp
trick instead.

Nesting (``grad(grad(f))``, ``jacfwd(jacrev(f))``, closures over an outer transform's inputs) works
because a transform running inside another one keeps the graph of its results (``create_graph``).
"""
import functools

from .. import _ops
from .._ops import inplace
from .._ops.transforms import batched_tensor as batched
from .._tensor import Tensor
from ..autograd import forward_ad, grad_mode
from ..autograd import function as _function
from ..autograd import functional as _autograd_functional
from ..autograd.engine import grad as _autograd_grad
from ..utils._pytree import tree_flatten, tree_map, tree_unflatten
from ._vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian"]

_active_transforms = [0]  # how many differentiating transforms are running (they may be nested)


def _captured_tensors(func):
    """ids of the tensors ``func`` reads from its globals or closure: what PyTorch calls captured, as far as a
    look at the function itself finds them (a tensor reached through an object's attribute is not seen)."""
    func = getattr(func, "__wrapped__", func)
    code = getattr(func, "__code__", None)
    if code is None:
        return set()
    namespace = getattr(func, "__globals__", {})
    values = [namespace.get(name) for name in code.co_names]
    values += [cell.cell_contents for cell in (func.__closure__ or ()) if _filled(cell)]
    return {id(v) for v in values if isinstance(v, Tensor)}


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return False
    return True


class _transform_level:
    """Grad mode on, and one more active transform, while a transform runs ``func``; in-place ops on the
    tensors ``func`` captured raise PyTorch's error meanwhile."""

    def __init__(self, func=None):
        self._captured = _captured_tensors(func) if func is not None else set()

    def __enter__(self):
        self._grad = grad_mode.enable_grad()
        self._grad.__enter__()
        _active_transforms[0] += 1
        _function.TRANSFORMS_RUNNING[0] += 1
        inplace.CAPTURED_BY_TRANSFORM.append(self._captured)

    def __exit__(self, *exc):
        inplace.CAPTURED_BY_TRANSFORM.pop()
        _active_transforms[0] -= 1
        _function.TRANSFORMS_RUNNING[0] -= 1
        self._grad.__exit__(*exc)


def _keeps_graph(leaves, levels_running=1):
    """Results stay differentiable inside an outer transform, or when the caller's inputs require grad.

    ``levels_running``: how many transforms of the caller's own are counted already (1 inside its level)."""
    outer = _active_transforms[0] > levels_running
    return outer or any(isinstance(x, Tensor) and x.requires_grad for x in leaves)


def _reaches_other_leaves(outputs, own_inputs):
    """Does the graph of ``outputs`` reach a leaf requiring grad other than the transform's own inputs?

    Then ``func`` closed over a tensor the caller differentiates (``w`` in ``grad(lambda x: (x * w).sum())``),
    and the results must keep their graph for the caller's own backward."""
    from ..autograd.graph import AccumulateGrad
    own = {id(batched.physical(x)[0]) for x in own_inputs}
    stack = [o.grad_fn for o in outputs if isinstance(o, Tensor) and o.grad_fn is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad) and id(node.variable) not in own:
            return True
        stack.extend(child for child, _ in node.next_functions)
    return False


def _differentiable(x):
    """A fresh tensor for ``x`` that requires grad (a view when ``x`` already has a graph, so outer levels see it).

    Under vmap the fresh tensor is the physical one, batched at every running level (an unbatched input is
    expanded): the graph then holds one copy per sample, so gradients come out per sample."""
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    levels = batched.active_levels()
    if not levels:
        return _fresh_leaf(x)
    phys, have = batched.physical(x)
    return batched.from_physical(_fresh_leaf(batched.align_levels(phys, have, levels)), levels)


def _fresh_leaf(x):
    """x.detach().requires_grad_() keeping x's forward-mode tangent (jacfwd(jacrev(f)): forward over reverse)."""
    if x.requires_grad:
        return x.view_as(x)
    tangent = forward_ad.unpack_dual(x).tangent if forward_ad._current_level >= 0 else None
    fresh = x.detach().requires_grad_(True)
    return fresh if tangent is None else forward_ad.make_dual(fresh, tangent)


def _release(tree, keep_graph):
    """Outputs and aux leave the transform detached unless a graph is being kept."""
    def release(x):
        if not isinstance(x, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(x)}")
        return x if keep_graph else x.detach()
    return tree_map(release, tree)


def _gradients(outputs, inputs, grad_outputs, keep_graph, retain_graph=None):
    """autograd.grad tolerant of outputs without a graph: zeros for every input that gets no gradient."""
    if batched.active_levels() and any(isinstance(t, batched.BatchedTensor)
                                       for t in (*outputs, *inputs, *grad_outputs)):
        return _batched_gradients(outputs, inputs, grad_outputs, keep_graph, retain_graph)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    grads = [None] * len(inputs)
    if pairs:
        outs, gouts = zip(*pairs)
        grads = _autograd_grad(outs, inputs, gouts, allow_unused=True, create_graph=keep_graph,
                               retain_graph=True if retain_graph is None else retain_graph)
    return [_ops.tensor.creation.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


def _batched_gradients(outputs, inputs, grad_outputs, keep_graph, retain_graph):
    """_gradients under vmap: autograd.grad on the physical tensors (inputs batched at every level, see
    _differentiable), the gradients batched as the inputs. A cotangent batched at a level its output is not
    (vmap over a vjp_fn) is taken one sample at a time."""
    for g, o in zip(grad_outputs, outputs):
        extra = [lv for lv in batched.physical(g)[1] if lv not in batched.physical(o)[1]] if g is not None else []
        if extra:
            return _gradients_per_cotangent_sample(extra[-1], outputs, inputs, grad_outputs, keep_graph,
                                                   retain_graph)
    physical_inputs = [batched.physical(x) for x in inputs]
    pairs = []
    for o, g in zip(outputs, grad_outputs):
        if not o.requires_grad:
            continue
        po, levels = batched.physical(o)
        if g is None:
            pg = _ops.tensor.creation.ones_like(po)
        else:
            pg, g_levels = batched.physical(g)
            pg = batched.align_levels(pg, g_levels, levels)
        pairs.append((po, pg))
    grads = [None] * len(inputs)
    if pairs:
        outs, gouts = zip(*pairs)
        grads = _autograd_grad(outs, [p for p, _ in physical_inputs], gouts, allow_unused=True,
                               create_graph=keep_graph, retain_graph=True if retain_graph is None else retain_graph)
    return [batched.from_physical(_ops.tensor.creation.zeros_like(p) if g is None else g, levels)
            for g, (p, levels) in zip(grads, physical_inputs)]


def _gradients_per_cotangent_sample(level, outputs, inputs, grad_outputs, keep_graph, retain_graph):
    if level is not batched.active_levels()[-1]:
        raise NotImplementedError("vmap over a vjp_fn: the cotangents' level must be the innermost vmap")
    per_sample = []
    for b in range(level.size):
        cotangents = [g if not batched.batched_at(g, level) else g._value.select(0, b) for g in grad_outputs]
        per_sample.append(_gradients(outputs, inputs, cotangents, keep_graph, True))
    return [batched.stack_samples([grads[i] for grads in per_sample], level) for i in range(len(inputs))]


# ----------------------------------------------------------------------------- argnums

def _check_argnums(argnums, num_args):
    """argnums as given (int or tuple), validated with PyTorch's errors and made non-negative."""
    if isinstance(argnums, tuple):
        if len(argnums) == 0:
            raise RuntimeError("argnums must be non-empty")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return tuple(_check_argnum(a, num_args) for a in argnums)
    if isinstance(argnums, int):
        return _check_argnum(argnums, num_args)
    raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")


def _check_argnum(argnum, num_args):
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if -num_args <= argnum < num_args:
        return argnum % num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _differentiate_args(args, argnums):
    """(args with the argnums entries replaced by differentiable copies, the copied entries as one tree)."""
    argnums = _check_argnums(argnums, len(args))
    picked = args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)
    diff = tree_map(_differentiable, picked)
    new_args = list(args)
    if isinstance(argnums, int):
        new_args[argnums] = diff
    else:
        for i, d in zip(argnums, diff):
            new_args[i] = d
    return tuple(new_args), diff, picked


def _split_aux(output, has_aux, api):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return output


# ----------------------------------------------------------------------------- grad

def grad_and_value(func, argnums=0, has_aux=False):
    """(gradient of the scalar ``func`` w.r.t. ``args[argnums]``, its value), as torch.func.grad_and_value."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _transform_level(func):
            new_args, diff, picked = _differentiate_args(args, argnums)
            keep = _keeps_graph(tree_flatten(picked)[0])
            output, aux = _split_aux(func(*new_args, **kwargs), has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}")
            if output.dim() != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                                   "APIs instead?")
            flat, spec = tree_flatten(diff)
            keep = keep or _reaches_other_leaves([output], flat)
            grads = tree_unflatten(_gradients([output], flat, [None], keep, retain_graph=keep), spec)
            value = _release(output, keep)
            if has_aux:
                return grads, (value, _release(aux, keep))
            return grads, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of the scalar ``func`` w.r.t. ``args[argnums]`` (torch.func.grad); with has_aux, (grad, aux)."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = inner(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


# ----------------------------------------------------------------------------- vjp / jvp / linearize

def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) [+ aux]: ``vjp_fn(cotangents)`` returns one gradient per primal (a tuple)."""
    with _transform_level(func):
        diff = tree_map(_differentiable, primals)
        keep = _keeps_graph(tree_flatten(primals)[0])
        output, aux = _split_aux(func(*diff), has_aux, "vjp(f, *primals)")
        flat_out, out_spec = tree_flatten(output)
        _check_tensor_outputs(flat_out, "vjp(f, *primals)")
        for o in flat_out:
            if not (o.is_floating_point() or o.is_complex()):
                raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                                   f"Tensor with dtype {o.dtype}")
    flat_in, in_spec = tree_flatten(diff)
    keep = keep or _reaches_other_leaves(flat_out, flat_in)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of outputs "
                               f"to the function. cotangents: {cot_spec}, primal output: {out_spec}")
        graph = _keeps_graph([], 0) or keep if create_graph is None else create_graph
        with grad_mode.enable_grad():
            grads = _gradients(flat_out, flat_in, flat_cot, graph, retain_graph)
        return tree_unflatten(grads, in_spec)

    result = (_release(output, keep), vjp_fn)
    return result + (_release(aux, keep),) if has_aux else result


def _check_tensor_outputs(flat_out, api):
    """PyTorch's assert_non_empty_tensor_output."""
    if not flat_out or (len(flat_out) == 1 and flat_out[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = {flat_out})")
    for o in flat_out:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")


def _check_primals_tangents(primals, tangents, api):
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python structure. For example, "
                           f"if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    for name, flat in (("primals", flat_p), ("tangents", flat_t)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got {type(x)}")
    return flat_t


class _Linearization:
    """f's outputs and the graph of u -> J^T u for dummy cotangents u: J v is then d<J^T u, v>/du."""

    def __init__(self, func, primals, has_aux, api):
        with _transform_level():
            self.keep = _keeps_graph(tree_flatten(primals)[0])
            diff = tree_map(_differentiable, primals)
            output, self.aux = _split_aux(func(*diff), has_aux, api)
            self.flat_out, self.out_spec = tree_flatten(output)
            _check_tensor_outputs(self.flat_out, api)
            # the vjp is linear in u, so u's value never reaches the result; zeros keep inf/nan out
            self.cotangents = [_ops.tensor.creation.zeros_like(o, requires_grad=True) for o in self.flat_out]
            self.flat_in = tree_flatten(diff)[0]
            self.keep = self.keep or _reaches_other_leaves(self.flat_out, self.flat_in)
            self.vjps = _gradients(self.flat_out, self.flat_in, self.cotangents, keep_graph=True)

    def output(self):
        return tree_unflatten([_release(o, self.keep) for o in self.flat_out], self.out_spec)

    def apply(self, flat_tangents):
        with grad_mode.enable_grad():
            jv = _gradients(self.vjps, self.cotangents, flat_tangents, self.keep or _keeps_graph([], 0))
        return tree_unflatten(jv, self.out_spec)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J @ tangents) [+ aux] by forward-mode AD (one forward pass with dual tensors).

    Inside an open forward-AD level (nested forward mode is not supported) it falls back to the double-vjp trick."""
    api = "jvp(f, primals, tangents)"
    flat_t = _check_primals_tangents(primals, tangents, api)
    if forward_ad._current_level >= 0:
        lin = _Linearization(func, primals, has_aux, api)
        result = (lin.output(), lin.apply(flat_t))
        return result + (_release(lin.aux, lin.keep),) if has_aux else result
    flat_p, p_spec = tree_flatten(primals)
    with forward_ad.dual_level(), _forward_transform(func):
        duals = [_dual(p, t) for p, t in zip(flat_p, flat_t)]
        output, aux = _split_aux(func(*tree_unflatten(duals, p_spec)), has_aux, api)
        flat_out, out_spec = tree_flatten(output)
        _check_tensor_outputs(flat_out, api)
        unpacked = [_unpack(o) for o in flat_out]
        aux = tree_map(lambda a: _unpack(a)[0] if isinstance(a, Tensor) else a, aux) if has_aux else None
    keep = _keeps_graph(flat_p + flat_t, 0)  # outputs keep a graph only for an outer transform or the caller's
    result = (_release(tree_unflatten([p for p, _ in unpacked], out_spec), keep),
              _release(tree_unflatten([t for _, t in unpacked], out_spec), keep))
    return result + (_release(aux, keep),) if has_aux else result


class _forward_transform:
    """jvp counts as a running transform (custom Functions check it, in-place ops on what ``func`` captured
    raise), without _transform_level's grad mode."""

    def __init__(self, func):
        self._captured = _captured_tensors(func)

    def __enter__(self):
        _function.TRANSFORMS_RUNNING[0] += 1
        inplace.CAPTURED_BY_TRANSFORM.append(self._captured)

    def __exit__(self, *exc):
        inplace.CAPTURED_BY_TRANSFORM.pop()
        _function.TRANSFORMS_RUNNING[0] -= 1


_dual = _autograd_functional._batched_dual  # make_dual on the physical tensors, batched at the levels either has


def _unpack(output):
    """(primal, tangent) of an output: a zero tangent when the output does not depend on the primals."""
    phys, levels = batched.physical(output)
    primal, tangent = forward_ad.unpack_dual(phys)
    if tangent is None:
        tangent = _ops.tensor.creation.zeros_like(primal)
    return batched.from_physical(primal, levels), batched.from_physical(tangent, levels)


def linearize(func, *primals):
    """(func(*primals), jvp_fn) as torch.func.linearize: ``jvp_fn(*tangents)`` is J @ tangents at ``primals``
    by forward-mode AD. PyTorch traces the dual-level call once and replays the graph; torsh replays the
    dual-level call itself (func runs again per jvp_fn call, on the same primals)."""
    output = func(*primals)
    flat_primals, primals_spec = tree_flatten(primals)
    metadata = [(p.shape, p.device, p.dtype) for p in flat_primals]

    def jvp_fn(*tangents):
        flat_tangents, tangents_spec = tree_flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents {tangents_spec} to have the same argspec as the primals "
                               f"{primals_spec}")
        _check_linearize_tangents(flat_tangents, metadata)
        return jvp(func, primals, tangents)[1]
    return output, jvp_fn


def _check_linearize_tangents(flat_tangents, metadata):
    """PyTorch's forward_ad_checks: each tangent has its primal's shape, device and dtype."""
    for idx, (t, (shape, device, dtype)) in enumerate(zip(flat_tangents, metadata)):
        for what, got, want in (("shape", t.shape, shape), ("device", t.device, device),
                                ("dtype", t.dtype, dtype)):
            if got != want:
                raise RuntimeError(f"tangent:{idx} with {what} {got} in flattened pytree doesn't match the "
                                   f"{what} {want} of the corresponding primal.")


# ----------------------------------------------------------------------------- jacobians

def _jacobian_of(out, flat_in, keep):
    """d out / d each input: a list of tensors shaped out.shape + input.shape, one reverse pass per element."""
    flat = out.reshape(-1)
    rows = [_gradients([flat[k]], flat_in, [None], keep) for k in range(flat.numel())]
    jacs = []
    for j, x in enumerate(flat_in):
        shape = tuple(out.shape) + tuple(x.shape)
        if not rows:
            jacs.append(_ops.tensor.creation.zeros(shape, dtype=x.dtype))
        else:
            jacs.append(batched.dispatch("stack", _ops.tensor.shape.views.stack, ([r[j] for r in rows], 0), {}).reshape(shape))
    return jacs


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian of ``func`` w.r.t. ``args[argnums]`` by reverse mode (torch.func.jacrev).

    Each output leaf is replaced by the Jacobian w.r.t. the differentiated argument(s), shaped
    output.shape + input.shape (a tree like args[argnums], or a tuple of them for a tuple argnums).
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        with _transform_level():
            new_args, diff, picked = _differentiate_args(args, argnums)
            keep = _keeps_graph(tree_flatten(picked)[0])
            output, aux = _split_aux(func(*new_args), has_aux, "jacrev(f, ...)(*args)")
            flat_out, out_spec = tree_flatten(output)
            for o in flat_out:
                if not isinstance(o, Tensor):
                    raise RuntimeError("jacrev(f, ...)(*args): Expected output of f to be a Tensor or Tensors, got "
                                       f"{type(o)} as an output")
            flat_in, in_spec = tree_flatten(diff)
            keep = keep or _reaches_other_leaves(flat_out, flat_in)
            jac = tree_unflatten([tree_unflatten(_jacobian_of(o, flat_in, keep), in_spec) for o in flat_out], out_spec)
            return (jac, _release(aux, keep)) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` w.r.t. ``args[argnums]`` by forward mode (torch.func.jacfwd): one jvp per input
    element, all of them in one batched forward pass (vmap over the basis tangents)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args):
        argnums_ = _check_argnums(argnums, len(args))
        picked = args[argnums_] if isinstance(argnums_, int) else tuple(args[i] for i in argnums_)
        flat_in, in_spec = tree_flatten(picked)
        for x in flat_in:
            if not isinstance(x, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        sizes = [x.numel() for x in flat_in]
        total = sum(sizes)
        dtype = flat_in[0].dtype

        def call(*leaves):
            new_args = list(args)
            tree = tree_unflatten(list(leaves), in_spec)
            if isinstance(argnums_, int):
                new_args[argnums_] = tree
            else:
                for i, d in zip(argnums_, tree):
                    new_args[i] = d
            return func(*new_args)

        def push_forward(basis_row):
            tangents, start = [], 0
            for x, n in zip(flat_in, sizes):
                tangents.append(basis_row[start:start + n].reshape(tuple(x.shape)))
                start += n
            out = jvp(call, tuple(flat_in), tuple(tangents), has_aux=has_aux)
            return (out[1], out[2]) if has_aux else out[1]

        basis = _ops.tensor.creation.eye(total, dtype=dtype)
        pushed = vmap(push_forward, randomness=randomness, out_dims=(-1, None) if has_aux else -1)(basis)
        tangents_out, aux = pushed if has_aux else (pushed, None)
        flat_out, out_spec = tree_flatten(tangents_out)
        jac = tree_unflatten([_split_columns(o, flat_in, sizes, in_spec, argnums_) for o in flat_out], out_spec)
        return (jac, aux) if has_aux else jac
    return wrapper


def _split_columns(out, flat_in, sizes, in_spec, argnums):
    """out: output.shape + (total,) -> per input, output.shape + input.shape (a tree like args[argnums])."""
    pieces, start = [], 0
    lead = tuple(out.shape[:-1])
    for x, n in zip(flat_in, sizes):
        pieces.append(out.narrow(-1, start, n).reshape(lead + tuple(x.shape)))
        start += n
    return tree_unflatten(pieces, in_spec)


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func``: jacfwd(jacrev(func)) (forward over reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)
