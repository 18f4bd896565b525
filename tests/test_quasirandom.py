"""torch.quasirandom.SobolEngine against PyTorch's: the same points bit for bit, scrambled with a seed too."""
import numpy as np
import pytest
import torch

import torsh


def _engines(dimension, **kwargs):
    return torsh.quasirandom.SobolEngine(dimension, **kwargs), torch.quasirandom.SobolEngine(dimension, **kwargs)


def _same(a, b):
    assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_direction_numbers_are_atens_for_every_dimension():
    ref = torch.zeros(torch.quasirandom.SobolEngine.MAXDIM, 30, dtype=torch.long)
    torch._sobol_engine_initialize_state_(ref, ref.shape[0])
    ours = torsh.quasirandom._initial_state(ref.shape[0], 30)
    np.testing.assert_array_equal(ours, ref.numpy())


@pytest.mark.parametrize("scramble,seed", [(False, None), (True, 0), (True, 1234)])
@pytest.mark.parametrize("dimension", [1, 2, 7, 50])
def test_draws_match_torch(dimension, scramble, seed):
    ours, ref = _engines(dimension, scramble=scramble, seed=seed)
    _same(ours.sobolstate, ref.sobolstate)
    _same(ours.shift, ref.shift)
    _same(ours.draw(), ref.draw())
    _same(ours.draw(5), ref.draw(5))
    ours.fast_forward(3), ref.fast_forward(3)
    _same(ours.draw(9, dtype=torsh.float64), ref.draw(9, dtype=torch.float64))
    assert ours.num_generated == ref.num_generated == 18
    ours.reset(), ref.reset()
    _same(ours.draw_base2(3), ref.draw_base2(3))
    _same(ours.quasi, ref.quasi)


def test_first_draw_of_many_and_fast_forward_from_the_start():
    ours, ref = _engines(4)
    _same(ours.draw(16), ref.draw(16))
    ours, ref = _engines(4)
    ours.fast_forward(5), ref.fast_forward(5)
    _same(ours.draw(3), ref.draw(3))


def test_out_and_default_dtype():
    ours, ref = _engines(3)
    out_t, out_r = torsh.empty(0, dtype=torsh.float64), torch.empty(0, dtype=torch.float64)
    got = ours.draw(4, out=out_t)
    ref.draw(4, out=out_r)
    assert got is out_t
    _same(out_t, out_r)
    prev = torsh.get_default_dtype()
    torsh.set_default_dtype(torsh.float64)
    try:
        assert ours.draw(2).dtype == torsh.float64
    finally:
        torsh.set_default_dtype(prev)


def test_errors_match_torch():
    for bad in (0, 21202):
        with pytest.raises(ValueError, match=r"Supported range of dimensionality for SobolEngine is \[1, 21201\]"):
            torsh.quasirandom.SobolEngine(bad)
    ours, ref = _engines(2)
    ours.draw(3), ref.draw(3)
    with pytest.raises(ValueError) as ours_err:
        ours.draw_base2(2)
    with pytest.raises(ValueError) as ref_err:
        ref.draw_base2(2)
    assert str(ours_err.value) == str(ref_err.value)
    for dtype in ("float16", "int64"):
        with pytest.raises(NotImplementedError) as ours_err:
            ours.draw(2, dtype=getattr(torsh, dtype))
        with pytest.raises(NotImplementedError) as ref_err:
            ref.draw(2, dtype=getattr(torch, dtype))
        assert str(ours_err.value) == str(ref_err.value)
    _same(ours.draw(2), ref.draw(2))  # a rejected draw left the engine where it was
    # the first point alone is a cast, in any dtype
    _same(torsh.quasirandom.SobolEngine(2).draw(1, dtype=torsh.float16),
          torch.quasirandom.SobolEngine(2).draw(1, dtype=torch.float16))


def test_repr():
    for kwargs in ({}, {"scramble": True}, {"scramble": True, "seed": 3}):
        ours, ref = _engines(5, **kwargs)
        assert repr(ours) == repr(ref)
