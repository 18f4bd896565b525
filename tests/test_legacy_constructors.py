"""The argument forms real PyTorch programs use to build tensors, compared with PyTorch 2.13: factory overloads
(size= keyword, *size varargs, out=, generator=, pin_memory=, layout=), torch.tensor of any sequence, the legacy
typed constructors (torch.FloatTensor, ...), Tensor.new_*, the is_<device> flags and range/list indices."""
import collections
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, torch_ref

# -- factory overloads ------------------------------------------------------------------------------

FACTORY_CALLS = [
    lambda lib: lib.empty(size=(2, 3)),
    lambda lib: lib.zeros(size=[2]),
    lambda lib: lib.ones(2, 3, dtype=lib.float64, pin_memory=False, layout=lib.strided),
    lambda lib: lib.zeros(lib.Size([2, 4])),
    lambda lib: lib.zeros([]),
    lambda lib: lib.ones(()),
    lambda lib: lib.ones(np.int64(3)),
    lambda lib: lib.rand(size=(2,)),
    lambda lib: lib.randn(2, 3, generator=lib.Generator().manual_seed(1)),
    lambda lib: lib.randn((2, 3), dtype=lib.float64, requires_grad=True),
    lambda lib: lib.randint(10, (3,)),
    lambda lib: lib.randint(10, size=(3,)),
    lambda lib: lib.randint(high=5, size=(2,)),
    lambda lib: lib.randint(2, 5, size=(2, 2)),
    lambda lib: lib.randint(low=2, high=5, size=(2,)),
    lambda lib: lib.randint(3, 10, (2,), dtype=lib.float32),
    lambda lib: lib.randperm(4, pin_memory=False),
]


@pytest.mark.parametrize("call", FACTORY_CALLS)
def test_factory_overloads_shape_dtype_and_flags(call):
    ours, ref = call(torsh), call(torch_ref)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert ours.requires_grad == ref.requires_grad


def test_randint_values_lie_in_range():
    values = torsh.randint(2, 5, size=(1000,))
    assert values.min().item() == 2 and values.max().item() == 4


@pytest.mark.parametrize("name,args", [("zeros", (2, 3)), ("ones", (2, 3)), ("empty", (2, 3)), ("rand", (2, 3)),
                                       ("randn", (2, 3))])
def test_out_is_resized_and_returned(name, args):
    for lib in (torsh, torch_ref):
        out = lib.empty(5)
        result = getattr(lib, name)(*args, out=out)
        assert result is out and tuple(out.shape) == args
    assert_close(torsh.ones(2, out=torsh.empty(0)), torch_ref.ones(2, out=torch_ref.empty(0)))
    out = torsh.empty(0, dtype=torsh.int64)
    assert torsh.randint(0, 3, (4,), out=out) is out and out.shape == (4,)


def test_generator_repeats_the_stream():
    a = torsh.rand(size=(3,), generator=torsh.Generator().manual_seed(7))
    b = torsh.rand(3, generator=torsh.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, size=(3,)),
    lambda lib: lib.randint(5),
])
def test_factory_argument_errors(call):
    check_same_error(call)


# -- torch.tensor of any sequence -------------------------------------------------------------------

TENSOR_DATA = [
    lambda lib: collections.deque([1, 2, 3]),
    lambda lib: collections.deque([[1.5, 2.0], [3.0, 4.0]]),
    lambda lib: range(4),
    lambda lib: [range(2), range(2)],
    lambda lib: ((1, 2), (3, 4)),
    lambda lib: [(1, 2), [3, 4]],
    lambda lib: np.float32(1.5),
    lambda lib: np.int32(3),
    lambda lib: [np.float64(1.0), 2.0],
    lambda lib: [np.int32(3), np.int32(4)],
    lambda lib: [np.float16(1), 1.0],
    lambda lib: [True, np.bool_(False)],
    lambda lib: [lib.tensor(1.0), lib.tensor(2.0)],
    lambda lib: [lib.tensor([1.0]), lib.tensor([2.0])],
    lambda lib: [lib.tensor(1.0, dtype=lib.float64), 2.0],
    lambda lib: [[lib.tensor(1.0), 2]],
    lambda lib: [np.array([1, 2]), np.array([3, 4])],
    lambda lib: [],
    lambda lib: [[]],
]


@pytest.mark.parametrize("data", TENSOR_DATA)
def test_tensor_reads_sequences_like_pytorch(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "list of numpy.ndarrays is extremely slow"
        assert_close(torsh.tensor(data(torsh)), torch_ref.tensor(data(torch_ref)))


@pytest.mark.parametrize("data", [
    lambda lib: (x for x in range(3)),
    lambda lib: {1, 2},
    lambda lib: [1, None],
    lambda lib: [1, "a"],
    lambda lib: [[1, 2], [3]],
    lambda lib: [[1, 2], 3],
    lambda lib: [lib.ones(2), lib.ones(2)],
])
def test_tensor_data_errors(data):
    check_same_error(lambda lib: lib.tensor(data(lib)))
