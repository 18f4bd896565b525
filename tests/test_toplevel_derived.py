"""torch.* names derived from other ops or standing for settings, against PyTorch 2.13: the top-level in-place
functions, the views' *_copy variants, the limited/placeholder dtypes, layout and memory_format, and the
settings / process-level functions."""
import pickle
import warnings

import numpy as np
import pytest

import torsh
from helpers import PKG, assert_close, check_same_error, needs_torch, pair, torch_ref as torch
from torsh._ops import registry

pytestmark = needs_torch


# -- top-level in-place functions -------------------------------------------------------------------------

UNARY_INPLACE = ["abs_", "acos_", "acosh_", "arccos_", "asin_", "atan_", "ceil_", "cos_", "cosh_", "deg2rad_",
                 "erf_", "erfc_", "exp_", "exp2_", "expm1_", "fix_", "floor_", "frac_", "i0_", "log_", "log10_",
                 "log1p_", "log2_", "neg_", "negative_", "rad2deg_", "reciprocal_", "round_", "rsqrt_", "sigmoid_",
                 "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "relu_", "zero_",
                 "detach_", "conj_physical_"]


def test_every_bound_inplace_function_is_pytorchs():
    ours = {n for n in dir(torsh) if n.endswith("_") and not n.startswith("_") and callable(getattr(torsh, n))}
    assert ours <= set(dir(torch)), f"torsh invents {sorted(ours - set(dir(torch)))}"
    assert registry.TOPLEVEL_INPLACE <= set(dir(torch))


def test_registry_inplace_entries_with_a_torch_toplevel_are_bound():
    for entry in registry.entries():
        if entry.namespace != "torsh" or entry.inplace is None:
            continue
        for name in registry._public_names(entry):
            assert hasattr(torsh, name + "_") == hasattr(torch, name + "_"), name


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_unary_inplace_function(name):
    x, rx = pair(np.linspace(1.1, 1.9, 6).reshape(2, 3), "float32")
    vx, vrx = x._version, rx._version
    out, rout = getattr(torsh, name)(x), getattr(torch, name)(rx)
    assert out is x and rout is rx
    assert_close(x, rx)
    assert x._version - vx == rx._version - vrx


@pytest.mark.parametrize("name,args", [("clamp_", (0.2, 0.5)), ("clamp_min_", (0.3,)), ("clamp_max_", (0.3,)),
                                       ("clip_", (0.1, 0.4)), ("fill_", (2.5,)), ("logit_", (0.01,)),
                                       ("nan_to_num_", (0.0,)), ("xlogy_", (2.0,)), ("ldexp_", (None,)),
                                       ("gcd_", (None,)), ("lcm_", (None,))])
def test_inplace_function_with_arguments(name, args):
    dtype = "int64" if name in ("gcd_", "lcm_") else "float64"
    x, rx = pair(np.array([[0.1, 0.4, 0.6], [3.0, 4.0, 6.0]]) * (10 if dtype == "int64" else 1), dtype)
    if args == (None,):
        other, rother = pair(np.array([2.0, 3.0, 4.0]), dtype)
        args, rargs = (other,), (rother,)
    else:
        rargs = args
    assert getattr(torsh, name)(x, *args) is x
    getattr(torch, name)(rx, *rargs)
    assert_close(x, rx)


def test_index_put_inplace_function():
    x, rx = pair(np.zeros(4), "float32")
    i, ri = pair(np.array([1, 3]), "int64")
    v, rv = pair(np.array([5.0, 6.0]), "float32")
    assert torsh.index_put_(x, (i,), v) is x
    torch.index_put_(rx, (ri,), rv)
    assert_close(x, rx)


@pytest.mark.parametrize("name", ["exp_", "clamp_", "zero_", "sin_"])
def test_inplace_function_refuses_a_leaf_that_requires_grad(name):
    args = (0.0, 1.0) if name == "clamp_" else ()
    check_same_error(lambda lib: getattr(lib, name)(lib.ones(2, requires_grad=True), *args))


@pytest.mark.parametrize("name", ["sqrt_", "exp_", "sigmoid_"])
def test_inplace_function_refuses_an_integer_result_dtype(name):
    check_same_error(lambda lib: getattr(lib, name)(lib.ones(2, dtype=lib.int64)))


def test_inplace_function_refuses_a_non_tensor():
    check_same_error(lambda lib: lib.abs_(3))


