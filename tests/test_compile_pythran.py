"""torsh.compile(backend="pythran"): generated kernels give the eager results and gradients,
are cached on disk by hash, and say why a call runs elsewhere."""
import os
import subprocess
import sys

import numpy as np
import pytest

import torsh
from helpers import torch_ref
from torsh._compile import pythran_backend
from torsh._compile.expr import Call, Var


def chain(lib, x):
    return lib.tanh(x * 0.5 + 1) * lib.sigmoid(x) - x * x


def two_inputs(lib, a, b):
    return (a * b).exp() / (b + 3) - 2 - a.sqrt() + (1 - b).relu() ** 2


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module: each kernel is compiled once (~15 s), later tests load it."""
    path = tmp_path_factory.mktemp("torsh-cache")
    old = os.environ.get("TORSH_CACHE_DIR")
    os.environ["TORSH_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        del os.environ["TORSH_CACHE_DIR"]
    else:
        os.environ["TORSH_CACHE_DIR"] = old


# sizes: below the parallel threshold, and above it with a ragged last chunk
@pytest.mark.parametrize("n", [1000, pythran_backend.PARALLEL_FROM * 2 + 7])
def test_float32_chain_matches_torch_forward_and_backward(cache, n):
    data = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    weights = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    compiled = torsh.compile(lambda x: chain(torsh, x), backend="pythran")
    x = torsh.tensor(data, requires_grad=True)
    y = compiled(x)
    assert "one Pythran kernel" in compiled.explain(x)
    assert y.dtype == torsh.float32
    (y * torsh.tensor(weights)).sum().backward()
    ref_x = torch_ref.tensor(data, requires_grad=True)
    ref_y = chain(torch_ref, ref_x)
    (ref_y * torch_ref.tensor(weights)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ref_y.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_float64_two_input_kernel_passes_gradcheck_and_gradgradcheck(cache):
    compiled = torsh.compile(lambda a, b: two_inputs(torsh, a, b), backend="pythran")
    rng = np.random.default_rng(2)
    a = torsh.tensor(rng.uniform(0.5, 2, (3, 4)), requires_grad=True)
    b = torsh.tensor(rng.uniform(0.5, 2, (3, 4)), requires_grad=True)
    assert "one Pythran kernel" in compiled.explain(a, b)
    out = compiled(a, b)
    ref = two_inputs(torch_ref, torch_ref.tensor(a.detach().numpy()), torch_ref.tensor(b.detach().numpy()))
    np.testing.assert_allclose(out.detach().numpy(), ref.numpy(), rtol=1e-12)
    assert torsh.autograd.gradcheck(compiled, (a, b))
    assert torsh.autograd.gradgradcheck(compiled, (a, b))  # create_graph falls back to torsh ops


def test_a_second_process_loads_the_kernel_from_the_cache(cache):
    compiled = torsh.compile(lambda x: chain(torsh, x), backend="pythran")
    compiled(torsh.ones(10))
    binaries = [f for f in os.listdir(cache / "fusion") if f.endswith(".so")]
    assert binaries and all(f.startswith("torsh_fused_") for f in binaries)
    assert any(f.endswith(".py") for f in os.listdir(cache / "fusion"))  # the source, kept to read
    script = ("import torsh\n"
              "f = torsh.compile(lambda x: torsh.tanh(x * 0.5 + 1) * torsh.sigmoid(x) - x * x, backend='pythran')\n"
              "x = torsh.ones(10)\n"
              "print(f.explain(x))\n"
              "print(float(f(x).sum()))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, TORSH_CACHE_DIR=str(cache)), timeout=120)
    assert done.returncode == 0, done.stderr
    explanation, total = done.stdout.strip().splitlines()
    assert "loaded from the cache" in explanation
    expected = 10 * (np.tanh(1.5) / (1 + np.exp(-1.0)) - 1)
    assert float(total) == pytest.approx(expected, rel=1e-5)


def test_broadcasting_and_other_dtypes_run_on_numexpr_and_say_why(cache):
    compiled = torsh.compile(lambda a, b: a * b + 1, backend="pythran")
    a, b = torsh.ones(3, 1), torsh.ones(4)
    assert "not Pythran: inputs must have one shape" in compiled.explain(a, b)
    np.testing.assert_array_equal(compiled(a, b).numpy(), np.full((3, 4), 2, np.float32))
    half = torsh.ones(4, dtype=torsh.float16)
    assert "not Pythran: its kernels are float32/float64, got torsh.float16" in compiled.explain(half, half)


def test_ops_without_a_template_are_reported():
    assert pythran_backend.supported(Call("erf", (Var(0),))) == "op 'erf' has no Pythran template"
    assert pythran_backend.supported(Call("tanh", (Var(0),))) is True


def test_a_failing_compile_raises_with_the_compiler_output(tmp_path, monkeypatch):
    monkeypatch.setenv("TORSH_CACHE_DIR", str(tmp_path))
    with pytest.raises(pythran_backend.PythranUnavailable, match="compiling the fused kernel failed"):
        pythran_backend.load_module("#pythran export f(float32[:])\ndef f(x:\n")
    assert not [f for f in os.listdir(tmp_path / "fusion") if f.endswith(".so")]  # nothing half-written


def test_unknown_backend_names_the_available_ones():
    with pytest.raises(RuntimeError, match="available: 'numexpr', 'pythran'"):
        torsh.compile(lambda x: x, backend="tvm_nope")


def test_forward_saves_partials_so_backward_runs_no_kernel(cache):
    # with inputs requiring grad the forward pass writes d out / d input too (transcendentals
    # once); backward is then grad * partial and must not run the gradient kernels at all
    compiled = torsh.compile(lambda a, b: two_inputs(torsh, a, b), backend="pythran")
    rng = np.random.default_rng(3)
    data = [rng.uniform(0.5, 2, 50) for _ in range(2)]
    a, b = (torsh.tensor(d, requires_grad=True) for d in data)
    compiled(a, b)  # builds the plan
    plan = next(iter(compiled._plans.values()))
    assert plan.partial_inputs == [0, 1]
    plan.grad_programs = [None if p is None else _refuse for p in plan.grad_programs]
    out = compiled(a, b)
    out.backward(torsh.ones_like(out), retain_graph=True)
    ref = [torch_ref.tensor(d, requires_grad=True) for d in data]
    two_inputs(torch_ref, *ref).sum().backward()
    for ours, theirs in zip((a, b), ref):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    out.backward(torsh.ones_like(out))  # retain_graph kept the partials for a second backward
    np.testing.assert_allclose(a.grad.numpy(), 2 * ref[0].grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward(torsh.ones_like(out))


def _refuse(*args):
    raise AssertionError("the gradient kernel ran although the forward saved the partials")
