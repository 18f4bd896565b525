"""stft / istft, view_as_real / view_as_complex and polar against PyTorch 2.13: values, dtypes, memory sharing,
gradients (float64 gradcheck) and errors."""
import warnings

import numpy as np
import pytest

import torsh
from helpers import assert_close, check_same_error, make_array, needs_torch, torch_ref

pytestmark = [needs_torch, pytest.mark.filterwarnings("ignore::UserWarning")]

SIGNAL = make_array((2, 40), "float64", seed=1)
HANN = np.hanning(8)


def _t(lib, arr, **kw):
    return lib.tensor(np.array(arr), **kw)


STFT_CASES = [
    dict(),
    dict(center=False),
    dict(onesided=False),
    dict(normalized=True, pad_mode="constant"),
    dict(pad_mode="replicate", hop_length=3),
    dict(pad_mode="circular"),
    dict(win_length=6, hop_length=3),
    dict(win_length=4, center=False, align_to_window=True),
]


@pytest.mark.parametrize("kwargs", STFT_CASES)
def test_stft_values_and_gradient(kwargs):
    win = kwargs.get("win_length", 8)

    def run(lib, x):
        return lib.stft(x, 8, window=_t(lib, HANN[:win]), return_complex=True, **kwargs)
    x, xr = torsh.tensor(SIGNAL, requires_grad=True), torch_ref.tensor(SIGNAL, requires_grad=True)
    ours, ref = run(torsh, x), run(torch_ref, xr)
    assert_close(ours, ref)
    w = make_array(tuple(ref.shape), "complex128", seed=2)
    (ours * torsh.tensor(w)).real.sum().backward()
    (ref * torch_ref.tensor(w)).real.sum().backward()
    assert_close(x.grad, xr.grad)
    assert torsh.autograd.gradcheck(lambda a: run(torsh, a), (torsh.tensor(SIGNAL[:, :20], requires_grad=True),))


@pytest.mark.parametrize("case", [
    lambda lib: lib.stft(_t(lib, SIGNAL[0], dtype=lib.float32), 8, return_complex=True),
    lambda lib: lib.stft(_t(lib, SIGNAL[0], dtype=lib.float32), 8, return_complex=False),
    lambda lib: _t(lib, SIGNAL).stft(8, hop_length=4, window=_t(lib, HANN), return_complex=True),
    lambda lib: lib.stft(_t(lib, SIGNAL[0], dtype=lib.float32), 8, window=_t(lib, HANN), return_complex=True),
    lambda lib: lib.stft(_t(lib, SIGNAL[0] + 1j * SIGNAL[1]), 8, return_complex=True),
    lambda lib: lib.stft(_t(lib, SIGNAL[0] + 1j * SIGNAL[1]), 8),  # complex input: return_complex may be left out
])
def test_stft_dtypes_and_layouts(case):
    assert_close(case(torsh), case(torch_ref))


@pytest.mark.parametrize("case", [
    lambda lib: lib.stft(_t(lib, SIGNAL[0]), 8),
    lambda lib: lib.stft(_t(lib, SIGNAL[0]), 8, return_complex=True, center=True, align_to_window=True),
    lambda lib: lib.stft(_t(lib, SIGNAL[0]), 8, return_complex=True, onesided=True,
                         window=lib.ones(8, dtype=lib.complex128)),
])
def test_stft_plain_errors(case):
    check_same_error(case)


@pytest.mark.parametrize("case,tail", [
    (lambda lib: lib.stft(lib.randn(20), 30, return_complex=True, center=False), "expected 0 < n_fft < 20"),
    (lambda lib: lib.stft(lib.randn(20), 8, hop_length=0, return_complex=True), "expected hop_length > 0"),
    (lambda lib: lib.stft(lib.randn(20), 8, win_length=9, return_complex=True), "expected 0 < win_length <= n_fft"),
    (lambda lib: lib.stft(lib.randn(20), 8, window=lib.ones(7), return_complex=True),
     "expected a 1D window tensor of size equal to win_length=8, but got window with size [7]"),
    (lambda lib: lib.stft(lib.ones(2, 2, 20), 8, return_complex=True), "expected a 1D or 2D tensor"),
    (lambda lib: lib.stft(lib.ones(20, dtype=lib.long), 8, return_complex=True),
     "expected a tensor of floating point or complex values"),
])
def test_stft_shape_errors(case, tail):
    """PyTorch's message starts with a repr of the call (``stft(torch.FloatTensor[28], n_fft=8, ...) :``)."""
    error = check_same_error(case, exact=False, fallback_msg=tail)
    assert str(error).startswith(str(pytest.raises(RuntimeError, case, torch_ref).value).split(" : ")[0])


