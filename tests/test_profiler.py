"""torsh.profiler: what it records (ops, backward nodes, ranges, dispatch, memory, threads) and its tables."""
import gc
import json
import re
import threading

import numpy as np
import pytest

import torsh
from torsh import profiler
from torsh.backend import dispatch, memory, ranges
from torsh.profiler import ProfilerActivity, profile, record_function

from helpers import needs_torch, torch_ref
from test_profiler_trace_format import check_trace


def _counts(prof, names):
    averages = {avg.key: avg.count for avg in prof.key_averages()}
    return {name: averages.get(name, 0) for name in names}


def _small_program(lib):
    a = lib.ones(3, 4)
    b = lib.full((3, 4), 2.0)
    for _ in range(3):
        a + b
    w = lib.ones(4, 5)
    lib.mm(a, w)
    lib.mm(b, w)
    a.sum()
    lib.exp(a)
    a.mul(b)


# -- what is recorded ---------------------------------------------------------------------------------

def test_key_averages_counts_equal_the_ops_called():
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _small_program(torsh)
    counts = _counts(prof, ["aten::add", "aten::mm", "aten::sum", "aten::exp", "aten::mul", "aten::ones"])
    assert counts == {"aten::add": 3, "aten::mm": 2, "aten::sum": 1, "aten::exp": 1, "aten::mul": 1,
                      "aten::ones": 2}


@needs_torch
def test_key_averages_counts_match_pytorch_for_the_same_code():
    names = ["aten::add", "aten::mm", "aten::sum", "aten::exp", "aten::mul"]
    with profile() as prof:
        _small_program(torsh)
    with torch_ref.profiler.profile() as reference:
        _small_program(torch_ref)
    expected = {name: 0 for name in names}
    for avg in reference.key_averages():
        if avg.key in expected:
            expected[avg.key] = avg.count
    assert _counts(prof, names) == expected


@needs_torch
def test_layers_record_their_functional_op_like_pytorch():
    """Conv, pooling, dropout and activation modules call torsh.nn.functional by name at call time,
    so the profiler's wrappers see them (they were invisible when modules kept the function itself)."""
    names = ["aten::conv2d", "aten::max_pool2d", "aten::sigmoid", "aten::dropout", "aten::conv_transpose2d"]

    def program(lib):
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Sigmoid(), nn.Dropout(0.0),
                              nn.ConvTranspose2d(2, 1, 2))
        model(lib.ones(1, 1, 6, 6))

    with profile() as prof:
        program(torsh)
    with torch_ref.profiler.profile() as reference:
        program(torch_ref)
    theirs = {avg.key: avg.count for avg in reference.key_averages()}
    assert _counts(prof, names) == {name: theirs.get(name, 0) for name in names} == dict.fromkeys(names, 1)


def test_events_nest_and_self_time_excludes_children():
    x = torsh.ones(8, 8)
    with profile() as prof:
        with record_function("outer"):
            y = x + x
            with record_function("inner"):
                y = y * 2
                y.exp()
    events = prof.events()
    outer = next(e for e in events if e.name == "outer")
    inner = next(e for e in events if e.name == "inner")
    assert inner.cpu_parent is outer
    assert [c.name for c in inner.cpu_children] == ["aten::mul", "aten::exp"]
    assert [c.name for c in outer.cpu_children] == ["aten::add", "inner"]
    children_total = sum(c.cpu_time_total for c in outer.cpu_children)
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total - children_total)
    assert outer.cpu_time_total >= children_total
    for event in events:
        assert event.self_cpu_time_total >= -1e-6
        if event.cpu_parent is not None:
            assert event.time_range.start >= event.cpu_parent.time_range.start
            assert event.time_range.end <= event.cpu_parent.time_range.end


def test_key_averages_totals_add_up():
    x = torsh.ones(4, 4)
    with profile() as prof:
        for _ in range(5):
            x.add(x)
    events = [e for e in prof.events() if e.name == "aten::add"]
    (avg,) = [a for a in prof.key_averages() if a.key == "aten::add"]
    assert avg.count == 5
    assert avg.cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in events))
    assert avg.cpu_time == pytest.approx(avg.cpu_time_total / 5)


