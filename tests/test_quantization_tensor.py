"""Quantized dtypes and tensors (quantize_per_tensor / per_channel, dequantize, accessors, repr, errors) and the
fake quantization ops, against PyTorch."""
import warnings

import numpy as np
import pytest

import torsh

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", message="torch.quantize_per_tensor", category=UserWarning)


def _same_error(f_ours, f_ref, match_len=None):
    with pytest.raises(Exception) as ref:
        f_ref()
    with pytest.raises(type(ref.value)) as ours:
        f_ours()
    expected = str(ref.value) if match_len is None else str(ref.value)[:match_len]
    assert str(ours.value).startswith(expected)


@pytest.mark.parametrize("name", ["qint8", "quint8", "qint32", "quint4x2", "quint2x4"])
def test_quantized_dtypes(name):
    ours, ref = getattr(torsh, name), getattr(torch, name)
    assert repr(ours) == repr(ref).replace("torch", "torsh")
    assert (ours.is_floating_point, ours.is_complex, ours.itemsize) == \
           (ref.is_floating_point, ref.is_complex, ref.itemsize)
    _same_error(lambda: ours.is_signed, lambda: ref.is_signed)
    # PyTorch makes an empty quantized tensor without a quantizer (unprintable); torsh refuses it
    with pytest.raises(RuntimeError, match="not supported on quantized tensors"):
        torsh.empty(2, dtype=ours)
    import pickle
    assert pickle.loads(pickle.dumps(ours)) is ours


def _inputs(n=4099, seed=0):
    x = np.random.RandomState(seed).randn(n).astype(np.float32) * 10
    # exact halves: ties round to even
    x[:8] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.0], dtype=np.float32) * np.float32(0.25)
    return x


@pytest.mark.parametrize("dtype,zero_point", [("qint8", 0), ("qint8", -7), ("quint8", 128), ("quint8", 3),
                                              ("qint32", 5)])
@pytest.mark.parametrize("scale", [0.25, 0.1, 0.0371, 1.7])
def test_quantize_per_tensor_bits(dtype, zero_point, scale):
    x = _inputs()
    ref = torch.quantize_per_tensor(torch.from_numpy(x), scale, zero_point, getattr(torch, dtype))
    ours = torsh.quantize_per_tensor(torsh.from_numpy(x), scale, zero_point, getattr(torsh, dtype))
    assert ours.is_quantized and ours.dtype is getattr(torsh, dtype)
    np.testing.assert_array_equal(ours.int_repr().numpy(), ref.int_repr().numpy())
    assert ours.int_repr().dtype.name == str(ref.int_repr().dtype).split(".")[1]
    np.testing.assert_array_equal(ours.dequantize().numpy(), ref.dequantize().numpy())
    assert (ours.q_scale(), ours.q_zero_point()) == (ref.q_scale(), ref.q_zero_point())
    assert repr(ours.qscheme()) == repr(ref.qscheme()).replace("torch", "torsh")


def test_quantize_per_tensor_tensor_qparams_and_lists():
    x = _inputs(10)
    ref = torch.quantize_per_tensor(torch.from_numpy(x), torch.tensor(0.1), torch.tensor(2), torch.quint8)
    ours = torsh.quantize_per_tensor(torsh.from_numpy(x), torsh.tensor(0.1), torsh.tensor(2), torsh.quint8)
    assert ours.q_scale() == ref.q_scale() and ours.q_zero_point() == ref.q_zero_point()
    np.testing.assert_array_equal(ours.int_repr().numpy(), ref.int_repr().numpy())
    (ours,) = torsh.quantize_per_tensor([torsh.from_numpy(x)], torsh.tensor([0.1]), torsh.tensor([2]), torsh.quint8)
    np.testing.assert_array_equal(ours.int_repr().numpy(), ref.int_repr().numpy())


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_quantize_per_channel_bits(axis):
    x = np.random.RandomState(1).randn(4, 5, 6).astype(np.float32) * 3
    n = x.shape[axis]
    scales = np.random.RandomState(2).uniform(0.01, 0.2, n)
    zps = np.random.RandomState(3).randint(-10, 10, n)
    ref = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(scales), torch.from_numpy(zps), axis,
                                     torch.qint8)
    ours = torsh.quantize_per_channel(torsh.from_numpy(x), torsh.from_numpy(scales), torsh.from_numpy(zps), axis,
                                      torsh.qint8)
    np.testing.assert_array_equal(ours.int_repr().numpy(), ref.int_repr().numpy())
    np.testing.assert_array_equal(ours.dequantize().numpy(), ref.dequantize().numpy())
    np.testing.assert_array_equal(ours.q_per_channel_scales().numpy(), ref.q_per_channel_scales().numpy())
    np.testing.assert_array_equal(ours.q_per_channel_zero_points().numpy(), ref.q_per_channel_zero_points().numpy())
    assert ours.q_per_channel_axis() == ref.q_per_channel_axis()
    assert repr(ours.qscheme()) == "torsh.per_channel_affine"


