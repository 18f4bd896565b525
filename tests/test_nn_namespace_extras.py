"""The rest of torch.nn / nn.functional / nn.utils against PyTorch 2.13: AdaptiveLogSoftmaxWithLoss, CrossMapLRN2d,
Container, factory_kwargs, linear_cross_entropy and LinearCrossEntropyLoss, grouped_mm and the scaled products,
the __torch_function__ helpers, conv_tbc, assert_int_or_pair, convert_conv*_weight_memory_format."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, assert_same_structure_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = needs_torch


def copy_weights(ours, ref):
    """Load the reference module's parameters into ours (same names)."""
    ours.load_state_dict({k: torsh.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})


# -- AdaptiveLogSoftmaxWithLoss --------------------------------------------------------------------------------------
def _asm_pair(head_bias=False):
    torch_ref.manual_seed(0)
    ref = torch_ref.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=head_bias,
                                                  dtype=torch_ref.float64)
    ours = torsh.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=head_bias,
                                               dtype=torsh.float64)
    copy_weights(ours, ref)
    return ours, ref


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_forward_and_gradients(head_bias):
    ours, ref = _asm_pair(head_bias)
    x = make_array((7, 8), seed=1)
    target = np.array([0, 4, 9, 2, 7, 5, 1])
    xo, xr = torsh.tensor(x).requires_grad_(True), torch_ref.tensor(x).requires_grad_(True)
    out_o, out_r = ours(xo, torsh.tensor(target)), ref(xr, torch_ref.tensor(target))
    assert type(out_o).__name__ == "_ASMoutput" and out_o._fields == ("output", "loss")
    assert_same_structure_close(tuple(out_o), tuple(out_r))
    out_o.loss.backward()
    out_r.loss.backward()
    assert_close(xo.grad, xr.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, q.grad, msg=name)


def test_adaptive_log_softmax_unbatched_log_prob_and_predict():
    ours, ref = _asm_pair()
    x = make_array((9, 8), seed=2) * 3
    assert_same_structure_close(tuple(ours(torsh.tensor(x[0]), torsh.tensor(8))),
                                tuple(ref(torch_ref.tensor(x[0]), torch_ref.tensor(8))))
    assert_close(ours.log_prob(torsh.tensor(x)), ref.log_prob(torch_ref.tensor(x)))
    assert_close(ours.predict(torsh.tensor(x)), ref.predict(torch_ref.tensor(x)))


@pytest.mark.parametrize("call", [
    lambda lib, m: m(lib.ones(3, 8, dtype=lib.float64), lib.tensor([0, 10, 1])),
    lambda lib, m: m(lib.ones(3, 8, dtype=lib.float64), lib.tensor([0, 1])),
    lambda lib, m: m(lib.ones(8, dtype=lib.float64), lib.tensor([0])),
    lambda lib, m: m(lib.ones(3, 8, dtype=lib.float64), lib.zeros(3, 1, dtype=lib.long)),
])
def test_adaptive_log_softmax_errors(call):
    modules = dict(zip((torsh, torch_ref), _asm_pair()))
    check_same_error(lambda lib: call(lib, modules[lib]))


def test_adaptive_log_softmax_0d_target_error():
    modules = dict(zip((torsh, torch_ref), _asm_pair()))
    error = check_same_error(lambda lib: modules[lib](lib.ones(3, 8, dtype=lib.float64), lib.tensor(1)), exact=False,
                             fallback_msg="0D target tensor expects 1D input tensors, but found inputs with size ")
    assert str(error).endswith(".Size([3, 8])")


@pytest.mark.parametrize("cutoffs", [[], [6, 3], [0, 4], [4, 10], [3, 3]])
def test_adaptive_log_softmax_cutoff_errors(cutoffs):
    check_same_error(lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs))


