"""Batched small products shared among the threads (threads.split_batched_matmul, the TORSH_SPLIT_BATCHED_MATMUL
switch of issue 20) and run_in_parts running its first part on the calling thread: values and gradients against
PyTorch with the switch on and off, broadcast batch dims, odd batch sizes, non-contiguous operands, and errors in a
part."""
import threading

import numpy as np
import pytest

import torsh
from torsh.backend import threads
from helpers import assert_close, needs_torch, torch_ref


@pytest.fixture(params=[False, True], ids=["off", "on"])
def split(request):
    previous_threads = torsh.get_num_threads()
    previous = threads.set_split_batched_matmul(request.param)
    torsh.set_num_threads(2)
    yield request.param
    threads.set_split_batched_matmul(previous)
    torsh.set_num_threads(previous_threads)


@needs_torch
@pytest.mark.parametrize("a_shape,b_shape,transpose_b", [
    ((8, 4, 64, 32), (8, 4, 32, 64), False),   # attention's scores, W8/W13's sizes
    ((3, 5, 7, 9), (3, 5, 7, 9), True),         # odd sizes, a transposed (non-contiguous) right operand
    ((5, 7, 9), (9, 4), False),                 # a 3-D input times a matrix (batch on one side only)
    ((1, 6, 5), (4, 5, 3), False),              # broadcast batch of one
    ((7, 2, 6, 5), (2, 5, 3), False),           # fewer batch dims on the right
])
def test_batched_products_match_torch(split, a_shape, b_shape, transpose_b):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    results = []
    for lib in (torch_ref, torsh):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = x.matmul(y.transpose(-2, -1) if transpose_b else y)
        g = lib.tensor(np.random.default_rng(8).standard_normal(tuple(out.shape)).astype(np.float32))
        out.backward(g)
        results.append((out, x.grad, y.grad))
    for ours, theirs in zip(results[1], results[0]):
        assert ours.dtype == torsh.float32 and tuple(ours.shape) == tuple(theirs.shape)
        assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_bmm_float64_gradcheck_with_the_split(split):
    a = torsh.randn(3, 4, 5, dtype=torsh.float64, requires_grad=True)
    b = torsh.randn(3, 5, 2, dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.bmm, (a, b))
    assert torsh.autograd.gradcheck(torsh.matmul, (a, b))


def test_the_switch_routes_batched_products_through_batched_matmul(monkeypatch):
    calls = []
    real = threads.batched_matmul
    monkeypatch.setattr(threads, "batched_matmul", lambda a, b, macs: calls.append(a.shape) or real(a, b, macs))
    previous = threads.set_split_batched_matmul(True)
    try:
        out = torsh.ones(4, 3, 5).matmul(torsh.ones(4, 5, 2))
    finally:
        threads.set_split_batched_matmul(previous)
    assert calls == [(4, 3, 5)] and out.tolist() == np.full((4, 3, 2), 5.0).tolist()
    torsh.ones(4, 3, 5).matmul(torsh.ones(4, 5, 2))
    assert calls == [(4, 3, 5)]  # off: np.matmul as before


def test_run_in_parts_runs_the_first_part_on_the_caller_and_waits_for_every_part(monkeypatch):
    monkeypatch.setattr(threads, "_num_threads", 3)
    seen = {}

    def record(part):
        seen[(part.start, part.stop)] = threading.current_thread() is threading.main_thread()
    threads.run_in_parts(record, 10)
    assert seen == {(0, 3): True, (3, 6): False, (6, 10): False}

    finished = []

    def failing(part):
        if part.start == 0:
            raise ValueError("caller's part")
        import time
        time.sleep(0.05)
        finished.append(part.start)
    with pytest.raises(ValueError, match="caller's part"):
        threads.run_in_parts(failing, 9)
    assert sorted(finished) == [3, 6]  # the pool's parts had finished before the error surfaced

    def pool_fails(part):
        if part.start == 3:
            raise KeyError("pool part")
    with pytest.raises(KeyError, match="pool part"):
        threads.run_in_parts(pool_fails, 9)
