"""Random number generation: torch.Generator on PyTorch's CPU engine, and the default generator.

The engine is PyTorch's: mt19937 seeded from the seed's low 32 bits (NumPy's MT19937 with its legacy seeding
is the same engine), and the samplers below transform its 32-bit outputs as PyTorch's CPU kernels do, so
``manual_seed(s)`` followed by ``rand`` / ``randn`` / ``uniform_`` / ``normal_`` / ``randint`` / ``randperm`` /
``bernoulli`` / dropout masks gives PyTorch's values, and models initialised after the same seed start from
PyTorch's weights. rand, uniform_ and the integer samplers match bit for bit; normal samples of 16 or more
float32 elements (Box-Muller over blocks of 16, as PyTorch) can differ in the last bit, where PyTorch's vector
math library rounds sin/cos/log differently from NumPy's. The other distributions (exponential, gamma,
Poisson...) draw from the same engine through NumPy's samplers: reproducible, not PyTorch's values.
"""
import math
import pickle

import numpy as np

from . import _dtype
from ._tensor import device


class _Stream(np.random.Generator):
    """NumPy's Generator over the mt19937 engine, plus the Box-Muller sample PyTorch's engine keeps back."""

    def __init__(self, seed):
        engine = np.random.MT19937()
        engine._legacy_seeding(seed & 0xFFFFFFFF)  # PyTorch: mt19937 state from the seed's low 32 bits
        super().__init__(engine)
        self.normal_cache = None  # the sin half of the last scalar Box-Muller pair, as PyTorch's generator caches


class Generator:
    """torch.Generator: an independent random stream; pass as ``generator=`` to random ops."""

    def __init__(self, device="cpu"):
        self.device = globals()["device"](device) if isinstance(device, str) else device
        self._seed = 67280421310721  # PyTorch's default seed
        self._rng = _Stream(self._seed)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = _Stream(seed)
        return self

    def seed(self):
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from ._ops.tensor.creation import tensor
        state = self._rng.bit_generator.state
        state = dict(state, state=dict(state["state"], key=state["state"]["key"].tolist()))  # plain ints only
        raw = pickle.dumps((self._seed, state, self._rng.normal_cache))
        return tensor(list(raw), dtype="uint8")

    def set_state(self, new_state):
        self._seed, state, cache = _safe_state(bytes(new_state._data.tobytes()))
        state = dict(state, state=dict(state["state"], key=np.array(state["state"]["key"], dtype=np.uint32)))
        self._rng.bit_generator.state = state
        self._rng.normal_cache = cache
        return self


def _safe_state(raw):
    # generator states are our own pickles of plain dicts and ints; refuse anything else
    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError(f"generator state may not reference {module}.{name}")
    import io
    try:
        seed, state, cache = _Restricted(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise RuntimeError(f"Expected a generator state from get_state() or get_rng_state(): {e}") from None
    return seed, state, cache


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and return it), as torch.manual_seed."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


def rng(generator=None):
    """The NumPy Generator behind ``generator`` (or the default one)."""
    return (generator or default_generator)._rng


# -- PyTorch's CPU samplers over the engine -------------------------------------------------------------
# Each takes a Generator (None: the default one; or the stream ``rng`` returned) and returns a NumPy array;
# draws go through ``rng`` so that vmap's guard on random ops sees them.

def _stream(generator):
    return generator if isinstance(generator, _Stream) else rng(generator)


def _raw32(stream, n):
    """n 32-bit engine outputs (as uint64), in PyTorch's ``random()`` order."""
    return stream.bit_generator.random_raw(n)


def _raw64(stream, n):
    """n of PyTorch's ``random64()``: two engine outputs each, the first one the high half."""
    raw = stream.bit_generator.random_raw(2 * n)
    return (raw[0::2] << np.uint64(32)) | raw[1::2]


def _memory_axes(layout):
    """The axes of ``layout`` (an array) from outermost to innermost in memory when it is dense but not
    C-contiguous, else None. PyTorch fills such a tensor (and ``empty_like`` of it) in memory order."""
    if layout is None or layout.flags.c_contiguous or layout.ndim < 2:
        return None
    axes = sorted(range(layout.ndim), key=lambda a: (-abs(layout.strides[a]), a))
    expected = layout.itemsize
    for axis in reversed(axes):
        if layout.shape[axis] != 1:
            if layout.strides[axis] != expected:
                return None  # gaps or overlap: PyTorch's empty_like is contiguous then
            expected *= layout.shape[axis]
    return axes


def _in_layout(shape, layout, draw):
    """``draw(shape)`` (C order) laid out as ``layout``'s memory order, so draws land where PyTorch puts them."""
    axes = _memory_axes(layout)
    if axes is None:
        return draw(tuple(shape))
    drawn = draw(tuple(shape[a] for a in axes))
    return np.transpose(drawn, np.argsort(axes))