# -- CrossMapLRN2d ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,channels", [(5, 7), (3, 2), (4, 6)])
def test_cross_map_lrn2d_forward_and_backward(size, channels):
    x = make_array((2, channels, 3, 4), seed=size)
    xo, xr = torsh.tensor(x).requires_grad_(True), torch_ref.tensor(x).requires_grad_(True)
    ours = torsh.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5)(xo)
    ref = torch_ref.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5)(xr)
    assert_close(ours, ref)
    g = make_array(tuple(x.shape), seed=9)
    ours.backward(torsh.tensor(g))
    ref.backward(torch_ref.tensor(g))
    assert_close(xo.grad, xr.grad)
    assert repr(torsh.nn.CrossMapLRN2d(3)) == repr(torch_ref.nn.CrossMapLRN2d(3))


def test_cross_map_lrn2d_needs_4d():
    check_same_error(lambda lib: lib.nn.CrossMapLRN2d(3)(lib.ones(2, 3, 4)))


# -- Container, factory_kwargs --------------------------------------------------------------------------------------------
def test_container_is_deprecated_and_registers_its_kwargs():
    for lib in (torsh, torch_ref):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = lib.nn.Container(a=lib.nn.Linear(2, 3), b=lib.nn.ReLU())
        assert [str(w.message) for w in caught if issubclass(w.category, FutureWarning)] == [
            "`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
            "Subclass that instead."]
        assert [name for name, _ in c.named_children()] == ["a", "b"]


@pytest.mark.parametrize("kwargs", [None, {}, {"dtype": "D"}, {"device": "cpu", "factory_kwargs": {"dtype": "D"}},
                                    {"memory_format": "M", "dtype": "D"}])
def test_factory_kwargs(kwargs):
    assert torsh.nn.factory_kwargs(kwargs) == torch_ref.nn.factory_kwargs(kwargs)


@pytest.mark.parametrize("kwargs", [{"bias": True}, {"dtype": "D", "factory_kwargs": {"dtype": "E"}}])
def test_factory_kwargs_errors(kwargs):
    check_same_error(lambda lib: lib.nn.factory_kwargs(kwargs))


# -- linear_cross_entropy ------------------------------------------------------------------------------------------------------
_LCE_CASES = {
    "indices": ((6, 5), (4, 5), lambda g: g.integers(0, 4, 6), {}),
    "bias_weight_smoothing": ((6, 5), (4, 5), lambda g: g.integers(0, 4, 6),
                              {"bias": True, "weight": True, "label_smoothing": 0.2, "ignore_index": 1}),
    "k_dim": ((3, 5), (4, 2, 5), lambda g: g.integers(0, 4, (3, 2)), {"bias": True, "reduction": "sum"}),
    "probabilities": ((3, 5), (4, 5), lambda g: g.dirichlet(np.ones(4), 3), {"reduction": "none"}),
    "unbatched": ((5,), (4, 5), lambda g: np.array(2), {}),
}


@pytest.mark.parametrize("case", sorted(_LCE_CASES))
def test_linear_cross_entropy(case):
    in_shape, w_shape, make_target, opts = _LCE_CASES[case]
    g = np.random.default_rng(0)
    x, w, target = make_array(in_shape, seed=1), make_array(w_shape, seed=2), make_target(g)
    bias = make_array(w_shape[:-1], seed=3) if opts.get("bias") else None
    weight = np.abs(make_array((4,), seed=4)) if opts.get("weight") else None
    kw = {k: v for k, v in opts.items() if k not in ("bias", "weight")}
    res = {}
    for lib in (torsh, torch_ref):
        xt, wt = lib.tensor(x).requires_grad_(True), lib.tensor(w).requires_grad_(True)
        loss = lib.nn.functional.linear_cross_entropy(
            xt, wt, lib.tensor(target), linear_bias=None if bias is None else lib.tensor(bias),
            weight=None if weight is None else lib.tensor(weight), **kw)
        loss.sum().backward()
        res[lib] = (loss, xt.grad, wt.grad)
    assert_same_structure_close(res[torsh], res[torch_ref])


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 3, 4), lib.ones(5, 4), lib.zeros(2).long()),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(4), lib.ones(5), lib.zeros(2).long()),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 4), lib.ones(5, 3), lib.zeros(2).long()),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(4), lib.ones(5, 2, 4), lib.zeros(2).long()),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 4), lib.ones(5, 4), lib.zeros(2, 5),
                                                       ignore_index=1),
    lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 4), lib.ones(5, 4), lib.zeros(2).long(),
                                                       linear_bias=lib.ones(4)),
    lambda lib: lib.nn.LinearCrossEntropyLoss(3, 4, weight=lib.ones(3)),
    lambda lib: lib.nn.LinearCrossEntropyLoss(3, 4, label_smoothing=1.5),
    lambda lib: lib.nn.LinearCrossEntropyOptions(acc_policy="fast"),
    lambda lib: lib.nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio:0"),
    lambda lib: lib.nn.LinearCrossEntropyOptions(batch_chunk_size=0),
])
def test_linear_cross_entropy_errors(call):
    check_same_error(call)


