"""Short-time Fourier transforms (stft, istft) and the complex views (view_as_real, view_as_complex, polar).

stft and istft are ATen's composites (SpectralOps.cpp) written in torsh ops -- padding, framing, window,
the FFTs of ``transforms``, overlap-add by ``index_add`` -- so autograd follows them. The views share memory
with their input (``np.ndarray.view`` to the other dtype), as PyTorch's do."""

import numpy as np

from .... import _dtype
from ...._autocast import float32_policy
from ...._warnings import warn as user_warning
from ...._tensor import Tensor, wrap
from ....autograd.graph import Node, needs_grad, record
from .. import creation
from . import transforms as fft_ops
from ... import registry
from ..shape import views as shape
from ..._helpers import dtype_name, shape_str, sum_to
from ..misc import check_complex_parts, complex
from ...nn.pad import constant_pad, pad_index, take_dim
from ..elementwise.arithmetic import cos, sin

__all__ = ["stft", "istft", "view_as_real", "view_as_complex", "polar"]

_REAL_OF = {np.dtype(np.complex64): np.float32, np.dtype(np.complex128): np.float64}
_COMPLEX_OF = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


# -- view_as_real / view_as_complex -----------------------------------------------------------------
class ViewAsRealBackward0(Node):
    def backward(self, grad):
        return (view_as_complex(grad.contiguous()),)


class ViewAsComplexBackward0(Node):
    def backward(self, grad):
        return (view_as_real(grad.contiguous()),)


def _record_view(input, out, node_cls):
    if needs_grad(input):
        record(node_cls(), (input,), (out,))
        out._view_version = out._version_counter[0]
    return out


def view_as_real(input):
    """The complex ``input`` as a real view with a trailing dim of 2 (real, imaginary): same memory."""
    if not input.is_complex():
        raise RuntimeError("view_as_real is only supported for complex tensors")
    data = input._data
    real = data[..., None].view(_REAL_OF[data.dtype])  # the new trailing axis of 1 complex -> 2 reals
    return _record_view(input, input._make_view(real, view_as_real), ViewAsRealBackward0)