def test_operators_methods_inplace_and_functions_are_named_like_aten():
    a = torsh.ones(2, 2)
    with profile() as prof:
        a @ a
        2 * a
        a.add_(1)
        a += 1
        torsh.relu(a)
        a[0]
        a.float()
    names = {e.name for e in prof.events()}
    assert {"aten::matmul", "aten::mul", "aten::add_", "aten::relu", "aten::index", "aten::to"} <= names


def test_ops_called_inside_an_op_nest_under_it():
    x = torsh.ones(3, 3, requires_grad=True)
    with profile() as prof:
        x.exp().sum().backward()
    events = prof.events()
    node = next(e for e in events if e.name == "ExpBackward0")
    # ExpBackward0 computes grad * result with torsh ops: they are its children
    assert "aten::mul" in [c.name for c in node.cpu_children]


def test_backward_nodes_are_linked_to_their_forward_ops():
    x = torsh.ones(3, 4, requires_grad=True)
    w = torsh.ones(4, 2, requires_grad=True)
    with profile() as prof:
        y = torsh.mm(x, w).relu().sum()
        y.backward()
    events = prof.events()
    by_name = {}
    for e in events:
        by_name.setdefault(e.name, e)
    mm, relu, total = by_name["aten::mm"], by_name["aten::relu"], by_name["aten::sum"]
    assert mm.sequence_nr == y.grad_fn.next_functions[0][0].next_functions[0][0]._sequence_nr
    assert total.sequence_nr == y.grad_fn._sequence_nr
    for forward, backward_name in ((mm, "MmBackward0"), (relu, "ReluBackward0"), (total, "SumBackward0")):
        backward = by_name[backward_name]
        assert backward.sequence_nr == forward.sequence_nr >= 0
        assert backward.forward_op is forward
        assert backward.fwd_thread == forward.thread
        outer = by_name["autograd::engine::evaluate_function: " + backward_name]
        assert backward.cpu_parent is outer
    assert by_name["torch::autograd::AccumulateGrad"].is_backward
    trace = prof.trace()
    flows = [e for e in trace["traceEvents"] if e["ph"] in ("s", "f")]
    assert len(flows) == 6  # one arrow per linked node: start at the forward op, finish at the node
    xs = {(e["tid"], e["ts"]): e for e in trace["traceEvents"] if e["ph"] == "X"}
    for flow in flows:
        assert flow["cat"] == "fwdbwd"
        target = xs[(flow["tid"], flow["ts"])]
        expected = {"s": ("aten::mm", "aten::relu", "aten::sum"),
                    "f": ("MmBackward0", "ReluBackward0", "SumBackward0")}[flow["ph"]]
        assert target["name"] in expected or target["name"].startswith("autograd::engine")


def test_record_shapes_and_input_types():
    a = torsh.ones(2, 3)
    b = torsh.ones(3, 4, dtype=torsh.float64)
    with profile(record_shapes=True) as prof:
        a.to(torsh.float64) @ b
        a.add(1)
    event = next(e for e in prof.events() if e.name == "aten::matmul")
    assert event.input_shapes == [[2, 3], [3, 4]]
    assert event.input_types == ["double", "double"]
    add = next(e for e in prof.events() if e.name == "aten::add")
    assert add.input_shapes == [[2, 3], []] and add.input_types == ["float", "Scalar"]
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert any(avg.key == "aten::matmul" and avg.input_shapes == [[2, 3], [3, 4]] for avg in by_shape)
    table = by_shape.table(sort_by="count")
    assert "Input Shapes" in table and "[[2, 3], [3, 4]]" in table


def test_group_by_input_shape_splits_rows():
    with profile(record_shapes=True) as prof:
        torsh.ones(2, 2) + torsh.ones(2, 2)
        torsh.ones(5) + torsh.ones(5)
        torsh.ones(5) + torsh.ones(5)
    rows = [(avg.input_shapes, avg.count) for avg in prof.key_averages(group_by_input_shape=True)
            if avg.key == "aten::add"]
    assert sorted(rows) == [([[2, 2], [2, 2]], 1), ([[5], [5]], 2)]