def test_linear_cross_entropy_options_acc_dtype_error():
    check_same_error(lambda lib: lib.nn.LinearCrossEntropyOptions(acc_dtype=lib.int32), exact=False,
                     fallback_msg="acc_dtype must be one of {None, torch.float16, torch.bfloat16, torch.float32, "
                                  "torch.float64}, got ")


def test_linear_cross_entropy_loss_module():
    torch_ref.manual_seed(0)
    ref = torch_ref.nn.LinearCrossEntropyLoss(5, 4, out_features=(2,), bias=True, dtype=torch_ref.float64,
                                              label_smoothing=0.1)
    ours = torsh.nn.LinearCrossEntropyLoss(5, 4, out_features=(2,), bias=True, dtype=torsh.float64,
                                           label_smoothing=0.1)
    copy_weights(ours, ref)
    assert repr(ours) == repr(ref)
    x, target = make_array((3, 5), seed=1), np.random.default_rng(0).integers(0, 4, (3, 2))
    assert_close(ours(torsh.tensor(x), torsh.tensor(target)), ref(torch_ref.tensor(x), torch_ref.tensor(target)))


def test_linear_cross_entropy_options_give_the_same_loss():
    x, w, target = make_array((6, 5), seed=1), make_array((4, 5), seed=2), np.arange(6) % 4
    opts = {lib: lib.nn.LinearCrossEntropyOptions(batch_chunk_size=2, chunking_method=None) for lib in (torsh, torch_ref)}
    assert repr(opts[torsh]) == repr(opts[torch_ref])
    assert_close(torsh.nn.functional.linear_cross_entropy(torsh.tensor(x), torsh.tensor(w), torsh.tensor(target),
                                                          options=opts[torsh]),
                 torch_ref.nn.functional.linear_cross_entropy(torch_ref.tensor(x), torch_ref.tensor(w),
                                                              torch_ref.tensor(target), options=opts[torch_ref]))


# -- grouped_mm and the scaled products ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape,b_shape,offs", [((8, 8), (8, 4), [4, 8]), ((2, 8, 8), (8, 8), [4, 8]),
                                                   ((8, 8), (2, 8, 4), [4, 8]), ((2, 8, 8), (2, 8, 4), None)])
def test_grouped_mm(a_shape, b_shape, offs):
    a, b = make_array(a_shape, "float32", seed=1), make_array(b_shape, "float32", seed=2)
    res = {}
    for lib in (torsh, torch_ref):
        at, bt = lib.tensor(a).requires_grad_(True), lib.tensor(b).requires_grad_(True)
        out = lib.nn.functional.grouped_mm(at, bt, offs=None if offs is None else lib.tensor(offs, dtype=lib.int32))
        out.pow(2).sum().backward()
        res[lib] = (out, at.grad, bt.grad)
    assert_same_structure_close(res[torsh], res[torch_ref], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call", [
    lambda lib, F, o: F.grouped_mm(lib.ones(8, 8), lib.ones(2, 8, 4)),
    lambda lib, F, o: F.grouped_mm(lib.ones(8, 8), lib.ones(2, 8, 4), offs=o, bias=lib.ones(4)),
    lambda lib, F, o: F.grouped_mm(lib.ones(8, 8).double(), lib.ones(2, 8, 4).double(), offs=o),
    lambda lib, F, o: F.grouped_mm(lib.ones(2, 8, 8), lib.ones(2, 8, 4), offs=o),
    lambda lib, F, o: F.grouped_mm(lib.ones(8, 8), lib.ones(2, 8, 4), offs=o, out_dtype=lib.float64),
    lambda lib, F, o: F.grouped_mm(lib.ones(8), lib.ones(2, 8, 4), offs=o),
])
def test_grouped_mm_errors(call):
    check_same_error(lambda lib: call(lib, lib.nn.functional, lib.tensor([4, 8], dtype=lib.int32)))


