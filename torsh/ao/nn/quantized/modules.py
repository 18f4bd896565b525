"""``torch.ao.nn.quantized`` modules: ``Quantize`` / ``DeQuantize``, and Linear / Conv2d / ReLU computing on
quantized tensors (int8 weights, quint8 activations) with PyTorch's x86 arithmetic (``_kernels``).
State dicts carry PyTorch's keys (``scale``, ``zero_point``, ``_packed_params._packed_params`` = (weight, bias))."""
import numpy as np

import torsh
from torsh import nn
from torsh._quantized import QuantizedTensor

from . import _kernels


def _quantize_weight(float_wt, observer):
    """The weight quantized with its observer's qparams (per tensor or per channel), as PyTorch's
    ``_quantize_weight``."""
    wt_scale, wt_zp = observer.calculate_qparams()
    if observer.qscheme in (torsh.per_tensor_symmetric, torsh.per_tensor_affine):
        return torsh.quantize_per_tensor(float_wt, float(wt_scale), int(wt_zp), torsh.qint8)
    if observer.qscheme in (torsh.per_channel_symmetric, torsh.per_channel_affine):
        return torsh.quantize_per_channel(float_wt, wt_scale.to(torsh.double), wt_zp.to(torsh.int64),
                                          observer.ch_axis, torsh.qint8)
    raise ValueError(f"Unexpected qscheme {observer.qscheme}")


