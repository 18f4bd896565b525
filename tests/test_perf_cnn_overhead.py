"""The CNN training steps' Python fast paths (issue #20: W7 LeNet-5, W12 ResNet block): the dispatcher decides
without wording a reason when no one records, SGD types its scalars once per group, batch norm's functional
path skips work the module guarantees. Each against PyTorch 2.13 (values, gradients, running statistics, errors)
or, for the dispatcher, against its own worded decision."""
import itertools

import numpy as np
import pytest

import torsh
from torsh.backend import dispatch

from helpers import VARIANTS, assert_close, check_same_error, forced_variant, torch_ref as torch

DISPATCH_OPS = ["batch_norm", "batch_norm_backward", "sgd_step", "relu", "add", "conv2d_direct", "no_such_op"]
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.float16)]


@pytest.mark.parametrize("num_threads", [1, 2])
def test_unworded_decision_is_chooses_variant(num_threads):
    """_variant (what runs when no one listens) picks what choose() picks, on both sides of every threshold."""
    before = torsh.get_num_threads()
    torsh.set_num_threads(num_threads)
    try:
        for op in DISPATCH_OPS:
            simd, parallel = dispatch.thresholds.get(op, (dispatch.INF, dispatch.INF))
            sizes = {0, 1, 1000, 10 ** 7}
            sizes |= {v + d for v in (simd, parallel) if v != dispatch.INF for d in (-1, 0, 1) if v + d >= 0}
            for numel, dtype, contiguous in itertools.product(sorted(sizes), DTYPES, (True, False)):
                assert dispatch._variant(op, numel, dtype, contiguous) == \
                    dispatch.choose(op, numel, dtype, contiguous)[0], (op, numel, dtype, contiguous)
    finally:
        torsh.set_num_threads(before)


@pytest.mark.parametrize("variant", ["kernel", "kernel_omp", "numpy"])
def test_call_runs_the_recorded_variant_when_no_one_listens(variant):
    """dispatch.call takes the same branch whether or not its record is listened to."""
    runs = []
    compiled = lambda parallel: runs.append("omp" if parallel else "simd")  # noqa: E731
    numpy_fn = lambda: runs.append("numpy")  # noqa: E731
    with forced_variant(["batch_norm"], variant):
        dispatch.call("batch_norm", 5000, np.dtype(np.float32), True, compiled, numpy_fn)
        with dispatch.record() as records:
            dispatch.call("batch_norm", 5000, np.dtype(np.float32), True, compiled, numpy_fn)
    assert runs[0] == runs[1]
    assert len(records) == 1 and records[0].variant == {"omp": "pythran_omp", "simd": "pythran_simd",
                                                         "numpy": "numpy"}[runs[1]]


def _sgd_run(lib, steps=3, **options):
    """Parameters of float32 and float64 in one group (the group's typed scalars are per dtype), the first
    step and the later ones (the momentum buffer's coefficients differ), after ``steps`` SGD steps."""
    rng = np.random.default_rng(0)
    params = [lib.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
              for shape, dtype in [((3, 4), np.float32), ((5,), np.float64), ((2, 2), np.float32), ((7,), np.float64)]]
    opt = lib.optim.SGD(params, lr=0.05, **options)
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32 if i % 2 == 0 else np.float64))
        opt.step()
    return params, opt


@pytest.mark.parametrize("options", [
    dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3), dict(momentum=0.9, nesterov=True),
    dict(momentum=0.5, weight_decay=0.01, maximize=True)])
def test_sgd_mixed_dtypes_in_one_group_as_pytorch(options):
    got, opt = _sgd_run(torsh, **options)
    want, ref_opt = _sgd_run(torch, **options)
    for g, w in zip(got, want):
        assert_close(g.detach(), w.detach(), rtol=0, atol=0)
    if options.get("momentum"):
        for g, w in zip(got, want):
            assert_close(opt.state[g]["momentum_buffer"], ref_opt.state[w]["momentum_buffer"], rtol=0, atol=0)


def _bn_steps(lib, dtype, momentum):
    """Two training steps of BatchNorm2d (running statistics updated in place, the batch counter), then eval:
    (outputs, input/weight/bias gradients, running mean/var, num_batches_tracked)."""
    rng = np.random.default_rng(1)
    bn = lib.nn.BatchNorm2d(3, momentum=momentum).to(getattr(lib, dtype))
    outs, grads = [], []
    for _ in range(2):
        x = lib.tensor(rng.standard_normal((4, 3, 5, 5)).astype(dtype), requires_grad=True)
        out = bn(x)
        (out * lib.tensor(rng.standard_normal((4, 3, 5, 5)).astype(dtype))).sum().backward()
        outs.append(out.detach())
        grads += [x.grad, bn.weight.grad, bn.bias.grad]
        bn.zero_grad()
    bn.eval()
    outs.append(bn(lib.tensor(rng.standard_normal((2, 3, 5, 5)).astype(dtype))).detach())
    return outs + grads + [bn.running_mean, bn.running_var, bn.num_batches_tracked]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_training_steps_as_pytorch(variant, dtype, momentum):
    with forced_variant(["batch_norm", "batch_norm_backward"], variant):
        got = _bn_steps(torsh, dtype, momentum)
    want = _bn_steps(torch, dtype, momentum)
    for g, w in zip(got, want):
        assert_close(g, w)


def test_batch_norm_checks_as_pytorch():
    one_value = "Expected more than 1 value per channel when training, got input size"  # then Size([...]) of each lib
    for shape in [(1, 3, 1, 1), (1, 3)]:
        check_same_error(lambda lib: lib.nn.functional.batch_norm(lib.ones(*shape), None, None, training=True),
                         fallback_msg=one_value, exact=False)
    check_same_error(lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3, 4), lib.zeros(2), lib.ones(3),
                                                              training=True))
    check_same_error(lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3, 4), None, None, training=True,
                                                              eps=0.0))
