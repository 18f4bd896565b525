"""Memory accounting: torsh.memory_allocated & co., categories for the notebook timeline,
and flat memory across training steps (no graph or buffer leak)."""
import gc

import numpy as np
import pytest

import torsh
from torsh import nn
from torsh.backend import events, memory


def live():
    gc.collect()
    return torsh.memory_allocated()


def test_allocated_counts_storage_once_and_frees_it():
    start = live()
    t = torsh.ones(1000, dtype=torsh.float64)
    assert torsh.memory_allocated() - start == 8000
    views = [t[10:], t.view(10, 100), t.detach(), t.data, t.reshape(-1)]
    assert torsh.memory_allocated() - start == 8000  # views and detach share the storage
    del t
    assert live() - start == 8000  # a view keeps the storage alive
    del views
    assert live() == start


def test_storage_alive_before_counting_started_is_counted():
    # run in a fresh interpreter: counting may already be on in this one
    import subprocess
    import sys
    code = ("import torsh\nfrom torsh.backend import memory\nassert not memory.counting\n"
            "a = torsh.zeros(100, 10)\nb = a[3:]\nassert torsh.memory_allocated() == 4000, torsh.memory_allocated()\n"
            "del a, b\nimport gc; gc.collect()\nassert torsh.memory_allocated() == 0\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_allocation_that_starts_counting_has_its_alloc_event():
    """A memory subscriber turns counting on at the next tensor made, which already holds its array
    when the scan of live storage runs. A view of existing storage allocates nothing (no event);
    a fresh tensor must get its alloc event (it had only a free). Both storages are freed."""
    import subprocess
    import sys
    code = ("import gc, torsh\nfrom torsh.backend import events, memory\nassert not memory.counting\n"
            "a = torsh.zeros(250, 4)\nseen = []\nevents.subscribe(memory.TOPIC, seen.append)\n"
            "view = a.view(-1)\nb = torsh.zeros(250, 4)\ndel a, view, b\ngc.collect()\n"
            "print([(e.kind, e.nbytes) for e in seen])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('alloc', 4000), ('free', 4000), ('free', 4000)]"


def test_peak_and_reset_and_stats_keys():
    start = live()
    torsh.reset_peak_memory_stats()
    assert torsh.max_memory_allocated() == start
    a = torsh.empty(1000)  # 4000 bytes
    b = torsh.empty(500)  # 2000 bytes
    del a
    gc.collect()
    assert torsh.max_memory_allocated() == start + 6000
    assert torsh.memory_allocated() == start + 2000
    stats = torsh.memory_stats()
    assert stats["allocated_bytes.all.current"] == start + 2000
    assert stats["allocated_bytes.all.peak"] == start + 6000
    assert stats["allocation.all.current"] >= 1
    torsh.reset_peak_memory_stats()
    assert torsh.max_memory_allocated() == start + 2000
    del b
    assert set(stats) == {f"{k}.all.{s}" for k in ("allocated_bytes", "allocation")
                          for s in ("current", "peak", "allocated", "freed")} | {"reserved_bytes.all.current"}


def test_cumulative_counters_and_their_reset():
    live()
    torsh.reset_accumulated_memory_stats()
    x = torsh.empty(250)
    del x
    gc.collect()
    stats = torsh.memory_stats()
    assert stats["allocated_bytes.all.allocated"] == 1000 and stats["allocated_bytes.all.freed"] == 1000
    assert stats["allocation.all.allocated"] == 1 and stats["allocation.all.freed"] == 1


def test_device_argument_names_the_cpu():
    assert torsh.memory_allocated("cpu") == torsh.memory_allocated(torsh.device("cpu"))
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        torsh.memory_allocated("cuda")  # as torch.cuda.memory_allocated("cuda") in a CPU-only PyTorch


def test_memory_events_pair_alloc_and_free():
    live()
    records = []
    unsubscribe = events.subscribe(memory.TOPIC, records.append)
    try:
        t = torsh.ones(300, dtype=torsh.float64)
        del t
        gc.collect()
    finally:
        unsubscribe()
    mine = [r for r in records if r.nbytes == 2400]
    assert [r.kind for r in mine] == ["alloc", "free"] and mine[0].address == mine[1].address


# -- categories --------------------------------------------------------------------------
def small_model():
    torsh.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


PARAM_BYTES = (8 * 16 + 16 + 16 * 4 + 4) * 4


def check_parts_add_up(parts):
    assert set(parts) == {"parameters", "gradients", "saved_activations", "optimizer_state", "temporaries", "total"}
    assert sum(v for k, v in parts.items() if k != "total") == parts["total"]
    assert parts["total"] == torsh.memory_allocated()
    assert all(v >= 0 for v in parts.values())


def test_categories_across_forward_backward_step_zero_grad():
    gc.collect()
    model = small_model()
    optimizer = torsh.optim.Adam(model.parameters(), lr=1e-3)
    x = torsh.randn(32, 8)
    cat = lambda: memory.categorized_bytes(model, optimizer)  # noqa: E731

    parts = cat()
    check_parts_add_up(parts)
    saved0 = parts["saved_activations"]  # graphs that other code keeps alive in this process count too
    assert parts["parameters"] == PARAM_BYTES
    assert parts["gradients"] == parts["optimizer_state"] == 0
    assert parts["temporaries"] >= x._data.nbytes

    loss = model(x).pow(2).mean()
    parts = cat()
    check_parts_add_up(parts)
    # at least the linear layers' inputs (x, the ReLU output) are saved; weights count as parameters
    assert parts["saved_activations"] - saved0 >= x._data.nbytes + 32 * 16 * 4
    assert parts["parameters"] == PARAM_BYTES

    loss.backward()
    parts = cat()
    check_parts_add_up(parts)
    assert parts["saved_activations"] == saved0  # backward freed the graph's saved tensors
    assert parts["gradients"] == PARAM_BYTES

    optimizer.step()
    parts = cat()
    check_parts_add_up(parts)
    state_bytes = sum(v._data.nbytes for s in optimizer.state.values() for v in s.values() if torsh.is_tensor(v))
    assert parts["optimizer_state"] == state_bytes >= 2 * PARAM_BYTES  # exp_avg and exp_avg_sq (+ step)

    optimizer.zero_grad()  # set_to_none=True, as PyTorch's default
    parts = cat()
    check_parts_add_up(parts)
    assert parts["gradients"] == 0 and parts["optimizer_state"] == state_bytes


def test_categories_count_each_storage_once():
    gc.collect()
    model = small_model()
    saved0 = memory.categorized_bytes(model)["saved_activations"]
    weight = model[0].weight
    alias = weight.t()  # a view of a parameter saved for backward is still the parameter's storage
    x = torsh.randn(3, 8)
    y = (x @ alias).sum()  # saves x and the view of the weight
    parts = memory.categorized_bytes(model)
    check_parts_add_up(parts)
    assert parts["parameters"] == PARAM_BYTES
    assert parts["saved_activations"] - saved0 == x._data.nbytes
    del y, alias


def test_categories_without_model_put_everything_in_temporaries():
    parts = memory.categorized_bytes()
    check_parts_add_up(parts)
    assert parts["temporaries"] == parts["total"] - parts["saved_activations"]


# -- flat memory across training steps ---------------------------------------------------
def mlp():
    torsh.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 5))


