"""torsh.set_num_threads and the single-thread BLAS region for loops of small GEMMs."""
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