class Quantize(nn.Module):
    """Float in, quantized out, with fixed scale and zero point (a converted QuantStub)."""

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        self.register_buffer("scale", torsh.tensor([scale]))
        self.register_buffer("zero_point", torsh.tensor([zero_point], dtype=torsh.long))
        self.dtype = dtype

    def forward(self, X):
        return torsh.quantize_per_tensor(X, float(self.scale), int(self.zero_point), self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        return Quantize(scale.float().item(), zero_point.long().item(), mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(nn.Module):
    def forward(self, Xq):
        return Xq.dequantize()

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()


class ReLU(nn.ReLU):
    """ReLU on a quantized tensor: the integers clamped below at the zero point, same scale (PyTorch runs
    nn.ReLU's own forward on quantized tensors; torsh swaps in this subclass, which prints as ReLU)."""

    def forward(self, input):
        if isinstance(input, QuantizedTensor):
            zp = input._zero_point if input._axis is None else input._zero_point.max()
            return input._like(np.maximum(input._int, np.asarray(zp, dtype=input._int.dtype)))
        return super().forward(input)


def _on_integers(fn, input):
    """A monotone shape op (max pooling) run on the integers, the quantizer kept."""
    out = fn(torsh.from_numpy(input._int.astype(np.float64))).numpy()
    return input._like(out.astype(input._int.dtype))


class MaxPool2d(nn.MaxPool2d):
    """Max pooling of a quantized tensor: on its integers (PyTorch runs nn.MaxPool2d's own forward on them)."""

    def forward(self, input):
        if isinstance(input, QuantizedTensor):
            return _on_integers(super().forward, input)
        return super().forward(input)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """Average pooling of a quantized tensor: the mean of (int - zero_point) rounded to even, qparams kept."""

    def forward(self, input):
        if not isinstance(input, QuantizedTensor):
            return super().forward(input)
        zp = input._zero_point
        centred = torsh.from_numpy(input._int.astype(np.float64) - zp)
        means = super().forward(centred).numpy()
        # PyTorch: the window's integer sum times float32(1 / window size), rounded in float32
        (h, w), (oh, ow) = input._int.shape[-2:], means.shape[-2:]
        rows = np.array([-(-((i + 1) * h) // oh) - (i * h) // oh for i in range(oh)])
        cols = np.array([-(-((j + 1) * w) // ow) - (j * w) // ow for j in range(ow)])
        counts = rows[:, None] * cols[None, :]
        sums = np.rint(means * counts).astype(np.float32)
        ints = np.clip(np.rint(sums * (np.float32(1) / counts.astype(np.float32))).astype(np.float64) + zp,
                       input.dtype.qmin, input.dtype.qmax)
        return input._like(ints.astype(input._int.dtype))


class Flatten(nn.Flatten):
    def forward(self, input):
        if isinstance(input, QuantizedTensor):
            return input.flatten(self.start_dim, self.end_dim)
        return super().forward(input)


class Dropout(nn.Dropout):
    """A converted model runs in eval mode: dropout passes a quantized tensor through."""

    def forward(self, input):
        return input if isinstance(input, QuantizedTensor) else super().forward(input)

    def _get_name(self):  # PyTorch's convert makes nn.quantized.Dropout of it
        return "QuantizedDropout"


class LinearPackedParams(nn.Module):
    """Holds the quantized weight and float bias (PyTorch packs them for fbgemm; its state_dict entry is the
    (weight, bias) pair under ``_packed_params``)."""

    _version = 3

    def __init__(self, dtype=torsh.qint8):
        super().__init__()
        self.dtype = dtype
        self.__dict__["_packed"] = (None, None)

    def set_weight_bias(self, weight, bias):
        # kept off the module's parameters, as PyTorch's packed C++ object: the state dict holds the pair
        self.__dict__["_packed"] = (weight, bias)

    def _weight_bias(self):
        return self.__dict__["_packed"]

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_params"] = self._weight_bias()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype")
        weight, bias = state_dict.pop(prefix + "_packed_params")
        self.set_weight_bias(weight, bias)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)

    def __repr__(self):
        return self._weight_bias().__repr__()


class OutputQParams(nn.Module):
    """A module whose output ``scale`` / ``zero_point`` travel in its state dict as 0-d tensors, as PyTorch's."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "scale"] = torsh.tensor(self.scale)
        destination[prefix + "zero_point"] = torsh.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.scale = float(state_dict.pop(prefix + "scale"))
        self.zero_point = int(state_dict.pop(prefix + "zero_point"))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys, unexpected_keys,
                                      error_msgs)


class _WeightedQuantizedModule(OutputQParams):
    """Shared by the quantized Linear and Conv2d: output scale / zero point, weight access, state dict."""

    _FLOAT_MODULE = None
    _relu = False

    def __repr__(self):  # PyTorch hides the packed parameters' child
        return f"{self._get_name()}({self.extra_repr()})"

    def weight(self):
        return self._packed_params._weight_bias()[0]

    def bias(self):
        return self._packed_params._weight_bias()[1]

    def set_weight_bias(self, w, b):
        self._packed_params.set_weight_bias(w, b)

    def _output(self, acc, x, channel_axis):
        w, b = self._packed_params._weight_bias()
        scales = _kernels.weight_scales(w, w._int.shape[0])
        bias = None if b is None else b.detach().numpy()
        ints = _kernels.requantize(acc, x._scale, scales, bias, self.scale, self.zero_point, self._relu,
                                   channel_axis)
        return QuantizedTensor._make(ints, torsh.quint8, torsh.per_tensor_affine, float(self.scale),
                                     int(self.zero_point))

    @classmethod
    def _observers(cls, mod):
        """(weight observer, activation observer) of a float module prepared for static quantization or QAT."""
        fused = getattr(mod, "_fused_float", False)  # an intrinsic LinearReLU / ConvReLU2d: its first module
        weight_post_process = getattr(mod, "weight_fake_quant", None)
        if weight_post_process is None:
            weight_post_process = mod.qconfig.weight()
        activation_post_process = mod.activation_post_process
        float_mod = mod[0] if fused else mod
        if getattr(float_mod, "weight_fake_quant", None) is not None:
            weight_post_process = float_mod.weight_fake_quant
        return weight_post_process, activation_post_process, float_mod


class Linear(_WeightedQuantizedModule):
    """Quantized Linear: quint8 input, qint8 weight, quint8 output at (scale, zero_point)."""

    _version = 3

    def __init__(self, in_features, out_features, bias_=True, dtype=torsh.qint8):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bias = torsh.zeros(out_features, dtype=torsh.float) if bias_ else None
        qweight = torsh.quantize_per_tensor(torsh.zeros(out_features, in_features), 1.0, 0, torsh.qint8)
        self._packed_params = LinearPackedParams(dtype)
        self._packed_params.set_weight_bias(qweight, bias)
        self.scale, self.zero_point = 1.0, 0

    def _get_name(self):
        return "QuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}, "
                f"zero_point={self.zero_point}, qscheme={self.weight().qscheme()}")

    def forward(self, x):
        w = self.weight()
        if x._axis is None:
            acc = _kernels.int_product(x._int, x._zero_point, w)
        else:  # a per-channel input (PyTorch refuses it in its kernel; kept exact here)
            acc = _kernels.centred(x) @ _kernels.centred_weight_t(w)
        return self._output(acc, x, acc.ndim - 1)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        weight_post_process, activation_post_process, float_mod = cls._observers(mod)
        act_scale, act_zp = activation_post_process.calculate_qparams()
        weight_post_process(float_mod.weight)
        qweight = _quantize_weight(float_mod.weight.detach().float(), weight_post_process)
        qlinear = cls(float_mod.in_features, float_mod.out_features, dtype=torsh.qint8)
        qlinear.set_weight_bias(qweight, None if float_mod.bias is None else float_mod.bias)
        qlinear.scale, qlinear.zero_point = float(act_scale), int(act_zp)
        return qlinear


class Conv2d(_WeightedQuantizedModule):
    """Quantized 2-D convolution (zeros padding), quint8 activations and qint8 weights."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        super().__init__()
        pair = nn.modules.utils._pair if hasattr(nn.modules, "utils") else None
        two = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)) if pair is None else pair
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = two(kernel_size), two(stride), two(padding)
        self.dilation, self.groups, self.padding_mode = two(dilation), groups, padding_mode
        qweight = torsh.quantize_per_tensor(
            torsh.zeros(out_channels, in_channels // groups, *self.kernel_size), 1.0, 0, torsh.qint8)
        self._packed_params = LinearPackedParams(torsh.qint8)
        self._packed_params.set_weight_bias(qweight, torsh.zeros(out_channels) if bias else None)
        self.scale, self.zero_point = 1.0, 0

    def _get_name(self):
        return "QuantizedConv2d"

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias() is None:
            s += ", bias=False"
        return s

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        nn.Module._save_to_state_dict(self, destination, prefix, keep_vars)
        w, b = self._packed_params._weight_bias()
        destination[prefix + "weight"], destination[prefix + "bias"] = w, b
        destination[prefix + "scale"] = torsh.tensor(self.scale)
        destination[prefix + "zero_point"] = torsh.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.set_weight_bias(state_dict.pop(prefix + "weight"), state_dict.pop(prefix + "bias"))
        self.scale = float(state_dict.pop(prefix + "scale"))
        self.zero_point = int(state_dict.pop(prefix + "zero_point"))
        nn.Module._load_from_state_dict(self, state_dict, prefix, local_metadata, False, missing_keys,
                                        unexpected_keys, error_msgs)

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError("Input shape must be `(N, C, H, W)`!")
        w = self.weight()
        if x._axis is None:
            acc = _kernels.conv2d_int(x._int, x._zero_point, w, self.stride, self.padding, self.dilation,
                                      self.groups)
            q = self._output(acc, x, 3)
            return q._like(np.ascontiguousarray(q._int.transpose(0, 3, 1, 2)))
        else:  # exact integer sums: the centred integers convolved in float64 (zero padding is the zero point)
            acc = np.rint(torsh.nn.functional.conv2d(
                torsh.from_numpy(_kernels.centred(x)), torsh.from_numpy(_kernels.centred(w)), None, self.stride,
                self.padding, self.dilation, self.groups).numpy())
        return self._output(acc, x, 1)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        weight_post_process, activation_post_process, float_mod = cls._observers(mod)
        act_scale, act_zp = activation_post_process.calculate_qparams()
        weight_post_process(float_mod.weight)
        qweight = _quantize_weight(float_mod.weight.detach().float(), weight_post_process)
        qconv = cls(float_mod.in_channels, float_mod.out_channels, float_mod.kernel_size, float_mod.stride,
                    float_mod.padding, float_mod.dilation, float_mod.groups, float_mod.bias is not None,
                    float_mod.padding_mode)
        qconv.set_weight_bias(qweight, float_mod.bias)
        qconv.scale, qconv.zero_point = float(act_scale), int(act_zp)
        return qconv


class LinearReLU(Linear):
    """``torch.ao.nn.intrinsic.quantized.LinearReLU``: the output clamped at its zero point."""

    _relu = True

    def _get_name(self):
        return "QuantizedLinearReLU"


class ConvReLU2d(Conv2d):
    _relu = True

    def _get_name(self):
        return "QuantizedConvReLU2d"