def test_flops_for_matmul_family():
    a, b = torsh.ones(6, 7), torsh.ones(7, 3)
    batch = torsh.ones(4, 6, 7)
    with profile(with_flops=True) as prof:
        torsh.mm(a, b)
        a @ b
        torsh.bmm(batch, torsh.ones(4, 7, 3))
        a.exp()
    flops = {}
    for e in prof.events():
        flops.setdefault(e.name, e.flops)
    assert flops["aten::mm"] == 2 * 6 * 7 * 3
    assert flops["aten::matmul"] == 2 * 6 * 7 * 3
    assert flops["aten::bmm"] == 2 * 4 * 6 * 7 * 3
    assert flops["aten::exp"] == 0
    table = prof.key_averages().table(sort_by="flops")
    assert "Total FLOPs" in table
    trace_mm = next(e for e in prof.trace()["traceEvents"] if e.get("name") == "aten::mm")
    assert trace_mm["args"]["flops"] == 252


@needs_torch
def test_flops_equal_pytorch_counts():
    def run(lib):
        lib.mm(lib.ones(6, 7), lib.ones(7, 3))
        lib.bmm(lib.ones(4, 6, 7), lib.ones(4, 7, 3))
    with profile(with_flops=True) as prof:
        run(torsh)
    with torch_ref.profiler.profile(with_flops=True) as reference:
        run(torch_ref)
    ours = {a.key: a.flops for a in prof.key_averages() if a.key in ("aten::mm", "aten::bmm")}
    theirs = {a.key: a.flops for a in reference.key_averages() if a.key in ("aten::mm", "aten::bmm")}
    assert ours == theirs


def test_dispatch_decisions_are_event_arguments():
    x = torsh.ones(1000, dtype=torsh.float32)
    with dispatch.record() as reference:
        x.sigmoid()
    with profile() as prof:
        x.sigmoid()
    (expected,) = [r for r in reference if r.op == "sigmoid"]
    event = next(e for e in prof.events() if e.name == "aten::sigmoid")
    (decision,) = event.dispatch
    assert (decision["op"], decision["variant"], decision["reason"], decision["numel"], decision["dtype"]) == (
        expected.op, expected.variant, expected.reason, expected.numel, expected.dtype)
    variant, reason = dispatch.choose("sigmoid", 1000, np.dtype(np.float32))
    assert decision["variant"] == variant and decision["reason"] == reason
    trace_event = next(e for e in prof.trace()["traceEvents"] if e.get("name") == "aten::sigmoid")
    assert trace_event["args"]["Dispatch"][0]["variant"] == variant


def test_dispatch_can_be_left_out():
    x = torsh.ones(1000)
    with profile(with_dispatch=False) as prof:
        x.sigmoid()
    assert all(not e.dispatch for e in prof.events())


def test_memory_events_and_counter():
    gc.collect()
    with profile(profile_memory=True) as prof:
        t = torsh.zeros(250, 4)  # 4000 bytes of float32
        live_after_alloc = memory.live_bytes()
        del t
        gc.collect()
    trace = prof.trace()["traceEvents"]
    instants = [e for e in trace if e["ph"] == "i" and e["name"] == "[memory]"]
    allocs = [e for e in instants if e["args"]["Bytes"] == 4000]
    frees = [e for e in instants if e["args"]["Bytes"] == -4000]
    assert len(allocs) == 1 and len(frees) == 1
    assert allocs[0]["args"]["Op"] == "aten::zeros"
    assert allocs[0]["args"]["Total Allocated"] == live_after_alloc
    assert frees[0]["args"]["Addr"] == allocs[0]["args"]["Addr"]
    assert frees[0]["args"]["Total Allocated"] == live_after_alloc - 4000
    counters = [e for e in trace if e["ph"] == "C"]
    assert [c["args"]["Live Bytes"] for c in counters] == [e["args"]["Total Allocated"] for e in instants]
    zeros = next(a for a in prof.key_averages() if a.key == "aten::zeros")
    assert zeros.self_cpu_memory_usage == 4000
    assert "CPU Mem" in prof.key_averages().table()


