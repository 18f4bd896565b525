"""The last Tensor methods of PyTorch's namespace: register_post_accumulate_grad_hook, new, resize_/resize_as_
(and the deprecated resize/resize_as), set_/is_set_to, as_strided_, as_subclass, storage_type, record_stream,
module_load, to_padded_tensor; each against torch 2.13 (values, dtypes, errors' type and wording)."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch
LIBS = [torsh, torch_ref]


# -- register_post_accumulate_grad_hook --------------------------------------------------------------------------
def _sgd_in_backward(lib):
    """PyTorch's docs example: an optimizer step per parameter inside backward, once its grad is accumulated."""
    lib.manual_seed(0)
    weight = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=lib.float32, requires_grad=True)
    bias = lib.tensor([0.1, -0.2, 0.3, 0.0], requires_grad=True)
    optimizers = {p: lib.optim.SGD([p], lr=0.1) for p in (weight, bias)}
    seen = []

    def step(p):
        seen.append((p.shape, p.grad.clone()))  # .grad is already accumulated when the hook runs
        optimizers[p].step()
        optimizers[p].zero_grad()

    for p in (weight, bias):
        p.register_post_accumulate_grad_hook(step)
    x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float32)
    for _ in range(3):
        (x @ weight.t() + bias).tanh().pow(2).sum().backward()
    return weight, bias, seen


def test_post_accumulate_grad_hook_runs_an_optimizer_in_backward():
    (w, b, seen), (rw, rb, rseen) = _sgd_in_backward(torsh), _sgd_in_backward(torch_ref)
    assert_close(w.detach(), rw.detach())
    assert_close(b.detach(), rb.detach())
    assert w.grad is None and rw.grad is None  # zero_grad in the hook: set_to_none
    assert [s for s, _ in seen] == [tuple(s) for s, _ in rseen]
    for (_, g), (_, rg) in zip(seen, rseen):
        assert_close(g, rg)


@pytest.mark.parametrize("lib", LIBS, ids=["torsh", "torch"])
def test_post_accumulate_grad_hook_sees_the_sum_of_a_backward_and_removes(lib):
    v = lib.tensor([0., 0., 0.], requires_grad=True)
    calls = []
    handle = v.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.tolist()))
    (v * 2 + v * 3).sum().backward()  # two paths into v: one accumulation, one call
    v.backward(lib.tensor([1., 2., 3.]))
    handle.remove()
    v.backward(lib.tensor([1., 1., 1.]))
    assert calls == [[5., 5., 5.], [6., 7., 8.]]
    lib.autograd.grad((v * 2).sum(), v)  # autograd.grad accumulates nothing: no call
    assert len(calls) == 2


