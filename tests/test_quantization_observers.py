"""HistogramObserver against PyTorch's: the running histogram (re-binned as the range grows), min/max, and the
qparams its L2 search picks, for every dtype / qscheme / range option; PyTorch's default x86 qconfig (which
observes activations with it) end to end."""
import warnings

import numpy as np
import pytest

import torsh

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


def _batches():
    rs = np.random.RandomState(0)
    out = [rs.randn(4, 50).astype(np.float32) * s + o for s, o in [(1, 0), (2, 1), (0.5, -3), (1, 0), (3, 0)]]
    out.append(rs.standard_t(2, 1000).astype(np.float32))  # heavy tails: the search cuts outliers off
    return out


def _observe(lib, kwargs, batches):
    k = {a: getattr(lib, b) if a in ("dtype", "qscheme") else b for a, b in kwargs.items()}
    obs = lib.ao.quantization.HistogramObserver(**k)
    for b in batches:
        obs(lib.from_numpy(b))
    scale, zp = obs.calculate_qparams()
    return obs, scale.numpy(), zp.numpy()


@pytest.mark.parametrize("kwargs", [{}, {"reduce_range": True}, {"bins": 256},
                                    {"dtype": "qint8", "qscheme": "per_tensor_symmetric"},
                                    {"dtype": "qint8", "reduce_range": False, "eps": 2 ** -12},
                                    {"quant_min": 0, "quant_max": 127}], ids=str)
@pytest.mark.parametrize("data", ["mixed", "constant", "one_batch", "with_inf"])
def test_histogram_observer_as_pytorch(kwargs, data):
    batches = _batches()
    if data == "constant":
        batches = [np.full((3, 3), 2.5, np.float32), batches[0]]  # orig_min == orig_max: histc of one value
    elif data == "one_batch":
        batches = batches[:1]
    elif data == "with_inf":
        batches = [np.array([1.0, np.inf, -2.0], np.float32)] + batches[:2]
    (o1, s1, z1), (o2, s2, z2) = (_observe(lib, kwargs, batches) for lib in (torsh, torch))
    np.testing.assert_array_equal(o1.histogram.numpy(), o2.histogram.numpy())
    assert float(o1.min_val) == float(o2.min_val) and float(o1.max_val) == float(o2.max_val)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(z1, z2)
    assert s1.dtype == s2.dtype and z1.dtype == z2.dtype


def test_histogram_observer_arguments_and_state():
    tq, rq = torsh.ao.quantization, torch.ao.quantization
    for lib in (tq, rq):
        with pytest.raises(NotImplementedError, match="HistogramObserver's qscheme only support"):
            lib.HistogramObserver(qscheme=(torsh if lib is tq else torch).per_channel_affine)
        with pytest.raises(NotImplementedError, match="doesn't support dynamic quantization"):
            lib.HistogramObserver(is_dynamic=True)
    fresh = [lib.HistogramObserver() for lib in (tq, rq)]
    with pytest.warns(UserWarning, match="must run observer before calling calculate_qparams"):
        s, z = fresh[0].calculate_qparams()
    assert s.tolist() == [1.0] and z.tolist() == [0]
    assert repr(fresh[0]) == repr(fresh[1])
    obs, _, _ = _observe(torsh, {}, _batches()[:2])
    assert list(obs.state_dict()) == list(_observe(torch, {}, _batches()[:2])[0].state_dict())
    copy = tq.HistogramObserver()
    copy.load_state_dict(obs.state_dict())
    np.testing.assert_array_equal(copy.histogram.numpy(), obs.histogram.numpy())
    assert copy.calculate_qparams()[0].tolist() == obs.calculate_qparams()[0].tolist()
    assert torsh.ao.quantization.get_default_qconfig("x86").activation.p.func is tq.HistogramObserver
    assert tq.default_histogram_observer().quant_max == 127


def test_default_x86_qconfig_static_model_as_pytorch():
    rs = np.random.RandomState(3)
    calib = [rs.randn(16, 12).astype(np.float32) for _ in range(3)]
    test = rs.randn(16, 12).astype(np.float32)
    outs = []
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.ao.quantization.QuantStub(), torch.nn.Linear(12, 40), torch.nn.ReLU(),
                              torch.nn.Linear(40, 5), torch.ao.quantization.DeQuantStub())
    ours = torsh.nn.Sequential(torsh.ao.quantization.QuantStub(), torsh.nn.Linear(12, 40), torsh.nn.ReLU(),
                               torsh.nn.Linear(40, 5), torsh.ao.quantization.DeQuantStub())
    ours.load_state_dict({k: torsh.from_numpy(v.numpy().copy()) for k, v in ref.state_dict().items()})
    for lib, model in ((torsh, ours), (torch, ref)):
        model.eval()
        model.qconfig = lib.ao.quantization.get_default_qconfig("x86")
        prepared = lib.ao.quantization.prepare(model)
        for c in calib:
            prepared(lib.from_numpy(c))
        converted = lib.ao.quantization.convert(prepared)
        outs.append((converted, converted(lib.from_numpy(test)).numpy()))
    (c1, y1), (c2, y2) = outs
    assert (c1[0].scale.item(), c1[0].zero_point.item()) == (c2[0].scale.item(), c2[0].zero_point.item())
    assert (c1[1].scale, c1[1].zero_point) == (c2[1].scale, c2[1].zero_point)
    np.testing.assert_array_equal(y1, y2)