# -- istft ----------------------------------------------------------------------------------------
def _spectrum(lib, onesided=True, **kwargs):
    return lib.stft(_t(lib, SIGNAL), 8, window=_t(lib, HANN), return_complex=True, onesided=onesided, **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(length=36),
    dict(length=45),  # longer than the frames cover: zero-padded, with PyTorch's warning
    dict(normalized=True),
    dict(onesided=False),
    dict(center=False),
    dict(hop_length=4),
])
def test_istft_values_and_gradient(kwargs):
    onesided = kwargs.get("onesided", True)
    hop = kwargs.get("hop_length")
    center = kwargs.get("center", True)

    def spectrum(lib):
        return _spectrum(lib, onesided, hop_length=hop, center=center, normalized=kwargs.get("normalized", False))

    def run(lib, spec):
        return lib.istft(spec, 8, window=_t(lib, HANN + 0.1), **kwargs)  # no zero in the envelope's ends
    spec, spec_r = spectrum(torsh).detach().requires_grad_(), spectrum(torch_ref).detach().requires_grad_()
    ours, ref = run(torsh, spec), run(torch_ref, spec_r)
    assert_close(ours, ref)
    w = make_array(tuple(ref.shape), "float64", seed=3)
    (ours * torsh.tensor(w)).sum().backward()
    (ref * torch_ref.tensor(w)).sum().backward()
    assert_close(spec.grad, spec_r.grad)


def test_istft_inverts_stft_and_complex_output():
    x = torsh.tensor(SIGNAL)
    assert_close(torsh.istft(_spectrum(torsh), 8, window=torsh.tensor(HANN)), torch_ref.tensor(SIGNAL))
    full, full_r = _spectrum(torsh, False), _spectrum(torch_ref, False)
    ours = full.istft(8, window=torsh.tensor(HANN), return_complex=True)
    assert_close(ours, full_r.istft(8, window=torch_ref.tensor(HANN), return_complex=True))
    spec = _spectrum(torsh)[:, :, :6].contiguous().requires_grad_()
    assert torsh.autograd.gradcheck(lambda s: torsh.istft(s, 8, window=torsh.tensor(HANN)), (spec,))
    assert x.shape == (2, 40)


@pytest.mark.parametrize("case", [
    lambda lib: lib.istft(_t(lib, SIGNAL), 8),
    lambda lib: lib.istft(_spectrum(lib), 8, window=_t(lib, HANN), return_complex=True),
    lambda lib: lib.istft(_spectrum(lib, False), 8, window=lib.ones(8, dtype=lib.complex128)),
])
def test_istft_plain_errors(case):
    check_same_error(case)


@pytest.mark.parametrize("case,tail", [
    (lambda lib: lib.istft(_spectrum(lib), 8, window=_t(lib, HANN), onesided=False),
     "expected the frequency dimension (3rd to the last) of the input tensor to match n_fft when onesided=False"),
    (lambda lib: lib.istft(_spectrum(lib), 8, window=_t(lib, HANN), hop_length=9),
     "expected 0 < hop_length <= win_length"),
    (lambda lib: lib.istft(_spectrum(lib), 8, window=_t(lib, HANN[:7])),
     "Invalid window shape. window has to be 1D and length of `win_length`"),
    (lambda lib: lib.istft(_spectrum(lib)[None], 8, window=_t(lib, HANN)),
     "expected a tensor with 3 or 4 dimensions, but got 5"),
    (lambda lib: lib.istft(_spectrum(lib)[:, :, :0], 8, window=_t(lib, HANN)), "input tensor cannot be empty."),
    (lambda lib: lib.istft(_spectrum(lib), 8, window=_t(lib, HANN), center=False), "window overlap add min: 1"),
])
def test_istft_errors(case, tail):
    check_same_error(case, exact=False, fallback_msg=tail)


# -- view_as_real / view_as_complex / polar -------------------------------------------------------
def test_view_as_real_shares_memory_and_version():
    for lib in (torsh, torch_ref):
        c = lib.tensor([1 + 2j, 3 - 1j], dtype=lib.complex64)
        r = lib.view_as_real(c)
        assert tuple(r.shape) == (2, 2) and r.dtype == lib.float32 and r.stride() == (2, 1)
        r[0, 0] = 9.0
        assert complex(c[0]) == 9 + 2j
        c.mul_(2)
        assert float(r[1, 1]) == -2.0
        z = lib.view_as_complex(r)
        z[1] = 0
        assert float(r[1, 0]) == 0.0 and complex(c[1]) == 0


