"""Ops on quantized tensors against PyTorch: F.relu / q.relu(), torch.cat (shared and requantized qparams),
torch.quantize_per_tensor_dynamic, and torch.ao.nn.quantized.functional (linear, conv2d, pooling, clamp,
hardtanh, hardswish, interpolate): the same integers and qparams."""
import warnings

import numpy as np
import pytest

import torsh

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


def _q(lib, array, scale=0.05, zp=60, dtype="quint8"):
    return lib.quantize_per_tensor(lib.from_numpy(array), scale, zp, getattr(lib, dtype))


def _same(a, b):
    np.testing.assert_array_equal(a.int_repr().numpy(), b.int_repr().numpy())
    assert a.dtype.__repr__().replace("torsh", "torch") == repr(b.dtype)
    assert (a.q_scale(), a.q_zero_point()) == (b.q_scale(), b.q_zero_point())
    assert tuple(a.shape) == tuple(b.shape)


X = np.random.RandomState(0).randn(2, 4, 7, 6).astype(np.float32) * 2


def test_relu_forms_as_pytorch():
    outs = [[f(_q(lib, X)) for f in (lambda q, lib=lib: lib.nn.functional.relu(q), lambda q: q.relu(),
                                     lambda q: q.relu_(), lambda q, lib=lib: lib.nn.functional.relu(q, inplace=True))]
            for lib in (torsh, torch)]
    for a, b in zip(*outs):
        _same(a, b)
    q = _q(torsh, X)
    assert q.relu_() is q


def test_cat_as_pytorch():
    for lib_pair in [(torsh, torch)]:
        res = []
        for lib in lib_pair:
            a, b = _q(lib, X), _q(lib, X * 3, 0.1, 20)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mixed = lib.cat([a, b, a], 1)
            shared = lib.cat([a, a], -1)
            res.append((mixed, shared, [str(w.message).split(" (Triggered")[0] for w in caught
                                        if "must share" in str(w.message)]))
        (m1, s1, w1), (m2, s2, w2) = res
        _same(m1, m2)
        _same(s1, s2)
        assert w1 == w2 and len(w1) == 1
    with pytest.raises(RuntimeError, match="Only per-tensor quantization is supported in 'cat'!"):
        per_channel = torsh.quantize_per_channel(torsh.from_numpy(X), torsh.ones(2).double(), torsh.zeros(2).long(),
                                                 0, torsh.quint8)
        torsh.cat([per_channel, per_channel])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torsh.cat([_q(torsh, X)], 4)


@pytest.mark.parametrize("dtype", ["quint8", "qint8", "float16"])
@pytest.mark.parametrize("reduce_range", [False, True])
def test_quantize_per_tensor_dynamic_as_pytorch(dtype, reduce_range):
    rs = np.random.RandomState(1)
    for scale, shift in [(1, 0), (1e-6, 0), (100, 3), (1, -5), (0, 0)]:
        x = (rs.randn(37) * scale + shift).astype(np.float32)
        a, b = (lib.quantize_per_tensor_dynamic(lib.from_numpy(x), getattr(lib, dtype), reduce_range)
                for lib in (torsh, torch))
        if dtype == "float16":
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        else:
            _same(a, b)
    with pytest.raises(RuntimeError, match="dtype QInt32not supported"):
        torsh.quantize_per_tensor_dynamic(torsh.randn(3), torsh.qint32, False)
    with pytest.raises(RuntimeError, match="Quantize only works on Float Tensor, got Double"):
        torsh.quantize_per_tensor_dynamic(torsh.randn(3).double(), torsh.quint8, False)


def _weight(lib, shape, per_channel):
    rs = np.random.RandomState(2)
    w = lib.from_numpy(rs.randn(*shape).astype(np.float32))
    if per_channel:
        return lib.quantize_per_channel(w, lib.from_numpy(rs.uniform(0.01, 0.03, shape[0])),
                                        lib.zeros(shape[0], dtype=lib.long), 0, lib.qint8)
    return lib.quantize_per_tensor(w, 0.02, 0, lib.qint8)


@pytest.mark.parametrize("per_channel", [False, True])
def test_functional_linear_and_conv2d_as_pytorch(per_channel):
    res = []
    for lib in (torsh, torch):
        qF = lib.ao.nn.quantized.functional
        x2 = _q(lib, X.reshape(8, 42))
        bias = lib.from_numpy(np.linspace(-1, 1, 10).astype(np.float32))
        lin = (qF.linear(x2, _weight(lib, (10, 42), per_channel), bias, 0.2, 70),
               qF.linear(x2, _weight(lib, (10, 42), per_channel)))
        conv = (qF.conv2d(_q(lib, X), _weight(lib, (10, 4, 3, 3), per_channel), bias, padding=1, stride=(2, 1),
                          scale=0.3, zero_point=50),
                qF.conv2d(_q(lib, X), _weight(lib, (6, 2, 2, 2), per_channel), None, groups=2, dilation=2))
        res.append(lin + conv)
    for a, b in zip(*res):
        _same(a, b)
    assert torsh.nn.quantized.functional.linear is torsh.ao.nn.quantized.functional.linear
    qF = torsh.ao.nn.quantized.functional
    with pytest.raises(NotImplementedError, match="Only torch.quint8 is supported for activation tensor!"):
        qF.conv2d(_q(torsh, X, dtype="qint8", zp=0), _weight(torsh, (6, 4, 3, 3), False), None)
    with pytest.raises(ValueError, match=r"Input shape must be `\(N, C, H, W\)`!"):
        qF.conv2d(_q(torsh, X[0]), _weight(torsh, (6, 4, 3, 3), False), None)
    with pytest.raises(NotImplementedError, match="Only zero-padding is supported!"):
        qF.conv2d(_q(torsh, X), _weight(torsh, (6, 4, 3, 3), False), None, padding_mode="reflect")


