"""An in-place op on a tensor the transformed function captured (a global or closure tensor) raises PyTorch's
functorch error under grad, vjp and jvp; tensors made inside the function stay mutable."""
import importlib

import pytest

import torsh
from helpers import needs_torch, torch_ref

pytestmark = needs_torch

captured = None  # the module-level tensor the functions below capture (set per library by _cases)


def _adds(x):
    captured.add_(x)
    return captured.sum()


def _scales(x):
    captured.mul_(2)
    return (captured * x).sum()


def _zeroes(x):
    captured.zero_()
    return x.sum()


def _fills(x):
    captured.fill_(1.0)
    return x.sum()


def _local(x):
    y = x.new_zeros(3)
    y.add_(x)
    return y.sum()


def _closure(lib):
    d = lib.ones(3)

    def inner(x):
        d.sub_(x)
        return d.sum()
    return inner


CASES = {
    "grad add_": lambda lib, func: func.grad(_adds)(lib.ones(3)),
    "grad mul_ scalar": lambda lib, func: func.grad(_scales)(lib.ones(3)),
    "grad zero_": lambda lib, func: func.grad(_zeroes)(lib.ones(3)),
    "grad fill_": lambda lib, func: func.grad(_fills)(lib.ones(3)),
    "grad closure sub_": lambda lib, func: func.grad(_closure(lib))(lib.ones(3)),
    "vjp add_": lambda lib, func: func.vjp(_adds, lib.ones(3))[0],
    "jvp add_": lambda lib, func: func.jvp(_adds, (lib.ones(3),), (lib.ones(3),))[0],
    "grad of a local tensor": lambda lib, func: func.grad(_local)(lib.ones(3)),
}


def _run(lib, name):
    global captured
    captured = lib.ones(3)
    try:
        return CASES[name](lib, importlib.import_module(lib.__name__ + ".func"))
    except RuntimeError as e:
        return e


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_on_captured_tensor_as_pytorch(name):
    ours, ref = _run(torsh, name), _run(torch_ref, name)
    if isinstance(ref, RuntimeError):
        assert isinstance(ours, RuntimeError) and str(ours) == str(ref)
    else:
        assert ours.tolist() == ref.tolist()


def test_refused_inplace_leaves_the_captured_tensor_unchanged():
    global captured
    captured = torsh.ones(3)
    with pytest.raises(RuntimeError, match="would mutate a captured Tensor"):
        torsh.func.grad(_adds)(torsh.ones(3))
    assert captured.tolist() == [1.0, 1.0, 1.0]
    assert torsh.func.grad(_local)(torsh.ones(3)).tolist() == [1.0, 1.0, 1.0]
    _adds(torsh.ones(3))  # outside a transform the same function mutates as usual
    assert captured.tolist() == [2.0, 2.0, 2.0]
