"""Factories' out= (PyTorch's dtype check against an explicit dtype, values in out's dtype, out returned) and
empty_strided's negative strides, against torch."""
import numpy as np
import pytest
import torch

import torsh

FACTORIES = {
    "empty": lambda lib, **kw: lib.empty(2, 3, **kw),
    "zeros": lambda lib, **kw: lib.zeros(2, 3, **kw),
    "ones": lambda lib, **kw: lib.ones(2, 3, **kw),
    "full": lambda lib, **kw: lib.full((2, 3), 1.5, **kw),
    "arange": lambda lib, **kw: lib.arange(5, **kw),
    "linspace": lambda lib, **kw: lib.linspace(0, 1, 5, **kw),
    "logspace": lambda lib, **kw: lib.logspace(0, 1, 5, **kw),
    "eye": lambda lib, **kw: lib.eye(3, **kw),
    "rand": lambda lib, **kw: lib.rand(4, **kw),
    "randn": lambda lib, **kw: lib.randn(4, **kw),
    "randint": lambda lib, **kw: lib.randint(9, (4,), **kw),
    "randperm": lambda lib, **kw: lib.randperm(5, **kw),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_explicit_dtype_must_be_outs(name):
    msgs = []
    for lib in (torsh, torch):
        lib.manual_seed(0)
        out = lib.empty(0)
        with pytest.raises(RuntimeError) as err:
            FACTORIES[name](lib, out=out, dtype=lib.float64)
        msgs.append(str(err.value))
        assert out.shape == (0,)  # untouched
    assert msgs[0] == msgs[1] == "dtype Double does not match dtype of out parameter (Float)"
    # and the random stream did not move
    np.testing.assert_array_equal(torsh.rand(3).numpy(), torch.rand(3).numpy())


# (rand/randn/linspace/logspace have no integer kernel in PyTorch: float64 only)
@pytest.mark.parametrize("name,dtype", [(n, "float64") for n in sorted(FACTORIES)]
                         + [(n, "int64") for n in sorted(FACTORIES) if n not in ("rand", "randn", "linspace", "logspace")])
def test_values_land_in_out_in_its_dtype(name, dtype):
    results = []
    for lib in (torsh, torch):
        lib.manual_seed(0)
        out = lib.empty(0, dtype=getattr(lib, dtype))
        got = FACTORIES[name](lib, out=out, dtype=getattr(lib, dtype))
        assert got is out
        results.append(out)
        lib.manual_seed(0)
        out = lib.empty(0, dtype=getattr(lib, dtype))
        FACTORIES[name](lib, out=out)  # no dtype: out's
        results.append(out)
    for ours, ref in ((results[0], results[2]), (results[1], results[3])):
        assert str(ours.dtype).split(".")[1] == str(ref.dtype).split(".")[1]
        assert tuple(ours.shape) == tuple(ref.shape)
        if name != "empty":
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("size,stride", [((2, 3), (-1, 1)), ((2, 3), (1, -2)), ((4,), (-1,))])
def test_empty_strided_negative_stride(size, stride):
    msgs = []
    for lib in (torsh, torch):
        with pytest.raises(RuntimeError) as err:
            lib.empty_strided(size, stride)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]
    assert torsh.empty_strided((2, 0), (-1, 1)).shape == (2, 0)  # nothing to store: allowed, as PyTorch
