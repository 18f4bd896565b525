"""torch.profiler's remaining public names against PyTorch: ExecutionTraceObserver (standalone and given to a
profile), KinetoStepTracker, kineto_available and the optimizer re-exports."""
import json
import warnings

import pytest

import torsh
from helpers import torch_ref

pytestmark = pytest.mark.skipif(torch_ref is None, reason="compares with PyTorch")


def observer_states(lib, path):
    """is_registered/is_running/get_output_file_path through an observer's life."""
    et = lib.profiler.ExecutionTraceObserver()
    seen = [et.is_registered, et.is_running(), et.get_output_file_path()]
    assert et.register_callback(str(path)) is et
    seen += [et.is_registered, et.is_running(), et.get_output_file_path() == str(path)]
    et.start()
    seen.append(et.is_running())
    x = lib.ones(2, 3)
    lib.mm(x, x.t()).relu()
    et.stop()
    seen.append(et.is_running())
    et.unregister_callback()
    seen += [et.is_registered]
    return seen


def op_names(path):
    with open(path) as f:
        trace = json.load(f)
    return trace, [n["name"] for n in trace["nodes"]]


def test_execution_trace_observer_lifecycle_and_file(tmp_path):
    ours = observer_states(torsh, tmp_path / "ours.json")
    ref = observer_states(torch_ref, tmp_path / "ref.json")
    assert ours == ref
    trace, names = op_names(tmp_path / "ours.json")
    _, ref_names = op_names(tmp_path / "ref.json")
    assert set(trace) >= {"schema", "pid", "nodes", "start_ts", "finish_ts"}
    for name in ("aten::mm", "aten::relu", "[pytorch|profiler|execution_trace|process]"):
        assert name in names and name in ref_names
    mm = next(n for n in trace["nodes"] if n["name"] == "aten::mm")
    assert mm["inputs"]["shapes"] == [[2, 3], [3, 2]]
    parents = {n["id"] for n in trace["nodes"]}
    assert all(n["ctrl_deps"] in parents for n in trace["nodes"][1:])


def test_execution_trace_observer_given_to_profile(tmp_path):
    path = tmp_path / "et.json"
    et = torsh.profiler.ExecutionTraceObserver().register_callback(str(path))
    with torsh.profiler.profile(execution_trace_observer=et, record_shapes=True):
        torsh.ones(4).exp().sum()
    assert not et.is_running()
    et.unregister_callback()
    _, names = op_names(path)
    assert "aten::exp" in names and "aten::sum" in names


def test_execution_trace_from_env(monkeypatch, tmp_path):
    for lib in (torsh, torch_ref):
        monkeypatch.delenv("ENABLE_PYTORCH_EXECUTION_TRACE", raising=False)
        assert lib.profiler.ExecutionTraceObserver.build_execution_trace_obs_from_env() is None


def test_kineto_step_tracker_matches_pytorch():
    def scenario(lib):
        tracker = lib.profiler.KinetoStepTracker
        start = tracker.current_step()
        seen = []
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            tracker.init_step_count("torsh_test_a")
            seen.append(tracker.increment_step("torsh_test_a") - start)
            seen.append(tracker.increment_step("torsh_test_b") - start)  # b starts from the current step
            seen.append(tracker.increment_step("torsh_test_b") - start)
            seen.append(tracker.current_step() - start)
        seen.append(tracker.erase_step_count("torsh_test_a"))
        seen.append(tracker.erase_step_count("torsh_test_a"))
        tracker.erase_step_count("torsh_test_b")
        return seen
    assert scenario(torsh) == scenario(torch_ref)


def test_reexports():
    assert torsh.profiler.kineto_available() == torch_ref.profiler.kineto_available()
    assert torsh.profiler.Optimizer is torsh.optim.Optimizer
    assert torsh.profiler.register_optimizer_step_post_hook is torsh.optim.register_optimizer_step_post_hook
