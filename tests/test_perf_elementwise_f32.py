"""The ``elementwise_f32`` kernel family (float32 add/sub/mul/div, copy_, sigmoid on a spinning thread team) on
every instruction set it carries, against PyTorch 2.13: values on one thread and on the team (bit for bit for the
arithmetic and copy, float32 tolerances for sigmoid, its tails and special values), the ops that run on it
(``a + b``, in-place ``mul_``, ``copy_``, ``torch.sigmoid`` and its gradient, float64 gradcheck), the buffer
checks, the same bits on any thread count, and a fork child that uses the team after its parent did."""
import multiprocessing

import numpy as np
import pytest

import torsh
from helpers import assert_close, forced_variant, needs_torch, torch_ref
from isa_helpers import check_isa_names, isa_copies, isa_id, running
from torsh.backend import dispatch, kernels

N = 100_003  # several 16K-element chunks and a ragged tail
BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


COPIES = isa_copies("elementwise_f32")


def _data(n=N, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(n) * scale + shift).astype(np.float32)


def test_the_family_is_loaded_and_names_its_loops():
    assert kernels.get("elementwise_f32") is not None
    check_isa_names(COPIES)


@needs_torch
@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_kernels_match_torch_bit_for_bit(pair, parallel, op):
    a, b = _data(seed=1), _data(seed=2, shift=3.0)
    out = np.full_like(a, np.nan)
    with running(*pair) as module:
        getattr(module, op)(a, b, out, parallel)
    expected = getattr(torch_ref, op)(torch_ref.from_numpy(a), torch_ref.from_numpy(b)).numpy()
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("parallel", [False, True])
def test_in_place_and_copy_kernels(pair, parallel):
    a, b = _data(seed=3), _data(seed=4)
    expected = a * b
    with running(*pair) as module:
        module.mul(a, b, a, parallel)  # out is a: the in-place mul_
        np.testing.assert_array_equal(a, expected)
        out = np.zeros_like(b)
        module.copy(b, out, parallel)
    np.testing.assert_array_equal(out, b)


SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 15.0, -15.0, 17.0, -20.0, 88.0, -88.0, -87.0, -88.7, -88.8, -100.0,
                    -103.0, -104.0, -150.0, -200.0, 1e30, -1e30, np.inf, -np.inf, np.nan], np.float32)


@needs_torch
@pytest.mark.parametrize("pair", COPIES, ids=isa_id)
@pytest.mark.parametrize("parallel", [False, True])
def test_sigmoid_kernel_matches_torch(pair, parallel):
    x = np.concatenate([np.linspace(-30, 30, N, dtype=np.float32), SPECIAL])
    out = np.empty_like(x)
    with running(*pair) as module:
        module.sigmoid(x, out, parallel)
    expected = torch_ref.sigmoid(torch_ref.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=4e-7, atol=1e-40)  # a few ulps, relative down to the subnormal tail
    special = out[-len(SPECIAL):]
    np.testing.assert_array_equal(special[[0, 1, -3, -2]], [0.5, 0.5, 1.0, 0.0])
    assert np.isnan(special[-1])
    assert special[SPECIAL == -88.0][0] > 0 and special[SPECIAL == -100.0][0] == 0  # PyTorch: 6.05e-39 and 0


def test_the_kernels_check_their_buffers():
    module = kernels.get("elementwise_f32")
    small, big = np.zeros(3, np.float32), np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="add: b holds 12 bytes, too few for the 5 float32 values"):
        module.add(big, small, np.zeros(5, np.float32), True)
    with pytest.raises(ValueError, match="sigmoid: x holds 12 bytes"):
        module.sigmoid(small, big, False)
    with pytest.raises(ValueError, match="copy: x holds"):
        module.copy(small, big, True)
    with pytest.raises(TypeError):
        module.add(big, big, big[::2], True)  # a strided out is no contiguous buffer
    with pytest.raises(ValueError, match="set_spin_us"):
        module.set_spin_us(-1)


@needs_torch
@pytest.mark.parametrize("variant", ["numpy", "kernel", "kernel_omp"])
def test_ops_on_the_family_match_torch(variant):
    a, b = _data(seed=5), _data(seed=6, shift=3.0)
    ours_a, ours_b = torsh.from_numpy(a.copy()), torsh.from_numpy(b.copy())
    ref_a, ref_b = torch_ref.from_numpy(a.copy()), torch_ref.from_numpy(b.copy())
    with forced_variant(("add", "sub", "mul", "div", "copy", "sigmoid"), variant) as recorded:
        with dispatch.record() as records:
            for fn in (lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / y):
                np.testing.assert_array_equal(fn(ours_a, ours_b).numpy(), fn(ref_a, ref_b).numpy())
            assert_close(torsh.sigmoid(ours_a), torch_ref.sigmoid(ref_a), rtol=4e-7, atol=1e-40)
            target, ref_target = torsh.zeros(N), torch_ref.zeros(N)
            target.copy_(ours_a)
            ref_target.copy_(ref_a)
            target.mul_(ours_b)
            ref_target.mul_(ref_b)
            np.testing.assert_array_equal(target.numpy(), ref_target.numpy())
    ran = {"add", "sub", "mul", "div", "sigmoid"} | ({"copy"} if variant != "numpy" else set())  # small copy_: NumPy
    assert {r.op for r in records} >= ran
    assert {r.variant for r in records} == {recorded}


@needs_torch
def test_sigmoid_gradient_matches_torch_and_float64_gradcheck():
    x = _data(seed=7, scale=4.0)
    ours = torsh.tensor(x, requires_grad=True)
    ref = torch_ref.tensor(x, requires_grad=True)
    g = _data(seed=8)
    with forced_variant(("sigmoid",), "kernel_omp"):
        torsh.sigmoid(ours).backward(torsh.from_numpy(g))
    torch_ref.sigmoid(ref).backward(torch_ref.from_numpy(g))
    assert_close(ours.grad, ref.grad)  # float32 defaults: 1 - y cancels where y nears 1
    x64 = torsh.tensor(np.linspace(-3, 3, 7), dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.sigmoid, (x64,))


def test_the_same_bits_on_one_and_two_threads():
    x, y = _data(seed=9, scale=5.0), _data(seed=10)
    previous = torsh.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torsh.set_num_threads(threads)
            with forced_variant(("add", "sigmoid"), "kernel_omp"):
                a, b = torsh.from_numpy(x), torsh.from_numpy(y)
                results.append(((a + b).numpy(), torsh.sigmoid(a).numpy()))
    finally:
        torsh.set_num_threads(previous)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def _sum_in_child(queue):
    module = kernels.get("elementwise_f32")
    a = np.ones(N, np.float32)
    out = np.zeros_like(a)
    module.add(a, a, out, True)  # the parent's helper threads are gone: the child starts its own
    queue.put(float(out.sum()))


def test_a_fork_child_runs_the_team_after_its_parent_did():
    module = kernels.get("elementwise_f32")
    a = np.ones(N, np.float32)
    module.add(a, a, np.empty_like(a), True)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_sum_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 2.0 * N
