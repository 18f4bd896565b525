"""vmap's batched tensors and the dispatch of ops on them (functorch's BatchedTensor, in Python).

A ``BatchedTensor`` is what a function under ``torsh.func.vmap`` sees for a batched input: a Tensor
whose *logical* shape is one sample's, over a *physical* tensor (``_value``) holding every sample with
the batch dimension first. Each running vmap is a ``Level``; nested vmaps nest BatchedTensors (the
physical value of an inner level's tensor is a BatchedTensor of the outer level).

While a vmap runs, every public op binding (``torsh.*``, Tensor methods and operators,
``torsh.nn.functional``, ...) is swapped through ``registry.subscribe`` for a wrapper (``_listener``) that
sends calls with a BatchedTensor argument to ``dispatch``: the op's batching rule (``RULES``, filled by
``vmap_rules.py``) runs it once on the physical tensors; an op without a rule runs once per sample
(``loop``: unbatch, call, restack), which is correct for every op. ``report`` counts which ops ran
batched and which looped (``torsh.func.vmap_report()``), and a ``dispatch`` record says the same to the
dispatch views when somebody listens.

Autograd never sees a BatchedTensor: rules run ordinary torsh ops on the physical tensors, so the graph
is recorded over them (``torsh.func.grad`` under vmap differentiates the physical tensors, see
``physical`` / ``from_physical``).
"""
import collections

from ... import _random
from ..._tensor import Size, Tensor
from ...backend import dispatch as _dispatch, events
from .. import registry
from .._helpers import normalize_dim

RULES = {}  # op name (binding attribute, with its namespace prefix) -> rule(call, args, kwargs)

DATA_DEPENDENT = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent control flow. We "
                  "don't support that yet, please file an issue at https://github.com/pytorch/pytorch/issues .")
ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over calling .item() on a "
        "Tensor, please try to rewrite what you're doing with other operations. If error is occurring somewhere "
        "inside PyTorch internals, please file a bug report.")
NO_STORAGE = "Cannot access data pointer of Tensor that doesn't have storage"
INPLACE = ("vmap: {op}(self, *extra_args) is not possible because there exists a Tensor `other` in extra_args that "
           "has more elements than `self`. This happened due to `other` being vmapped over but `self` not being "
           "vmapped over {where}. Please try to use out-of-place operators instead of {op}. If said operator is "
           "being called inside the PyTorch framework, please file a bug report instead.")
OUT_VARIANT = "Batching rule not implemented for aten::{op}.out; the fallback path doesn't work on out= or view ops."
DIFFERENT_INPLACE = ("vmap: Cannot ask for different inplace randomness on an unbatched tensor. This will appear like "
                     "same randomness. If this is necessary for your usage, please file an issue with functorch.")
DYNAMIC_SHAPE = ("vmap: We do not support batching operators that can output dynamic shape. Attempted to vmap over "
                 "aten::{op}. Please file an issue at https://github.com/pytorch/pytorch/issues if you need this "
                 "feature.")


# -- levels ---------------------------------------------------------------------------------------
class Level:
    """One running vmap: its batch size and randomness mode."""

    __slots__ = ("index", "size", "randomness", "active")

    def __init__(self, index, size, randomness):
        self.index, self.size, self.randomness, self.active = index, size, randomness, True

    def wrap(self, value):
        """A BatchedTensor of this level over ``value`` (batch dimension first)."""
        t = object.__new__(BatchedTensor)
        t._value, t._level = value, self
        return t

    def __repr__(self):
        return f"Level({self.index}, size={self.size})"


_levels = []  # the running vmaps, outermost first


_different = []  # the running vmaps with randomness='different': random ops draw once per sample of each


def push_level(size, randomness):
    level = Level(len(_levels) + 1, size, randomness)
    _levels.append(level)
    _different[:] = [lv for lv in _levels if lv.randomness == "different"]
    return level


def pop_level(level):
    level.active = False
    _levels.remove(level)
    _different[:] = [lv for lv in _levels if lv.randomness == "different"]


def active_levels():
    """The running vmaps whose ops batch: not the level of a per-sample fallback (index 0, pushed only for its
    random draws), whose function sees plain tensors (grad inside it must not batch its inputs at that level)."""
    return [level for level in _levels if level.index]


