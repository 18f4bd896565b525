"""Forked processes after threaded kernels: DataLoader workers and plain os.fork() children must
not hang on the parent's OpenMP runtime or thread pool, and one thread means no threaded variant.

Each scenario runs in a fresh Python process under a watchdog: it prints READY once its imports
are done (importing torsh may rebuild the compiled kernels, so that part gets a long allowance),
then must finish its work within WORK_SECONDS (it takes a few seconds; a hang is killed)."""
import json
import os
import queue
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref
from torsh.backend import dispatch

from fork_safety_workload import AdamDataset, adam_step, workload

TESTS = os.path.dirname(os.path.abspath(__file__))
IMPORT_SECONDS = 900
WORK_SECONDS = 60
SPAWNED_WORK_SECONDS = 600  # spawn/forkserver workers import torsh themselves

PRELUDE = f"""
import json, os, sys
sys.path.insert(0, {TESTS!r})
import torsh
from fork_safety_workload import AdamDataset, adam_step, workload
torsh.set_num_threads(2)
print("READY", flush=True)
"""


def run_watched(body, work_seconds=WORK_SECONDS):
    """Run PRELUDE + ``body`` in a fresh interpreter; the JSON it prints last, once it exits 0."""
    proc = subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=TESTS)
    lines = queue.Queue()
    threading.Thread(target=_forward_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        assert _next_line(lines, IMPORT_SECONDS) == "READY\n", proc.stderr.read()
        output = _next_line(lines, work_seconds)
        assert proc.wait(timeout=work_seconds) == 0, proc.stderr.read()
    except (queue.Empty, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        pytest.fail(f"hung: no result within {work_seconds} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert output, proc.stderr.read()
    return json.loads(output)


def _forward_lines(stream, lines):
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output


def _next_line(lines, seconds):
    line = lines.get(timeout=seconds)
    return line if line is not None else ""


def _reference_batches():
    """The batches PyTorch's DataLoader yields for AdamDataset (in process, no workers)."""
    loader = torch_ref.utils.data.DataLoader(AdamDataset("torch"), batch_size=2)
    return [batch.tolist() for batch in loader]


LOADER_AFTER_THREADED_PARENT = """
adam_step(torsh, 1.0)  # the parent runs the threaded Adam kernel first (its thread pool starts)
loader = torsh.utils.data.DataLoader(AdamDataset("torsh"), batch_size=2, num_workers=2,
                                     multiprocessing_context={context!r})
print(json.dumps([batch.tolist() for batch in loader]), flush=True)
"""


@needs_torch
def test_dataloader_workers_run_threaded_kernels_after_a_threaded_parent():
    """The hang: workers forked after the parent's Adam step ran an Adam step and a large op themselves."""
    batches = run_watched(LOADER_AFTER_THREADED_PARENT.format(context="fork"))
    np.testing.assert_allclose(batches, _reference_batches(), rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_dataloader_spawn_and_forkserver_contexts(context):
    batches = run_watched(LOADER_AFTER_THREADED_PARENT.format(context=context), SPAWNED_WORK_SECONDS)
    np.testing.assert_allclose(batches, _reference_batches(), rtol=1e-6)


PLAIN_FORK = """
parent = workload(torsh)  # OpenMP kernels, pool threads and BLAS threads all start here
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read_end)
    try:
        child = workload(torsh)
        os.write(write_end, json.dumps(child).encode())
        code = 0
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    os._exit(code)
os.close(write_end)
with os.fdopen(read_end) as pipe:
    child = json.loads(pipe.read() or "null")
_, status = os.waitpid(pid, 0)
print(json.dumps({"parent": parent, "child": child, "status": status}), flush=True)
"""


@needs_torch
def test_forked_child_runs_threaded_kernels_and_exits_zero():
    result = run_watched(PLAIN_FORK)
    assert result["status"] == 0, "the forked child failed (its traceback is on stderr)"
    expected = workload(torch_ref)
    for who in ("parent", "child"):
        assert result[who].keys() == expected.keys()
        for name, value in expected.items():
            np.testing.assert_allclose(result[who][name], value, rtol=1e-5, atol=1e-3, err_msg=f"{who} {name}")


def _records_of_threaded_work():
    """Dispatch records of kernels whose sizes are above their parallel thresholds."""
    rng = np.random.default_rng(3)
    x = torsh.tensor(rng.standard_normal((512, 256)).astype(np.float32), requires_grad=True)
    with dispatch.record() as records:
        adam_step(torsh, 1.0)
        y = torsh.tanh(x) * 2 + torsh.ones(512, 256)
        loss = torsh.nn.functional.cross_entropy(y, torsh.zeros(512, dtype=torsh.int64))
        loss.backward()
        torsh.nn.functional.layer_norm(x.detach(), (256,))
        torsh.nn.functional.conv2d(torsh.ones(8, 3, 32, 32), torsh.ones(4, 3, 3, 3), padding=1)
        _ = torsh.full((3_000_000,), 1.0) + torsh.full((3_000_000,), 2.0)
    return records


def test_one_thread_never_dispatches_an_openmp_variant(num_threads):
    records = _records_of_threaded_work()
    variants = {r.variant for r in records}
    if num_threads == 1:
        assert records and "pythran_omp" not in variants, [r for r in records if r.variant == "pythran_omp"]
        assert "pythran_simd" in variants  # the compiled kernels still run, on one thread
        assert any("one thread" in r.reason for r in records)
    else:
        assert "pythran_omp" in variants  # the same work takes threaded variants at two threads


@needs_torch
def test_one_thread_results_match_torch(num_threads):
    ours = adam_step(torsh, 1.0, grad=0.25, numel=1_000_001)
    ref = adam_step(torch_ref, 1.0, grad=0.25, numel=1_000_001)
    assert_close(ours, ref)


@needs_torch
@pytest.mark.parametrize("make", [
    lambda lib: lib.utils.data.DataLoader(range(4), multiprocessing_context="spawn"),
    lambda lib: lib.utils.data.DataLoader(range(4), num_workers=2, multiprocessing_context="threads"),
    lambda lib: lib.utils.data.DataLoader(range(4), num_workers=2, multiprocessing_context=3),
])
def test_multiprocessing_context_is_checked_as_pytorch(make):
    check_same_error(make)


@needs_torch
def test_multiprocessing_context_names_become_contexts():
    import multiprocessing
    for context in ("fork", "spawn", multiprocessing.get_context("forkserver")):
        ours = torsh.utils.data.DataLoader(range(4), num_workers=1, multiprocessing_context=context)
        ref = torch_ref.utils.data.DataLoader(range(4), num_workers=1, multiprocessing_context=context)
        assert ours.multiprocessing_context.get_start_method() == ref.multiprocessing_context.get_start_method()
    assert torsh.utils.data.DataLoader(range(4), num_workers=1).multiprocessing_context is None