def _both(f):
    return f(torsh), f(torch)


def test_repr_as_pytorch():
    def per_tensor(lib):
        x = lib.tensor([-1.0, 0.0, 0.5, 1.25, 2.5, 3.5, 100.0, -0.05, 0.15])
        return lib.quantize_per_tensor(x, 0.1, 3, lib.quint8)

    def per_channel(lib):
        w = lib.tensor([[0.1, -0.2, 0.3], [1.0, 2.0, -3.0]])
        return lib.quantize_per_channel(w, lib.tensor([0.01, 0.05]), lib.tensor([0, 1]), 0, lib.qint8)

    for make in (per_tensor, per_channel, lambda lib: per_tensor(lib)[1:3], lambda lib: per_tensor(lib)[4]):
        ours, ref = _both(make)
        assert repr(ours) == repr(ref).replace("torch.", "torsh.")


def test_shape_methods_keep_the_quantizer():
    def make(lib):
        return lib.quantize_per_tensor(lib.arange(24, dtype=lib.float32).reshape(2, 3, 4) / 7, 0.05, 4, lib.quint8)
    for f in (lambda q: q.reshape(4, 6), lambda q: q.view(-1), lambda q: q.flatten(1), lambda q: q.transpose(0, 2),
              lambda q: q.permute(2, 0, 1), lambda q: q[1, :, 1:3], lambda q: q.clone(), lambda q: q.detach(),
              lambda q: q.contiguous()):
        ours, ref = f(make(torsh)), f(make(torch))
        assert ours.is_quantized and tuple(ours.shape) == tuple(ref.shape)
        np.testing.assert_array_equal(ours.int_repr().numpy(), ref.int_repr().numpy())
        assert ours.q_scale() == ref.q_scale()


def test_errors_as_pytorch():
    def q(lib):
        return lib.quantize_per_tensor(lib.tensor([0.1, 0.2]), 0.1, 0, lib.qint8)

    def qc(lib):
        return lib.quantize_per_channel(lib.ones(2, 3), lib.tensor([0.1, 0.2]), lib.tensor([0, 0]), 0, lib.qint8)

    cases = [
        lambda lib: lib.quantize_per_tensor(lib.ones(2, dtype=lib.float64), 0.1, 0, lib.qint8),
        lambda lib: lib.quantize_per_tensor(lib.ones(2, dtype=lib.int32), 0.1, 0, lib.qint8),
        lambda lib: lib.quantize_per_tensor(lib.ones(2), 0.1, 0, lib.float32),
        lambda lib: lib.quantize_per_tensor(lib.ones(2), 0.1, 300, lib.quint8),
        lambda lib: lib.quantize_per_tensor(lib.ones(2), 0.1, -1, lib.quint8),
        lambda lib: lib.quantize_per_channel(lib.ones(2, 3), lib.tensor([0.1, 0.2]), lib.tensor([0, 0]), 2, lib.qint8),
        lambda lib: lib.quantize_per_channel(lib.ones(2, 3), lib.tensor([0.1, 0.2, 0.3]), lib.tensor([0, 0]), 0,
                                             lib.qint8),
        lambda lib: lib.quantize_per_channel(lib.ones(2, 3), lib.tensor([0.1, 0.2]), lib.tensor([0, 300]), 0,
                                             lib.qint8),
        lambda lib: lib.quantize_per_channel(lib.ones(2, 3), [0.1, 0.2], [0, 0], 0, lib.qint8),
        lambda lib: q(lib).q_per_channel_scales(),
        lambda lib: qc(lib).q_scale(),
        lambda lib: q(lib).numpy(),
        lambda lib: q(lib).tolist(),
        lambda lib: q(lib).requires_grad_(),
    ]
    for case in cases:
        _same_error(lambda: case(torsh), lambda: case(torch))
    # ops without a quantized kernel: the dispatcher's error naming the op
    for case in (lambda lib: q(lib) + q(lib), lambda lib: lib.ones(2).int_repr(),
                 lambda lib: lib.ones(2).q_scale(), lambda lib: lib.ones(2).qscheme()):
        _same_error(lambda: case(torsh), lambda: case(torch), match_len=60)
    with pytest.raises(NotImplementedError, match="Could not run 'aten::.*'QuantizedCPU' backend"):
        q(torsh).exp()


def test_dequantize_of_a_float_tensor_is_itself():
    x = torsh.randn(3)
    assert x.dequantize() is x and torsh.dequantize(x) is x and not x.is_quantized


# -- fake quantization ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("qrange,scale,zero_point", [((0, 255), 0.1, 128), ((-128, 127), 0.037, 0),
                                                     ((0, 15), 0.5, 3)])