def view_as_complex(input):
    """The real ``input`` (last dim of size 2, stride 1) as a complex view of one less dim: same memory."""
    data = input._data
    if data.dtype not in _COMPLEX_OF:
        if data.dtype in (np.float16,):
            raise NotImplementedError("view_as_complex of a Half tensor (ComplexHalf) is not supported by torsh")
        raise RuntimeError(f"view_as_complex is only supported for half, float and double tensors, but got a "
                           f"tensor of scalar type: {dtype_name(input.dtype)}")
    if data.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if data.size == 0:  # no element: any strides do
        return wrap(np.zeros(data.shape[:-1], _COMPLEX_OF[data.dtype]))
    if input.stride(-1) != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in input.stride()[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    as_complex = data.view(_COMPLEX_OF[data.dtype])[..., 0]
    return _record_view(input, input._make_view(as_complex, view_as_complex), ViewAsComplexBackward0)


# -- polar ----------------------------------------------------------------------------------------
class PolarBackward0(Node):
    # z = abs * e^(i angle): grad_abs = Re(conj(e^(i angle)) grad), grad_angle = Im(conj(z) grad), written with
    # real ops (cos, sin, real/imag parts) so double backward follows them
    def backward(self, grad):
        abs, angle = self.saved_tensors
        c, s, g_re, g_im = cos(angle), sin(angle), grad.real, grad.imag
        grad_abs = sum_to(c * g_re + s * g_im, abs.shape) if self.next_functions[0][0] is not None else None
        grad_angle = sum_to(abs * (c * g_im - s * g_re), angle.shape) if self.next_functions[1][0] is not None else None
        return grad_abs, grad_angle  # summed back where abs and angle broadcast


@float32_policy
def polar(abs, angle, *, out=None):
    """The complex tensor with magnitudes ``abs`` and phases ``angle``."""
    if abs.dtype is _dtype.float16 and angle.dtype is _dtype.float16:
        raise NotImplementedError("\"polar_cpu\" not implemented for 'Half'")
    check_complex_parts(abs, angle)
    real, imag = abs.detach() * cos(angle.detach()), abs.detach() * sin(angle.detach())
    result = complex(real, imag)
    if needs_grad(abs, angle):
        node = PolarBackward0()
        record(node, (abs, angle), (result,))
        node.save_for_backward(abs, angle)
    if out is not None:
        out.copy_(result)
        return out
    return result


# -- stft / istft ---------------------------------------------------------------------------------
def _type_string(t):
    """ATen's toString of a tensor's type, as its stft/istft messages print it."""
    if t.is_complex():
        return f"CPU{dtype_name(t.dtype)}Type"
    return t.type()


def _option(value):
    return "None" if value is None else str(int(value))


def _window_string(window):
    return "None" if window is None else f"{_type_string(window)}{{{shape_str(window)}}}"


def _stft_repr(x, n_fft, hop, win, window, normalized, onesided, return_complex, align):
    return (f"stft({_type_string(x)}{shape_str(x)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
            f"window={_window_string(window)}, normalized={int(normalized)}, onesided={_option(onesided)}, "
            f"return_complex={_option(return_complex)}, align_to_window={_option(align)}) : ")


_warned_no_window = []


def _centred_window(window, win_length, n_fft, like):
    """The window zero-padded on both sides to ``n_fft`` (a rectangular one when none is given)."""
    if window is None:
        window = creation.ones(win_length, dtype=like.dtype if not like.is_complex() else _dtype.float32)
    if win_length == n_fft:
        return window
    left = (n_fft - win_length) // 2
    return constant_pad(window, ((left, n_fft - win_length - left),), 0.0)


def _pad_signal(x, pad, mode):
    if mode == "constant":
        return constant_pad(x, ((0, 0),) * (x.dim() - 1) + ((pad, pad),), 0.0)
    index = pad_index(x.shape[-1], pad, pad, mode)
    names = {"reflect": "ReflectionPad1DBackward0", "replicate": "ReplicationPad1DBackward0",
             "circular": "CircularPad1DBackward0"}
    if mode not in names:
        raise NotImplementedError(f"Unsupported padding mode: {mode}")
    return take_dim(x, x.dim() - 1, index, names[mode])


@float32_policy
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """The short-time Fourier transform of the 1-D or 2-D (batch, time) ``input``: (.., freq, frames)."""
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    x = input
    if center:
        x = _pad_signal(x, n_fft // 2, pad_mode)
    if window is None and not _warned_no_window:
        _warned_no_window.append(True)
        user_warning("A window was not provided. A rectangular window will be applied,which is known to cause "
                     "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                     "recommended to reduce spectral leakage.To suppress this warning and use a rectangular "
                     "window, explicitly set `window=torch.ones(n_fft, device=<device>)`.", UserWarning)
    complex_fft = x.is_complex() or (window is not None and window.is_complex())
    if return_complex is None and not complex_fft:
        raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                           "require that return_complex=True in a future PyTorch release.")
    if return_complex is False:
        user_warning("stft with return_complex=False is deprecated. In a future pytorch release, stft will "
                     "return complex tensors for all inputs, and return_complex=False will raise an error.",
                     UserWarning)
    hop = n_fft >> 2 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    where = _stft_repr(x, n_fft, hop, win, window, normalized, onesided, return_complex, align_to_window)
    if not (x.dtype.is_floating_point or x.is_complex()):
        raise RuntimeError(where + "expected a tensor of floating point or complex values")
    if x.dim() not in (1, 2):
        raise RuntimeError(where + "expected a 1D or 2D tensor")
    length = x.shape[-1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(where + f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(where + f"expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(where + f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        raise RuntimeError(where + f"expected a 1D window tensor of size equal to win_length={win}, but got "
                           f"window with size {shape_str(window)}")
    sided = (not complex_fft) if onesided is None else onesided
    if complex_fft and sided:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    full_window = _centred_window(window, win, n_fft, x)
    batched = x if x.dim() == 2 else x.unsqueeze(0)
    if align_to_window and win < n_fft:  # each frame starts where its window does
        left = (n_fft - win) // 2
        batched = constant_pad(batched, ((0, 0), (left, n_fft - win - left)), 0.0)
    frames = batched.unfold(-1, n_fft, hop) * full_window  # (batch, n_frames, n_fft)
    norm = "ortho" if normalized else "backward"
    spectrum = fft_ops.rfft(frames, dim=-1, norm=norm) if sided else fft_ops.fft(frames, dim=-1, norm=norm)
    out = spectrum.transpose(1, 2)
    if input.dim() == 1:
        out = out.squeeze(0)
    return out if return_complex or (return_complex is None and complex_fft) else view_as_real(out.contiguous())


def _istft_repr(x, n_fft, hop, win, window, center, normalized, onesided, length, return_complex):
    return (f"istft({_type_string(x)}{shape_str(x)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
            f"window={_window_string(window)}, center={int(center)}, normalized={int(normalized)}, "
            f"onesided={_option(onesided)}, length={'None' if length is None else length}, "
            f"return_complex={int(return_complex)}) ")


def _overlap_add(frames, hop, signal_length):
    """Sum the (channel, n_frames, n_fft) ``frames`` into (channel, signal_length), frame i at i * hop."""
    n_frames, n_fft = frames.shape[-2], frames.shape[-1]
    positions = (np.arange(n_frames)[:, None] * hop + np.arange(n_fft)[None, :]).reshape(-1)
    flat = frames.reshape(frames.shape[0], -1)
    zeros = creation.zeros(frames.shape[0], signal_length, dtype=frames.dtype)
    return zeros.index_add(1, wrap(positions.astype(np.int64)), flat)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """The inverse of ``stft`` (least-squares overlap-add of the inverse FFTs of the frames)."""
    hop = n_fft >> 2 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    where = _istft_repr(input, n_fft, hop, win, window, center, normalized, onesided, length, return_complex)
    if input.numel() == 0:
        raise RuntimeError(where + ": input tensor cannot be empty.")
    if input.dim() not in (2, 3):
        raise RuntimeError(where + f": expected a tensor with 3 or 4 dimensions, but got {input.dim() + 1}")
    n_frames, fft_size = input.shape[-1], input.shape[-2]
    sided = (fft_size != n_fft) if onesided is None else onesided
    if sided and n_fft // 2 + 1 != fft_size:
        raise RuntimeError(where + f": expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft / 2 + 1 when onesided=True, but got {fft_size}")
    if not sided and n_fft != fft_size:
        raise RuntimeError(where + f": expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft when onesided=False, but got {fft_size}")
    if not 0 < hop <= win:
        raise RuntimeError(where + ": expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise RuntimeError(where + ": expected 0 < win_length <= n_fft")
    if window is not None and (window.dim() != 1 or window.shape[0] != win):
        raise RuntimeError(where + ": Invalid window shape. window has to be 1D and length of `win_length`")
    real_dtype = _dtype.float32 if input.dtype is _dtype.complex64 else _dtype.float64
    full_window = _centred_window(window if window is not None else creation.ones(win, dtype=real_dtype),
                                  win, n_fft, input)
    frames = (input if input.dim() == 3 else input.unsqueeze(0)).transpose(1, 2)  # (channel, frames, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        if sided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = fft_ops.ifft(frames, dim=-1, norm=norm)
    else:
        if window is not None and window.is_complex():
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not sided:
            frames = frames.narrow(-1, 0, n_fft // 2 + 1)
        frames = fft_ops.irfft(frames, n=n_fft, dim=-1, norm=norm)
    expected_length = n_fft + hop * (n_frames - 1)
    y = _overlap_add(frames * full_window, hop, expected_length)
    envelope = _overlap_add((full_window * full_window).expand(1, n_frames, n_fft), hop, expected_length)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (expected_length - n_fft // 2 if center else expected_length)
    stop = min(end, expected_length)
    y, envelope = y.narrow(1, start, stop - start), envelope.narrow(1, start, stop - start)
    if envelope.numel() and float(np.abs(envelope._data).min()) < 1e-11:
        raise RuntimeError(where + "window overlap add min: 1")
    y = y / envelope
    if input.dim() == 2:
        y = y.squeeze(0)
    if end > expected_length:
        user_warning("The length of signal is shorter than the length parameter. Result is being padded with "
                     "zeros in the tail. Please check your center and hop_length settings.", UserWarning)
        y = constant_pad(y, ((0, 0),) * (y.dim() - 1) + ((0, end - expected_length),), 0.0)
    return y


registry.register(stft, out=False)
registry.register(istft, out=False)
registry.register(view_as_real, method=False)
registry.register(view_as_complex, method=False)
registry.register(polar, method=False)