def test_inplace_function_records_autograd_on_a_non_leaf():
    def run(lib):
        x = lib.tensor([0.3, 0.7], dtype=lib.float64, requires_grad=True)
        y = x * 2
        lib.exp_(y)
        y.sum().backward()
        return x.grad, y.grad_fn.name()
    (g, node), (rg, rnode) = run(torsh), run(torch)
    assert_close(g, rg)
    assert node == rnode


def test_functional_fill():
    x, rx = pair(np.zeros((2, 2)), "float32")
    out, rout = torsh.fill(x, 3), torch.fill(rx, 3)
    assert_close(out, rout)
    assert out is not x and float(x.sum()) == 0.0
    check_same_error(lambda lib: lib.fill(lib.zeros(2), lib.tensor([1.0, 2.0])))


# -- nn in-place at top level -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args", [("selu_", ()), ("celu_", (0.5,)), ("threshold_", (0.1, -1.0)),
                                       ("rrelu_", (0.1, 0.3, False)), ("dropout_", (0.5, False)),
                                       ("alpha_dropout_", (0.5, False)), ("feature_alpha_dropout_", (0.5, False)),
                                       ("feature_dropout_", (0.5, False)), ("dropout_", (0.0, True)),
                                       ("feature_dropout", (0.5, False))])
def test_nn_inplace_functions(name, args):
    x, rx = pair(np.linspace(-2, 2, 24).reshape(2, 3, 4), "float32")
    out, rout = getattr(torsh, name)(x, *args), getattr(torch, name)(rx, *args)
    assert (out is x) == (rout is rx)
    assert_close(out, rout)


def test_relu_inplace_is_functional_relu_inplace():
    x, rx = pair(np.array([-1.0, 2.0]), "float32")
    assert torsh.relu_(x) is x
    assert_close(x, torch.nn.functional.relu_(rx))


def test_feature_dropout_drops_whole_features():
    torsh.manual_seed(0)
    out = torsh.feature_dropout(torsh.ones(8, 16, 5), 0.5, True)
    per_feature = out._data.reshape(8 * 16, 5)
    assert set(np.unique(per_feature)) <= {0.0, 2.0}
    assert (per_feature == per_feature[:, :1]).all()
    assert_close(torsh.feature_dropout(torsh.ones(2, 3), 1.0, True), torch.feature_dropout(torch.ones(2, 3), 1.0, True))


@pytest.mark.parametrize("call", [lambda lib: lib.feature_dropout(lib.ones(3), 0.5, True),
                                  lambda lib: lib.feature_dropout(lib.ones(2, 3), 1.5, True)])
def test_feature_dropout_errors(call):
    check_same_error(call)


# -- *_copy variants ----------------------------------------------------------------------------------------

COPIES = [
    ("alias_copy", ()), ("as_strided_copy", ((2, 2), (1, 2), 1)), ("detach_copy", ()),
    ("diagonal_copy", (0, 0, 1)), ("expand_copy", ((2, 3, 4),)), ("narrow_copy", (1, 1, 2)),
    ("permute_copy", ((2, 0, 1),)), ("select_copy", (1, 2)), ("slice_copy", (2, 1, None, 2)),
    ("split_copy", (1, 1)), ("split_with_sizes_copy", ([1, 2], 1)), ("squeeze_copy", ()),
    ("squeeze_copy", (0,)), ("t_copy", ()), ("transpose_copy", (0, 2)), ("unbind_copy", (2,)),
    ("unfold_copy", (2, 2, 1)), ("unsqueeze_copy", (1,)), ("view_copy", ((4, 3),)), ("view_copy", ((12,),)),
]


def _copy_input(lib, name, requires_grad=False):
    shape = (3, 4) if name in ("t_copy",) else (1, 3, 4)
    x = lib.tensor(np.arange(12.0).reshape(shape), dtype=lib.float64)
    return x.requires_grad_(requires_grad)


@pytest.mark.parametrize("name,args", COPIES, ids=[f"{n}{a}" for n, a in COPIES])
def test_copy_variant_values_memory_and_node(name, args):
    x, rx = _copy_input(torsh, name, True), _copy_input(torch, name, True)
    out, rout = getattr(torsh, name)(x, *args), getattr(torch, name)(rx, *args)
    outs, routs = (out, rout) if isinstance(rout, tuple) else ((out,), (rout,))
    assert isinstance(out, tuple) == isinstance(rout, tuple)
    for o, r in zip(outs, routs):
        assert_close(o, r)
        assert not np.shares_memory(o._data, x._data)
        if name == "detach_copy":  # PyTorch gives it a NotImplemented grad_fn; torsh none
            assert o.grad_fn is None and not o.requires_grad
        else:
            assert o.grad_fn.name() == r.grad_fn.name()