# -- the batched tensor -----------------------------------------------------------------------------
class BatchedTensor(Tensor):
    """A Tensor seen one sample at a time: logical metadata, physical ``_value`` (batch dim 0) at ``_level``."""

    __slots__ = ("_value", "_level")

    @property
    def _data(self):
        raise RuntimeError("vmap: an op read the values of a batched tensor without going through vmap's "
                           "dispatch (it was called by a name torsh.func.vmap does not intercept)")

    # logical metadata: one sample's
    @property
    def shape(self):
        return Size(self._value.shape[1:])

    def size(self, dim=None):
        shape = self._value.shape[1:]
        return Size(shape) if dim is None else shape[normalize_dim(dim, len(shape))]

    def dim(self):
        return self._value.dim() - 1

    ndimension = dim

    @property
    def ndim(self):
        return self._value.dim() - 1

    def numel(self):
        n = 1
        for s in self._value.shape[1:]:
            n *= s
        return n

    nelement = numel

    def __len__(self):
        if self.dim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[1]

    @property
    def dtype(self):
        return self._value.dtype

    def element_size(self):
        return self._value.element_size()

    @property
    def itemsize(self):
        return self._value.itemsize

    def is_contiguous(self, memory_format=None):
        return True

    def stride(self, dim=None):
        strides = self._value.stride()[1:]
        return strides if dim is None else strides[normalize_dim(dim, len(strides))]

    # autograd state: the physical tensor's (the graph is recorded over it)
    @property
    def requires_grad(self):
        return self._value.requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self._value.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        self._value.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._value.grad_fn

    @property
    def is_leaf(self):
        return self._value.is_leaf

    @property
    def grad(self):
        return None

    @property
    def _version(self):
        return self._value._version

    # values: not available one sample at a time
    def item(self):
        raise RuntimeError(ITEM)

    __float__ = __int__ = __complex__ = item

    def __bool__(self):
        raise RuntimeError(DATA_DEPENDENT)

    def __index__(self):
        raise RuntimeError(DATA_DEPENDENT)

    def _no_storage(self, *args, **kwargs):
        raise RuntimeError(NO_STORAGE)

    numpy = tolist = data_ptr = __array__ = __dlpack__ = untyped_storage = _no_storage

    # Tensor's view properties read the array's rank: here they are spelled with (dispatched) methods
    @property
    def mT(self):
        if self.dim() < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.dim()}-D "
                               "tensor.")
        return self.transpose(-2, -1)

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.dim()))))

    @property
    def mH(self):
        return self.mT.conj() if self.dtype.is_complex else self.mT

    @property
    def H(self):
        return self.mH if self.dim() == 2 else self.t()

    @property
    def real(self):
        return dispatch("real", _conversion.real, (self,), {})

    @property
    def imag(self):
        return dispatch("imag", _conversion.imag, (self,), {})

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        inner = repr(self._value).replace("\n", "\n    ")
        return f"BatchedTensor(lvl={self._level.index}, bdim=0, value=\n    {inner}\n)"


_OPERATORS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
              "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__matmul__",
              "__rmatmul__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__or__",
              "__xor__", "__rand__", "__ror__", "__rxor__", "__neg__", "__abs__", "__pos__", "__invert__",
              "__getitem__", "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__")


def _operator(name):
    """BatchedTensor's own operators dispatch whatever Tensor's are at the moment (forward AD swaps Tensor's
    arithmetic operators while a dual level is open, which would bypass vmap's wrappers)."""
    def op(self, *args):
        return dispatch(name, getattr(Tensor, name), (self,) + args, {})
    op.__name__ = op.__qualname__ = name
    return op


for _name in _OPERATORS:
    setattr(BatchedTensor, _name, _operator(_name))


def batched_at(x, level):
    """Is ``x`` a BatchedTensor of ``level``?"""
    return isinstance(x, BatchedTensor) and x._level is level


def unwrap(x, level):
    """(physical tensor, True) for a BatchedTensor of ``level``; (x, False) for anything else."""
    if isinstance(x, BatchedTensor) and x._level is level:
        return x._value, True
    return x, False


def physical(x):
    """(the plain tensor under every level of ``x``, its levels outermost first): dims [B_outer, ..., B_inner, ...]."""
    levels = []
    while isinstance(x, BatchedTensor) and x._level.active:
        levels.append(x._level)
        x = x._value
    return x, levels[::-1]


def from_physical(tensor, levels):
    """``tensor`` (dims [B of levels[0], B of levels[1], ..., logical...]) wrapped level by level."""
    for level in levels:
        tensor = level.wrap(tensor)
    return tensor


