"""torsh.compile: run a chain of elementwise tensor ops as one fused numexpr pass.

The function is traced once per input signature (shapes, dtypes): it runs eagerly on
traced inputs, its autograd graph is read back into an expression (see trace.py), and
that expression and its symbolic gradients are evaluated by numexpr in one pass each,
instead of one NumPy temporary per op. Functions that do anything else (reductions,
views, tensors captured from outside, several outputs) run eagerly, and the reason is
kept in ``explain()``. Fused results agree with eager ones to float rounding (in absolute
terms: tanh is computed from exp, see expr.py).
"""
import functools

import numpy as np

from .._tensor import Tensor, wrap
from ..autograd import grad_mode
from ..autograd.graph import Node, needs_grad, record
from ..backend import dispatch, events
from ..nn import Module
from .expr import Const, count_ops, gradients
from . import pythran_backend
from . import numexpr_backend
from .numexpr_backend import evaluate_with_torsh
from .trace import NotFusable, expression_of


class _Eager:
    def __init__(self, reason):
        self.reason = reason


class _FusedPlan:
    backend = "numexpr"

    def __init__(self, expr, n_inputs, np_dtype, numel=0):
        self.expr = expr
        self.forward = numexpr_backend.program(expr, np_dtype, numel)
        self.grad_exprs = gradients(expr, n_inputs)
        self.grad_programs = [None if g is None or isinstance(g, Const) else numexpr_backend.program(g, np_dtype, numel)
                              for g in self.grad_exprs]
        self.op_count = count_ops(expr)
        self.reason = f"{self.op_count} elementwise ops fused into one numexpr pass"
        if isinstance(self.forward, numexpr_backend.EagerProgram):
            self.backend = "eager_kernels"
            self.reason = (f"{self.op_count} elementwise ops run one by one on torsh's eager kernels, no graph "
                           f"recorded (numel {numel:,} >= {numexpr_backend.STAGED_FROM:,}: numexpr's "
                           f"{', '.join(self.forward.calls)} are scalar libm calls here; each op's dispatch "
                           f"record says which variant ran)")


class _PythranPlan(_FusedPlan):
    """The same expressions as one generated, compiled Pythran module (see pythran_backend.py)."""
    backend = "pythran"

    def __init__(self, expr, n_inputs, np_dtype):
        super().__init__(expr, n_inputs, np_dtype)
        source = pythran_backend.KernelSource(np_dtype)
        source.add("forward", expr, n_inputs, with_grad=False)
        for i, program in enumerate(self.grad_programs):
            if program is not None:
                source.add(f"grad{i}", self.grad_exprs[i], n_inputs, with_grad=True)
        # when inputs require grad, the forward also writes d output / d input (the partials) in the
        # same pass: the transcendental functions are evaluated once, not again in backward
        partials = gradients(expr, n_inputs, seed=Const(1.0))
        self.partial_inputs = [i for i, p in enumerate(partials) if p is not None and not isinstance(p, Const)]
        if self.partial_inputs:
            source.add_several("forward_partials", [expr] + [partials[i] for i in self.partial_inputs], n_inputs)
        self.source = source.text()
        module, how = pythran_backend.load_module(self.source)
        self.forward = pythran_backend.PythranProgram(module, "forward")
        self.forward_partials = (pythran_backend.PythranPartialsProgram(module, "forward_partials",
                                                                        1 + len(self.partial_inputs))
                                 if self.partial_inputs else None)
        self.grad_programs = [None if p is None else pythran_backend.PythranProgram(module, f"grad{i}")
                              for i, p in enumerate(self.grad_programs)]
        self.reason = (f"{self.op_count} elementwise ops fused into one Pythran kernel "
                       f"({'loaded from the cache' if how == 'cache' else 'compiled now, cached'}: "
                       f"{module.__file__})")


class CompiledFunctionBackward(Node):
    def _on_release(self):
        self.partials = {}  # the partial derivatives the forward saved (Pythran plans)

    def backward(self, grad):
        inputs = self.saved_tensors
        plan = self.plan
        out_shape = grad._data.shape
        grads = []
        for i, (x, g_expr, program) in enumerate(zip(inputs, plan.grad_exprs, plan.grad_programs)):
            if g_expr is None or self.next_functions[i][0] is None:
                grads.append(None)
                continue
            if grad_mode.is_grad_enabled():  # create_graph: build the gradient from torsh ops
                g = evaluate_with_torsh(g_expr, inputs, grad)
                g = g if isinstance(g, Tensor) else grad * 0 + g
            elif program is None:  # a constant derivative
                g = wrap(np.asarray(grad._data * grad._data.dtype.type(g_expr.value)))
            elif i in self.partials:  # saved by the forward pass: the chain rule is one product
                g = wrap(np.multiply(grad._data, self.partials[i]))
            else:
                g = wrap(np.asarray(program([t._data for t in inputs], grad._data)))
            if g._data.shape != out_shape:
                g = g.expand(out_shape)
            from .._ops._helpers import sum_to
            grads.append(sum_to(g, x._data.shape))
        return tuple(grads)