@pytest.mark.parametrize("name,args", [c for c in COPIES if c[0] != "detach_copy"],
                         ids=[f"{n}{a}" for n, a in COPIES if n != "detach_copy"])
def test_copy_variant_gradcheck(name, args):
    x = _copy_input(torsh, name, True)

    def fn(t):
        out = getattr(torsh, name)(t, *args)
        return out if not isinstance(out, tuple) else torsh.stack([o.sum() for o in out])
    assert torsh.autograd.gradcheck(fn, (x,))


def test_copy_variant_out():
    x, rx = pair(np.arange(6.0).reshape(2, 3), "float32")
    out, rout = torsh.empty(3), torch.empty(3)
    assert torsh.select_copy(x, 0, 1, out=out) is out
    torch.select_copy(rx, 0, 1, out=rout)
    assert_close(out, rout)
    outs, routs = [torsh.empty(1, 3), torsh.empty(1, 3)], [torch.empty(1, 3), torch.empty(1, 3)]
    assert torsh.split_copy(x, 1, out=outs) is None and torch.split_copy(rx, 1, out=routs) is None
    for o, r in zip(outs, routs):
        assert_close(o, r)


@pytest.mark.parametrize("call", [lambda lib: lib.slice_copy(lib.ones(2, 3), 1, 0, 3, 0),
                                  lambda lib: lib.view_copy(lib.ones(2, 3), (4,)),
                                  lambda lib: lib.expand_copy(lib.ones(2, 3), (3, 3))])
def test_copy_variant_errors(call):
    check_same_error(call)


# -- dtypes ---------------------------------------------------------------------------------------------------

PLACEHOLDERS = ["complex32", "chalf", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
                "float8_e8m0fnu", "float4_e2m1fn_x2"] + [f"{k}int{n}" for k in ("", "u") for n in range(1, 8)]
BITS = ["bits1x8", "bits2x4", "bits4x2", "bits8", "bits16"]


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"] + PLACEHOLDERS + BITS)
def test_dtype_objects_as_pytorchs(name):
    ours, ref = getattr(torsh, name), getattr(torch, name)
    assert isinstance(ours, torsh.dtype)
    assert repr(ours) == repr(ref).replace("torch.", f"{PKG}.")
    for attr in ("itemsize", "is_floating_point", "is_complex") + (("is_signed",) if name not in BITS else ()):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    assert pickle.loads(pickle.dumps(ours)) is ours


@pytest.mark.parametrize("name", BITS)
def test_bits_dtypes_have_no_signedness(name):
    check_same_error(lambda lib: getattr(lib, name).is_signed)


@pytest.mark.parametrize("name", PLACEHOLDERS + BITS)
def test_placeholder_dtype_tensors_raise_naming_the_dtype(name):
    expected = NotImplementedError if name.startswith(("int", "uint", "bits")) else TypeError
    for make in (lambda d: torsh.zeros(2, dtype=d), lambda d: torsh.ones(2).to(d), lambda d: torsh.tensor([1], dtype=d)):
        with pytest.raises(expected, match=getattr(torsh, name).name):
            make(getattr(torsh, name))


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_limited_unsigned_dtypes(name):
    for make in (lambda lib: lib.ones(3, dtype=getattr(lib, name)), lambda lib: lib.zeros(2, 2, dtype=getattr(lib, name)),
                 lambda lib: lib.full((2,), 5, dtype=getattr(lib, name)),
                 lambda lib: lib.tensor([1, 2], dtype=getattr(lib, name)),
                 lambda lib: lib.tensor([1.7, 2.2]).to(getattr(lib, name)),
                 lambda lib: lib.from_numpy(np.array([3, 4], dtype=name)),
                 lambda lib: lib.ones(3, dtype=getattr(lib, name)).float(),
                 lambda lib: lib.ones(3, dtype=getattr(lib, name)) == 1):
        assert_close(make(torsh), make(torch))
    assert torsh.ones(2, dtype=getattr(torsh, name)).numpy().dtype == np.dtype(name)
    assert torsh.iinfo(getattr(torsh, name)).max == torch.iinfo(getattr(torch, name)).max
    assert not torsh.ones(1, dtype=getattr(torsh, name)).is_signed()


@pytest.mark.parametrize("a,b", [("uint16", "int32"), ("uint8", "uint16"), ("uint32", "bool"),
                                 ("uint64", "complex64"), ("uint16", "uint32")])
