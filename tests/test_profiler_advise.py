"""prof.advise(): each rule provoked by a small program (its finding is there, with the numbers the profile
recorded) and kept quiet by a clean one (no false finding of that kind)."""
import time

import pytest

import torsh
from helpers import assert_close, dtype_name, needs_torch, pair, torch_ref
from torsh.profiler import advise as advise_module
from torsh.profiler import profile, schedule
from torsh.utils.data import DataLoader, Dataset, TensorDataset


def _profiled(body, **options):
    with profile(**options) as prof:
        body()
    return prof


def _only(advice, kind):
    (finding,) = advice.of_kind(kind)
    return finding


def _dispatch_us(prof, op):
    return sum(d["us"] for e in prof.events() for d in e.dispatch if d["op"] == op)


def _big_products():
    a = torsh.randn(384, 384)
    for _ in range(4):
        a = torsh.tanh(a @ a)


# -- ops dominated by Python overhead -------------------------------------------------------------

_TINY_START = torsh.ones(8)  # made outside the profiled region: only the loop's mul/add are profiled


def _tiny_loop():
    y = _TINY_START
    for _ in range(300):
        y = y * 1.001 + 0.5


def test_python_overhead_of_a_loop_of_tiny_ops():
    prof = _profiled(_tiny_loop)
    finding = _only(prof.advise(), "python_overhead")
    ev = finding.evidence
    assert set(ev["ops"]) == {"aten::mul", "aten::add"}
    assert ev["calls"] == sum(ev["ops"].values()) >= 450  # of 600 calls: on a busy machine some exceed TINY_CALL_US
    tiny = [e for e in prof.events() if e.name in ev["ops"] and e.cpu_time_total < advise_module.TINY_CALL_US]
    assert ev["calls"] == len(tiny)
    assert ev["time_us"] == pytest.approx(sum(e.cpu_time_total for e in tiny))
    assert ev["mean_us"] == pytest.approx(ev["time_us"] / ev["calls"])
    assert finding.time_at_stake_us == pytest.approx(ev["time_us"] - ev["kernel_us"])
    assert "torsh.compile" in finding.fix


def test_no_python_overhead_finding_for_a_few_large_ops():
    assert not _profiled(_big_products).advise().of_kind("python_overhead")


# -- NumPy fallbacks and their reason ----------------------------------------------------------

def test_numpy_fallback_for_non_contiguous_operands():
    x = torsh.randn(1024, 1024)
    prof = _profiled(lambda: [torsh.sigmoid(x.t()) for _ in range(3)])
    finding = _only(prof.advise(), "numpy_fallback")
    assert finding.evidence["reason"] == "operands not contiguous or not of one shape"
    assert (finding.evidence["calls"], finding.evidence["ops"]) == (3, {"sigmoid": 3})
    assert finding.evidence["time_us"] == pytest.approx(_dispatch_us(prof, "sigmoid"))
    assert "contiguous" in finding.fix


def test_numpy_fallback_for_a_dtype_without_kernel():
    x = torsh.randn(1024, 1024).half()
    prof = _profiled(lambda: [torsh.sigmoid(x) for _ in range(3)])
    finding = _only(prof.advise(), "numpy_fallback")
    assert finding.evidence["reason"] == "dtype float16 has no compiled kernel"
    assert finding.evidence["dtypes"] == {"float16": 3}
    assert "float32" in finding.fix


def test_no_numpy_fallback_finding_when_kernels_run():
    x = torsh.randn(1024, 1024)
    prof = _profiled(lambda: [torsh.sigmoid(x) for _ in range(3)])
    assert all(d["variant"] != "numpy" for e in prof.events() for d in e.dispatch)  # the kernel ran
    assert not prof.advise().of_kind("numpy_fallback")


# -- dtype up-casts ----------------------------------------------------------------------------

def _model_with(lib, bias_dtype):
    lib.manual_seed(0)
    model = lib.nn.Linear(64, 32)
    x, bias = lib.randn(16, 64), lib.ones(32, dtype=getattr(lib, bias_dtype))

    def steps():
        for _ in range(3):
            loss = (lib.relu(model(x)) + bias).sum()
            loss.backward()
        return loss
    return steps


