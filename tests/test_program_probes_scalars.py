"""float() of a tensor that requires grad, as programs print losses ('%.2f' % t.mean()): PyTorch warns once per
process (from C++, so the test runs each library in its own process) that the number leaves the graph."""
import re
import subprocess
import sys

import pytest

from helpers import needs_torch

pytestmark = needs_torch

_PROGRAM = """
import {lib} as torch, math
t = torch.ones(3, requires_grad=True).mean()
print('int', int(t), 'format', '{{:.1f}}'.format(t))
with torch.no_grad():
    print('no_grad', float(t))
print('detached', float(t.detach()))
print('percent', '%.2f' % t)
print('again', float(t * 2), math.exp(t) > 2)
"""


def _run(lib):
    run = subprocess.run([sys.executable, "-c", _PROGRAM.format(lib=lib)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    # PyTorch's C++ warnings end with where they were raised: not a message torsh can share
    return run.stdout, re.sub(r" \(Triggered internally at [^)]*\)", "", run.stderr)


def test_float_of_a_tensor_requiring_grad_warns_once_as_torch():
    ours, ref = _run("torsh"), _run("torch")
    assert ours == ref
    assert ref[1].count("UserWarning: Converting a tensor with requires_grad=True to a scalar") == 1
    assert "<string>:8: UserWarning" in ref[1]  # the user's line: '%.2f' % t (int/format/no_grad do not warn)


def test_optimizer_repr_separates_param_groups_as_torch():
    """The transfer-learning tutorial prints its optimizer: one blank line between parameter groups."""
    import torsh
    from helpers import torch_ref

    def optimizer(lib):
        a, b = lib.nn.Linear(2, 2), lib.nn.Linear(2, 1)
        return lib.optim.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 1e-2}], lr=1e-3,
                             momentum=0.9)
    assert repr(optimizer(torsh)) == repr(optimizer(torch_ref))
    assert repr(torsh.optim.Adam([torsh.zeros(1, requires_grad=True)])) == \
        repr(torch_ref.optim.Adam([torch_ref.zeros(1, requires_grad=True)]))
