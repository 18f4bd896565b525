"""torsh.signal.windows and the top-level torsh.*_window factories against PyTorch."""
import pytest

import torsh
from helpers import assert_close, check_same_error, needs_torch, torch_ref

pytestmark = needs_torch

SIGNAL_WINDOWS = ("bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
                  "hamming", "hann", "kaiser", "nuttall")
EXTRA_ARGS = {  # each window's own parameter, at a non-default value
    "exponential": {"tau": 2.5}, "gaussian": {"std": 1.7}, "general_cosine": {"a": [0.46, 0.23, 0.31]},
    "general_hamming": {"alpha": 0.6}, "kaiser": {"beta": 4.0},
}
LENGTHS = (0, 1, 2, 5, 8, 13)


@pytest.mark.parametrize("name", SIGNAL_WINDOWS)
@pytest.mark.parametrize("sym", (True, False))
@pytest.mark.parametrize("dtype", ("float32", "float64"))
def test_signal_window_values(name, sym, dtype):
    for M in LENGTHS:
        defaults = {"a": [0.5, 0.5]} if name == "general_cosine" else {}  # its coefficients are required
        for extra in (defaults, EXTRA_ARGS.get(name, {})):
            def make(lib):
                return getattr(lib.signal.windows, name)(M, sym=sym, dtype=getattr(lib, dtype), **extra)
            assert_close(make(torsh), make(torch_ref), msg=f"{name}(M={M}, {extra}) ")


def test_signal_default_dtype_and_exponential_center():
    assert torsh.signal.windows.hann(4).dtype == torsh.float32
    torsh.set_default_dtype(torsh.float64)
    try:
        assert torsh.signal.windows.gaussian(4).dtype == torsh.float64
    finally:
        torsh.set_default_dtype(torsh.float32)
    ours = torsh.signal.windows.exponential(7, center=1.5, sym=False, dtype=torsh.float64)
    assert_close(ours, torch_ref.signal.windows.exponential(7, center=1.5, sym=False, dtype=torch_ref.float64))


@pytest.mark.parametrize("name", ("hann", "gaussian", "kaiser", "bartlett", "general_cosine", "exponential", "cosine"))
def test_signal_window_requires_grad(name):
    extra = {"a": [0.5, 0.5]} if name == "general_cosine" else {}
    ours = getattr(torsh.signal.windows, name)(6, requires_grad=True, dtype=torsh.float64, **extra)
    ref = getattr(torch_ref.signal.windows, name)(6, requires_grad=True, dtype=torch_ref.float64, **extra)
    assert ours.requires_grad and not ours.is_leaf  # built from a differentiable position tensor, as PyTorch
    assert ref.requires_grad and not ref.is_leaf
    assert_close(ours.detach(), ref.detach())


@pytest.mark.parametrize("call", [
    lambda lib: lib.signal.windows.hann(-1),
    lambda lib: lib.signal.windows.kaiser(4, beta=-1.0),
    lambda lib: lib.signal.windows.gaussian(4, std=0.0),
    lambda lib: lib.signal.windows.exponential(4, tau=-1.0),
    lambda lib: lib.signal.windows.exponential(4, center=1.0),
    lambda lib: lib.signal.windows.general_cosine(4, a=3),
    lambda lib: lib.signal.windows.general_cosine(4, a=[]),
])
def test_signal_window_errors(call):
    check_same_error(call)


@pytest.mark.parametrize("name,dtype,reported", (("blackman", "float16", "blackman"), ("kaiser", "int64", "kaiser"),
                                                 ("hann", "complex64", "general_cosine")))
def test_signal_window_dtype_errors(name, dtype, reported):
    # the message ends with the dtype's repr, which names the package (torsh.float16 / torch.float16);
    # hann reports the general_cosine it delegates to, as in PyTorch
    check_same_error(lambda lib: getattr(lib.signal.windows, name)(4, dtype=getattr(lib, dtype)), exact=False,
                     fallback_msg=f"{reported} expects float32 or float64 dtypes, got: ")


TOP_LEVEL = ("hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window")


@pytest.mark.parametrize("name", TOP_LEVEL)
@pytest.mark.parametrize("periodic", (True, False))
@pytest.mark.parametrize("dtype", ("float32", "float64", "float16", "bfloat16"))
def test_top_level_window_values(name, periodic, dtype):
    # PyTorch computes half-precision windows op by op with its own cos kernel; torsh rounds after each
    # step the same way, and the two agree within a few units in the last place
    tolerance = {"float16": 3e-3, "bfloat16": 2e-2}.get(dtype)
    for M in LENGTHS + (31,):
        def make(lib):
            return getattr(lib, name)(M, periodic, dtype=getattr(lib, dtype))
        assert_close(make(torsh), make(torch_ref), atol=tolerance, rtol=tolerance and 0, msg=f"{name}({M}) ")
    assert_close(getattr(torsh, name)(7), getattr(torch_ref, name)(7))  # periodic by default, default dtype


def test_top_level_window_parameters_and_leaf():
    assert_close(torsh.hamming_window(9, False, 0.3, 0.6), torch_ref.hamming_window(9, False, 0.3, 0.6))
    assert_close(torsh.kaiser_window(9, True, 5.0, dtype=torsh.float64),
                 torch_ref.kaiser_window(9, True, 5.0, dtype=torch_ref.float64))
    window = torsh.hann_window(8, requires_grad=True)
    assert window.requires_grad and window.is_leaf and window.grad_fn is None


@pytest.mark.parametrize("call", [
    lambda lib: lib.hann_window(-1),
    lambda lib: lib.kaiser_window(-3),
    lambda lib: lib.bartlett_window(2.5),
    lambda lib: lib.hamming_window(4, dtype=lib.complex64),
])
def test_top_level_window_errors(call):
    check_same_error(call)


def test_top_level_window_integer_dtype_error():
    check_same_error(lambda lib: lib.blackman_window(4, dtype=lib.int64), exact=False,
                     fallback_msg="blackman_window expects floating point dtypes, got: ")