def run_steps(model, optimizer, steps, x, y, **backward_kwargs):
    """Train ``steps`` steps; memory_allocated() after each (garbage collector off: no cycle may hold memory)."""
    after = []
    gc.disable()
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward(**backward_kwargs)
            optimizer.step()
            del loss
            after.append(torsh.memory_allocated())
    finally:
        gc.enable()
    return after


@pytest.mark.parametrize("backward_kwargs", [{}, {"retain_graph": True}, {"create_graph": True}],
                         ids=["plain", "retain_graph", "create_graph"])
def test_training_memory_is_flat_and_returns_to_start(backward_kwargs):
    start = live()
    model = mlp()
    optimizer = torsh.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torsh.randn(16, 20), torsh.randint(0, 5, (16,))
    after = run_steps(model, optimizer, 20, x, y, **backward_kwargs)
    assert after[4] == after[19], after  # nothing grows from step 5 to step 20
    assert len(set(after[4:])) == 1, after
    del model, optimizer, x, y
    assert live() == start


def test_sgd_momentum_training_memory_is_flat():
    model = mlp()
    optimizer = torsh.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torsh.randn(16, 20), torsh.randint(0, 5, (16,))
    after = run_steps(model, optimizer, 20, x, y)
    assert after[4] == after[19], after