def test_fake_quantize_per_tensor_forward_backward(dtype, qrange, scale, zero_point):
    x = _inputs(1000)
    for tensor_qparams in (False, True):
        results = []
        for lib in (torsh, torch):
            t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
            s = lib.tensor([scale]) if tensor_qparams else scale
            z = lib.tensor([zero_point], dtype=lib.int32) if tensor_qparams else zero_point
            y = lib.fake_quantize_per_tensor_affine(t, s, z, *qrange)
            g = lib.tensor(np.linspace(-1, 1, x.size), dtype=getattr(lib, dtype))
            y.backward(g)
            results.append((y.detach().numpy(), t.grad.numpy(), type(y.grad_fn).__name__ if lib is torsh
                            else y.grad_fn.name()))
        (y1, g1, n1), (y2, g2, n2) = results
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(g1, g2)
        assert n1 == n2


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_fake_quantize_per_channel_forward_backward(axis):
    x = np.random.RandomState(5).randn(3, 4, 5) * 4
    n = x.shape[axis]
    scales = np.random.RandomState(6).uniform(0.02, 0.3, n).astype(np.float32)
    zps = np.random.RandomState(7).randint(0, 20, n).astype(np.int32)
    results = []
    for lib in (torsh, torch):
        t = lib.tensor(x, dtype=lib.float32, requires_grad=True)
        y = lib.fake_quantize_per_channel_affine(t, lib.from_numpy(scales), lib.from_numpy(zps), axis, 0, 31)
        y.sum().backward()
        results.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_fake_quantize_errors():
    x = [0.1, 0.5, 2.0]
    cases = [
        lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(x), 0.1, 0, 10, 5),
        lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(x), 0.1, 20, 0, 5),
        lambda lib: lib.fake_quantize_per_channel_affine(lib.ones(2, 3), lib.tensor([0.1, 0.2]),
                                                         lib.tensor([0, 0], dtype=lib.int32), 1, 0, 255),
        lambda lib: lib.fake_quantize_per_channel_affine(lib.ones(2, 3), lib.tensor([0.1, 0.2]), lib.tensor([0, 0]),
                                                         0, 0, 255),
        lambda lib: lib.fake_quantize_per_channel_affine(lib.ones(2, 3), lib.tensor([0.1, 0.2]),
                                                         lib.tensor([0, 0], dtype=lib.int32), -1, 0, 255),
    ]
    for case in cases:
        _same_error(lambda: case(torsh), lambda: case(torch))


def test_non_finite_inputs_and_degenerate_scales_as_pytorch():
    vals = [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.0, 1.0]

    def cases(lib):
        x = lib.tensor(vals)
        out = [lib.quantize_per_tensor(x, scale, zp, getattr(lib, dt)).int_repr().tolist()
               for scale, zp, dt in ((0.1, 3, "quint8"), (0.0, 0, "qint8"), (1e-30, 0, "qint8"),
                                     (float("nan"), 0, "qint8"), (0.1, 0, "qint32"))]
        out.append(lib.quantize_per_channel(x.reshape(1, -1), lib.tensor([0.1]), lib.tensor([2]), 0,
                                            lib.qint8).int_repr().tolist())
        t = lib.tensor(vals, requires_grad=True)
        y = lib.fake_quantize_per_tensor_affine(t, 0.1, 0, 0, 255)
        y.sum().backward()
        out += [y.tolist(), t.grad.tolist()]
        out.append(tuple(lib.quantize_per_tensor(lib.ones(0), 0.1, 0, lib.qint8).int_repr().shape))
        return out

    assert cases(torsh) == cases(torch)


def test_save_load_with_pytorch_and_corrupt_records():
    import io
    import pickle
    x = np.random.RandomState(0).randn(3, 4).astype(np.float32)
    for save_lib, load_lib in ((torsh, torch), (torch, torsh)):
        q = save_lib.quantize_per_channel(save_lib.from_numpy(x), save_lib.tensor([0.1, 0.2, 0.3]),
                                          save_lib.tensor([0, 1, 2]), 0, save_lib.qint8)
        buffer = io.BytesIO()
        save_lib.save({"q": q, "p": save_lib.quantize_per_tensor(save_lib.from_numpy(x), 0.05, 3, save_lib.quint8)},
                      buffer)
        buffer.seek(0)
        loaded = load_lib.load(buffer)
        np.testing.assert_array_equal(loaded["q"].int_repr().numpy(), q.int_repr().numpy())
        np.testing.assert_array_equal(loaded["q"].q_per_channel_scales().numpy(), q.q_per_channel_scales().numpy())
        assert (loaded["p"].q_scale(), loaded["p"].q_zero_point()) == (0.05, 3)
    from torsh._quantized import rebuild_qtensor
    for params in ((), (torsh.per_tensor_affine, 0.1), (torsh.per_channel_affine, torsh.tensor([0.1]),
                                                         torsh.tensor([0]), 0), "junk"):
        with pytest.raises((RuntimeError, pickle.UnpicklingError)):
            rebuild_qtensor(np.zeros((2, 3), np.int8), params)