@needs_torch
def test_dtype_upcast_names_where_float64_enters():
    (ours, reference) = (_model_with(torsh, "float64"), _model_with(torch_ref, "float64"))
    with profile(record_shapes=True) as prof:
        loss = ours()
    assert dtype_name(loss.dtype) == dtype_name(reference().dtype) == "float64"  # PyTorch promotes it too
    finding = _only(prof.advise(), "dtype_upcast")
    ev = finding.evidence
    assert ev["first_float64_op"] == "aten::add"
    assert ev["mixed_float32_float64_ops"] == {"aten::add": 3}
    doubles = [e for e in prof.events()  # 0-d float64 tensors (the gradient of a sum) promote nothing
               if any(t == "double" and shape != [] for t, shape in zip(e.input_types or (), e.input_shapes or ()))]
    assert ev["float64_calls"] == len(doubles) >= 6  # add and sum each step, plus the backward's ops
    assert ev["float64_calls"] < ev["float32_calls"]
    assert finding.time_at_stake_us == pytest.approx(sum(e.self_cpu_time_total for e in doubles) / 2)


def test_no_dtype_upcast_finding_in_a_float32_program():
    with profile(record_shapes=True) as prof:
        _model_with(torsh, "float32")()
    assert not prof.advise().of_kind("dtype_upcast")


def test_dtype_rule_says_what_it_needs():
    prof = _profiled(_tiny_loop)  # no shapes recorded, no dispatch decision made
    assert prof.advise().skipped["dtype_upcast"] == "needs record_shapes=True or kernel dispatch records"


# -- non-contiguous copies ----------------------------------------------------------------------

def test_noncontiguous_copies():
    x = torsh.randn(1024, 1024)
    prof = _profiled(lambda: [x.t().contiguous() for _ in range(4)], record_shapes=True)
    finding = _only(prof.advise(), "noncontiguous_copy")
    copies = [e for e in prof.events() if e.name == "aten::contiguous"]
    assert (finding.evidence["calls"], finding.evidence["ops"]) == (4, {"aten::contiguous": 4})
    assert finding.evidence["time_us"] == pytest.approx(sum(e.cpu_time_total for e in copies))
    assert finding.evidence["bytes_copied"] == 4 * 1024 * 1024 * 4


def test_no_copy_finding_when_tensors_are_already_contiguous():
    x = torsh.randn(384, 384)

    def body():
        for _ in range(4):
            x.contiguous()
        _big_products()
    assert not _profiled(body).advise().of_kind("noncontiguous_copy")


# -- allocator churn -----------------------------------------------------------------------------

def _steps(prof, count, body):
    for _ in range(count):
        body()
        prof.step()


def test_allocator_churn_counts_large_allocations_per_step():
    with profile(profile_memory=True, schedule=schedule(wait=0, warmup=1, active=3, repeat=1)) as prof:
        _steps(prof, 4, lambda: [torsh.empty(1 << 20) for _ in range(10)])  # 4 MB each
    finding = _only(prof.advise(), "allocator_churn")
    ev = finding.evidence
    assert (ev["steps"], ev["large_allocations"], ev["per_step"]) == (3, 30, 10.0)
    assert ev["bytes_per_step"] == 10 * (4 << 20) and ev["ops"] == {"aten::empty": 30}
    assert finding.time_at_stake_us == pytest.approx(120 * advise_module.FRESH_PAGES_US_PER_MB)
    assert "in-place" in finding.fix


def test_no_churn_finding_for_in_place_updates():
    x = torsh.randn(1 << 20)
    with profile(profile_memory=True, schedule=schedule(wait=0, warmup=1, active=3, repeat=1)) as prof:
        _steps(prof, 4, lambda: [x.mul_(1.0) for _ in range(10)])
    advice = prof.advise()
    assert "allocator_churn" not in advice.skipped and not advice.of_kind("allocator_churn")


def test_churn_rule_needs_memory_events():
    assert _profiled(_tiny_loop).advise().skipped["allocator_churn"] == "needs profile_memory=True"


# -- data-loading stalls -------------------------------------------------------------------------