def align_levels(tensor, have, want):
    """The physical ``tensor`` of levels ``have`` with dims added (expanded) for the levels of ``want`` it lacks."""
    for i, level in enumerate(want):
        if level not in have:
            tensor = tensor.unsqueeze(i)
            sizes = list(tensor.shape)
            sizes[i] = level.size
            tensor = tensor.expand(*sizes)
    return tensor


# -- dispatch ---------------------------------------------------------------------------------------
class Call:
    """The op being batched: its name, the original function, the level; calling it dispatches again
    (so physical tensors that are batched at an outer level go through that level's rules)."""

    __slots__ = ("name", "fn", "level")

    def __init__(self, name, fn, level):
        self.name, self.fn, self.level = name, fn, level

    def __call__(self, *args, **kwargs):
        return dispatch(self.name, self.fn, args, kwargs)

    def wrap(self, value):
        """Batched outputs of ``value`` (a tensor or a tuple of them) at this level."""
        return wrap_outputs(value, self.level)


def wrap_outputs(value, level):
    if isinstance(value, Tensor):
        return level.wrap(value)
    if isinstance(value, tuple):
        items = [wrap_outputs(v, level) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [wrap_outputs(v, level) for v in value]
    return value


def _innermost_level(args, kwargs):
    """The highest active level among the BatchedTensor arguments (one list deep), or None."""
    best = None
    for a in (*args, *kwargs.values()):
        if isinstance(a, BatchedTensor):
            if a._level.active and (best is None or a._level.index > best.index):
                best = a._level
        elif isinstance(a, (list, tuple)):
            for e in a:
                if isinstance(e, BatchedTensor) and e._level.active and (best is None or e._level.index > best.index):
                    best = e._level
    return best


_depth = 0  # > 0 while an op runs under vmap: the op calls it makes are its own, not the user's


def dispatch(name, fn, args, kwargs):
    """Run op ``name`` (original function ``fn``): by its batching rule, else by the per-sample loop."""
    global _depth
    level = _innermost_level(args, kwargs)
    if level is None:
        return fn(*args, **kwargs)
    if kwargs and hasattr(fn, "canonical_kwargs"):  # NumPy's names (axis=) as the rules read them (dim=)
        kwargs = fn.canonical_kwargs(args, kwargs)
    if kwargs.get("out") is not None:
        raise RuntimeError(OUT_VARIANT.format(op=name))
    call = Call(name, fn, level)
    rule = RULES.get(name)
    _depth += 1
    try:
        if rule is not None:
            result = rule(call, args, kwargs)
            if result is not NotImplemented:
                _count(name, "batched", level)
                return result
        _count(name, "looped", level)
        return loop(call, args, kwargs)
    finally:
        _depth -= 1


def _has_batched(args, kwargs):
    for a in args:
        if isinstance(a, BatchedTensor) or (a.__class__ in (list, tuple) and any(
                isinstance(e, BatchedTensor) for e in a)):
            return True
    if kwargs:
        return _has_batched(tuple(kwargs.values()), None)
    return False


def _listener(binding):
    """The wrapper registry.subscribe puts in place of one op binding while a vmap runs."""
    fn, name = binding.fn, binding.prefix + binding.attribute
    if getattr(fn, "__module__", None) == "torsh.nn._aten":  # torch.embedding & co: ATen signatures, no rules
        name = "aten." + name

    def op(*args, **kwargs):
        if _has_batched(args, kwargs):
            return dispatch(name, fn, args, kwargs)
        if _different and not _depth:
            return draws_per_sample(name, fn, args, kwargs)
        return fn(*args, **kwargs)
    op.__name__ = getattr(fn, "__name__", binding.attribute)
    op.__qualname__ = getattr(fn, "__qualname__", binding.attribute)
    op.__doc__ = getattr(fn, "__doc__", None)
    op.__wrapped__ = fn
    return op


def intercept():
    """Start sending op calls through vmap's dispatch; False when another listener (the profiler) holds the
    op-call hook, and the caller falls back to running the whole function per sample."""
    try:
        registry.subscribe(_listener)
    except RuntimeError:
        return False
    return True


def release():
    registry.unsubscribe(_listener)


# -- the per-sample loop ----------------------------------------------------------------------------
_INPLACE_DUNDERS = frozenset({"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
                              "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__",
                              "__setitem__"})
DYNAMIC_SHAPE_OPS = frozenset({"nonzero", "argwhere", "masked_select", "unique", "unique_consecutive"})


def is_inplace(name):
    return name in _INPLACE_DUNDERS or (name.endswith("_") and not name.endswith("__"))


# how PyTorch names an in-place op in INPLACE: ops it runs through its fallback say "aten::<op>" (a few their
# name), ops with a batching rule "inplace arithmetic"; add_ and atan2_ fail on broadcasting instead
_INPLACE_NAMES = {"pow_": "aten::pow_", "__ipow__": "aten::pow_", "fill_": "fill_", "index_add_": "index_add_",
                  **{op: "aten::" + op for op in ("hypot_", "xlogy_", "floor_divide_", "remainder_", "fmod_",
                                                   "addcmul_", "addcdiv_", "lerp_", "clamp_")}}
_BROADCAST_CHECKED = frozenset({"add_", "__iadd__", "atan2_", "arctan2_"})


def check_inplace(call, args, kwargs):
    """PyTorch's error for an in-place op writing a batched value into an unbatched tensor."""
    if args and isinstance(args[0], Tensor) and not batched_at(args[0], call.level):
        others = [*args[1:], *kwargs.values()]
        batched = [o for o in others if batched_at(o, call.level)]
        if not batched:
            return
        if call.name in _BROADCAST_CHECKED:
            raise RuntimeError(_broadcast_message(tuple(args[0].shape), tuple(batched[0].shape), call.level.size))
        op = _INPLACE_NAMES.get(call.name, "inplace arithmetic")
        if call.name == "masked_fill_" and batched_at(args[2] if len(args) > 2 else kwargs.get("value"), call.level):
            op = "aten::masked_fill_"  # a batched fill value (a batched mask has a rule)
        where = f"at level {call.level.index}" if op.startswith("aten::") else "in a vmap"  # PyTorch's fallback
        raise RuntimeError(INPLACE.format(op=op, where=where))


def _broadcast_message(self_shape, other_shape, size):
    """PyTorch's message for ``self.add_(other)`` with other batched: the physical other ([B, 1.., *other]) and
    self broadcast to a larger shape than self's, or do not broadcast."""
    rank = max(len(self_shape), len(other_shape)) + 1
    a = (1,) * (rank - len(self_shape)) + self_shape
    b = (size,) + (1,) * (rank - 1 - len(other_shape)) + other_shape
    for dim, (m, n) in enumerate(zip(a, b)):
        if m != n and m != 1 and n != 1:
            raise RuntimeError(f"The size of tensor a ({m}) must match the size of tensor b ({n}) at non-singleton "
                               f"dimension {dim}")
    broadcast = [max(m, n) if min(m, n) else 0 for m, n in zip(a, b)]
    return f"output with shape {list(self_shape)} doesn't match the broadcast shape {broadcast}"


def _sample(x, level, b):
    if isinstance(x, BatchedTensor) and x._level is level:
        return x._value.select(0, b)
    if x.__class__ in (list, tuple) and any(isinstance(e, BatchedTensor) for e in x):
        return type(x)(_sample(e, level, b) for e in x)
    return x


def loop(call, args, kwargs):
    """Unbatch, call once per sample, restack: correct for any op (in-place ones write each sample's view)."""
    level = call.level
    if call.name in DYNAMIC_SHAPE_OPS:
        raise RuntimeError(DYNAMIC_SHAPE.format(op=call.name))
    inplace = is_inplace(call.name)
    if inplace:
        check_inplace(call, args, kwargs)
    results = []
    with randomness.sample_loop(level) as next_sample:
        for b in range(level.size):
            next_sample()
            results.append(call(*[_sample(a, level, b) for a in args],
                                **{k: _sample(v, level, b) for k, v in kwargs.items()}))
    if inplace:
        return args[0]
    return stack_samples(results, level)


def stack_samples(results, level):
    """One batched value from per-sample results (tensors stacked; equal Python values kept; else an error)."""
    first = results[0]
    if isinstance(first, Tensor):
        return level.wrap(dispatch("stack", _stack, (results, 0), {}))
    if isinstance(first, (tuple, list)):
        columns = [stack_samples([r[i] for r in results], level) for i in range(len(first))]
        if hasattr(first, "_fields"):
            return type(first)(*columns)
        return type(first)(columns)
    if first is None or all(r == first for r in results):
        return first
    raise RuntimeError(DATA_DEPENDENT)


def _stack(tensors, dim=0):
    return _shape.stack(tensors, dim)


# -- randomness -------------------------------------------------------------------------------------
class _Randomness:
    """The guard on torsh's random generators while vmaps run (every random op draws through ``_random.rng``).

    'error' refuses every draw; 'same' gives every sample of a loop the draws of the first (the generators are
    rewound before each sample); 'different' lets them advance."""

    RANDOM_IN_ERROR_MODE = ("vmap: called random operation while in randomness error mode. Please either use the "
                            "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
                            "of vmap")

    def __init__(self):
        self.original = None
        self.depth = 0
        self.loops = []  # per running sample loop: {id(generator): (generator, state before the loop's first draw)}
        self.draws = 0  # draws so far: tells draws_per_sample whether an op drew

    def install(self):
        if self.depth == 0:
            self.original = _random.rng
            _random.rng = self.guarded_rng
        self.depth += 1

    def uninstall(self):
        self.depth -= 1
        if self.depth == 0:
            _random.rng = self.original

    def guarded_rng(self, generator=None):
        if _levels and _levels[-1].randomness == "error":
            raise RuntimeError(self.RANDOM_IN_ERROR_MODE)
        self.draws += 1
        gen = generator or _random.default_generator
        for states in self.loops:
            states.setdefault(id(gen), (gen, gen._rng.bit_generator.state, gen._rng.normal_cache))
        return self.original(generator)

    def sample_loop(self, level):
        return _SampleLoop(self, level)


class _SampleLoop:
    def __init__(self, guard, level):
        self.guard, self.level, self.states = guard, level, {}

    def __enter__(self):
        self.guard.loops.append(self.states)
        return self.next_sample

    def next_sample(self):
        if self.level.randomness == "same":
            for gen, state, normal_cache in self.states.values():
                gen._rng.bit_generator.state, gen._rng.normal_cache = state, normal_cache

    def __exit__(self, *exc):
        self.guard.loops.remove(self.states)


randomness = _Randomness()


def draws_per_sample(name, fn, args, kwargs):
    """An op without a batched argument, called by the function under vmap(randomness='different'): when it
    draws random numbers (torsh.randn(3), dropout of a captured tensor), every sample of those vmaps gets its
    own draws, as in PyTorch (a batched [B, 3]); otherwise its result is returned as is."""
    global _depth
    _depth += 1
    try:
        before = randomness.draws
        first = fn(*args, **kwargs)
        if randomness.draws == before or not isinstance(first, Tensor):
            return first
        if is_inplace(name):
            raise RuntimeError(DIFFERENT_INPLACE)
        levels = list(_different)
        sizes = tuple(level.size for level in levels)
        count = 1
        for size in sizes:
            count *= size
        samples = [first] + [fn(*args, **kwargs) for _ in range(count - 1)]
        drawn = _shape.stack(samples, 0).reshape(sizes + tuple(first.shape))
    finally:
        _depth -= 1
    _count(name, "looped", levels[-1])
    return from_physical(drawn, levels)


# -- the report ---------------------------------------------------------------------------------------
class Report:
    """Which ops ran batched (by a rule) and which looped per sample, with call counts."""

    def __init__(self):
        self.batched = collections.Counter()
        self.looped = collections.Counter()

    def __repr__(self):
        return f"vmap report: batched {dict(self.batched)}; looped {dict(self.looped)}"

    def lines(self):
        rows = [(n, "batched", c) for n, c in self.batched.items()] + [(n, "looped", c) for n, c in self.looped.items()]
        return [f"{name}: {kind} x{count}" for name, kind, count in sorted(rows)]


_reports = []  # the reports being recorded (``torsh.func.vmap_report()`` blocks)
_LOOP_REASON = "no batching rule: per-sample loop"


def _count(name, kind, level):
    for report in _reports:
        getattr(report, kind)[name] += 1
    if _dispatch.TOPIC in events._subscribers:
        events.emit(_dispatch.TOPIC, _dispatch.DispatchRecord(
            f"vmap:{name}", "vmap_batched" if kind == "batched" else "vmap_loop",
            "batching rule" if kind == "batched" else _LOOP_REASON, level.size, "", 0.0))


def start_report():
    report = Report()
    _reports.append(report)
    return report


def stop_report(report):
    _reports.remove(report)


from ..tensor import conversion as _conversion  # noqa: E402  (they import the op layer's core)
from ..tensor.shape import views as _shape  # noqa: E402  (they import the op layer's core)
