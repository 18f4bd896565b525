"""Optimizer: param groups, per-parameter state, state_dict in PyTorch's layout, and step hooks.

Subclasses implement ``step``; it is wrapped (once per class) so that every step runs under no_grad
(LBFGS re-enables grad for its closure), runs the global and per-optimizer pre/post hooks, and is
marked as the named range ``Optimizer.step#<Class>.step`` for the profiler.
"""
import copy
import functools
import itertools
import warnings
from collections import OrderedDict, defaultdict

from .. import _array_api, _dtype
from .._tensor import Tensor
from ..autograd import grad_mode
from ..backend import events, ranges as _ranges
from ..backend.ranges import span
from . import _fused

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton for a hyper-parameter that has no default (a param group must give it)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()
_hook_ids = itertools.count()


class _Handle:
    """What register_*_hook returns: ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


def _register(hooks, hook, prepend=False):
    key = next(_hook_ids)
    hooks[key] = hook
    if prepend:
        hooks.move_to_end(key, last=False)
    return _Handle(hooks, key)


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` before every optimizer's step; may return new (args, kwargs)."""
    return _register(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` after every optimizer's step."""
    return _register(_global_step_post_hooks, hook)


def _typename(obj):
    if isinstance(obj, Tensor):
        return "torsh.Tensor"
    return type(obj).__module__ + "." + type(obj).__qualname__ if type(obj).__module__ != "builtins" \
        else type(obj).__qualname__


def _wrap_step(step):
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass's step calling super().step(): hooks ran already
            return step(self, *args, **kwargs)
        if not (_global_step_pre_hooks or self._optimizer_step_pre_hooks or _ranges.TOPIC in events._subscribers):
            return _plain_step(step, self, args, kwargs)
        with span(f"Optimizer.step#{type(self).__name__}.step"):
            for hook in itertools.chain(list(_global_step_pre_hooks.values()),
                                        list(self._optimizer_step_pre_hooks.values())):
                result = hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {result}.")
            self._in_step = True
            try:
                with grad_mode.no_grad():
                    out = step(self, *args, **kwargs)
            finally:
                self._in_step = False
            self._opt_called = True
            for hook in itertools.chain(list(self._optimizer_step_post_hooks.values()),
                                        list(_global_step_post_hooks.values())):
                hook(self, args, kwargs)
            return out
    wrapper._torsh_step_wrapped = True
    return wrapper


def _plain_step(step, self, args, kwargs):
    """The wrapped step when no pre-hook is registered and no one watches ranges (so the step's range would emit
    nothing): under no_grad, then the post-hooks, without the context objects and hook lists (~1/10 of W6's SGD
    step's Python)."""
    self._in_step = True
    state = grad_mode._state
    enabled = state.enabled
    state.enabled = False
    try:
        out = step(self, *args, **kwargs)
    finally:
        state.enabled = enabled
        self._in_step = False
    self._opt_called = True
    if self._optimizer_step_post_hooks or _global_step_post_hooks:
        for hook in itertools.chain(list(self._optimizer_step_post_hooks.values()),
                                    list(_global_step_post_hooks.values())):
            hook(self, args, kwargs)
    return out


def check_fused_flags(fused, foreach, differentiable):
    """PyTorch's refusals of ``fused=True`` beside ``differentiable`` or ``foreach`` (Adam, AdamW, SGD, Adagrad)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


class Optimizer:
    """Base class of all optimizers (torch.optim.Optimizer)."""

    # LBFGS keeps flat history vectors, not per-parameter tensors: no shape check on load
    _state_matches_param_shape = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_torsh_step_wrapped", False):
            cls.step = _wrap_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(dict(param_group))

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            if i:  # PyTorch starts each group on a new line after the previous group's own
                lines.append("")
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # -- param groups ----------------------------------------------------------------------------
    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        entries = param_group["params"]
        if entries and all(isinstance(e, tuple) and len(e) == 2 for e in entries):  # named parameters
            param_group["param_names"] = [name for name, _ in entries]
            param_group["params"] = [p for _, p in entries]
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    g = p._grad
                    if g.grad_fn is not None:
                        g = p._grad = g.detach()
                    else:
                        g._requires_grad = False
                    _array_api.write(g, 0)

    # -- hooks -------------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # -- state dict --------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {param index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch.

        Parameters are numbered in group order from 0; the state tensors are referenced, not copied.
        """
        for hook in list(self._optimizer_state_dict_pre_hooks.values()):
            hook(self)
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start_index):
                param_mappings.setdefault(id(p), i)
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for hook in list(self._optimizer_state_dict_post_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, key=None):
        # 'step' keeps its own dtype (float32 counter); other float state follows the parameter's dtype
        if key == "step":
            return value.clone() if isinstance(value, Tensor) else value
        if param.is_floating_point() or param.is_complex():
            if value.is_floating_point() or value.is_complex():
                return value.to(param.dtype).clone()
        return value.clone()

    def _cast_state(self, param, value, key=None):
        if isinstance(value, Tensor):
            if self._state_matches_param_shape and key != "step" and value.ndim > 0 \
                    and tuple(value.shape) != tuple(param.shape):
                raise ValueError(f"loaded state dict has a state tensor '{key}' of shape {tuple(value.shape)} for "
                                 f"a parameter of shape {tuple(param.shape)}")
            return self._process_value_according_to_param_policy(param, value, key)
        if isinstance(value, dict):
            return {k: self._cast_state(param, v, key=k) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and not isinstance(value, str):
            return type(value)(self._cast_state(param, v, key=key) for v in value)
        return value

    def load_state_dict(self, state_dict):
        """Load a state dict from ``state_dict()`` (torsh's or PyTorch's, e.g. via torsh.load).

        Everything is validated and converted first; on any error the optimizer is left as it was.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"optimizer state dict must be a dict, not {type(state_dict).__name__}")
        state_dict = dict(state_dict)
        for hook in list(self._optimizer_load_state_dict_pre_hooks.values()):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                if not isinstance(v, dict):  # checked here: the optimizer is replaced only once all is valid
                    raise TypeError(f"loaded state dict has a state of type {type(v).__name__} for parameter {k}; "
                                    f"expected a dict")
                state[param] = self._cast_state(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in list(self._optimizer_load_state_dict_post_hooks.values()):
            hook(self)

    def step(self, closure=None):
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------------------
    @staticmethod
    def _scalar_step_tensor(value=0.0):
        """The 'step' counter PyTorch keeps: a 0-d tensor of the default float dtype."""
        from .._ops.tensor.creation import tensor
        return tensor(float(value), dtype=_dtype.get_default_dtype())

    def _lazy_state(self, p, buffers, scalars=None, fill=None):
        """p's state, created on its first step as PyTorch does: the 'step' counter, then the 0-d
        ``scalars`` (name: initial value), then the ``buffers`` shaped like p (zeros unless ``fill``
        gives a name's initial value)."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._scalar_step_tensor()
            for name, value in (scalars or {}).items():
                state[name] = self._scalar_step_tensor(value)
            for name in buffers:
                state[name] = _fused.new_state_like(p, (fill or {}).get(name, 0))
        return state

    @staticmethod
    def _advance_step(state):
        """Count one more step in ``state['step']`` (in place, as PyTorch's tensor); returns the new count."""
        count = _array_api.array(state["step"])
        count += 1
        return float(count)

    # PyTorch's SGD, Adagrad and SparseAdam take sparse gradients (nn.Embedding(sparse=True)); the others refuse them
    _takes_sparse_grads = False

    def _sparse_grad_error(self):
        return f"{type(self).__name__} does not support sparse gradients"

    def _params_with_grad(self, group):
        """The group's parameters that have a gradient. A sparse one, where the optimizer takes it, is seen dense by
        the update (``p.grad`` is swapped for its dense form while the caller's loop body runs, then restored)."""
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            if getattr(grad, "is_sparse", False):
                if not self._takes_sparse_grads:
                    raise RuntimeError(self._sparse_grad_error())
                p._grad = grad.to_dense()
                try:
                    yield p
                finally:
                    p._grad = grad
                continue
            yield p


class _GroupwiseOptimizer(Optimizer):
    """An optimizer whose step updates each param group on its own: subclasses write ``_update_group(group)``
    (the step's closure, hooks, no_grad and profiler range are the base's)."""
    # keys a param group saved by an older version may lack, with the value they get on load (__setstate__)
    _group_defaults = {}

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self._group_defaults.items():
                group.setdefault(key, value)

    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group):
        raise NotImplementedError


_HYPERPARAMETER_WORDING = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonnegative(**hyperparameters):
    """PyTorch's ValueError for the first negative hyper-parameter, in the order given."""
    for name, value in hyperparameters.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_HYPERPARAMETER_WORDING.get(name, name + ' value')}: {value}")


def grad_expr(maximize, weight_decay):
    """The numexpr text of PyTorch's effective gradient: ``g`` negated if maximizing, plus ``wd * p``
    (L2 weight decay) -- evaluated inside each fused pass instead of materialized."""
    g = "(-g)" if maximize else "g"
    return f"({g} + wd * p)" if weight_decay != 0 else g


def decoupled_grad_expr(group):
    """(decoupled, effective-gradient expression) of an Adam-family param group: with decoupled weight decay
    (AdamW's) the decay is applied to the parameter itself, so the gradient expression leaves it out."""
    decoupled = group["decoupled_weight_decay"]
    return decoupled, grad_expr(group["maximize"], 0 if decoupled else group["weight_decay"])


def _closure_loss(closure):
    if closure is None:
        return None
    with grad_mode.enable_grad():
        return closure()
