"""Hostile arguments to the creation ops and the random in-place samplers: PyTorch's exception type and
message, and the tensor left as it was when an in-place sampler refuses its arguments."""
import pytest

import torsh

from helpers import check_same_error, needs_torch

pytestmark = needs_torch

REFUSED = {
    "zeros(2.5)": lambda lib: lib.zeros(2.5),
    "zeros((2.5,))": lambda lib: lib.zeros((2.5,)),
    "zeros('3')": lambda lib: lib.zeros("3"),
    "zeros(None)": lambda lib: lib.zeros(None),
    "zeros(True)": lambda lib: lib.zeros(True),
    "zeros(float tensor)": lambda lib: lib.zeros(lib.tensor(3.0)),
    "ones(2, 2.0)": lambda lib: lib.ones(2, 2.0),
    "empty(2.5)": lambda lib: lib.empty(2.5),
    "randn(2.5)": lambda lib: lib.randn(2.5),
    "rand(int64)": lambda lib: lib.rand(2, dtype=lib.int64),
    "randn(int64)": lambda lib: lib.randn(2, dtype=lib.int64),
    "zeros(2**62)": lambda lib: lib.zeros(2 ** 62),
    "empty(-1)": lambda lib: lib.empty(-1),
    "tensor([nan], int64)": lambda lib: lib.tensor([float("nan")], dtype=lib.int64),
    "tensor([inf], int64)": lambda lib: lib.tensor([float("inf")], dtype=lib.int64),
    "tensor(nan, int32)": lambda lib: lib.tensor(float("nan"), dtype=lib.int32),
    "tensor([300], uint8)": lambda lib: lib.tensor([300], dtype=lib.uint8),
    "tensor([-300], uint8)": lambda lib: lib.tensor([-300], dtype=lib.uint8),
    "tensor([2**63])": lambda lib: lib.tensor([2 ** 63]),
    "tril_indices(-1, 2)": lambda lib: lib.tril_indices(-1, 2),
    "tril_indices(2, -1)": lambda lib: lib.tril_indices(2, -1),
    "triu_indices(-1, 2)": lambda lib: lib.triu_indices(-1, 2),
    "tril_indices float dtype": lambda lib: lib.tril_indices(3, 3, dtype=lib.float32),
    "randint(5, 2, (3,))": lambda lib: lib.randint(5, 2, (3,)),
    "randperm(-1)": lambda lib: lib.randperm(-1),
    "arange step 0": lambda lib: lib.arange(0, 10, 0),
    "arange inf": lambda lib: lib.arange(0, float("inf")),
    "linspace steps -1": lambda lib: lib.linspace(0, 1, -1),
    "arange count past any storage": lambda lib: lib.arange(0, 2 ** 62),
    "linspace count past any storage": lambda lib: lib.linspace(0, 1, 2 ** 62),
    "randperm count past any storage": lambda lib: lib.randperm(2 ** 62),
    "eye numel overflow": lambda lib: lib.eye(2 ** 40),
    "randint(2.5, (3,))": lambda lib: lib.randint(2.5, (3,)),
    "randint size int": lambda lib: lib.randint(5, 3),
    "randint 300 into uint8": lambda lib: lib.randint(300, (3,), dtype=lib.uint8),
    "randint 5 into bool": lambda lib: lib.randint(5, (3,), dtype=lib.bool),
    "randperm(2.5)": lambda lib: lib.randperm(2.5),
    "randperm bool": lambda lib: lib.randperm(3, dtype=lib.bool),
    "randperm 300 into uint8": lambda lib: lib.randperm(300, dtype=lib.uint8),
    "randperm 4096 into float16": lambda lib: lib.randperm(4096, dtype=lib.float16),
    "random_(300) of uint8": lambda lib: lib.ones(3, dtype=lib.uint8).random_(300),
    "random_(3) of bool": lambda lib: lib.ones(3, dtype=lib.bool).random_(3),
    "full with a 1-d tensor": lambda lib: lib.full((2,), lib.tensor([1.0])),
    "bernoulli p=2": lambda lib: lib.bernoulli(lib.ones(3), p=2),
    "bernoulli int": lambda lib: lib.bernoulli(lib.ones(3, dtype=lib.int64)),
}
INPLACE = {
    "uniform_(1, 0)": lambda t: t.uniform_(1, 0),
    "uniform_(0, nan)": lambda t: t.uniform_(0, float("nan")),
    "uniform_(0, inf)": lambda t: t.uniform_(0, float("inf")),
    "uniform_ range past float max": lambda t: t.uniform_(-3e38, 3e38),
    "normal_(std=-1)": lambda t: t.normal_(std=-1),
    "normal_(std=nan)": lambda t: t.normal_(std=float("nan")),
    "random_(5, 2)": lambda t: t.random_(5, 2),
    "random_(0)": lambda t: t.random_(0),
    "bernoulli_(p=2)": lambda t: t.bernoulli_(p=2),
    "bernoulli_(-0.5)": lambda t: t.bernoulli_(-0.5),
    "bernoulli_(nan)": lambda t: t.bernoulli_(float("nan")),
    "bernoulli_(tensor p 2)": lambda t: t.bernoulli_(t * 0 + 2),
    "exponential_(-1)": lambda t: t.exponential_(-1),
    "exponential_(nan)": lambda t: t.exponential_(float("nan")),
    "geometric_(1.5)": lambda t: t.geometric_(1.5),
    "log_normal_(std=0)": lambda t: t.log_normal_(std=0),
    "log_normal_(std=-1)": lambda t: t.log_normal_(std=-1),
    "cauchy_(sigma=0)": lambda t: t.cauchy_(sigma=0),
}
INT_INPLACE = {
    "uniform_ of int64": lambda t: t.uniform_(),
    "normal_ of int64": lambda t: t.normal_(),
    "exponential_ of int64": lambda t: t.exponential_(),
}


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_creation_refused_as_pytorch(case):
    check_same_error(REFUSED[case])


