"""Dispatch decisions recorded by a profile are the ones ``dispatch.record()`` sees.

A profile that is the only listener appends raw decisions to its per-thread log (``dispatch.RAW_DECISION``) and
builds the DispatchRecords when read; the optimizers' direct kernel calls record the decision ``dispatch.call``
would have made. These tests check both against the plain subscriber path, and the step's results against an
unrecorded step and PyTorch.
"""
import numpy as np
import pytest
import torch

import torsh
from torsh.backend import dispatch, events, threads
from torsh.profiler import profile


def _facts(records):
    return [(r.op, r.variant, r.reason, r.numel, r.dtype) for r in records]


def _profiled_decisions(prof):
    decisions = [d for e in prof.events() for d in (e.dispatch or ())]
    decisions += [d for _, _, d in prof._results.orphan_dispatch]
    return [(d["op"], d["variant"], d["reason"], d["numel"], d["dtype"]) for d in decisions]


def _model_and_step(lib, optimizer, dtype):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(40, 300), lib.nn.ReLU(), lib.nn.Linear(300, 7)).to(dtype)
    opt = optimizer(lib, model.parameters())
    x = lib.arange(8 * 40, dtype=dtype).reshape(8, 40).sin()
    target = lib.arange(8) % 7

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x).sigmoid(), target)
        loss.backward()
        opt.step()
        return loss
    return model, step


OPTIMIZERS = {
    "sgd_momentum": lambda lib, params: lib.optim.SGD(params, lr=0.1, momentum=0.9),
    "sgd": lambda lib, params: lib.optim.SGD(params, lr=0.1),
    "adam": lambda lib, params: lib.optim.Adam(params, lr=0.01),
    "adamw_amsgrad": lambda lib, params: lib.optim.AdamW(params, lr=0.01, amsgrad=True),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_profile_records_the_decisions_a_subscriber_sees(name, dtype):
    model, step = _model_and_step(torsh, OPTIMIZERS[name], getattr(torsh, dtype))
    step()
    with dispatch.record() as alone:  # the subscriber path
        step()
    with profile() as prof:  # the profile alone: raw decisions
        step()
    with profile() as both, dispatch.record() as beside:  # two listeners: DispatchRecords for both
        step()
    # a profile runs some ops otherwise (cross_entropy composed, as PyTorch's rows show it): compare profiles
    expected = sorted(_facts(beside))
    assert any(op.endswith("_step") for op, *_ in expected)  # the optimizer's decisions are among them
    assert sorted(_profiled_decisions(prof)) == expected
    assert sorted(_profiled_decisions(both)) == expected
    optimizer_ops = [f for f in _facts(alone) if f[0].endswith("_step")]
    assert [f for f in _facts(beside) if f[0].endswith("_step")] == optimizer_ops
    assert all(r.seconds >= 0 for r in alone + beside)
    assert not events.listening(dispatch.TOPIC) and dispatch._decision_log is None


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_recorded_optimizer_steps_update_as_unrecorded_and_as_pytorch(name):
    results = []
    for recorded in (False, True, None):
        lib = torch if recorded is None else torsh
        model, step = _model_and_step(lib, OPTIMIZERS[name], lib.float32)
        for _ in range(3):
            if recorded:
                with profile(record_shapes=True):
                    step()
            else:
                step()
        results.append([p.detach().numpy().copy() for p in model.parameters()])
    for plain, profiled, reference in zip(*results):
        np.testing.assert_array_equal(profiled, plain)  # the same kernel calls, recorded or not
        np.testing.assert_allclose(profiled, reference, rtol=1e-4, atol=1e-5)


def test_direct_decision_reason_with_one_thread_above_the_parallel_threshold():
    # one thread: the direct path also takes sizes from the parallel threshold on, and words _decide's reason
    before = torsh.get_num_threads()
    simd, parallel = dispatch.thresholds["sgd_step"]
    try:
        torsh.set_num_threads(1)
        dispatch.set_thresholds("sgd_step", simd=0, parallel=100)
        p = torsh.nn.Parameter(torsh.ones(300))
        p.grad = torsh.full((300,), 0.5)
        opt = torsh.optim.SGD([p], lr=0.1, momentum=0.9)
        with dispatch.record() as alone:
            opt.step()
        with profile() as prof:
            opt.step()
        assert _profiled_decisions(prof) == _facts(alone)
        (decision,) = _facts(alone)
        assert decision[:2] == ("sgd_step", "pythran_simd")
        assert decision[2] == dispatch.choose("sgd_step", 300, np.dtype(np.float32))[1]
        assert "one thread" in decision[2]
    finally:
        dispatch.set_thresholds("sgd_step", simd=simd, parallel=parallel)
        torsh.set_num_threads(before)


def test_decisions_outside_any_op_are_orphans_with_times():
    from torsh._array_api import array, grad_array
    from torsh.optim import _fused
    p = torsh.nn.Parameter(torsh.ones(5000))
    p.grad = torsh.ones(5000)
    float32 = np.dtype(np.float32)
    with profile() as prof:
        direct = _fused.direct("sgd_step", float32)
        kernel_args = _fused.scalars(float32, 0.1, 1, 0, 0, 0, 1) + (False, False)
        direct[0](array(p).reshape(-1), grad_array(p).reshape(-1), array(p).reshape(-1), *kernel_args)
    orphans = prof._results.orphan_dispatch
    assert [(d["op"], d["variant"], d["numel"], d["dtype"]) for _, _, d in orphans] == [
        ("sgd_step", "pythran_simd", 5000, "float32")]
    assert orphans[0][0] > 0 and orphans[0][2]["us"] >= 0
    np.testing.assert_allclose(p.detach().numpy(), np.full(5000, 0.9, np.float32))