@pytest.mark.parametrize("case", [
    lambda lib: lib.view_as_real(_t(lib, [[1 + 2j, 3j], [-1, 2 - 2j]])),
    lambda lib: lib.view_as_real(_t(lib, 1 + 2j)),
    lambda lib: lib.view_as_complex(_t(lib, [[1.0, 2.0], [3.0, 4.0]])),
    lambda lib: lib.view_as_complex(_t(lib, [1.0, 2.0], dtype=lib.float32)),
    lambda lib: lib.view_as_complex(lib.arange(16.0).reshape(4, 2, 2)[::2]),
    lambda lib: lib.polar(_t(lib, [1.0, 2.0, 0.0]), _t(lib, [0.5, -1.0, 2.0])),
    lambda lib: lib.polar(_t(lib, [1.0, 2.0], dtype=lib.float32), _t(lib, [[0.5], [3.0]], dtype=lib.float32)),
])
def test_complex_views_values(case):
    assert_close(case(torsh), case(torch_ref))


@pytest.mark.parametrize("case", [
    lambda lib: lib.view_as_real(lib.ones(2)),
    lambda lib: lib.view_as_complex(lib.ones(2, 3)),
    lambda lib: lib.view_as_complex(lib.ones(2, 4)[:, ::2]),
    lambda lib: lib.view_as_complex(lib.ones(2, 3)[:, 1:]),
    lambda lib: lib.view_as_complex(lib.ones(5)[1:].reshape(2, 2)),
    lambda lib: lib.view_as_complex(lib.ones(2, 2, dtype=lib.long)),
    lambda lib: lib.polar(lib.ones(2), lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.polar(lib.ones(2, dtype=lib.long), lib.ones(2, dtype=lib.long)),
    lambda lib: lib.polar(lib.ones(2, dtype=lib.half), lib.ones(2, dtype=lib.half)),
    lambda lib: lib.polar(lib.ones(2), lib.ones(3)),
])
def test_complex_views_errors(case):
    check_same_error(case)


def test_complex_views_and_polar_gradients():
    z = torsh.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    zr = torch_ref.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    w = [[1.0, -2.0], [0.5, 3.0]]
    ours, ref = torsh.view_as_real(z * 2), torch_ref.view_as_real(zr * 2)
    assert ours.grad_fn.name() == ref.grad_fn.name() == "ViewAsRealBackward0"
    (ours * torsh.tensor(w)).sum().backward()
    (ref * torch_ref.tensor(w)).sum().backward()
    assert_close(z.grad, zr.grad)
    r = torsh.tensor(w, dtype=torsh.float64, requires_grad=True)
    ours = torsh.view_as_complex(r * 1)
    assert ours.grad_fn.name() == "ViewAsComplexBackward0"
    assert torsh.autograd.gradcheck(lambda a: torsh.view_as_complex(a * 1), (r,))
    z128 = torsh.tensor([1 + 2j, 3 - 1j], dtype=torsh.complex128, requires_grad=True)
    assert torsh.autograd.gradcheck(lambda a: torsh.view_as_real(a * 1), (z128,))
    m = torsh.tensor([1.0, 2.0, 0.5], dtype=torsh.float64, requires_grad=True)
    a = torsh.tensor([0.5, -1.0, 2.0], dtype=torsh.float64, requires_grad=True)
    assert torsh.autograd.gradcheck(torsh.polar, (m, a))
    assert torsh.autograd.gradgradcheck(torsh.polar, (m, a))
    mr, ar = torch_ref.tensor([1.0, 2.0, 0.5], dtype=torch_ref.float64, requires_grad=True), torch_ref.tensor([0.5, -1.0, 2.0], dtype=torch_ref.float64,
                                                                                       requires_grad=True)
    out, out_r = torsh.polar(m, a), torch_ref.polar(mr, ar)
    assert out.grad_fn.name() == out_r.grad_fn.name()
    g = make_array((3,), "complex128", seed=4)
    out.backward(torsh.tensor(g))
    out_r.backward(torch_ref.tensor(g))
    assert_close(m.grad, mr.grad)
    assert_close(a.grad, ar.grad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torsh.view_as_real(torsh.tensor([1j]))
