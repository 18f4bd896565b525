"""float16/bfloat16 inputs of the ops that sum many values (softmax, log_softmax, logsumexp, cross_entropy, the
norms): PyTorch's CPU kernels accumulate them in float32 and round once, so summing 1024 bfloat16 values in
bfloat16 (a 3-significant-digit running sum) gives visibly wrong results. Compared with PyTorch at sizes where
that shows, with float32 affine parameters as mixed-precision modules have them."""
import numpy as np
import pytest

import torsh
from helpers import assert_close, needs_torch, torch_ref

pytestmark = needs_torch

BASE = np.random.RandomState(0).randn(64, 1024).astype(np.float32) * 0.9 + 0.3


def _input(lib, dtype, shape=(64, 1024), requires_grad=False):
    return lib.tensor(BASE.reshape(shape), dtype=getattr(lib, dtype)).requires_grad_(requires_grad)


CASES = {
    "softmax": lambda lib, x: lib.softmax(x, 1),
    "log_softmax": lambda lib, x: lib.nn.functional.log_softmax(x, 1),
    "logsumexp": lambda lib, x: x.logsumexp(1),
    "cross_entropy": lambda lib, x: lib.nn.functional.cross_entropy(x, lib.arange(64) % 7),
    "layer_norm": lambda lib, x: lib.nn.functional.layer_norm(x, (1024,)),
    "group_norm": lambda lib, x: lib.nn.functional.group_norm(x.reshape(64, 16, 64), 4),
    "instance_norm": lambda lib, x: lib.nn.functional.instance_norm(x.reshape(8, 8, 1024)),
    "batch_norm": lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_pytorch(name, dtype):
    def run(lib):
        x = _input(lib, dtype, requires_grad=True)
        out = CASES[name](lib, x)
        (out.float() * lib.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        return out, x.grad

    (out, grad), (ref_out, ref_grad) = run(torsh), run(torch_ref)
    assert_close(out, ref_out)
    if name == "log_softmax":
        # its gradient g - exp(y) * sum(g) turns a one-ulp difference of y (PyTorch's bfloat16 outputs are not
        # correctly rounded: a quarter differ from the exactly rounded value by one ulp) into 3% of a ~1000 row
        # sum; check it against the formula in float64 on torsh's own rounded y instead
        y = out.detach().double().numpy()
        g = torsh.linspace(-1, 1, out.numel()).reshape(out.shape).to(out.dtype).double().numpy()
        ref_grad = torsh.tensor(g - np.exp(y) * g.sum(1, keepdims=True)).to(out.dtype)
    assert_close(grad, ref_grad, rtol=3e-2, atol=3e-2)


MODULES = {
    "LayerNorm": lambda lib: lib.nn.LayerNorm(64),
    "GroupNorm": lambda lib: lib.nn.GroupNorm(4, 16),
    "BatchNorm1d": lambda lib: lib.nn.BatchNorm1d(16),
    "InstanceNorm1d": lambda lib: lib.nn.InstanceNorm1d(16, affine=True, track_running_stats=True),
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_with_float32_parameters_answer_in_the_input_dtype(name, dtype):
    def run(lib):
        module = MODULES[name](lib)
        x = _input(lib, dtype, shape=(64, 16, 64))
        train_out = module(x)
        module.eval()
        return train_out, module(x), {k: v for k, v in module.state_dict().items() if v.is_floating_point()}

    (out, eval_out, state), (ref_out, ref_eval, ref_state) = run(torsh), run(torch_ref)
    assert_close(out, ref_out)
    assert_close(eval_out, ref_eval)
    assert state.keys() == ref_state.keys()
    for key in state:
        assert_close(state[key], ref_state[key])