_MANTISSA_BITS = {np.dtype(np.float64): 53, np.dtype(np.float32): 24, np.dtype(np.float16): 11}


def _unit(stream, n, np_dtype):
    """n uniform samples in [0, 1) as PyTorch's uniform_real_distribution makes them for ``np_dtype``:
    the low mantissa-width bits of ``random64()`` (float64) or ``random()`` (narrower types), scaled."""
    if np_dtype == np.float64:
        return (_raw64(stream, n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53
    bits = _MANTISSA_BITS.get(np.dtype(np_dtype), 8)  # bfloat16 keeps 8
    return (_raw32(stream, n) & np.uint64((1 << bits) - 1)).astype(np.float32) * np.float32(2.0 ** -bits)


def _working(np_dtype):
    """The dtype PyTorch's samplers compute a tensor of ``np_dtype`` in."""
    return np.float64 if np_dtype == np.float64 else np.float32


_C_FLOAT_NAMES = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double"}


def _c(x):
    """A number as C++'s ostream prints a double in PyTorch's messages: 2, -0.5, nan, 1e-05."""
    return f"{float(x):g}"


def _float_kernel(kernel, np_dtype):
    """PyTorch's NotImplementedError for a sampler of floats asked for another dtype."""
    d = _dtype.from_numpy_dtype(np.dtype(np_dtype))
    if not (d.is_floating_point or d.is_complex):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_dtype.SCALAR_TYPE_NAMES[d.name]}\'')
    return d


def check_uniform_bounds(low, high, np_dtype):
    """PyTorch's uniform_ checks (check_uniform_bounds), before anything is drawn."""
    d = _float_kernel("check_uniform_bounds", np_dtype)
    if d.is_complex:
        return
    info = np.finfo(d.np) if d.name != "bfloat16" else None
    top = float(info.max) if info is not None else 3.3895313892515355e38
    for value, name in ((low, "from"), (high, "to")):
        if not -top <= value <= top:
            raise RuntimeError(f"{name} is out of bounds for {_C_FLOAT_NAMES[d.name]}")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_c(low)} > to={_c(high)}")
    if high - low > top:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{_dtype_title(d)}>::max(), but found "
                           f"to={_c(high)} and from={_c(low)} which result in to-from to exceed the limit")


def _dtype_title(d):
    return _dtype.SCALAR_TYPE_NAMES[d.name]


def uniform(shape, np_dtype, low=0.0, high=1.0, generator=None, layout=None):
    """``Tensor.uniform_(low, high)`` / ``torch.rand``: x * (high - low) + low, fused as PyTorch's kernel is.
    ``layout``: the array being filled, whose memory order the draws follow."""
    if low != 0.0 or high != 1.0 or np.dtype(np_dtype).kind not in "fc":
        check_uniform_bounds(low, high, np_dtype)
    if _memory_axes(layout) is not None:
        return _in_layout(shape, layout, lambda s: uniform(s, np_dtype, low, high, generator))
    stream = _stream(generator)
    n = math.prod(shape)
    x = _unit(stream, n, np_dtype)
    work = _working(np_dtype)
    low_w, high_w = work(low), work(high)
    if work is np.float32:  # one rounding, as the fused multiply-add of PyTorch's float kernel
        values = (x.astype(np.float64) * np.float64(high_w - low_w) + np.float64(low_w)).astype(np.float32)
    else:
        values = x * (high_w - low_w) + low_w
    return values.astype(np_dtype, copy=False).reshape(shape)


def normal(shape, np_dtype, mean=0.0, std=1.0, generator=None, layout=None):
    """``Tensor.normal_(mean, std)`` / ``torch.randn``: Box-Muller over blocks of 16 uniforms from 16
    elements up (the last block redrawn when the size is no multiple of 16), else one scalar sample per
    element with the cached second half, as PyTorch's CPU kernel; the scalar path also fills a
    non-contiguous ``layout`` (the array being filled), in its memory order."""
    if np.dtype(np_dtype).kind not in "fc":
        _float_kernel("normal_kernel_cpu", np_dtype)
    if not std >= 0:  # NaN too
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_c(std)}")
    scalar_path = layout is not None and not layout.flags.c_contiguous
    if _memory_axes(layout) is not None:
        return _in_layout(shape, layout, lambda s: _scalar_normals(s, np_dtype, mean, std, generator))
    stream = _stream(generator)
    n = math.prod(shape)
    if n < 16 or scalar_path:
        return _scalar_normals(shape, np_dtype, mean, std, stream)
    work = _working(np_dtype)
    data = _unit(stream, n, np_dtype).astype(work, copy=False)
    whole = n - n % 16
    data[:whole] = _box_muller_16(data[:whole].reshape(-1, 16), work, mean, std).reshape(-1)
    if n % 16:
        tail = _unit(stream, 16, np_dtype).astype(work, copy=False).reshape(1, 16)
        data[n - 16:] = _box_muller_16(tail, work, mean, std).reshape(-1)
    return data.astype(np_dtype, copy=False).reshape(shape)


