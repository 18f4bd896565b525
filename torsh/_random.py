"""Random number generation: torch.Generator over NumPy's PCG64, and the default generator.

Streams are reproducible under ``manual_seed`` but are not PyTorch's bit-for-bit (PyTorch
uses mt19937/Philox with its own transforms); this is a documented difference.
"""
import pickle

import numpy as np

from ._tensor import device


class Generator:
    """torch.Generator: an independent random stream; pass as ``generator=`` to random ops."""

    def __init__(self, device="cpu"):
        self.device = globals()["device"](device) if isinstance(device, str) else device
        self._seed = 67280421310721  # PyTorch's default seed
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from ._ops.tensor.creation import tensor
        raw = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return tensor(list(raw), dtype="uint8")

    def set_state(self, new_state):
        self._seed, state = _safe_state(bytes(new_state._data.tobytes()))
        self._rng.bit_generator.state = state
        return self


def _safe_state(raw):
    # generator states are our own pickles of plain dicts and ints; refuse anything else
    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError(f"generator state may not reference {module}.{name}")
    import io
    seed, state = _Restricted(io.BytesIO(raw)).load()
    return seed, state


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
