"""Optimizers refuse fused=True beside differentiable=True or foreach=True, as PyTorch: same type and wording."""
import pytest

import torsh
from helpers import check_same_error

OPTIMIZERS = ["Adam", "AdamW", "SGD", "Adagrad"]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("flags", [dict(fused=True, foreach=True), dict(fused=True, differentiable=True),
                                   dict(fused=True, foreach=True, differentiable=True)],
                         ids=["foreach", "differentiable", "both"])
def test_fused_with_a_conflicting_flag_raises_as_pytorch(name, flags):
    check_same_error(lambda lib: getattr(lib.optim, name)([lib.zeros(3, requires_grad=True)], lr=0.1, **flags))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_flags_alone_are_accepted(name):
    p = torsh.zeros(3, requires_grad=True)
    for flags in (dict(fused=True), dict(foreach=True), dict(differentiable=True), dict(fused=False, foreach=True)):
        optimizer = getattr(torsh.optim, name)([p], lr=0.1, **flags)
        assert all(optimizer.param_groups[0][k] == v for k, v in flags.items())
