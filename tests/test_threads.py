"""torsh.set_num_threads and the single-thread BLAS region for loops of small GEMMs."""
import contextlib

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import torsh
from torsh.backend import threads


def _blas_threads():
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.fixture
def two_threads():
    before = torsh.get_num_threads()
    torsh.set_num_threads(2)
    yield
    torsh.set_num_threads(before)


def test_single_threaded_blas_switches_and_restores_even_on_error(two_threads):
    assert _blas_threads() == {2}
    with pytest.raises(ValueError):
        with threads.single_threaded_blas():
            assert _blas_threads() == {1}
            raise ValueError("inside")
    assert _blas_threads() == {2}


def test_only_small_gemms_run_single_threaded(two_threads):
    with threads.blas_threads_for(threads.SMALL_GEMM - 1):
        assert _blas_threads() == {1}
    with threads.blas_threads_for(threads.SMALL_GEMM):
        assert _blas_threads() == {2}


@pytest.mark.parametrize("a_shape, b_shape", [((2, 8, 27), (5, 2, 27, 30)), ((5, 2, 8, 27), (2, 27, 30)),
                                              ((5, 1, 8, 27), (5, 2, 27, 30)), ((3, 4, 6), (3, 6, 2))])
def test_batched_matmul_splits_the_batch_over_threads_and_matches_numpy(a_shape, b_shape, monkeypatch):
    from torsh.backend import threads
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape).astype(np.float32), rng.standard_normal(b_shape).astype(np.float32)
    parts = []
    real = threads.run_in_parts
    monkeypatch.setattr(threads, "run_in_parts", lambda fn, size: parts.append(size) or real(fn, size))
    previous = torsh.get_num_threads()
    torsh.set_num_threads(2)
    try:
        out = threads.batched_matmul(a, b, macs_per_gemm=1000)
        big = threads.batched_matmul(a, b, macs_per_gemm=threads.SMALL_GEMM)  # one matmul, BLAS threads
    finally:
        torsh.set_num_threads(previous)
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-5)
    np.testing.assert_allclose(big, np.matmul(a, b), rtol=1e-5)
    assert parts == [np.broadcast_shapes(a_shape[:-2], b_shape[:-2])[0]]


def test_mid_sized_products_run_on_one_blas_thread(two_threads):
    """Between OpenBLAS's own serial limit and SMALL_GEMM a product runs single-threaded; smaller ones
    skip the switch, bigger ones keep every BLAS thread."""
    for macs, expected in ((threads.OPENBLAS_SERIAL_GEMM, {2}), (threads.OPENBLAS_SERIAL_GEMM + 1, {1}),
                           (threads.SMALL_GEMM - 1, {1}), (threads.SMALL_GEMM, {2})):
        with threads.gemm_threads(macs):
            assert _blas_threads() == expected, macs
    assert _blas_threads() == {2}


def test_one_thread_never_switches():
    before = torsh.get_num_threads()
    torsh.set_num_threads(1)
    try:
        assert isinstance(threads.gemm_threads(threads.SMALL_GEMM - 1), contextlib.nullcontext)
    finally:
        torsh.set_num_threads(before)


@pytest.mark.parametrize("a_shape, b_shape, macs", [((64, 400), (400, 120), 64 * 400 * 120),
                                                     ((3, 5, 7), (7, 2), 5 * 7 * 2), ((9,), (9, 4), 0)])
def test_products_ask_for_the_thread_policy_of_one_gemm(a_shape, b_shape, macs, monkeypatch, two_threads):
    from torsh._ops.tensor.linalg import matmul as linalg
    asked = []
    monkeypatch.setattr(linalg, "gemm_threads", lambda m: asked.append(m) or threads.gemm_threads(m))
    a, b = torsh.randn(*a_shape, requires_grad=True), torsh.randn(*b_shape)
    out = torsh.nn.functional.linear(a, b.mT) if len(a_shape) == 2 else a @ b
    assert asked[0] == (macs if len(a_shape) > 1 else 4 * 9)  # a vector is matmul'd as a (1, 9) matrix
    np.testing.assert_allclose(out.detach().numpy(), a.detach().numpy() @ b.numpy(), rtol=1e-4, atol=1e-3)
