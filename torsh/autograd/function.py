"""torch.autograd.Function: user-defined ops with a hand-written backward (and jvp, and vmap rule).

Forward mode: while a dual level is open and an input has a tangent, ``apply`` runs ``forward`` on the
primals with tangent propagation off, then ``jvp(ctx, *input_tangents)`` gives the outputs' tangents
(PyTorch's NotImplementedError when it is missing). Functions defined inside torsh itself without a jvp
keep forward AD's double-vjp fallback on their backward.
vmap: ``torsh.func`` installs ``BATCHED_APPLY``, which runs a Function called on BatchedTensors by its
``vmap`` staticmethod or, with ``generate_vmap_rule = True``, by batching the ops of its forward.
"""
import functools

from . import forward_ad, grad_mode
from .graph import Node, needs_grad, record

# set by torsh.func (the layer that owns vmap): (cls, args, kwargs) -> the batched result, or NotImplemented
# when no argument is batched
BATCHED_APPLY = None
TRANSFORMS_RUNNING = [0]  # torch.func transforms (grad, vjp, jvp, vmap, ...) running now; torsh.func counts them
EXTENDING_FUNC = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"
NEEDS_SETUP_CONTEXT = ("In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, ...), "
                       "it must override the setup_context staticmethod. " + EXTENDING_FUNC)


class FunctionCtx(Node):
    """The ``ctx`` a Function's forward and backward share; it is also the graph node."""

    _function = None
    materialize_grads = True

    def __init__(self):
        super().__init__()
        self.needs_input_grad = ()
        self._dirty = ()
        self._non_differentiable = ()
        self.saved_variables = None

    _to_save = None

    _saved_for_forward = None

    def save_for_forward(self, *tensors):
        """Tensors for jvp to read back as ``ctx.saved_tensors``."""
        assert all(t is None or hasattr(t, "_data") for t in tensors), \
            "save_for_forward expects all arguments to be tensors; you should save non-tensors as attributes on ctx."
        self._saved_for_forward = tensors

    def save_for_backward(self, *tensors):
        # packed by Function.apply once the outputs have their history, as PyTorch saves after forward
        # (saved_tensors_hooks see an output with its grad_fn, the version after mark_dirty)
        self._to_save = tensors

    @property
    def saved_tensors(self):
        if self._saved_for_forward is not None:  # inside jvp
            return self._saved_for_forward
        if self._to_save is not None:  # read inside forward or setup_context: nothing is packed yet
            return self._to_save
        return Node.saved_tensors.fget(self)

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def name(self):
        return f"{self._function.__name__}Backward"

    def apply(self, *grads):
        if not self.materialize_grads:
            grads = self._raw_grads
        result = self._function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        expected = len(self.next_functions)
        if len(result) > expected:
            if any(g is not None for g in result[expected:]):
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {expected}, got {len(result)})")
            result = result[:expected]
        return result


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(f"{name}Backward", (FunctionCtx,), {"_function": cls})