def test_peak_of_a_step_is_steady():
    model = mlp()
    optimizer = torsh.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torsh.randn(16, 20), torsh.randint(0, 5, (16,))
    run_steps(model, optimizer, 3, x, y)
    peaks = []
    for _ in range(3):
        torsh.reset_peak_memory_stats()
        run_steps(model, optimizer, 1, x, y)
        peaks.append(torsh.max_memory_allocated())
    assert peaks[0] == peaks[1] == peaks[2] > torsh.memory_allocated()


def test_a_kept_graph_shows_as_growth():
    # the flat-memory check can fail: keeping each step's loss (and so its graph) grows memory
    model = mlp()
    x, y = torsh.randn(16, 20), torsh.randint(0, 5, (16,))
    kept, after = [], []
    saved0 = memory.categorized_bytes(model)["saved_activations"]
    for _ in range(4):
        kept.append(nn.functional.cross_entropy(model(x), y))
        after.append(torsh.memory_allocated())
    assert after[0] < after[1] < after[2] < after[3]
    parts = memory.categorized_bytes(model)
    assert parts["saved_activations"] - saved0 >= 4 * 16 * 64 * 4  # four graphs' hidden activations, at least


# -- the pool of large output buffers ------------------------------------------------------
BIG = (memory.POOL_MIN_BYTES // 4,)  # float32 elements of the smallest pooled block


def address(array):
    return array.__array_interface__["data"][0]


def test_small_outputs_are_plain_numpy_arrays():
    out = memory.empty((1000, 10), np.float64)
    assert out.base is None and out.shape == (1000, 10) and out.dtype == np.float64


def test_a_pooled_buffer_is_reused_only_after_its_last_view_dies():
    memory.empty_cache()
    first = memory.empty(BIG, np.float32)
    first[:] = 7.0
    view = first[100:]
    where = address(first)
    del first
    gc.collect()
    assert memory.cached_bytes() == 0  # the view still uses the buffer
    other = memory.empty(BIG, np.float32)
    assert address(other) != where
    other[:] = 1.0
    assert view[0] == 7.0 and view[-1] == 7.0  # untouched by the new array
    del view
    gc.collect()
    assert memory.cached_bytes() == memory.POOL_MIN_BYTES
    again = memory.empty(BIG, np.float32)
    assert address(again) == where and memory.cached_bytes() == 0
    assert again.flags.c_contiguous and again.flags.writeable and again.shape == BIG
    del other, again
    memory.empty_cache()
    assert memory.cached_bytes() == 0


def test_pool_keeps_at_most_its_cap(monkeypatch):
    memory.empty_cache()
    monkeypatch.setattr(memory, "POOL_MAX_CACHED_BYTES", memory.POOL_MIN_BYTES)
    a, b = memory.empty(BIG, np.float32), memory.empty(BIG, np.float32)
    del a, b
    gc.collect()
    assert memory.cached_bytes() == memory.POOL_MIN_BYTES
    memory.empty_cache()


def test_large_dispatched_outputs_come_from_the_pool_and_are_counted():
    from torsh.backend import dispatch
    memory.empty_cache()
    before = dispatch.thresholds["add"]
    dispatch.set_thresholds("add", parallel=0)  # the compiled kernel whatever the calibration says
    try:
        a, b = torsh.ones(BIG), torsh.full(BIG, 2.0)
        start = live()
        with dispatch.record() as records:
            c = a + b
        assert records[0].variant == "pythran_omp"  # the path that takes its output from the pool
        assert isinstance(c._data.base, memory._Block)
        assert torsh.memory_allocated() - start == memory.POOL_MIN_BYTES
        assert float(c[0]) == 3.0 and float(c[-1]) == 3.0
        where = address(c._data)
        del c
        assert live() == start and memory.cached_bytes() == memory.POOL_MIN_BYTES
        assert torsh.memory_reserved() == start + memory.POOL_MIN_BYTES
        d = a + a
        assert address(d._data) == where and float(d[5]) == 2.0
    finally:
        dispatch.set_thresholds("add", *before)
        memory.empty_cache()
