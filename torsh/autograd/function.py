"""torch.autograd.Function: user-defined ops with a hand-written backward."""
import functools

from . import grad_mode
from .graph import Node, needs_grad, record


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

    def save_for_backward(self, *tensors):
        # packed by Function.apply once the outputs have their history, as PyTorch saves after forward
        # (saved_tensors_hooks see an output with its grad_fn, the version after mark_dirty)
        self._to_save = tensors

    @property
    def saved_tensors(self):
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
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor
        ctx = cls._backward_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        separate_setup = cls.setup_context is not Function.setup_context
        with grad_mode.no_grad():
            if separate_setup:
                output = cls.forward(*args, **kwargs)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if separate_setup:
            cls.setup_context(ctx, args, output)
        is_tuple = isinstance(output, tuple)
        outputs = output if is_tuple else (output,)
        if not needs_grad(*args):
            return output
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