class Function(metaclass=_FunctionMeta):
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``, call with ``apply``.

    The ``forward(*args)`` + ``setup_context(ctx, inputs, output)`` style works too.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it "
                                  "with forward mode AD.")

    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("To use autograd.Function with vmap, you must either override the vmap "
                                  "staticmethod or set generate_vmap_rule=True.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        if TRANSFORMS_RUNNING[0] and cls.setup_context is Function.setup_context \
                and not cls.__module__.startswith("torsh."):  # torsh's own Functions run under transforms
            raise RuntimeError(NEEDS_SETUP_CONTEXT)
        if BATCHED_APPLY is not None:
            result = BATCHED_APPLY(cls, args, kwargs)
            if result is not NotImplemented:
                return result
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        separate_setup = cls.setup_context is not Function.setup_context
        input_tangents = _input_tangents(cls, args)
        with grad_mode.no_grad(), _forward_mode_off(input_tangents):
            if separate_setup:
                output = cls.forward(*args, **kwargs)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if separate_setup:
            cls.setup_context(ctx, args, output)
        is_tuple = isinstance(output, tuple)
        outputs = output if is_tuple else (output,)
        if input_tangents is not None:
            return _apply_forward_mode(cls, ctx, args, output, input_tangents)
        if not needs_grad(*args):
            return output
        return _link(ctx, args, outputs, is_tuple)


def _link(ctx, args, outputs, is_tuple):
    """Record ``ctx`` as the outputs' grad_fn (reverse mode), as Function.apply does after forward."""
    from .._tensor import Tensor
    tensors_in = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = {id(t) for t in ctx._dirty}
    final = []
    for out in outputs:
        if isinstance(out, Tensor) and id(out) in tensors_in and id(out) not in dirty:
            out = out.detach()  # an input returned as is: a new alias gets the history, not the input
        final.append(out)
    tensor_outputs = [o for o in final if isinstance(o, Tensor)]
    for t in ctx._dirty:  # modified in place by forward: it takes this node as its history
        from .._ops.inplace import check_inplace_allowed
        check_inplace_allowed(t)
    record(ctx, args, tensor_outputs)
    non_diff = {id(t) for t in ctx._non_differentiable}
    for t in tensor_outputs:
        if id(t) in non_diff or not (t.dtype.is_floating_point or t.dtype.is_complex):
            t._grad_fn, t._requires_grad = None, False
    if ctx._to_save is not None:
        to_save, ctx._to_save = ctx._to_save, None
        Node.save_for_backward(ctx, *to_save)
    final = tuple(final)
    return final if is_tuple else final[0]


def _input_tangents(cls, args):
    """The inputs' tangents when a dual level is open, some input has one and ``cls`` has a jvp (or is one of
    torsh's own Functions without one: forward AD then differentiates its backward); else None."""
    if forward_ad._current_level < 0 or not forward_ad.has_tangent(args):
        return None
    if cls.jvp is Function.jvp and cls.__module__.startswith("torsh."):
        return None
    return [_tangent_or_zeros(a) if hasattr(a, "_data") else None for a in args]


def _tangent_or_zeros(t):
    tangent = forward_ad.tangent_of(t)
    return tangent if tangent is not None else t.detach().new_zeros(t.shape)


class _forward_mode_off:
    """forward runs on the primals without tangent propagation when jvp gives the tangents."""

    def __init__(self, input_tangents):
        self.off = forward_ad._level_off() if input_tangents is not None else None

    def __enter__(self):
        if self.off is not None:
            self.off.__enter__()

    def __exit__(self, *exc):
        if self.off is not None:
            self.off.__exit__(*exc)


def _apply_forward_mode(cls, ctx, args, output, input_tangents):
    """The outputs of a Function run under a dual level: linked for reverse mode when it is needed, with
    the tangents ``cls.jvp`` gives them."""
    is_tuple = isinstance(output, tuple)
    outputs = output if is_tuple else (output,)
    if grad_mode._state.enabled and any(getattr(a, "_requires_grad", False) for a in args):
        with forward_ad._level_off():
            output = _link(ctx, args, outputs, is_tuple)
        outputs = output if is_tuple else (output,)
    with forward_ad._level_off():
        try:
            tangents = cls.jvp(ctx, *input_tangents)
        finally:
            ctx._saved_for_forward = None
    tangents = tangents if isinstance(tangents, tuple) else (tangents,)
    if len(tangents) != len(outputs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients (expected "
                           f"{len(outputs)} but got {len(tangents)})")
    non_diff = {id(t) for t in ctx._non_differentiable}
    for out, tangent in zip(outputs, tangents):
        if tangent is not None and hasattr(out, "_data") and id(out) not in non_diff \
                and (out.dtype.is_floating_point or out.dtype.is_complex):
            forward_ad.set_tangent(out, tangent)
    return output


class BackwardCFunction(FunctionCtx):
    pass


def once_differentiable(backward):
    """Run ``backward`` without building a graph; differentiating its result again raises."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            results = backward(ctx, *grads)
        if not grad_mode.is_grad_enabled() or not any(getattr(g, "_requires_grad", False) for g in grads):
            return results
        is_tuple = isinstance(results, tuple)
        outs = results if is_tuple else (results,)
        node = _DelayedError("trying to differentiate twice a function that was marked with @once_differentiable")
        wrapped = []
        for r in outs:
            if r is not None and (r.dtype.is_floating_point or r.dtype.is_complex):
                r = r.detach()
            wrapped.append(r)
        live = [g for g in grads if g is not None]
        record(node, live, [r for r in wrapped if r is not None])
        return tuple(wrapped) if is_tuple else wrapped[0]

    return wrapper


class _DelayedError(Node):
    def __init__(self, message):
        super().__init__()
        self.message = message

    def name(self):
        return "DelayedError"

    def backward(self, *grads):
        raise RuntimeError(self.message)


class NestedIOFunction(Function):
    """Kept only for backward compatibility (use Function): ``forward_extended``/``backward_extended`` on
    nested inputs; torsh keeps PyTorch's surface of it."""

    def forward_extended(self, *input):
        raise NotImplementedError

    def backward_extended(self, *grad_output):
        raise NotImplementedError

    def save_for_backward(self, *args):
        self.to_save = tuple(a for a in args if a is not None)
        self._to_save_nested = args

    def mark_dirty(self, *args, **kwargs):
        self.dirty_tensors = tuple(args) + tuple(kwargs.values())

    def mark_non_differentiable(self, *args, **kwargs):
        self.non_differentiable = tuple(args) + tuple(kwargs.values())