def test_limited_unsigned_promotion_is_refused(a, b):
    check_same_error(lambda lib: lib.promote_types(getattr(lib, a), getattr(lib, b)))


@pytest.mark.parametrize("a,b", [("uint16", "uint16"), ("uint16", "float32"), ("uint64", "float16")])
def test_limited_unsigned_promotion_with_floats(a, b):
    assert repr(torsh.promote_types(getattr(torsh, a), getattr(torsh, b))) == \
        repr(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", f"{PKG}.")


def test_unsupported_numpy_dtype_message():
    check_same_error(lambda lib: lib.from_numpy(np.array(["a"], dtype=object)))


# -- layout and memory_format ---------------------------------------------------------------------------------

LAYOUTS = ["strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "jagged", "_mkldnn"]
FORMATS = ["contiguous_format", "preserve_format", "channels_last", "channels_last_3d", "legacy_contiguous_format"]


@pytest.mark.parametrize("name", LAYOUTS + FORMATS)
def test_layout_and_memory_format_objects(name):
    ours, ref = getattr(torsh, name), getattr(torch, name)
    kind = "layout" if name in LAYOUTS else "memory_format"
    assert isinstance(ours, getattr(torsh, kind)) and isinstance(ref, getattr(torch, kind))
    assert repr(ours) == repr(ref).replace("torch.", f"{PKG}.") and str(ours) == repr(ours)
    assert pickle.loads(pickle.dumps(ours)) is ours


def test_layout_types_cannot_be_instantiated():
    check_same_error(lambda lib: lib.layout())
    check_same_error(lambda lib: lib.memory_format())


def test_tensor_layout_and_memory_format_arguments():
    x = torsh.ones(2, 3)
    assert x.layout is torsh.strided and torch.ones(2).layout is torch.strided
    assert torsh.legacy_contiguous_format is torsh.contiguous_format
    assert_close(x.clone(memory_format=torsh.preserve_format), torch.ones(2, 3).clone(memory_format=torch.preserve_format))
    assert_close(torsh.empty_like(x, memory_format=torsh.contiguous_format).fill_(1), torch.ones(2, 3))


# -- settings and process-level functions --------------------------------------------------------------------

def test_build_and_process_facts():
    for name in ("has_lapack", "has_openmp", "has_spectral", "USE_GLOBAL_DEPS", "USE_RTLD_GLOBAL_WITH_LIBTORCH",
                 "PRIVATE_OPS"):
        assert getattr(torsh, name) == getattr(torch, name), name
    assert torsh.has_mkl is False  # torsh's BLAS is OpenBLAS (PyTorch's wheel: MKL)
    assert torsh.compiled_with_cxx11_abi() == torch.compiled_with_cxx11_abi()
    assert torsh.set_flush_denormal(True) == torch.set_flush_denormal(True)
    assert torsh.set_flush_denormal(False) == torch.set_flush_denormal(False)
    assert torsh.init_num_threads() is None and torsh.thread_safe_generator() is torch.thread_safe_generator()


def test_interop_threads():
    before = torsh.get_num_interop_threads()
    assert before >= 1
    torsh.set_num_interop_threads(3)
    assert torsh.get_num_interop_threads() == 3
    torsh.set_num_interop_threads(before)
    check_same_error(lambda lib: lib.set_num_interop_threads(0))


def test_warn_always_and_anomaly_switches():
    try:
        for lib in (torsh, torch):
            assert lib.is_warn_always_enabled() is False
            lib.set_warn_always(True)
            assert lib.is_warn_always_enabled() is True
            lib.set_anomaly_enabled(True, False)
            assert (lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()) == (True, False)
        assert torsh.autograd.is_anomaly_enabled()  # the one switch torsh.autograd reads
    finally:
        for lib in (torsh, torch):
            lib.set_warn_always(False)
            lib.set_anomaly_enabled(False)
    assert (torsh.is_anomaly_enabled(), torsh.is_anomaly_check_nan_enabled()) == (False, True)


def test_get_device_and_device_module():
    assert torsh.get_device(torsh.ones(2)) == torch.get_device(torch.ones(2)) == -1
    check_same_error(lambda lib: lib.get_device(3))
    assert torsh.get_device_module() is torsh.cpu and torsh.get_device_module("cpu") is torsh.cpu
    assert torsh.get_device_module(torsh.device("cpu")) is torsh.cpu and torsh.get_device_module("cuda") is torsh.cuda
    check_same_error(lambda lib: lib.get_device_module(3))


def test_exception_classes():
    for name in ("AcceleratorError", "OutOfMemoryError", "FatalError", "JITException"):
        ours, ref = getattr(torsh, name), getattr(torch, name)
        assert [c.__name__ for c in ours.__mro__[1:]] == [c.__name__ for c in ref.__mro__[1:]], name
    assert torsh.JITException is torsh.jit.Error


def test_cpu_event_and_stream():
    for lib in (torsh, torch):
        event, stream = lib.Event("cpu", enable_timing=True), lib.Stream()
        assert event.query() and stream.query() and event.synchronize() is None and stream.synchronize() is None
        assert repr(event).endswith("event_flag=1, event_id=0") and "stream_id=0" in repr(stream)
        assert event.device == lib.device("cpu") and stream == lib.Stream("cpu")
    assert repr(torsh.Event()) == repr(torch.Event()) and repr(torsh.Stream()) == repr(torch.Stream())
    check_same_error(lambda lib: lib.Event("cpu").record())
    check_same_error(lambda lib: lib.Stream("cpu").record_event())
    check_same_error(lambda lib: lib.Event().elapsed_time(lib.Event()))
    check_same_error(lambda lib: lib.Event(enable_timing=True).elapsed_time(lib.Event(enable_timing=True)))


def test_placeholder_classes():
    with torsh.DisableTorchFunction(), torsh.DisableTorchFunctionSubclass():
        assert_close(torsh.ones(2) + 1, torch.ones(2) + 1)
    check_same_error(lambda lib: lib.StorageBase())
    assert torsh.GradScaler is torsh.amp.GradScaler


def test_set_autocast_gpu_dtype():
    before = torsh.get_autocast_gpu_dtype()
    torsh.set_autocast_gpu_dtype(torsh.bfloat16)
    assert torsh.get_autocast_gpu_dtype() is torsh.bfloat16
    torsh.set_autocast_gpu_dtype(before)


@pytest.mark.parametrize("call", [lambda lib: lib.scalar_tensor(3), lambda lib: lib.scalar_tensor(True),
                                  lambda lib: lib.scalar_tensor(2.5, dtype=lib.float64),
                                  lambda lib: lib.scalar_tensor(3, dtype=lib.int64)])
def test_scalar_tensor(call):
    assert_close(call(torsh), call(torch))


def test_empty_strided_and_permuted():
    assert torsh.empty_strided((2, 3), (1, 2)).stride() == torch.empty_strided((2, 3), (1, 2)).stride()
    assert torsh.empty_permuted((2, 3, 4), (0, 2, 1)).stride() == torch.empty_permuted((2, 3, 4), (0, 2, 1)).stride()
    assert torsh.empty_strided((2, 3), (3, 1), dtype=torsh.float64).dtype is torsh.float64
    for call in (lambda lib: lib.empty_strided((2, 3), (1,)), lambda lib: lib.empty_strided((2, 3), (0, 1)).add_(1),
                 lambda lib: lib.empty_permuted((2, 3), (0,)), lambda lib: lib.empty_permuted((2, 3), (0, 0))):
        check_same_error(call)


def test_frombuffer_shares_writable_memory():
    buffer = bytearray(np.array([1, 2, 3], dtype=np.int32).tobytes())
    t = torsh.frombuffer(buffer, dtype=torsh.int32)
    assert_close(t, torch.frombuffer(bytearray(buffer), dtype=torch.int32))
    t[0] = 7
    assert np.frombuffer(buffer, dtype=np.int32)[0] == 7
    assert_close(torsh.frombuffer(buffer, dtype=torsh.int32, count=1, offset=4),
                 torch.frombuffer(bytearray(buffer), dtype=torch.int32, count=1, offset=4))


@pytest.mark.parametrize("call", [lambda lib: lib.frombuffer(bytearray(), dtype=lib.uint8),
                                  lambda lib: lib.frombuffer(bytearray(3), dtype=lib.int32),
                                  lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, count=3),
                                  lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, offset=9),
                                  lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, offset=2)])
