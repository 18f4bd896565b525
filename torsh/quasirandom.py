"""torch.quasirandom: the Sobol engine, drawing PyTorch's exact sequence.

The direction numbers are Joe & Kuo's D(6) set up to dimension 21201, the same table ATen compiles in
(SobolEngineOpsUtils); SciPy ships it as ``_sobol_direction_numbers.npz``. The state is kept as NumPy int64 arrays
and the draws run ATen's Gray-code recurrence, so unscrambled points match PyTorch's bit for bit; scrambling draws
its random bits with ``torsh.randint``, whose stream is PyTorch's, so a seeded scrambled engine matches too.
"""
import functools
import os

import numpy as np
import scipy.stats

import torsh
from torsh._dtype import SCALAR_TYPE_NAMES

__all__ = ["SobolEngine"]


@functools.lru_cache(maxsize=1)
def _direction_table():
    path = os.path.join(os.path.dirname(scipy.stats.__file__), "_sobol_direction_numbers.npz")
    with np.load(path) as table:
        return table["poly"], table["vinit"]


def _initial_state(dimension, maxbit):
    """ATen's ``_sobol_engine_initialize_state_``: the direction numbers of the first ``dimension`` coordinates,
    each row extended to ``maxbit`` entries by its primitive polynomial's recurrence, scaled to 2**(maxbit-1-j)."""
    poly, vinit = _direction_table()
    poly = poly[:dimension]
    state = np.zeros((dimension, maxbit), dtype=np.int64)
    state[:, :vinit.shape[1]] = vinit[:dimension]
    state[0, :] = 1  # the first coordinate (polynomial 1, degree 0) is all ones
    degree = np.array([int(p).bit_length() - 1 for p in poly], dtype=np.int64)
    # row by row in ATen; here one column at a time across every row of the same degree
    for m in np.unique(degree):
        if m == 0:
            continue
        rows = np.nonzero(degree == m)[0]
        p = poly[rows]
        block = state[rows]
        for j in range(m, maxbit):
            value = block[:, j - m].copy()
            for k in range(m):
                take = ((p >> (m - 1 - k)) & 1).astype(bool)
                value = np.where(take, value ^ ((2 << k) * block[:, j - k - 1]), value)
            block[:, j] = value
        state[rows] = block
    return state * (2 ** np.arange(maxbit - 1, -1, -1, dtype=np.int64))


def _rightmost_zero(n):
    """Index of the lowest zero bit of ``n`` (ATen's ``rightmost_zero``)."""
    return ((~n) & (n + 1)).bit_length() - 1


class SobolEngine:
    r"""Generates (scrambled) Sobol sequences, PyTorch's :class:`torch.quasirandom.SobolEngine`.

    Args:
        dimension (int): the dimensionality of the sequence, in [1, 21201].
        scramble (bool): draw a scrambled sequence (Owen's scrambling with a random shift). Default: ``False``.
        seed (int, optional): seed of the scrambling's generator; a random one when ``None``.
    """

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, {self.MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self._state = _initial_state(dimension, self.MAXBIT)
        if not scramble:
            self.shift = torsh.zeros(dimension, dtype=torsh.long)
        else:
            self._scramble()
        self.quasi = self.shift.clone()
        self._first_point = (self.quasi / 2 ** self.MAXBIT).reshape(1, -1)
        self.num_generated = 0

    @property
    def sobolstate(self):
        """The (dimension, MAXBIT) int64 direction numbers, as PyTorch exposes them."""
        return torsh.from_numpy(self._state)

    def _advance(self, n, start, keep):
        """Run ``n`` Gray-code steps from point index ``start`` on ``self.quasi``; the visited points when ``keep``."""
        quasi = self.quasi.numpy().copy()
        points = np.empty((n, self.dimension), dtype=np.int64) if keep else None
        for i in range(n):
            quasi ^= self._state[:, _rightmost_zero(start + i)]
            if keep:
                points[i] = quasi
        self.quasi = torsh.from_numpy(quasi)
        return points

    def _as_unit(self, points, dtype):
        # ATen converts the integer point to the result dtype first, then scales by 2**-MAXBIT (exact)
        np_dtype = torsh.empty(0, dtype=dtype).numpy().dtype
        return torsh.from_numpy(points.astype(np_dtype) * np_dtype.type(1.0 / 2 ** self.MAXBIT))

    def draw(self, n=1, out=None, dtype=None):
        r"""Draw the next ``n`` points, a (n, dimension) tensor (of ``dtype``, default: the default dtype)."""
        if dtype is None:
            dtype = torsh.get_default_dtype()
        if (self.num_generated, n) != (0, 1) and dtype not in (torsh.float32, torsh.float64):
            # ATen's kernel dispatches on float and double only (the first point alone is a plain cast)
            raise NotImplementedError(
                f"\"_sobol_engine_draw\" not implemented for '{SCALAR_TYPE_NAMES.get(dtype.name, dtype.name)}'")
        if self.num_generated == 0:
            first = self._first_point.to(dtype)
            if n == 1:
                result = first
            else:
                result = torsh.cat((first, self._as_unit(self._advance(n - 1, 0, True), dtype)), dim=-2)
        else:
            result = self._as_unit(self._advance(n, self.num_generated - 1, True), dtype)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        r"""Draw ``2**m`` points; the total drawn must stay a power of 2 (the balance property)."""
        n = 2 ** m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError(
                "The balance properties of Sobol' points require "
                f"n to be a power of 2. {self.num_generated} points have been "
                f"previously generated, then: n={self.num_generated}+2**{m}={total_n}. "
                "If you still want to do this, please use "
                "'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        r"""Go back to the first point."""
        self.quasi.copy_(self.shift)
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        r"""Skip ``n`` points, as drawing them would."""
        if self.num_generated == 0:
            self._advance(n - 1, 0, False)
        else:
            self._advance(n, self.num_generated - 1, False)
        self.num_generated += n
        return self

    def _scramble(self):
        g = None
        if self.seed is not None:
            g = torsh.Generator()
            g.manual_seed(self.seed)
        # the same draws, in the same order, as PyTorch: the shift's bits, then the lower-triangular matrices
        shift_bits = torsh.randint(2, (self.dimension, self.MAXBIT), generator=g).numpy()
        self.shift = torsh.from_numpy(shift_bits @ (2 ** np.arange(self.MAXBIT, dtype=np.int64)))
        ltm = np.tril(torsh.randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=g).numpy())
        ltm[:, np.arange(self.MAXBIT), np.arange(self.MAXBIT)] = 1
        # ATen's _sobol_engine_scramble_: new v[d, j] bit (MAXBIT-1-p) = parity(ltm[d, p, :] . bits(v[d, j]))
        # with ltm's row p read as an integer, most significant bit first
        bits = (self._state[:, :, None] >> np.arange(self.MAXBIT)[::-1]) & 1  # (d, j, bit MAXBIT-1..0)
        parity = np.einsum("dpk,djk->djp", ltm, bits) & 1  # (d, j, p)
        self._state = parity @ (2 ** np.arange(self.MAXBIT - 1, -1, -1, dtype=np.int64))

    def __repr__(self):
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"