def test_post_accumulate_grad_hook_errors():
    check_same_error(lambda lib: lib.zeros(2).register_post_accumulate_grad_hook(lambda p: None))
    check_same_error(lambda lib: (lib.zeros(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(
        lambda p: None))


# -- new -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_new_builds_tensors_of_selfs_dtype(dtype):
    for make in (lambda lib, t: t.new(), lambda lib, t: t.new([1, 0, 3]), lambda lib, t: t.new((1, 2)),
                 lambda lib, t: t.new(lib.tensor([4, 5]).to(t.dtype))):
        ours = make(torsh, torsh.zeros(2, dtype=getattr(torsh, dtype)))
        assert_close(ours, make(torch_ref, torch_ref.zeros(2, dtype=getattr(torch_ref, dtype))))
    for make in (lambda lib, t: t.new(2, 3), lambda lib, t: t.new(lib.Size([4]))):
        ours, ref = (make(lib, lib.zeros(2, dtype=getattr(lib, dtype))) for lib in (torsh, torch_ref))
        assert tuple(ours.shape) == tuple(ref.shape) and ours.dtype.name == str(ref.dtype).split(".")[1]


def test_new_aliases_a_tensor_and_refuses_others():
    t = torsh.arange(4.)
    alias = t.new(t)
    alias[0] = 7
    assert t[0].item() == 7
    check_same_error(lambda lib: lib.zeros(2).new(lib.tensor([1, 2])))
    check_same_error(lambda lib: lib.zeros(2).new(1.5))


# -- resize_, resize_as_, resize, resize_as --------------------------------------------------------------------------
_RESIZES = [
    (lambda lib: lib.arange(6.).reshape(2, 3), (2, 2)),  # fewer elements: the storage's first ones
    (lambda lib: lib.arange(6.).reshape(2, 3), (6,)),
    (lambda lib: lib.arange(6.).reshape(2, 3), (2, 3)),  # same sizes: nothing changes
    (lambda lib: lib.arange(6.).reshape(2, 3).t(), (3, 2)),  # same sizes keep the strides
    (lambda lib: lib.arange(6.).reshape(2, 3).t(), (2, 2)),  # storage order from the offset
    (lambda lib: lib.arange(8.)[2:5], (2, 2)),  # a view: from its storage offset
    (lambda lib: lib.arange(4, dtype=lib.int32), (2, 2)),
]


@pytest.mark.parametrize("make, size", _RESIZES)
def test_resize_takes_the_storage_from_the_offset(make, size):
    ours, ref = make(torsh), make(torch_ref)
    assert ours.resize_(*size) is ours
    ref.resize_(*size)
    assert_close(ours, ref)
    assert ours.stride() == ref.stride()


def test_resize_grows_keeping_the_old_values():
    ours, ref = torsh.arange(6.).reshape(2, 3), torch_ref.arange(6.).reshape(2, 3)
    ours.resize_((2, 4))
    ref.resize_((2, 4))
    assert tuple(ours.shape) == (2, 4)
    assert_close(ours.reshape(-1)[:6], ref.reshape(-1)[:6])  # the rest is uninitialised in PyTorch
    view = torsh.arange(4.)[1:3]
    view.resize_(2, 2)  # past the storage's end: a larger storage
    assert view.reshape(-1)[:3].tolist() == [1., 2., 3.]


def test_resize_as_and_the_deprecated_out_of_place_resizes():
    for lib in LIBS:
        assert tuple(lib.zeros(2).resize_as_(lib.zeros(2, 2)).shape) == (2, 2)
    for name, call in (("resize", lambda lib, t: t.resize(3, 2)), ("resize_as", lambda lib, t: t.resize_as(
            lib.zeros(3, 2)))):
        results = []
        for lib in LIBS:
            t = lib.arange(6., requires_grad=True)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = call(lib, t)
            assert [str(w.message) for w in caught] == [f"non-inplace {name} is deprecated"]
            out.pow(2).sum().backward()
            results.append((out, t.grad))
        assert_close(results[0][0].detach(), results[1][0].detach())
        assert_close(results[0][1], results[1][1])


@pytest.mark.filterwarnings("ignore:non-inplace resize")
def test_resize_errors():
    check_same_error(lambda lib: lib.zeros(2, requires_grad=True).resize_(3))
    check_same_error(lambda lib: (lib.zeros(2, requires_grad=True) * 1).resize_(2))
    check_same_error(lambda lib: lib.zeros(2).resize_(2, -1))
    check_same_error(lambda lib: lib.zeros(2, 3).resize(3))
    check_same_error(lambda lib: lib.zeros(2, 3).resize_as(lib.zeros(4)))


# -- set_, is_set_to, as_strided_ ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBS, ids=["torsh", "torch"])
def test_set_shares_the_memory_of_a_tensor(lib):
    x, y = lib.zeros(2), lib.arange(3.)
    assert x.set_(y) is x and x.is_set_to(y) and y.is_set_to(x)
    x[0] = 5
    assert y.tolist() == [5., 1., 2.] and x._version == 2 and y._version == 0
    assert not x.is_set_to(y[:2]) and not x.is_set_to(lib.arange(3.))
    assert x.set_().shape == (0,) and x.dtype == lib.float32


def test_set_a_window_of_a_storage_and_of_a_tensor():
    for make in (lambda lib: lib.zeros(1).set_(lib.arange(6.).untyped_storage(), 1, (2, 2), (2, 1)),
                 lambda lib: lib.zeros(1).set_(lib.arange(6.).untyped_storage()),
                 lambda lib: lib.zeros(1).set_(lib.arange(6.), 1, (2, 2)),
                 lambda lib: lib.zeros(1).set_(lib.arange(6.), 1, (2, 2), (1, 2))):
        assert_close(make(torsh), make(torch_ref))


def test_set_errors():
    check_same_error(lambda lib: lib.zeros(2).set_(lib.zeros(3, dtype=lib.int64)))
    check_same_error(lambda lib: lib.zeros(2, requires_grad=True).set_())


def test_as_strided_in_place():
    for args in (((2, 2), (1, 2)), ((2, 2), (1, 2), 1), ((3,), (2,))):
        ours, ref = torsh.arange(6.).reshape(2, 3), torch_ref.arange(6.).reshape(2, 3)
        assert ours.as_strided_(*args) is ours
        assert_close(ours, ref.as_strided_(*args))
        assert ours.stride() == ref.stride() and ours.storage_offset() == ref.storage_offset()
    # on a non-leaf, the graph goes through the window
    grads = []
    for lib in LIBS:
        x = lib.arange(6., requires_grad=True)
        y = x * 1
        y.as_strided_((2, 2), (1, 2)).pow(2).sum().backward()
        grads.append(x.grad)
    assert_close(*grads)
    check_same_error(lambda lib: lib.arange(6.).as_strided_((4,), (1,), 10))
    check_same_error(lambda lib: lib.zeros(2, requires_grad=True).as_strided_((2,), (1,)))


# -- as_subclass, storage_type, module_load, record_stream, to_padded_tensor ------------------------------------------
def test_as_subclass_aliases_into_the_graph():
    results = []
    for lib in LIBS:
        class Sub(lib.Tensor):
            pass
        a = lib.tensor([1., 2.], requires_grad=True)
        b = a.as_subclass(Sub)
        assert type(b) is Sub and not b.is_leaf and type(b.grad_fn).__name__ == "AliasBackward0"
        assert b.data_ptr() == a.data_ptr()
        (b * 3).sum().backward()
        plain = lib.arange(3.).as_subclass(Sub)
        assert type(plain) is Sub and plain.grad_fn is None
        results.append(a.grad)
    assert_close(*results)
    check_same_error(lambda lib: lib.zeros(2).as_subclass(int))


@pytest.mark.parametrize("dtype, name", [("float32", "FloatStorage"), ("int64", "LongStorage"),
                                         ("bool", "BoolStorage"), ("float64", "DoubleStorage")])
def test_storage_type_is_the_legacy_storage_class(dtype, name):
    for lib in LIBS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kind = lib.zeros(2, dtype=getattr(lib, dtype)).storage_type()
            again = lib.zeros(3, dtype=getattr(lib, dtype)).storage_type()
        assert repr(kind) == f"<class 'torch.{name}'>" and again is kind
        # PyTorch's deprecation warning, once per process (so here only if no earlier test asked)
        assert len(caught) <= 1 and all(str(w.message).startswith("TypedStorage is deprecated. It will be removed in "
                                                                   "the future") for w in caught)


@pytest.mark.parametrize("assign", [False, True])
def test_module_load(assign):
    results = []
    for lib in LIBS:
        param, value = lib.zeros(3, requires_grad=True), lib.arange(3.)
        with lib.no_grad():
            out = param.module_load(value, assign=assign)
        assert out is not param and out is not value and not out.requires_grad
        assert (out.data_ptr() == value.data_ptr()) == assign and (out.data_ptr() == param.data_ptr()) != assign
        results.append((out, param.detach()))
    assert_close(results[0][0], results[1][0])
    assert_close(results[0][1], results[1][1])


def test_record_stream_and_to_padded_tensor_refuse_strided_cpu_tensors():
    check_same_error(lambda lib: lib.zeros(2).record_stream(None))
    check_same_error(lambda lib: lib.zeros(2).record_stream(lib.Stream()), exact=False,
                     fallback_msg="Could not run 'aten::record_stream' with arguments from the 'CPU' backend")
    check_same_error(lambda lib: lib.zeros(2).to_padded_tensor(0.0), exact=False,
                     fallback_msg="Could not run 'aten::to_padded_tensor' with arguments from the 'CPU' backend")
