"""Per-sample gradients under ``vmap(grad(...))`` (issue 20's W17) and the ``per_sample`` kernel family that writes
the per-sample weight gradients, against PyTorch 2.13's torch.func: both ISA copies of the kernel bit for bit
against PyTorch's bmm of the outer products (small and streamed outputs, one thread and OpenMP), the kernel's
buffer checks, W17's MLP per-sample gradients on the kernel and on NumPy's einsum, and float64 (einsum) against
PyTorch and against the loop of ``grad``."""
import importlib

import numpy as np
import pytest

import torsh
from helpers import assert_close, forced_variant, needs_torch, torch_ref
from torsh.backend import dispatch

# (B, O, I): odd sizes and a tail under one vector, and an output past the streaming threshold (8 MB)
SHAPES = [(1, 1, 1), (3, 5, 7), (2, 9, 33), (4, 64, 130), (16, 256, 784)]


def _copies():
    torsh.tensor(0.0)  # builds/loads the kernels
    names = ("torsh._kernels.per_sample", "torsh._kernels.per_sample_avx2")
    return [importlib.import_module(n) for n in names if importlib.util.find_spec(n) is not None]


COPIES = _copies()


@needs_torch
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("module", COPIES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_outer_equals_pytorch_bmm_bit_for_bit(module, shape, parallel):
    B, O, I = shape
    rng = np.random.default_rng(B * O * I)
    g, x = rng.standard_normal((B, O), dtype=np.float32), rng.standard_normal((B, I), dtype=np.float32)
    out = np.full((B, O, I), np.nan, np.float32)
    module.outer(g, x, out, B, O, I, parallel)
    expected = torch_ref.bmm(torch_ref.from_numpy(g)[:, :, None], torch_ref.from_numpy(x)[:, None, :]).numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("module", COPIES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_outer_refuses_buffers_smaller_than_its_sizes(module):
    g, x = np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)
    out = np.empty((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="outer: out holds 92 bytes, too few for the 24 float32 values"):
        module.outer(g, x, out.reshape(-1)[:23], 2, 3, 4, False)
    with pytest.raises(ValueError, match="outer: x holds"):
        module.outer(g, x, out, 2, 3, 5, False)
    with pytest.raises(ValueError, match="outer: g holds"):
        module.outer(g, x, out, 3, 3, 4, False)
    with pytest.raises(ValueError, match="too few"):  # sizes whose product overflows
        module.outer(g, x, out, 2, 1 << 62, 4, False)
    with pytest.raises(ValueError, match="too few"):
        module.outer(g, x, out, -2, 3, 4, False)


def _mlp(lib, dtype):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(784, 64), lib.nn.ReLU(), lib.nn.Linear(64, 10)).to(dtype)
    return model


def _per_sample_grads(lib, model, x, y, looped=False):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(params, xi, yi):
        out = lib.func.functional_call(model, params, (xi.unsqueeze(0),))
        return lib.nn.functional.cross_entropy(out, yi.unsqueeze(0))
    if looped:
        grads = [lib.func.grad(loss)(params, x[b], y[b]) for b in range(x.shape[0])]
        return {k: lib.stack([g[k] for g in grads]) for k in params}
    return lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)


def _inputs(batch, dtype):
    rng = np.random.default_rng(1)
    return rng.standard_normal((batch, 784)).astype(dtype), rng.integers(0, 10, batch)


def _reference(model_dtype, x, y):
    ref_model = _mlp(torch_ref, getattr(torch_ref, model_dtype))
    return ref_model, _per_sample_grads(torch_ref, ref_model, torch_ref.from_numpy(x), torch_ref.from_numpy(y))


@needs_torch
@pytest.mark.parametrize("variant", ["numpy", "kernel", "kernel_omp"])
def test_w17_per_sample_grads_float32_match_torch_func_on_every_variant(variant):
    x, y = _inputs(24, np.float32)
    ref_model, expected = _reference("float32", x, y)
    model = _mlp(torsh, torsh.float32)
    model.load_state_dict({k: torsh.from_numpy(v.numpy().copy()) for k, v in ref_model.state_dict().items()})
    with forced_variant(["per_sample_outer"], variant) as recorded, dispatch.record() as records:
        ours = _per_sample_grads(torsh, model, torsh.from_numpy(x), torsh.from_numpy(y))
    assert [r.variant for r in records if r.op == "per_sample_outer"] == [recorded] * 2  # both layers' weights
    assert set(ours) == set(expected)
    for name in expected:
        assert ours[name].shape == tuple(expected[name].shape)
        assert_close(ours[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


@needs_torch
def test_w17_per_sample_grads_float64_match_torch_func_and_the_loop():
    x, y = _inputs(6, np.float64)
    ref_model, expected = _reference("float64", x, y)
    model = _mlp(torsh, torsh.float64)
    model.load_state_dict({k: torsh.from_numpy(v.numpy().copy()) for k, v in ref_model.state_dict().items()})
    with dispatch.record() as records:
        batched = _per_sample_grads(torsh, model, torsh.from_numpy(x), torsh.from_numpy(y))
    assert not [r for r in records if r.op == "per_sample_outer"]  # float64 stays on einsum
    looped = _per_sample_grads(torsh, model, torsh.from_numpy(x), torsh.from_numpy(y), looped=True)
    for name in expected:
        assert_close(batched[name], expected[name], rtol=1e-10, atol=1e-12, msg=name)
        assert_close(batched[name], looped[name], rtol=1e-12, atol=1e-14, msg=name)


def test_w17_per_sample_grads_are_the_same_bits_on_one_and_two_threads():
    x, y = _inputs(32, np.float32)
    model = _mlp(torsh, torsh.float32)
    before = torsh.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torsh.set_num_threads(n)
            grads = _per_sample_grads(torsh, model, torsh.from_numpy(x), torsh.from_numpy(y))
            results.append({k: v.numpy().copy() for k, v in grads.items()})
    finally:
        torsh.set_num_threads(before)
    for name in results[0]:
        np.testing.assert_array_equal(results[0][name], results[1][name])


@needs_torch
def test_w17_per_sample_grads_under_the_profiler_match_torch_func():
    """While the profiler holds the op-call hook vmap runs the function once per sample: grad inside it differentiates
    plain tensors (it raised 'an op read the values of a batched tensor' before)."""
    x, y = _inputs(5, np.float32)
    ref_model, expected = _reference("float32", x, y)
    model = _mlp(torsh, torsh.float32)
    model.load_state_dict({k: torsh.from_numpy(v.numpy().copy()) for k, v in ref_model.state_dict().items()})
    with torsh.profiler.profile() as prof:
        ours = _per_sample_grads(torsh, model, torsh.from_numpy(x), torsh.from_numpy(y))
    assert any(e.key == "aten::linear" for e in prof.key_averages())
    for name in expected:
        assert_close(ours[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
