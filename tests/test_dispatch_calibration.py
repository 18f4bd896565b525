"""Calibrated dispatch thresholds, their cache, and the thread-count switch."""
import json

import numexpr
import pytest
from threadpoolctl import threadpool_info

import torsh
from torsh.backend import dispatch
from torsh.backends import calibrate


@pytest.fixture
def saved_thresholds():
    before = dict(dispatch.thresholds), dispatch.thresholds_source
    yield
    for op, (simd, parallel) in before[0].items():
        dispatch.set_thresholds(op, simd, parallel)
    dispatch.thresholds_source = before[1]


def test_calibration_measures_every_variant_and_writes_a_loadable_cache(tmp_path, saved_thresholds):
    results, timings = calibrate.calibrate(ops=["relu", "sum_rows"], sizes=(1024, 4096), repeats=1)
    assert set(results) == {"relu", "sum_rows"}
    assert set(timings["relu"]["1024"]) == {"numpy", "pythran_simd", "pythran_omp"}
    assert all(t > 0 for row in timings["relu"].values() for t in row.values())
    for simd, parallel in results.values():
        assert simd in (1024, 4096, dispatch.INF) and parallel in (1024, 4096, dispatch.INF)

    path = tmp_path / "thresholds.json"
    calibrate.write({"relu": (2048, 8192)}, timings, str(path))
    assert dispatch.load_calibration(str(path))
    assert dispatch.thresholds["relu"] == (2048, 8192)
    assert dispatch.explain("relu", 4096).startswith("relu: pythran_simd (numel 4,096 >= simd threshold 2,048")
    assert str(path) in dispatch.explain("relu", 10)
    x = torsh.randn(3000)
    with dispatch.record() as records:
        torsh.relu(x)
    assert records[-1].variant == "pythran_simd"


def test_calibration_measures_the_row_and_optimizer_kernels(saved_thresholds):
    ops = [op for op in ("softmax", "cross_entropy_backward", "layer_norm_backward", "sgd_step", "adam_step",
                         "silu_backward") if torsh.backends.kernels_available()[dispatch._FAMILY[op]]]
    assert ops, "no nn/norm/optim/activation kernel family is built"
    results, timings = calibrate.calibrate(ops=ops, sizes=(1024, 4096), repeats=1)
    assert set(results) == set(ops)
    for op in ops:
        assert set(timings[op]["4096"]) == {"numpy", "pythran_simd", "pythran_omp"}
        assert all(t > 0 for row in timings[op].values() for t in row.values())


def test_a_cache_from_another_machine_is_ignored(tmp_path, saved_thresholds):
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"machine": {"cpu": "some other cpu", "cores": 128, "kernels": []},
                                "thresholds": {"relu": [1, 1]}}))
    before = dispatch.thresholds["relu"]
    assert not dispatch.load_calibration(str(path))
    assert dispatch.thresholds["relu"] == before


def test_a_corrupt_cache_is_ignored(tmp_path, saved_thresholds):
    path = tmp_path / "thresholds.json"
    path.write_text("{not json")
    before = dict(dispatch.thresholds)
    assert not dispatch.load_calibration(str(path))
    assert dispatch.thresholds == before


def test_broadcast_records_report_the_broadcast_numel():
    with dispatch.record() as records:
        torsh.ones(3, 1) + torsh.ones(1, 4)
    assert records[-1].numel == 12 and records[-1].variant == "numpy"


def test_set_num_threads_sets_openmp_numexpr_and_blas_together():
    before = torsh.get_num_threads()
    try:
        torsh.set_num_threads(1)
        assert torsh.get_num_threads() == 1
        assert numexpr.get_num_threads() == 1  # numexpr.set_num_threads returns the previous value
        assert numexpr.set_num_threads(1) == 1
        pools = threadpool_info()
        assert pools and all(p["num_threads"] == 1 for p in pools)
        with pytest.raises(RuntimeError):
            torsh.set_num_threads(0)
    finally:
        torsh.set_num_threads(before)


def test_memory_tracking_counts_allocations_and_frees():
    import gc
    from torsh.backend import events, memory
    gc.collect()  # garbage of earlier tests (counting may already be on) must not be freed mid-test
    records = []
    unsubscribe = events.subscribe(memory.TOPIC, records.append)
    try:
        before = memory.live_bytes()
        t = torsh.ones(1000, dtype=torsh.float64)
        assert memory.live_bytes() - before == 8000
        view = t[10:]  # views share their base's bytes: not counted again
        assert memory.live_bytes() - before == 8000
        del t, view
        gc.collect()
        assert memory.live_bytes() == before
        kinds = [(r.kind, r.nbytes) for r in records if r.nbytes == 8000]
        assert kinds == [("alloc", 8000), ("free", 8000)]
    finally:
        unsubscribe()


def test_calibration_runs_over_every_dispatched_op(saved_thresholds):
    # every op either has a timing recipe or is listed as kept at its measured default
    results, timings = calibrate.calibrate(sizes=(1024,), repeats=1)
    built = torsh.backends.kernels_available()
    for op in dispatch.thresholds:
        if not built[dispatch._FAMILY.get(op, "elementwise")]:
            continue
        assert (op in results) != (op in calibrate.NOT_CALIBRATED), op