def _scalar_normals(shape, np_dtype, mean, std, generator):
    stream = _stream(generator)
    values = np.array([_scalar_normal(stream) for _ in range(math.prod(shape))], dtype=np.float64) * std + mean
    return values.astype(np_dtype).reshape(shape)


def _box_muller_16(blocks, work, mean, std):
    """PyTorch's normal_fill_16 on rows of 16 uniforms: element j pairs with j + 8."""
    u1 = work(1) - blocks[:, :8]
    u2 = blocks[:, 8:]
    radius = np.sqrt(work(-2) * np.log(u1))
    theta = work(2.0 * math.pi) * u2
    out = np.empty_like(blocks)
    if work is np.float32:  # the last multiply-add fused, one rounding
        out[:, :8] = ((radius * np.cos(theta)).astype(np.float64) * np.float32(std) + np.float32(mean))
        out[:, 8:] = ((radius * np.sin(theta)).astype(np.float64) * np.float32(std) + np.float32(mean))
    else:
        out[:, :8] = radius * np.cos(theta) * std + mean
        out[:, 8:] = radius * np.sin(theta) * std + mean
    return out


def _scalar_normal(stream):
    """One standard normal sample of PyTorch's normal_distribution<double>: a Box-Muller pair whose sine half
    the generator keeps for the next call."""
    if stream.normal_cache is not None:
        value, stream.normal_cache = stream.normal_cache, None
        return value
    u1, u2 = _unit(stream, 2, np.float64)
    radius = math.sqrt(-2.0 * math.log1p(-u2))
    theta = 2.0 * math.pi * u1
    stream.normal_cache = radius * math.sin(theta)
    return radius * math.cos(theta)


def exponential(shape, np_dtype, lambd=1.0, generator=None):
    """``Tensor.exponential_(lambd)``: -1 / lambd * log1p(-u) of a double uniform per element, as PyTorch's
    CPU kernel without MKL's sampler."""
    u = _unit(_stream(generator), math.prod(shape), np.float64)
    return (-1.0 / lambd * np.log1p(-u)).astype(np_dtype).reshape(shape)


def integers(low, high, shape, generator=None):
    """``torch.randint(low, high)`` / ``random_(low, high)``: random() (or random64() for ranges of 2**32 and
    more) modulo the range, plus low, as int64."""
    stream = _stream(generator)
    n = math.prod(shape)
    span = high - low
    raw = _raw64(stream, n) if span >= 1 << 32 else _raw32(stream, n)
    return ((raw % np.uint64(span)).astype(np.int64) + np.int64(low)).reshape(shape)


def full_range_int64(generator=None):
    """``torch.empty((), dtype=torch.int64).random_()``: random64() modulo 2**63 (the seed DataLoader's
    samplers draw)."""
    return int(_raw64(_stream(generator), 1)[0] % np.uint64(1 << 63))


def permutation(n, generator=None):
    """``torch.randperm(n)``: PyTorch's Fisher-Yates shuffle, swapping i with i + random() % (n - i)."""
    stream = _stream(generator)
    perm = list(range(n))
    if n > 1:
        raw = (_raw32(stream, n - 1) if n < (1 << 32) // 20 else _raw64(stream, n - 1)).tolist()
        for i, r in enumerate(raw):
            j = i + r % (n - i)
            perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=np.int64)


def bernoulli(shape, p, generator=None, layout=None):
    """Boolean draws with probability ``p`` (a float: PyTorch's double sampler; an array: one float sample per
    element in the array's precision), as PyTorch's bernoulli_ on CPU; dropout keeps with p = 1 - drop.
    ``layout``: the array the draws are for (dropout's input), whose memory order they follow."""
    if _memory_axes(layout) is not None:
        transposed_p = p if not isinstance(p, np.ndarray) else np.transpose(
            np.broadcast_to(p, shape), _memory_axes(layout))
        drawn = bernoulli(tuple(shape[a] for a in _memory_axes(layout)), transposed_p, generator)
        return np.transpose(drawn, np.argsort(_memory_axes(layout)))
    stream = _stream(generator)
    n = math.prod(shape)
    if isinstance(p, np.ndarray):
        precision = np.float64 if p.dtype == np.float64 else np.float32
        return _unit(stream, n, precision).reshape(shape) < np.broadcast_to(p, shape)
    return _unit(stream, n, np.float64).reshape(shape) < p
