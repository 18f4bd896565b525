"""torsh.fft's Hermitian transforms (hfft, ihfft and their 2-D / n-D forms) against torch.fft: values and
dtypes on several shapes, norms and sizes, gradients against torch and float64 gradcheck, errors."""
import pytest

from helpers import check_same_error
from opinfo import Op, S, make_tests

REAL = ("float32", "float64", "int64")


def ri(z):
    return z.real, z.imag * 1  # a real loss needs the real and imaginary parts


def hermitian_op(name, samples, complex_input, **kw):
    """``name`` on a real input, or (complex_input) on a complex one made by an FFT of it."""
    def fn(lib, a, **kws):
        x = lib.fft.fft(a) if complex_input else a
        out = getattr(lib.fft, name)(x, **kws)
        return ri(out) if out.is_complex() else out
    return Op(name + ("_complex" if complex_input else ""), fn, samples, **kw)


ONE_D = [S((5,)), S((3, 5), n=8), S((3, 5), n=7), S((3, 5), n=3, name="n_trims"),
         S((4, 5), dim=0, norm="ortho"), S((2, 5), norm="forward")]
N_D = [S((4, 6)), S((3, 4), s=(3, 6)), S((2, 3, 4), dim=(0, 2), norm="ortho"), S((2, 3, 4), norm="forward")]
I_ONE_D = [S((6,)), S((3, 5), n=8), S((3, 6), n=4, dim=0), S((4, 6), norm="ortho"), S((2, 5), norm="forward")]
I_N_D = [S((4, 6)), S((3, 4), s=(4, 6)), S((2, 3, 4), dim=(0, 2), norm="ortho"), S((2, 3, 5), norm="forward")]

OPS = [
    hermitian_op("hfft", ONE_D, True), hermitian_op("hfft", ONE_D[:2], False, dtypes=REAL),
    hermitian_op("hfftn", N_D, True), hermitian_op("hfft2", [S((3, 5)), S((2, 3, 4), norm="ortho")], True),
    hermitian_op("ihfft", I_ONE_D, False, dtypes=REAL),
    hermitian_op("ihfftn", I_N_D, False, dtypes=REAL),
    hermitian_op("ihfft2", [S((3, 4)), S((2, 3, 5), s=(4, 4), norm="forward")], False),
    Op("hfft_roundtrip", lambda lib, a: lib.fft.hfft(lib.fft.ihfft(a), n=a.shape[-1]), [S((3, 7)), S((6,))]),
]

test_forward, test_backward, test_gradcheck = make_tests(OPS)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.fft.hfft(lib.ones(3), norm="bogus"),
    lambda lib: lib.fft.hfft(lib.ones(3), n=0),
    lambda lib: lib.fft.hfft(lib.ones(1)),
    lambda lib: lib.fft.ihfft(lib.ones(3, dtype=lib.complex64)),
    lambda lib: lib.fft.ihfft2(lib.ones(3, 3, dtype=lib.complex64)),
    lambda lib: lib.fft.ihfftn(lib.ones(3, 3, dtype=lib.complex128)),
    lambda lib: lib.fft.hfftn(lib.ones(3, 3), s=(2,), dim=(0, 1)),
], ids=["norm", "n_zero", "one_point", "ihfft_complex", "ihfft2_complex", "ihfftn_complex", "s_dim_length"])
def test_errors(fn):
    check_same_error(fn)


def test_out_argument():
    import torsh
    out = torsh.empty(0)
    r = torsh.fft.hfft(torsh.ones(3, dtype=torsh.complex64), out=out)
    assert r is out and tuple(out.shape) == (4,)