def test_frombuffer_errors(call):
    check_same_error(call)


def test_from_file(tmp_path):
    path = str(tmp_path / "values.bin")
    np.arange(4, dtype=np.float32).tofile(path)
    for kwargs in ({"size": 4}, {"size": 2, "dtype": "float64"}, {}, {"size": 4, "shared": True}):
        ours = torsh.from_file(path, **{k: getattr(torsh, v) if k == "dtype" else v for k, v in kwargs.items()})
        ref = torch.from_file(path, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()})
        assert_close(ours, ref)
    shared = torsh.from_file(path, shared=True, size=4)
    shared[0] = 9.0
    del shared
    assert np.fromfile(path, dtype=np.float32)[0] == 9.0
    err = check_same_error(lambda lib: lib.from_file(path, size=5), exact=False, fallback_msg="is smaller than the "
                           "required mapping size <20>")
    assert "size <16>" in str(err)


@pytest.mark.parametrize("args,kwargs", [((0, 3), {}), ((0, 1, 0.3), {}), ((0, 3), {"dtype": "int32"}),
                                         ((3, 0, -1), {}), ((0, 1, 0.1), {"dtype": "float64"})])
def test_deprecated_range(args, kwargs):
    def run(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lib.range(*args, **{k: getattr(lib, v) for k, v in kwargs.items()})
        assert [str(w.message) for w in caught if w.category is UserWarning][0].startswith("torch.range is deprecated")
        return out
    assert_close(run(torsh), run(torch))


@pytest.mark.parametrize("args", [(3, 0), (0, 3, 0), (0, 3, -1)])
def test_deprecated_range_errors(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_same_error(lambda lib: lib.range(*args))


def test_to_dlpack_round_trip():
    x = torsh.arange(6.0).reshape(2, 3)
    assert_close(torsh.from_dlpack(torsh.to_dlpack(x) and x), torch.arange(6.0).reshape(2, 3))
    shared = torch.from_dlpack(torsh.to_dlpack(x))
    assert_close(x, shared)
    x[0, 0] = 5.0
    assert shared[0, 0].item() == 5.0


def test_conj_and_conj_physical():
    data = np.array([1 + 2j, -3j])
    x, rx = pair(data, "complex128", requires_grad=True)
    for name in ("conj", "conj_physical"):
        assert_close(getattr(torsh, name)(x).detach(), getattr(torch, name)(rx).resolve_conj().detach())
    out, rout = torsh.conj_physical(x), torch.conj_physical(rx)
    assert out.grad_fn.name() == rout.grad_fn.name()
    w, rw = pair(np.array([0.5 + 1j, 2 - 1j]), "complex128")
    (out * w).real.sum().backward()
    (rout * rw).real.sum().backward()
    assert_close(x.grad, rx.grad)
    real, rreal = pair(np.array([1.0, 2.0]), "float32")
    assert torsh.conj(real) is real and torch.conj(rreal) is rreal
    assert_close(torsh.conj_physical(real), torch.conj_physical(rreal))
    y, ry = pair(data, "complex64")
    assert y.conj_physical_() is y
    ry.conj_physical_()
    assert_close(y, ry)
    assert torsh.autograd.gradcheck(torsh.conj_physical, (torsh.tensor(data, requires_grad=True),))


def test_chalf_method_names_the_unsupported_dtype():
    with pytest.raises(TypeError, match="complex32"):
        torsh.ones(2).chalf()


def test_fork_and_wait_run_eagerly():
    for lib in (torsh, torch):
        future = lib.jit.fork(lambda a, b=1: a + b, 2, b=3)
        assert future.done() and lib.jit.wait(future) == 5 and future.value() == 5
        assert lib.wait(lib.fork(lambda: 7)) == 7
        chained = future.then(lambda f: f.wait() * 2)
        assert chained.wait() == 10
    with pytest.raises(ZeroDivisionError):
        torsh.jit.fork(lambda: 1 / 0)


@pytest.mark.parametrize("name,data", [("view_as_real_copy", np.array([1 + 2j, -3j])),
                                       ("view_as_complex_copy", np.array([[1.0, 2.0], [0.0, -3.0]]))])
def test_complex_view_copies(name, data):
    dtype = "complex128" if data.dtype.kind == "c" else "float64"
    x, rx = pair(data, dtype)
    out, rout = getattr(torsh, name)(x), getattr(torch, name)(rx)
    assert_close(out, rout)
    assert not np.shares_memory(out._data, x._data)
    if name == "view_as_complex_copy":  # PyTorch has no derivative for its complex result
        check_same_error(lambda lib: getattr(lib, name)(lib.tensor(data, requires_grad=True)))
        return
    x.requires_grad_(True)
    rx.requires_grad_(True)
    assert getattr(torsh, name)(x).grad_fn.name() == getattr(torch, name)(rx).grad_fn.name()
    assert torsh.autograd.gradcheck(lambda t: getattr(torsh, name)(t), (x,))