@pytest.mark.parametrize("case", INPLACE, ids=str)
def test_inplace_sampler_refused_as_pytorch_and_nothing_written(case):
    check_same_error(lambda lib: INPLACE[case](lib.full((3,), 0.25)))
    t = torsh.full((3,), 0.25)
    version = t._version
    with pytest.raises(RuntimeError):
        INPLACE[case](t)
    assert t.tolist() == [0.25] * 3 and t._version == version


@pytest.mark.parametrize("case", INT_INPLACE, ids=str)
def test_integer_tensor_samplers_refused_as_pytorch(case):
    check_same_error(lambda lib: INT_INPLACE[case](lib.ones(3, dtype=lib.int64)))


def test_accepted_edges_still_work():
    assert torsh.tensor([-1], dtype=torsh.uint8).tolist() == [255]  # PyTorch wraps a negative int
    assert torsh.zeros(torsh.tensor(3)).shape == (3,)
    assert torsh.tril_indices(3, 3, 10).shape == (2, 9)
    assert torsh.ones(3, dtype=torsh.bool).random_(2).dtype is torsh.bool
    t = torsh.ones(3, dtype=torsh.int64).random_(5, 7)
    assert all(5 <= v < 7 for v in t.tolist())


# -- out= (registry.copy_out, the one out= mechanism) --------------------------------------------------------
OUT_REFUSED = {
    "float result into a Long out": lambda lib: lib.add(lib.ones(3), 1, out=lib.empty(3, dtype=lib.int64)),
    "exp into a Long out": lambda lib: lib.exp(lib.ones(3), out=lib.empty(3, dtype=lib.int64)),
    "complex result into a Float out": lambda lib: lib.mul(lib.ones(2, dtype=lib.complex64), 2, out=lib.empty(2)),
    "out with requires_grad input": lambda lib: lib.exp(lib.ones(3, requires_grad=True), out=lib.empty(3)),
}


@pytest.mark.parametrize("case", OUT_REFUSED, ids=str)
def test_out_refused_as_pytorch_and_left_alone(case):
    check_same_error(OUT_REFUSED[case])
    out = torsh.full((3,), 7, dtype=torsh.int64)
    version = out._version
    with pytest.raises(RuntimeError):
        torsh.add(torsh.ones(3), 1, out=out)
    assert out.tolist() == [7, 7, 7] and out._version == version


def test_out_accepts_what_pytorch_casts():
    import torch
    for lib in (torsh, torch):
        assert lib.eq(lib.ones(3), 1, out=lib.empty(3)).tolist() == [1.0] * 3        # bool into float
        assert lib.add(lib.ones(3, dtype=lib.int64), 1, out=lib.empty(3)).tolist() == [2.0] * 3
        assert lib.add(lib.ones(3, dtype=lib.float64), 1, out=lib.empty(3)).dtype is lib.float32
        assert lib.zeros(3, out=lib.empty(2, dtype=lib.int64)).dtype is lib.int64    # a factory takes out's dtype


def test_out_of_another_shape_is_resized_with_pytorchs_warning():
    import torch
    messages = []
    for lib in (torsh, torch):
        out = lib.empty(2)
        with pytest.warns(UserWarning, match="An output with one or more elements was resized") as record:
            result = lib.add(lib.ones(3), 1, out=out)
        assert result is out and out.shape == (3,) and out.tolist() == [2.0] * 3
        messages.append(str(record[0].message).split(" (Triggered")[0])
    assert messages[0] == messages[1]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torsh.add(torsh.ones(3), 1, out=torsh.empty(0))  # an empty out is resized silently