class CompiledFunction:
    """The callable ``torsh.compile(fn)`` returns."""

    def __init__(self, fn, backend="numexpr"):
        self.fn = fn
        self.backend = backend
        self._plans = {}
        functools.update_wrapper(self, fn)

    def _signature(self, args):
        return tuple((a._data.shape, a._data.dtype.str) for a in args)

    def _plan(self, args):
        if not args or not all(isinstance(a, Tensor) for a in args):
            return _Eager("only positional tensor arguments are traced")
        dtypes = {a._data.dtype for a in args}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            return _Eager("inputs must share one floating-point dtype")
        leaves = [Tensor._wrap(a._data, requires_grad=True) for a in args]
        with grad_mode.enable_grad():
            out = self.fn(*leaves)
        if not isinstance(out, Tensor):
            return _Eager("the function must return one tensor")
        if out._data.dtype != args[0]._data.dtype:
            return _Eager(f"the result dtype {out.dtype} differs from the inputs'")
        try:
            expr = expression_of(out, leaves)
        except NotFusable as exc:
            return _Eager(str(exc))
        np_dtype = args[0]._data.dtype
        numel = int(np.prod(np.broadcast_shapes(*(a._data.shape for a in args))))
        if self.backend == "pythran":
            why_not = self._pythran_unsuitable(expr, args)
            if why_not is None:
                return _PythranPlan(expr, len(args), np_dtype)
            plan = _FusedPlan(expr, len(args), np_dtype, numel)
            plan.reason += f" (not Pythran: {why_not})"
            return plan
        return _FusedPlan(expr, len(args), np_dtype, numel)

    @staticmethod
    def _pythran_unsuitable(expr, args):
        """Why the Pythran kernel cannot run these arguments (None when it can)."""
        if args[0]._data.dtype not in (np.float32, np.float64):
            return f"its kernels are float32/float64, got {args[0].dtype}"
        shapes = {a._data.shape for a in args}
        if len(shapes) != 1:
            return f"inputs must have one shape (got {sorted(shapes)}); broadcasting runs on numexpr"
        ok = pythran_backend.supported(expr)
        return None if ok is True else ok

    def explain(self, *args):
        """Why calls with these arguments are fused, or why they run eagerly."""
        key = self._signature(args)
        plan = self._plans.get(key) or self._plans.setdefault(key, self._plan(args))
        return plan.reason if isinstance(plan, _FusedPlan) else f"runs eagerly: {plan.reason}"

    def __call__(self, *args, **kwargs):
        if kwargs or not all(isinstance(a, Tensor) for a in args):
            return self.fn(*args, **kwargs)
        key = self._signature(args)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(args)
        if isinstance(plan, _Eager):
            return self.fn(*args)
        return self._run(plan, args)

    def _run(self, plan, args):
        arrays = [a._data for a in args]
        listening = dispatch.TOPIC in events._subscribers
        if listening:
            import time
            start = time.perf_counter()
        partials = {}
        if getattr(plan, "forward_partials", None) is not None and needs_grad(*args):
            value, *partial_arrays = plan.forward_partials(arrays)
            partials = dict(zip(plan.partial_inputs, partial_arrays))
            result = wrap(value)
        else:
            result = wrap(np.asarray(plan.forward(arrays)))
        if listening:
            events.emit(dispatch.TOPIC, dispatch.DispatchRecord(
                f"compiled:{getattr(self.fn, '__name__', 'fn')}", plan.backend, plan.reason, result._data.size,
                str(result._data.dtype), time.perf_counter() - start))
        if needs_grad(*args):
            node = CompiledFunctionBackward()
            node.plan, node.partials = plan, partials
            record(node, args, (result,))
            node.save_for_backward(*args)
        return result


class OptimizedModule(Module):
    """What ``torsh.compile(module)`` returns, as PyTorch's: an ``nn.Module`` holding the original as
    ``_orig_mod`` (so ``state_dict`` keys gain the ``_orig_mod.`` prefix, and ``train()``/``eval()``/
    ``parameters()`` reach it), with the original's other attributes read through.

    The forward runs the module eagerly: a module's forward reads its parameters, tensors from outside the
    traced arguments, which the elementwise fusion never fuses, and tracing it would run its side effects
    (BatchNorm statistics, dropout draws) twice."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)

    def explain(self, *args):
        return "runs eagerly: a module's forward reads its parameters (tensors captured from outside)"


# PyTorch's backend names: its default compiler maps to torsh's default fusion; the eager ones fuse nothing
_BACKEND_ALIASES = {"inductor": "numexpr", "eager": "eager", "aot_eager": "eager", "cudagraphs": "eager"}


def compile(model=None, *, fullgraph=False, dynamic=None, backend="numexpr", mode=None, options=None,
            disable=False):
    """torch.compile for elementwise code: fuses a function's chain of elementwise ops into one
    pass over the data (forward and gradient).

    ``backend="numexpr"`` (default) evaluates the fused expression with numexpr, ready at once.
    ``backend="pythran"`` generates a Pythran kernel (SIMD, OpenMP over chunks) for each input
    signature and compiles it on first call (~15 s; cached on disk by hash, so once per machine):
    several times faster where the chain has transcendental functions. It needs pythran and a C++
    compiler at run time, and inputs of one shape (broadcasting calls use numexpr, and ``explain``
    says so). Differs from PyTorch: only single-output functions of tensors built from
    elementwise ops are fused; anything else runs eagerly (see ``explain``)."""
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable)
    if disable:
        return model
    if callable(backend):  # a custom backend wants an FX graph, which torsh does not capture: run eagerly
        backend = "eager"
    backend = _BACKEND_ALIASES.get(backend, backend)
    if backend not in ("numexpr", "pythran", "eager"):
        raise RuntimeError(f"torsh.compile: unknown backend '{backend}' (available: 'numexpr', 'pythran', "
                           f"'inductor' (numexpr), 'eager', 'aot_eager')")
    if isinstance(model, Module):
        return OptimizedModule(model)
    if backend == "eager":
        return functools.wraps(model)(lambda *args, **kwargs: model(*args, **kwargs))
    return CompiledFunction(model, backend=backend)