def test_memory_counting_starts_when_the_profiler_is_entered_not_inside_the_first_op():
    """profile_memory=True turns memory counting on; its one-off start (gc.collect, a scan of all
    objects) must not be charged to whichever op runs first (it made tutorial 04's first
    aten::index ~90% of the table). Fresh interpreter: counting may already be on in this one."""
    import subprocess
    import sys
    code = """if True:
        import time, torsh
        from torsh.backend import memory
        from torsh.profiler import profile
        assert not memory.counting
        original, started = memory.start_counting, []
        def timed_start(*args, **kwargs):
            begin = time.perf_counter_ns()
            original(*args, **kwargs)
            if memory.counting and not started:
                started.append((begin, time.perf_counter_ns()))
        memory.start_counting = timed_start
        a = torsh.ones(64, 64)
        with profile(profile_memory=True) as prof:
            for _ in range(3):
                a.t()
        ops = sorted((e for e in prof.events() if e.name == "aten::t"), key=lambda e: e.time_range.start)
        begin, end = started[0]
        print(len(ops), end <= ops[0].time_range.start * 1000, sum(1 for e in prof.events()
              if e.time_range.start * 1000 <= begin <= e.time_range.end * 1000))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # three calls recorded; counting started before the first began, and inside no recorded event
    assert out.stdout.split() == ["3", "True", "0"]


def test_memory_totals_include_children():
    with profile(profile_memory=True) as prof:
        with record_function("block"):
            keep = [torsh.ones(100), torsh.ones(50)]  # 400 + 200 bytes
    block = next(e for e in prof.events() if e.name == "block")
    assert block.cpu_memory_usage == 600
    assert block.self_cpu_memory_usage == 0
    del keep


def test_ranges_from_library_code_and_record_function():
    x = torsh.ones(3)

    @record_function("decorated")
    def work():
        return x + 1

    with profile() as prof:
        with ranges.span("DataLoader.__next__"):
            x * 2
        with ranges.span("Optimizer.step#SGD.step"):
            x.sub_(0)
        work()
    events = {e.name: e for e in prof.events()}
    for name, child in (("DataLoader.__next__", "aten::mul"), ("Optimizer.step#SGD.step", "aten::sub_"),
                        ("decorated", "aten::add")):
        assert events[name].is_user_annotation
        assert [c.name for c in events[name].cpu_children] == [child]
    cats = {e["name"]: e.get("cat") for e in prof.trace()["traceEvents"] if e["ph"] == "X"}
    assert cats["DataLoader.__next__"] == "user_annotation" and cats["aten::mul"] == "cpu_op"


def test_record_function_without_profiler_is_a_no_op():
    with record_function("nothing listens"):
        y = torsh.ones(2) + 1
    assert y.tolist() == [2.0, 2.0]


def test_ops_on_other_threads_land_on_their_own_tid():
    results = {}

    def worker(name):
        results[name] = threading.get_native_id()
        with record_function(name):
            for _ in range(4):
                torsh.ones(10) * 3

    with profile() as prof:
        threads = [threading.Thread(target=worker, args=(f"worker{i}",), name=f"loader-{i}") for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        torsh.ones(10) - 1
    events = prof.events()
    main_tid = threading.get_native_id()
    for name, tid in results.items():
        (scope,) = [e for e in events if e.name == name]
        assert scope.thread == tid != main_tid
        muls = [c for c in scope.cpu_children if c.name == "aten::mul"]
        assert len(muls) == 4 and all(m.thread == tid for m in muls)
    assert next(e for e in events if e.name == "aten::sub").thread == main_tid
    trace = prof.trace()
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    for i in range(3):
        assert names[results[f"worker{i}"]].startswith(f"loader-{i}")
    check_trace(trace)


# -- the Chrome trace ----------------------------------------------------------------------------

def _training_like_step():
    x = torsh.randn(16, 8)
    w = torsh.randn(8, 4, requires_grad=True)
    with record_function("forward"):
        loss = (x @ w).tanh().pow(2).mean()
    with record_function("backward"):
        loss.backward()
    with ranges.span("Optimizer.step#SGD.step"):
        with torsh.no_grad():
            w.sub_(w.grad * 0.1)


def test_chrome_trace_is_valid_and_nested(tmp_path):
    with profile(record_shapes=True, profile_memory=True, with_stack=True, with_flops=True) as prof:
        for _ in range(2):
            _training_like_step()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    check_trace(trace)
    phases = {e["ph"] for e in trace["traceEvents"]}
    assert {"X", "M", "C", "i", "s", "f"} <= phases
    assert trace["displayTimeUnit"] == "ms" and isinstance(trace["baseTimeNanoseconds"], int)
    x_names = [e["name"] for e in trace["traceEvents"] if e["ph"] == "X"]
    assert x_names.count("forward") == 2 and x_names.count("aten::tanh") == 2
    assert len(x_names) == len(prof.events())


@needs_torch
def test_chrome_trace_passes_pytorchs_trace_validator(tmp_path):
    from torch.profiler._trace_validator import validate_trace
    with profile(record_shapes=True, profile_memory=True) as prof:
        _training_like_step()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    passed, violations = validate_trace(str(path))
    assert passed, violations


def test_gzip_export(tmp_path):
    import gzip
    with profile() as prof:
        torsh.ones(3) + 1
    path = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(path))
    trace = json.loads(gzip.decompress(path.read_bytes()))
    check_trace(trace)
    assert any(e.get("name") == "aten::add" for e in trace["traceEvents"])


# -- tables ------------------------------------------------------------------------------------

def test_table_layout():
    with profile(profile_memory=True) as prof:
        for _ in range(3):
            torsh.ones(4) + 1
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=2)
    lines = table.rstrip("\n").split("\n")
    assert re.fullmatch(r"(-+  )+", lines[0]) and lines[0] == lines[2] == lines[-2]
    headers = re.split(r"\s{2,}", lines[1].strip())
    assert headers == ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "CPU Mem",
                       "Self CPU Mem", "# of Calls"]
    assert len(lines) == 3 + 2 + 2  # header block, two rows (row_limit), separator and total
    assert re.fullmatch(r"Self CPU time total: \d+\.\d{3}(us|ms|s)", lines[-1])
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[3:5]]
    assert sorted(row[0] for row in rows) == ["aten::add", "aten::ones"]
    for row in rows:
        assert row[-1] == "3" and row[1].endswith("%") and re.fullmatch(r"\d+\.\d{3}(us|ms)", row[2])
        assert row[-3:-1] == ["48 B", "48 B"]  # three results of 4 floats each


@needs_torch
def test_table_headers_match_pytorch():
    def run(lib):
        lib.ones(4) + 1
    for options in ({}, {"profile_memory": True}, {"record_shapes": True}):
        with profile(**options) as prof:
            run(torsh)
        with torch_ref.profiler.profile(**options) as reference:
            run(torch_ref)
        kwargs = {"group_by_input_shape": True} if options.get("record_shapes") else {}
        ours = prof.key_averages(**kwargs).table(sort_by="cpu_time_total").split("\n")[1]
        theirs = reference.key_averages(**kwargs).table(sort_by="cpu_time_total").split("\n")[1]
        assert re.split(r"\s{2,}", ours.strip()) == re.split(r"\s{2,}", theirs.strip())


def test_table_sort_and_bad_sort_key():
    with profile() as prof:
        torsh.ones(3) + 1
        torsh.ones(3) + 1
    averages = prof.key_averages()
    table = averages.table(sort_by="count", row_limit=1)
    assert "aten::ones" in table.split("\n")[3]  # two ones per add -> most calls
    with pytest.raises(ValueError, match="sort_by"):
        averages.table(sort_by="no_such_column")
    # GPU-minded PyTorch code sorts by device columns: on the CPU they are all zero, the table still prints
    assert "aten::ones" in averages.table(sort_by="cuda_time_total")
    assert "aten::add" in averages.table(sort_by="self_cuda_memory_usage")


# -- stacks, memory timeline -------------------------------------------------------------------------

def test_with_stack_and_export_stacks(tmp_path):
    def my_model_forward(x):
        return (x * 3).sum()

    with profile(with_stack=True) as prof:
        for _ in range(50):
            my_model_forward(torsh.ones(100, 100))
    mul = next(e for e in prof.events() if e.name == "aten::mul")
    assert "my_model_forward" in mul.stack[0] and "test_profiler.py" in mul.stack[0]
    assert not any("torsh/profiler" in frame for frame in mul.stack)
    path = tmp_path / "stacks.txt"
    prof.export_stacks(str(path), "self_cpu_time_total")
    lines = path.read_text().splitlines()
    assert lines, "some op took at least 1us"
    for line in lines:
        stack, value = line.rsplit(" ", 1)
        assert int(value) > 0
        assert stack.split(";")[-1].startswith("aten::")
    assert any("my_model_forward;aten::mul" in line for line in lines)
    grouped = prof.key_averages(group_by_stack_n=1)
    assert any(a.key == "aten::mul" and "my_model_forward" in a.stack[0] for a in grouped)
    assert "Source Location" in grouped.table()


def test_export_memory_timeline(tmp_path):
    with profile(profile_memory=True) as prof:
        a = torsh.ones(1000)
        b = torsh.ones(2000)
        del a
        gc.collect()
    json_path = tmp_path / "memory.json"
    prof.export_memory_timeline(str(json_path))
    timeline = json.loads(json_path.read_text())
    assert len(timeline["times_us"]) == len(timeline["live_bytes"]) == len(timeline["events"])
    kinds_bytes = [(e["kind"], e["bytes"]) for e in timeline["events"]]
    assert ("alloc", 4000) in kinds_bytes and ("alloc", 8000) in kinds_bytes and ("free", -4000) in kinds_bytes
    assert timeline["peak_bytes"] >= timeline["start_bytes"] + 12000
    html_path = tmp_path / "memory.html"
    prof.export_memory_timeline(str(html_path))
    assert "<svg" in html_path.read_text()
    del b


# -- schedule and the trace handler --------------------------------------------------------------------

def test_schedule_records_active_steps_and_writes_one_trace_per_cycle(tmp_path):
    ready = []

    def on_ready(prof):
        ready.append(sorted(e.name for e in prof.events() if e.name.startswith("ProfilerStep#")))
        profiler.tensorboard_trace_handler(str(tmp_path), worker_name="w")(prof)

    with profile(schedule=profiler.schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=on_ready) as prof:
        for _ in range(10):
            torsh.ones(2) + 1
            prof.step()
    assert ready == [["ProfilerStep#2", "ProfilerStep#3"], ["ProfilerStep#6", "ProfilerStep#7"]]
    files = sorted(tmp_path.glob("w.*.pt.trace.json"))
    assert len(files) == 2
    for path in files:
        trace = json.loads(path.read_text())
        check_trace(trace)
        assert sum(e["name"] == "aten::add" for e in trace["traceEvents"] if e["ph"] == "X") == 2


def test_schedule_function_matches_pytorch():
    s = profiler.schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    A = profiler.ProfilerAction
    assert [s(i) for i in range(7)] == [A.NONE, A.NONE, A.WARMUP, A.RECORD, A.RECORD_AND_SAVE, A.NONE, A.NONE]
    with pytest.raises(AssertionError, match="Invalid profiler schedule"):
        profiler.schedule(wait=0, warmup=0, active=0)


def test_without_schedule_on_trace_ready_runs_once_at_stop(tmp_path):
    calls = []
    with profile(on_trace_ready=calls.append) as prof:
        torsh.ones(2) + 1
        prof.step()
        torsh.ones(2) + 1
    assert calls == [prof]
    assert _counts(prof, ["aten::add"]) == {"aten::add": 2}


def test_acc_events_keeps_every_cycle():
    with profile(schedule=profiler.schedule(wait=0, warmup=1, active=1, repeat=3), acc_events=True) as prof:
        for _ in range(6):
            torsh.ones(2) + 1
            prof.step()
    assert _counts(prof, ["aten::add"]) == {"aten::add": 3}


# -- instrumentation comes off ------------------------------------------------------------------------

def test_original_ops_are_restored_after_profiling():
    before = (torsh.Tensor.__add__, torsh.Tensor.add_, torsh.add, torsh.mm, torsh.Tensor.sum)
    with profile():
        assert torsh.Tensor.__add__ is not before[0]
        assert torsh.add is not before[2]
    assert (torsh.Tensor.__add__, torsh.Tensor.add_, torsh.add, torsh.mm, torsh.Tensor.sum) == before
    from torsh.backend import events
    assert not any(events.listening(t) for t in ("range", "autograd", "dispatch", "memory"))


def test_an_op_that_raises_is_recorded_and_profiling_stays_consistent():
    with profile() as prof:
        with pytest.raises(RuntimeError):
            torsh.ones(2, 3) @ torsh.ones(2, 3)
        torsh.ones(2) + 1
    matmul = next(e for e in prof.events() if e.name == "aten::matmul")
    assert matmul.cpu_parent is None
    assert next(e for e in prof.events() if e.name == "aten::add").cpu_parent is None


def test_exception_inside_the_block_still_stops_the_profiler():
    with pytest.raises(ZeroDivisionError):
        with profile() as prof:
            torsh.ones(2) + 1
            1 / 0
    assert _counts(prof, ["aten::add"]) == {"aten::add": 1}
    with profile():  # a new profiler can start
        pass


# -- bad input ------------------------------------------------------------------------------------------

def test_nested_profilers_are_refused():
    with profile():
        inner = profile()
        with pytest.raises(RuntimeError, match="another profiler is already running"):
            inner.start()
        torsh.ones(1) + 1
    with profile():
        pass


def test_step_outside_a_running_profiler():
    prof = profile(schedule=profiler.schedule(wait=0, warmup=1, active=1))
    with pytest.raises(RuntimeError, match="step\\(\\) called on a profiler that is not running"):
        prof.step()


def test_results_before_any_run_are_refused(tmp_path):
    prof = profile()
    for call in (prof.events, prof.key_averages, lambda: prof.export_chrome_trace(str(tmp_path / "t.json"))):
        with pytest.raises(RuntimeError, match="nothing was recorded"):
            call()
    assert not (tmp_path / "t.json").exists()
    with profile() as running:
        with pytest.raises(RuntimeError, match="still recording"):
            running.events()


def test_export_with_no_events_writes_a_valid_empty_trace(tmp_path):
    with profile() as prof:
        pass
    path = tmp_path / "empty.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    check_trace(trace)
    assert [e for e in trace["traceEvents"] if e["ph"] != "M"] == []
    assert prof.key_averages().table() == ""


def test_unwritable_path_raises_and_leaves_no_partial_file(tmp_path):
    with profile() as prof:
        torsh.ones(2) + 1
    with pytest.raises(OSError, match="cannot write"):
        prof.export_chrome_trace(str(tmp_path / "no_such_dir" / "trace.json"))
    with pytest.raises(OSError, match="directory"):
        prof.export_chrome_trace(str(tmp_path))
    existing = tmp_path / "keep.json"
    existing.write_text("previous")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not _can_write(locked):  # root ignores permissions
            with pytest.raises(OSError, match="cannot write"):
                prof.export_chrome_trace(str(locked / "trace.json"))
            assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
    assert existing.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _can_write(directory):
    probe = directory / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def test_exports_that_need_an_option_say_so(tmp_path):
    with profile() as prof:
        torsh.ones(2) + 1
    with pytest.raises(RuntimeError, match="with_stack=True"):
        prof.export_stacks(str(tmp_path / "s.txt"))
    with pytest.raises(RuntimeError, match="profile_memory=True"):
        prof.export_memory_timeline(str(tmp_path / "m.json"))
    with pytest.raises(RuntimeError, match="record_shapes=True"):
        prof.key_averages(group_by_input_shape=True)
    assert list(tmp_path.iterdir()) == []


def test_non_cpu_activities_warn():
    with pytest.warns(UserWarning, match="CPU activity only"):
        prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
    assert prof.activities == {ProfilerActivity.CPU}


def test_an_alias_calling_its_op_counts_once():
    x = torsh.ones(3)
    with profile() as prof:
        torsh.relu(x)
        x.relu()
        torsh.add(x, 1)
    assert _counts(prof, ["aten::relu", "aten::add"]) == {"aten::relu": 2, "aten::add": 1}


def test_nn_functional_and_modules_are_recorded():
    import torsh.nn as nn
    import torsh.nn.functional as F
    layer = nn.Linear(4, 3)
    x = torsh.ones(2, 4)
    with profile(with_flops=True) as prof:
        layer(x).sum().backward()
        F.relu(x)
    linear = next(e for e in prof.events() if e.name == "aten::linear")
    assert linear.flops == 2 * 2 * 4 * 3
    assert _counts(prof, ["aten::linear", "aten::relu"]) == {"aten::linear": 1, "aten::relu": 1}
    assert layer.weight.grad is not None


def test_dataloader_fetches_are_ranges():
    from torsh.utils.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(torsh.arange(10.0)), batch_size=4)
    with profile() as prof:
        batches = [batch for (batch,) in loader]
    assert len(batches) == 3
    fetches = [e for e in prof.events() if e.name == "DataLoader.__next__"]
    assert len(fetches) == 3 + 1  # the last call finds the loader exhausted (PyTorch counts it too)
    assert all(e.is_user_annotation for e in fetches)
    assert any(c.name == "aten::stack" for e in fetches for c in e.cpu_children)  # default collate
