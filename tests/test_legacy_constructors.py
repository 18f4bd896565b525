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


# -- legacy typed constructors ----------------------------------------------------------------------
LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor", "ShortTensor",
          "CharTensor", "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", [(), (3, 4), ((2, 3),), ([1, 0],), (np.array([1.0, 0.0]),)])
def test_legacy_constructor_builds_its_dtype(name, args):
    ours, ref = getattr(torsh, name)(*args), getattr(torch_ref, name)(*args)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    if len(args) == 1:  # data, not sizes: same values
        assert_close(ours, ref)


def test_legacy_constructor_from_size_tensor_and_values():
    assert torsh.LongTensor(torsh.Size([2])).shape == (2,)
    assert_close(torsh.LongTensor([1.7, 2]), torch_ref.LongTensor([1.7, 2]))
    t = torsh.ones(2)
    alias = torsh.FloatTensor(t)
    alias[0] = 5.0  # the same storage, as PyTorch
    assert t[0].item() == 5.0 and not alias.requires_grad


@pytest.mark.parametrize("call", [
    lambda lib: lib.LongTensor(lib.ones(2)),
    lambda lib: lib.FloatTensor(2, 3.0),
    lambda lib: lib.FloatTensor("a"),
])
def test_legacy_constructor_errors(call):
    check_same_error(call)


@pytest.mark.parametrize("name", LEGACY)
def test_isinstance_type_and_cast(name):
    for lib in (torsh, torch_ref):
        legacy = getattr(lib, name)
        x = lib.ones(2).to(legacy.dtype)
        assert isinstance(x, legacy) and not isinstance(lib.ones(2, dtype=lib.complex64), legacy)
        assert x.type() == f"torch.{name}"
        assert lib.zeros(2).type(legacy).dtype == legacy.dtype
        assert lib.zeros(2).type(f"torch.{name}").dtype == legacy.dtype
    assert repr(torsh.FloatTensor) == repr(torch_ref.FloatTensor)
    assert isinstance(torsh.ones(1), torsh.FloatTensor) and not isinstance(torsh.ones(1), torsh.DoubleTensor)


def test_typename():
    assert torsh.typename(torsh.ones(1)) == torch_ref.typename(torch_ref.ones(1)) == "torch.FloatTensor"
    assert torsh.typename(1) == torch_ref.typename(1)


# -- Tensor.new_* ------------------------------------------------------------------------------------
NEW_CALLS = [
    lambda x: x.new_zeros(2, 3),
    lambda x: x.new_zeros((2, 3)),
    lambda x: x.new_ones(size=(1,)),
    lambda x: x.new_ones(2, dtype=None),
    lambda x: x.new_full((2,), 3),
    lambda x: x.new_tensor([1, 2]),
    lambda x: x.new_zeros(2, requires_grad=True),
    lambda x: x.new_empty(2),
]


@pytest.mark.parametrize("call", NEW_CALLS)
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_new_factories_take_self_dtype(call, dtype):
    if dtype == "int32" and call is NEW_CALLS[6]:
        check_same_error(lambda lib: call(lib.ones(1, dtype=lib.int32)))
        return
    ours = call(torsh.ones(1, dtype=getattr(torsh, dtype)))
    ref = call(torch_ref.ones(1, dtype=getattr(torch_ref, dtype)))
    assert ours.requires_grad == ref.requires_grad
    if call is NEW_CALLS[-1]:  # uninitialised values: shape and dtype only
        ours, ref = ours.zero_(), ref.zero_()
    assert_close(ours.detach(), ref.detach())


def test_new_tensor_with_dtype_and_from_a_tensor():
    x = torsh.ones(2, dtype=torsh.float64, requires_grad=True)
    assert x.new_tensor([1, 2], dtype=torsh.int32).dtype is torsh.int32
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        copy = x.new_tensor(x)
    assert not copy.requires_grad and copy.dtype is torsh.float64
    assert_close(torsh.ones(2, dtype=torsh.int64).new_full((2,), 3.5), torch_ref.ones(2, dtype=torch_ref.int64).new_full((2,), 3.5))


def test_tensor_of_a_tensor_warns_as_pytorch():
    """torch.tensor(t) warns, attributed to the caller's line; a list of 0-d tensors does not."""
    import warnings

    def messages(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = lib.ones(2)
            lib.tensor(t), lib.tensor([t[0], t[1]]), lib.tensor(3.0)
        return [(str(w.message), w.filename) for w in caught]

    ours, ref = messages(torsh), messages(torch_ref)
    assert len(ref) == 1 and [m for m, _ in ours] == [m for m, _ in ref]
    assert ours[0][1] == __file__


@pytest.mark.parametrize("flag", ["is_cuda", "is_xpu", "is_mps", "is_meta", "is_quantized", "is_sparse", "is_cpu",
                                  "is_mkldnn", "is_nested", "is_sparse_csr", "is_vulkan", "is_ipu"])
def test_device_and_layout_flags(flag):
    assert getattr(torsh.ones(2), flag) == getattr(torch_ref.ones(2), flag)


# -- indices that are ranges and lists ---------------------------------------------------------------
INDEX_KEYS = [
    lambda lib: range(2),
    lambda lib: (range(2), 0),
    lambda lib: collections.deque([0, 2]),
    lambda lib: [0, 2],
    lambda lib: [[0, 1], [1, 2]],  # a list holding sequences is a tuple of indices (deprecated, still so)
    lambda lib: [0, slice(None)],
    lambda lib: [lib.tensor(0), lib.tensor(1)],
    lambda lib: ((0, 1),),
    lambda lib: (slice(None), range(1, 3)),
    lambda lib: [[[0, 1]]],
]


@pytest.mark.parametrize("key", INDEX_KEYS)
def test_range_and_list_indices(key):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = torsh.arange(9.0).view(3, 3), torch_ref.arange(9.0).view(3, 3)
        assert_close(ours[key(torsh)], ref[key(torch_ref)])
        ours[key(torsh)] = -1.0
        ref[key(torch_ref)] = -1.0
        assert_close(ours, ref)
        x = torsh.arange(9.0, dtype=torsh.float64).view(3, 3).requires_grad_()
        r = torch_ref.arange(9.0, dtype=torch_ref.float64).view(3, 3).requires_grad_()
        (x[key(torsh)] * 2).sum().backward()
        (r[key(torch_ref)] * 2).sum().backward()
        assert_close(x.grad, r.grad)


def test_list_of_sequences_warns_as_pytorch():
    with pytest.warns(UserWarning, match="Using a non-tuple sequence for multidimensional indexing is deprecated"):
        torsh.ones(3, 3)[[[0, 1], [1, 2]]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torsh.ones(3, 3)[[0, 1]]  # a flat list of ints is one index: no warning
        torsh.ones(3, 3)[range(2)]
