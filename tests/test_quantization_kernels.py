"""The quantized modules' integer products (kernels_cpp/quantized.cpp's ``qgemm``, every instruction set) against
exact int64 sums, and the quantized Linear / Conv2d / dynamic Linear built on them against PyTorch's fbgemm
kernels: the same integers (static) and the same floats (dynamic) on identical weights and inputs."""
import warnings

import numpy as np
import pytest

import torsh
from torsh.ao.nn.quantized import _kernels
from torsh.backend import kernels

from isa_helpers import isa_copies, isa_id, running

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", category=UserWarning)

COPIES = isa_copies("quantized")
# every copy also runs the baseline copy's plain loops
LOOPS = COPIES + [(module, "plain") for module in {m for m, _ in COPIES}]


def _pack(w_centred):
    n, k = w_centred.shape
    kp, np_ = max(32, -(-k // 32) * 32), -(-n // 32) * 32
    full = np.zeros((np_, kp), np.int16)
    full[:n, :k] = w_centred
    return np.ascontiguousarray(full.reshape(np_ // 32, 32, kp // 2, 2).transpose(0, 2, 1, 3)), kp


@pytest.mark.skipif(not COPIES, reason="compiled kernels not built")
@pytest.mark.parametrize("pair", LOOPS, ids=isa_id)
@pytest.mark.parametrize("signed", [False, True])
def test_qgemm_exact(pair, signed):
    module, isa = pair
    rng = np.random.default_rng(1)
    with running(module, isa):
        for m, k, n in [(1, 1, 1), (3, 5, 7), (9, 64, 33), (17, 100, 65), (70, 31, 3), (0, 4, 3), (2, 0, 5),
                        (65, 300, 40), (130, 512, 70)]:  # the last above the OpenMP threshold
            if signed:
                a, zp = rng.integers(-128, 128, (m, k)).astype(np.int8), -128
            else:
                a, zp = rng.integers(0, 256, (m, k), dtype=np.uint8), 255
            w = rng.integers(-128, 128, (n, k))
            wzp = rng.integers(-128, 128, (n, 1))
            panels, kp = _pack(w - wzp)
            out = np.full((m, n), 7, np.int32)
            module.qgemm(a, panels, out, m, k, kp, n, zp, signed, True)
            np.testing.assert_array_equal(out, (a.astype(np.int64) - zp) @ (w - wzp).T)
            # extreme operands: |a - zp| = |w - zp| = 255 everywhere
            ext = np.zeros((m, k), np.uint8) if not signed else np.full((m, k), -128, np.int8)
            zp_ext = 255 if not signed else 127
            panels, kp = _pack(np.full((n, k), -255))
            module.qgemm(ext, panels, out, m, k, kp, n, zp_ext, signed, False)
            np.testing.assert_array_equal(out, np.full((m, n), 255 * 255 * k))


@pytest.mark.skipif(not COPIES, reason="compiled kernels not built")
def test_qgemm_checks_its_buffers():
    module = COPIES[0][0]
    a, out = np.zeros((4, 10), np.uint8), np.zeros((4, 5), np.int32)
    panels, kp = _pack(np.zeros((5, 10), np.int16))
    with pytest.raises(ValueError, match="qgemm: a holds 40 bytes, too few for the 44 int8 values"):
        module.qgemm(a, panels, out, 4, 11, kp, 5, 0, False, False)
    with pytest.raises(ValueError, match="qgemm: w holds"):
        module.qgemm(a, panels, out, 4, 10, kp, 33, 0, False, False)
    with pytest.raises(ValueError, match="qgemm: out holds 80 bytes"):
        module.qgemm(a, panels, out, 4, 10, kp, 6, 0, False, False)
    with pytest.raises(ValueError, match="Kp must be a multiple of 32"):
        module.qgemm(a, panels, out, 4, 10, 30, 5, 0, False, False)
    with pytest.raises(ValueError, match="sizes"):
        module.qgemm(a, panels, out, -1, 10, kp, 5, 0, False, False)
    with pytest.raises(ValueError, match="a_zero_point 256 is out of the uint8 range"):
        module.qgemm(a, panels, out, 4, 10, kp, 5, 256, False, False)
    with pytest.raises(ValueError, match="too few"):
        module.qgemm(a, panels, out, 1 << 62, 32, 1 << 60, 5, 0, False, False)
    with pytest.raises(TypeError):
        module.qgemm(a, panels, np.zeros((4, 5), np.int32)[:, ::2], 4, 10, kp, 5, 0, False, False)


def _weight(lib, rng, shape, per_channel):
    w = lib.from_numpy(rng.standard_normal(shape).astype(np.float32))
    if per_channel:
        scales = lib.from_numpy(rng.uniform(0.01, 0.05, shape[0]))
        zps = lib.from_numpy(rng.integers(-3, 4, shape[0]))
        return lib.quantize_per_channel(w, scales, zps, 0, lib.qint8)
    return lib.quantize_per_tensor(w, 0.02, 0, lib.qint8)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(5, 40, 70), (2, 3, 300, 33), (1, 1, 1)])
def test_static_linear_same_integers_as_pytorch(per_channel, relu, shape):
    *batch, k, n = shape
    outs = []
    for lib in (torsh, torch):
        rng = np.random.default_rng(5)
        w = _weight(lib, rng, (n, k), per_channel)
        b = lib.from_numpy(rng.standard_normal(n).astype(np.float32))
        x = lib.quantize_per_tensor(lib.from_numpy(rng.standard_normal((*batch, k)).astype(np.float32)), 0.03, 70,
                                    lib.quint8)
        cls = lib.ao.nn.intrinsic.quantized.LinearReLU if relu else lib.ao.nn.quantized.Linear
        mod = cls(k, n)
        mod.set_weight_bias(w, b)
        mod.scale, mod.zero_point = 0.07, 60
        outs.append(mod(x).int_repr().numpy())
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("shape", [(6, 50, 40), (3, 2, 100, 7), (1, 1, 1)])
def test_dynamic_linear_same_floats_as_pytorch(per_channel, shape):
    *batch, k, n = shape
    outs = []
    for lib in (torsh, torch):
        rng = np.random.default_rng(6)
        w = _weight(lib, rng, (n, k), per_channel)
        b = lib.from_numpy(rng.standard_normal(n).astype(np.float32))
        mod = lib.ao.nn.quantized.dynamic.Linear(k, n)
        mod.set_weight_bias(w, b)
        outs.append(mod(lib.from_numpy(rng.standard_normal((*batch, k)).astype(np.float32) * 3)).numpy())
    np.testing.assert_allclose(*outs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("geometry", [
    dict(stride=1, padding=0, dilation=1, groups=1), dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1), dict(stride=1, padding=1, dilation=1, groups=2)])
def test_conv2d_same_integers_as_pytorch(per_channel, geometry):
    c_in, c_out, ks = 4, 6, 3
    outs = []
    for lib in (torsh, torch):
        rng = np.random.default_rng(7)
        w = _weight(lib, rng, (c_out, c_in // geometry["groups"], ks, ks), per_channel)
        b = lib.from_numpy(rng.standard_normal(c_out).astype(np.float32))
        x = lib.quantize_per_tensor(lib.from_numpy(rng.standard_normal((2, c_in, 9, 8)).astype(np.float32)), 0.04,
                                    50, lib.quint8)
        mod = lib.ao.nn.quantized.Conv2d(c_in, c_out, ks, **geometry)
        mod.set_weight_bias(w, b)
        mod.scale, mod.zero_point = 0.1, 64
        outs.append(mod(x).int_repr().numpy())
    np.testing.assert_array_equal(*outs)


def test_products_fall_back_to_float64_without_kernels(monkeypatch):
    rng = np.random.default_rng(8)
    w = _weight(torsh, rng, (7, 20), True)
    x = rng.integers(0, 256, (3, 20), dtype=np.uint8)
    compiled = _kernels.int_product(x, 9, w)
    monkeypatch.setattr(kernels, "get", lambda family: None)
    assert compiled.dtype == np.int32
    np.testing.assert_array_equal(_kernels.int_product(x, 9, w), compiled)


@pytest.mark.skipif(not COPIES, reason="compiled kernels not built")
@pytest.mark.parametrize("module", sorted({m for m, _ in COPIES}, key=lambda m: m.__name__), ids=lambda m: m.__name__)
def test_epilogues_round_as_numpy(module):
    """requantize / dequantize: each float32 operation rounded as NumPy rounds it (no fused multiply-add)."""
    rng = np.random.default_rng(3)
    for _ in range(50):
        m, n = int(rng.integers(1, 30)), int(rng.integers(1, 70))
        acc = rng.integers(-300000, 300000, (m, n)).astype(np.int32)
        x_scale, out_scale = np.float32(rng.uniform(1e-3, 0.1)), np.float32(rng.uniform(0.01, 2))
        atw = x_scale * rng.uniform(1e-3, 0.05, n).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        zp, relu = int(rng.integers(0, 256)), bool(rng.integers(0, 2))
        out = np.empty((m, n), np.uint8)
        module.requantize(acc, bias / atw, atw / out_scale, out, m, n, zp, relu)
        expected = np.rint((acc.astype(np.float32) + bias / atw) * (atw / out_scale)).astype(np.int64) + zp
        np.testing.assert_array_equal(out, np.clip(expected, zp if relu else 0, 255))
        floats = np.empty((m, n), np.float32)
        module.dequantize(acc, atw, bias, floats, m, n, True)
        np.testing.assert_array_equal(floats, acc.astype(np.float32) * atw + bias)
    with pytest.raises(ValueError, match="requantize: out holds 3 bytes, too few for the 4 uint8 values"):
        module.requantize(np.zeros(4, np.int32), np.zeros(2, np.float32), np.zeros(2, np.float32),
                          np.zeros(3, np.uint8), 2, 2, 0, False)
    with pytest.raises(ValueError, match="dequantize: bias holds 4 bytes, too few for the 2 float32 values"):
        module.dequantize(np.zeros(4, np.int32), np.zeros(2, np.float32), np.zeros(1, np.float32),
                          np.zeros(4, np.float32), 2, 2, True)
    module.dequantize(np.zeros(4, np.int32), np.zeros(2, np.float32), np.zeros(1, np.float32),
                      np.zeros(4, np.float32), 2, 2, False)  # without a bias its buffer is not read