def test_functional_pooling_and_pointwise_as_pytorch():
    res = []
    for lib in (torsh, torch):
        qF = lib.ao.nn.quantized.functional
        q = _q(lib, X)
        res.append((qF.max_pool2d(q, 2), qF.max_pool2d(q, 3, 2, 1), qF.adaptive_avg_pool2d(q, (3, 2)),
                    qF.avg_pool2d(q, 2), qF.clamp(q, -0.5, 1.0), qF.hardtanh(q), qF.hardtanh(q, -2.0, 0.7),
                    qF.interpolate(q, scale_factor=2), qF.interpolate(q, size=(5, 9)),
                    qF.max_pool1d(_q(lib, X[0]), 2)))
    for i, (a, b) in enumerate(zip(*res)):
        _same(a, b)
    with pytest.raises(ValueError, match="Input to 'quantized.clamp' must be quantized!"):
        torsh.ao.nn.quantized.functional.clamp(torsh.randn(2), 0, 1)


def test_functional_hardswish_as_pytorch():
    a, b = (lib.ao.nn.quantized.functional.hardswish(_q(lib, X), 0.03, 10) for lib in (torsh, torch))
    assert (a.q_scale(), a.q_zero_point()) == (b.q_scale(), b.q_zero_point())
    diff = np.abs(a.int_repr().numpy().astype(int) - b.int_repr().numpy())
    assert diff.max() <= 1 and (diff == 0).mean() > 0.98  # ties rounded apart: PyTorch vectorises otherwise


def _skip_block(lib):
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = lib.ao.quantization.QuantStub(), lib.ao.quantization.DeQuantStub()
            self.fc, self.relu = lib.nn.Linear(16, 16), lib.nn.ReLU()
            self.skip, self.prod = lib.ao.nn.quantized.FloatFunctional(), lib.nn.quantized.FloatFunctional()
            self.join = lib.ao.nn.quantized.FloatFunctional()

        def forward(self, x):
            x = self.quant(x)
            y = self.relu(self.fc(x))
            z = self.skip.add(y, x)
            w = self.prod.mul(z, x)
            return self.dequant(self.join.cat([self.skip.add_relu(w, z), z], 1))
    return Block()


def test_float_functional_prepare_convert_as_pytorch():
    torch.manual_seed(0)
    ref, ours = _skip_block(torch), _skip_block(torsh)
    ours.load_state_dict({k: torsh.from_numpy(v.numpy().copy()) for k, v in ref.state_dict().items()})
    rs = np.random.RandomState(0)
    calib, test = [rs.randn(64, 16).astype(np.float32) for _ in range(3)], rs.randn(50, 16).astype(np.float32)
    outs = []
    for lib, model in ((torsh, ours), (torch, ref)):
        model.eval()
        model.qconfig = lib.ao.quantization.get_default_qconfig("x86")
        prepared = lib.ao.quantization.prepare(model)
        assert type(prepared.skip.activation_post_process).__name__ == "HistogramObserver"
        for c in calib:
            prepared(lib.from_numpy(c))
        converted = lib.ao.quantization.convert(prepared)
        outs.append((converted, converted(lib.from_numpy(test)).numpy()))
    (q1, y1), (q2, y2) = outs
    assert repr(q1).replace("torsh.", "torch.") == repr(q2)
    assert list(q1.state_dict()) == list(q2.state_dict())
    np.testing.assert_array_equal(y1, y2)
    with pytest.raises(RuntimeError, match="FloatFunctional is not intended to use the 'forward'"):
        torsh.ao.nn.quantized.FloatFunctional()(torsh.ones(1))
    with pytest.raises(RuntimeError, match="Functional is not intended to use the 'forward'"):
        q1.skip(torsh.ones(1))
    f = torsh.ao.nn.quantized.FloatFunctional()
    assert torsh.equal(f.add_scalar(torsh.ones(2), 2.0), torsh.full((2,), 3.0))


def test_ops_quantized_as_pytorch():
    rs = np.random.RandomState(0)
    x, w, b = (rs.randn(6, 64).astype(np.float32), rs.randn(10, 64).astype(np.float32),
               rs.randn(10).astype(np.float32))
    res = []
    for lib in (torsh, torch):
        qo = lib.ops.quantized
        qa, qb = _q(lib, x, 0.05, 60), _q(lib, x * 2, 0.1, 30)
        packed = qo.linear_prepack(lib.quantize_per_tensor(lib.from_numpy(w), 0.02, 0, lib.qint8), lib.from_numpy(b))
        ints = [qo.add(qa, qb, 0.2, 40), qo.add_relu(qa, qb, 0.2, 40), qo.mul(qa, qb, 0.3, 20),
                qo.cat([qa, qb], 1, 0.2, 50), qo.cat([qa, qb], 0, None, None), qo.linear(qa, packed, 0.3, 64),
                qo.linear_unpack(packed)[0]]
        floats = [qo.linear_dynamic(lib.from_numpy(x), packed).numpy(),
                  qo.linear_dynamic(lib.from_numpy(x), packed, True).numpy()]
        res.append((ints, floats))
    for a, b in zip(res[0][0], res[1][0]):
        _same(a, b)
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
