"""torsh.set_num_threads and the single-thread BLAS region for loops of small GEMMs."""
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