class SlowDataset(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        time.sleep(0.005)
        return torsh.full((4,), float(index))


def test_data_loading_stall_of_a_slow_dataset():
    def body():
        for batch in DataLoader(SlowDataset(), batch_size=2):
            (batch * 2).sum()
    prof = _profiled(body)
    finding = _only(prof.advise(), "data_loading_stall")
    loads = [e for e in prof.events() if e.name == "DataLoader.__next__"]
    assert finding.evidence["calls"] == len(loads) == 5  # 4 batches, then the call that stops the loop
    assert finding.evidence["time_us"] == pytest.approx(sum(e.cpu_time_total for e in loads))
    assert finding.evidence["time_us"] >= 8 * 5000  # every item slept 5 ms
    assert "num_workers" in finding.fix


def test_no_stall_finding_when_batches_are_ready():
    data = TensorDataset(torsh.randn(64, 384))

    def body():
        for (batch,) in DataLoader(data, batch_size=32):
            for _ in range(12):  # loading stays a small share of the step even on a busy machine (4 gave 5% once)
                _big_products()
    assert not _profiled(body).advise().of_kind("data_loading_stall")


def test_time_between_ops_inside_steps():
    x = torsh.randn(64, 64)
    with profile(schedule=schedule(wait=0, warmup=1, active=3, repeat=1)) as prof:
        _steps(prof, 4, lambda: (time.sleep(0.01), x @ x))
    finding = _only(prof.advise(), "data_loading_stall")
    steps = [e for e in prof.events() if e.name.startswith("ProfilerStep#")]
    assert finding.evidence["steps"] == 3
    assert finding.evidence["outside_ops_us"] == pytest.approx(sum(s.self_cpu_time_total for s in steps))
    assert finding.evidence["outside_ops_us"] >= 3 * 10000


def test_no_gap_finding_when_steps_are_ops():
    with profile(schedule=schedule(wait=0, warmup=1, active=3, repeat=1)) as prof:
        _steps(prof, 4, _big_products)
    assert not prof.advise().of_kind("data_loading_stall")


# -- idle threads ---------------------------------------------------------------------------------

@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(advise_module, "_cores", lambda: 2)
    before = torsh.get_num_threads()
    yield
    torsh.set_num_threads(before)


def test_idle_threads_when_one_thread_is_set(two_cores):
    x = torsh.randn(1 << 20)
    torsh.set_num_threads(1)
    prof = _profiled(lambda: [torsh.sigmoid(x) for _ in range(4)])
    finding = _only(prof.advise(), "idle_threads")
    assert (finding.evidence["calls"], finding.evidence["ops"]) == (4, {"sigmoid": 4})
    assert finding.evidence["cause"] == "one thread (torsh.get_num_threads() == 1)"
    assert finding.time_at_stake_us == pytest.approx(_dispatch_us(prof, "sigmoid") / 2)
    assert "torsh.set_num_threads(2)" in finding.fix


def test_no_idle_threads_finding_with_threads(two_cores):
    x = torsh.randn(1 << 20)
    torsh.set_num_threads(2)
    prof = _profiled(lambda: [torsh.sigmoid(x) for _ in range(4)])
    assert {d["variant"] for e in prof.events() for d in e.dispatch} == {"pythran_omp"}
    assert not prof.advise().of_kind("idle_threads")


# -- the Advice object ----------------------------------------------------------------------------

def test_advice_sorted_by_time_at_stake_and_rendered(monkeypatch):
    monkeypatch.setattr(advise_module, "MIN_SHARE", 0.0)  # report both, whichever takes longer here
    x = torsh.randn(512, 512)

    def body():
        _tiny_loop()
        x.t().contiguous()
    advice = _profiled(body).advise()
    assert {"python_overhead", "noncontiguous_copy"} <= set(advice.kinds())
    stakes = [f.time_at_stake_us for f in advice]
    assert stakes == sorted(stakes, reverse=True) and len(advice) == len(stakes)
    assert advice[0].time_at_stake_us == max(stakes)
    bundle = advice._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"].startswith(f"torsh profiler advice: {len(advice)} finding")
    assert "cause:" in bundle["text/plain"] and "fix:" in bundle["text/plain"]
    assert bundle["text/html"].count("class='torsh-finding'") == len(advice)
    assert "Not checked: " in bundle["text/html"] and "allocator_churn (needs profile_memory=True)" in bundle["text/html"]


def test_advise_needs_a_finished_profile():
    prof = profile()
    with pytest.raises(RuntimeError, match=r"advise\(\): nothing was recorded"):
        prof.advise()


@needs_torch
def test_the_upcast_premise_is_pytorchs_promotion():
    # the rule's premise: a float32 tensor meeting a float64 one (not a 0-d one) computes in float64
    a, ra = pair([[1.0, 2.0]], "float32")
    b, rb = pair([3.0, 4.0], "float64")
    assert_close(a + b, ra + rb)
    s, rs = pair(3.0, "float64")
    assert_close(a + s, ra + rs)  # a 0-d float64 does not promote a float32 tensor
    big = torsh.randn(256, 256)
    with profile(record_shapes=True) as prof:
        for _ in range(3):
            big = big * s + a.sum()
    assert not prof.advise().of_kind("dtype_upcast")
