"""out= of the reductions PyTorch gives one (sum, mean, prod, amax/amin, argmax/argmin, var/std, logsumexp, norm,
all/any, nansum/nanmean, max/min/aminmax with dim): values written into out, out returned, against torch."""
import numpy as np
import pytest
import torch

import torsh

SINGLE = ["sum", "mean", "prod", "amax", "amin", "logsumexp", "nansum", "nanmean", "std", "var", "argmax", "argmin",
          "all", "any", "norm"]


def _out_dtype(name):
    return {"all": "bool", "any": "bool", "argmax": "int64", "argmin": "int64"}.get(name, "float32")


@pytest.mark.parametrize("name", SINGLE)
@pytest.mark.parametrize("keepdim", [False, True])
def test_single_output_reductions_write_out(name, keepdim):
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib in (torsh, torch):
        out = lib.empty(0, dtype=getattr(lib, _out_dtype(name)))
        args = (lib.tensor(data), "fro", 0) if name == "norm" else (lib.tensor(data), 0)
        got = getattr(lib, name)(*args, keepdim=keepdim, out=out)
        assert got is out
        results.append(out)
    assert tuple(results[0].shape) == tuple(results[1].shape)
    np.testing.assert_allclose(results[0].numpy(), results[1].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["max", "min", "aminmax"])
def test_pair_reductions_write_out(name):
    data = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    results = []
    for lib in (torsh, torch):
        if name == "aminmax":
            out = (lib.empty(0), lib.empty(0))
            getattr(lib, name)(lib.tensor(data), dim=1, out=out)
        else:
            out = (lib.empty(0), lib.empty(0, dtype=lib.long))
            getattr(lib, name)(lib.tensor(data), 1, out=out)
        results.append(out)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_out_dtype_and_grad_checks():
    x = torsh.ones(2, 3)
    out = torsh.empty(0, dtype=torsh.float64)
    torsh.sum(x, 1, dtype=torsh.float64, out=out)
    np.testing.assert_array_equal(out.numpy(), [3.0, 3.0])
    torsh.mean(x, 0, out=out)  # float32 result cast into a float64 out, as PyTorch
    assert out.dtype == torsh.float64 and out.shape == (3,)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torsh.sum(torsh.ones(2, requires_grad=True), 0, out=torsh.empty(0))
