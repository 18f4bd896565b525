"""Table tests: torsh.fft against torch.fft -- values, dtypes, gradients (complex outputs are compared
through their real and imaginary parts, which is what makes a real loss) and gradcheck."""
import pytest

from helpers import check_same_error
from opinfo import Op, S, T, make_tests

ALL = ("float32", "float64", "int64")


def ri(z):
    return z.real, z.imag * 1  # * 1: a plain tensor (torch may hand back a lazily negated view)


def fft_op(name, samples, complex_input=False, **kw):
    """``name`` applied to a real input, or (complex_input) to a complex one built from it."""
    def fn(lib, a, **kws):
        x = lib.fft.fft(a) if complex_input else a
        out = getattr(lib.fft, name)(x, **kws)
        return ri(out) if out.is_complex() else out
    return Op(name + ("_complex" if complex_input else ""), fn, samples, **kw)


C2C = [S((8,)), S((3, 5), n=8), S((3, 6), n=4, dim=0), S((4, 6), dim=-2, norm="ortho"),
       S((2, 5), norm="forward"), S((4, 3), prep=T, name="transposed")]
ND = [S((4, 6)), S((2, 3, 4), dim=(0, 2)), S((3, 4), s=(4, 6)), S((3, 4), s=(2, 3), norm="ortho"),
      S((2, 3, 4), dim=(-1,), norm="forward")]

OPS = [
    fft_op("fft", C2C, dtypes=ALL), fft_op("fft", C2C, complex_input=True),
    fft_op("ifft", C2C, dtypes=ALL), fft_op("ifft", C2C, complex_input=True),
    fft_op("fftn", ND), fft_op("ifftn", ND, complex_input=True),
    fft_op("fft2", [S((3, 4)), S((2, 3, 4), norm="ortho")]), fft_op("ifft2", [S((3, 4))], complex_input=True),
    fft_op("rfft", C2C, dtypes=ALL),
    fft_op("rfftn", ND), fft_op("rfft2", [S((3, 4)), S((2, 3, 5))]),
    fft_op("irfft", [S((5,)), S((3, 5), n=8), S((3, 5), n=7), S((3, 5), n=3, name="n_trims"),
                     S((4, 5), dim=0, norm="ortho"), S((2, 5), norm="forward")], complex_input=True),
    fft_op("irfftn", [S((4, 6)), S((3, 4), s=(3, 6)), S((2, 3, 4), dim=(0, 2), norm="ortho")], complex_input=True),
    fft_op("irfft2", [S((3, 5))], complex_input=True),
    Op("fftshift", lambda lib, a, **kw: lib.fft.fftshift(a, **kw), [S((5,)), S((4, 5)), S((4, 5), dim=1),
                                                                    S((4, 5), dim=(0,))], dtypes=ALL),
    Op("ifftshift", lambda lib, a, **kw: lib.fft.ifftshift(a, **kw), [S((5,)), S((4, 5)), S((4, 5), dim=-1)],
       dtypes=ALL),
    Op("fftfreq", lambda lib, **kw: lib.fft.fftfreq(**kw), [S(n=5), S(n=8, d=0.5)], differentiable=False),
    Op("rfftfreq", lambda lib, **kw: lib.fft.rfftfreq(**kw), [S(n=5), S(n=8, d=0.1)], differentiable=False),
    Op("fftfreq_dtype", lambda lib: lib.fft.fftfreq(4, dtype=lib.float64), [S()], differentiable=False),
    Op("fft_roundtrip", lambda lib, a: lib.fft.irfft(lib.fft.rfft(a), n=a.shape[-1]), [S((3, 7)), S((6,))]),
]

test_forward, test_backward, test_gradcheck = make_tests(OPS)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.fft.fft(lib.ones(3), norm="bogus"),
    lambda lib: lib.fft.fft(lib.ones(3), n=0),
    lambda lib: lib.fft.fft(lib.ones(3), dim=1),
    lambda lib: lib.fft.rfft(lib.ones(3, dtype=lib.complex64)),
], ids=["norm", "n_zero", "dim", "rfft_complex"])
def test_errors(fn):
    check_same_error(fn)