def test_scaled_products_refuse_as_on_a_cpu():
    a = make_array((8, 8), "float32")
    tensor_wise = {lib: lib.nn.functional.ScalingType.TensorWise for lib in (torsh, torch_ref)}
    check_same_error(lambda lib: lib.nn.functional.scaled_mm(lib.tensor(a), lib.tensor(a).t(), lib.ones(1),
                                                             tensor_wise[lib], lib.ones(1), tensor_wise[lib]),
                     exact=False, fallback_msg="Invalid scaling configuration.")
    check_same_error(lambda lib: lib.nn.functional.scaled_grouped_mm(lib.tensor(a), lib.tensor(a), lib.ones(1),
                                                                     tensor_wise[lib], lib.ones(1), tensor_wise[lib]),
                     exact=False,
                     fallback_msg="Could not run 'aten::_scaled_grouped_mm_v2' with arguments from the 'CPU' backend")


# -- __torch_function__ helpers, assert_int_or_pair, conv_tbc ---------------------------------------------------------------
def test_torch_function_helpers():
    class Wrapper:
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return ("handled", func.__name__, types)

    for lib in (torsh, torch_ref):
        F, plain, wrapped = lib.nn.functional, lib.ones(2), Wrapper()
        assert not F.has_torch_function([plain, 1]) and F.has_torch_function((plain, wrapped))
        assert not F.has_torch_function_unary(plain) and F.has_torch_function_unary(wrapped)
        assert not F.has_torch_function_variadic(plain, None) and F.has_torch_function_variadic(None, wrapped)
        assert F.handle_torch_function(F.relu, (wrapped,), wrapped) == ("handled", "relu", (Wrapper,))


def test_assert_int_or_pair():
    for lib in (torsh, torch_ref):
        assert lib.nn.functional.assert_int_or_pair(3, "k", "{} bad") is None
        assert lib.nn.functional.assert_int_or_pair([1, 2], "k", "{} bad") is None
    check_same_error(lambda lib: lib.nn.functional.assert_int_or_pair([1, 2, 3], "kernel_size",
                                                                      "{} must be an int or a pair"))


def test_functional_conv_tbc():
    x, w, b = make_array((6, 2, 3), seed=1), make_array((2, 3, 4), seed=2), make_array((4,), seed=3)
    assert_close(torsh.nn.functional.conv_tbc(torsh.tensor(x), torsh.tensor(w), torsh.tensor(b), 1),
                 torch_ref.nn.functional.conv_tbc(torch_ref.tensor(x), torch_ref.tensor(w), torch_ref.tensor(b), 1))


# -- nn.utils ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [2, 3])
def test_convert_conv_weight_memory_format(nd):
    convert = getattr(torsh.nn.utils, f"convert_conv{nd}d_weight_memory_format")
    conv_cls = getattr(torsh.nn, f"Conv{nd}d")
    other_cls = getattr(torsh.nn, f"Conv{5 - nd}d")
    model = torsh.nn.Sequential(conv_cls(2, 3, 1), torsh.nn.Sequential(other_cls(3, 3, 1), conv_cls(3, 2, 1)))
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    assert convert(model, torsh.contiguous_format) is model
    after = list(model.parameters())
    assert all(p is q for p, q in zip(params, after))  # the same Parameters, new data in place
    for old, new in zip(before, after):
        assert_close(new.detach(), old._data)
    assert model[0].weight._data is not before[0]._data
