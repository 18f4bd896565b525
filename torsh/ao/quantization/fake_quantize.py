"""``FakeQuantize`` (``torch.ao.quantization.fake_quantize``): observe, then quantize-dequantize in float with
the observer's scale and zero point, so QAT trains through the rounding (straight-through gradient)."""
import torsh
from torsh import nn

from .observer import (MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, _with_args,
                       _with_callable_args)

_IINFO = {torsh.quint8: (0, 255), torsh.qint8: (-128, 127), torsh.qint32: (-(2 ** 31), 2 ** 31 - 1),
          torsh.uint8: (0, 255), torsh.int8: (-128, 127), torsh.int32: (-(2 ** 31), 2 ** 31 - 1),
          torsh.quint4x2: (0, 15)}


def _is_per_channel(qscheme):
    return qscheme in (torsh.per_channel_symmetric, torsh.per_channel_affine, torsh.per_channel_affine_float_qparams)


def _is_per_tensor(qscheme):
    return qscheme in (torsh.per_tensor_symmetric, torsh.per_tensor_affine)


def _is_float_qparams(qscheme):
    return qscheme is torsh.per_channel_affine_float_qparams


class FakeQuantizeBase(nn.Module):
    """The two switches (``fake_quant_enabled``, ``observer_enabled`` uint8 buffers) and their toggles."""

    with_args = classmethod(_with_args)
    with_callable_args = classmethod(_with_callable_args)

    def __init__(self):
        super().__init__()
        self.register_buffer("fake_quant_enabled", torsh.tensor([1], dtype=torsh.uint8))
        self.register_buffer("observer_enabled", torsh.tensor([1], dtype=torsh.uint8))

    def forward(self, x):
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError

    def enable_fake_quant(self, enabled=True):
        self.fake_quant_enabled[0] = 1 if enabled else 0

    def disable_fake_quant(self):
        self.enable_fake_quant(False)

    def enable_observer(self, enabled=True):
        self.observer_enabled[0] = 1 if enabled else 0

    def disable_observer(self):
        self.enable_observer(False)


class FakeQuantize(FakeQuantizeBase):
    """Fake quantization of its input with the qparams its observer (``activation_post_process``) computes."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, is_dynamic=False,
                 **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise AssertionError("quant_min must be less than or equal to quant_max")
            dtype = observer_kwargs.get("dtype", torsh.quint8)
            if hasattr(observer, "p"):
                dtype = getattr(getattr(observer, "p", {}), "keywords", {}).get("dtype", dtype)
            lo, hi = _IINFO[dtype]
            if lo > quant_min:
                raise AssertionError("quant_min out of bound")
            if quant_max > hi:
                raise AssertionError("quant_max out of bound")
            observer_kwargs.update({"quant_min": quant_min, "quant_max": quant_max})
        observer_kwargs["is_dynamic"] = is_dynamic
        self.activation_post_process = observer(**observer_kwargs)
        self.quant_min = self.activation_post_process.quant_min
        self.quant_max = self.activation_post_process.quant_max
        self.is_dynamic = self.activation_post_process.is_dynamic
        zero_point_dtype = torsh.float if _is_float_qparams(self.activation_post_process.qscheme) else torsh.int
        self.register_buffer("scale", torsh.tensor([1.0], dtype=torsh.float))
        self.register_buffer("zero_point", torsh.tensor([0], dtype=zero_point_dtype))
        self.dtype = self.activation_post_process.dtype
        self.qscheme = self.activation_post_process.qscheme
        self.ch_axis = getattr(self.activation_post_process, "ch_axis", -1)
        if not (_is_per_channel(self.qscheme) or _is_per_tensor(self.qscheme)):
            raise AssertionError("Only per channel and per tensor quantization are supported in fake quantize"
                                 + " got qscheme: " + str(self.qscheme))
        self.is_per_channel = _is_per_channel(self.qscheme)

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, X):
        if self.observer_enabled[0] == 1:
            self.activation_post_process(X.detach())
            _scale, _zero_point = self.calculate_qparams()
            if self.scale.shape != _scale.shape:
                self.scale.resize_(_scale.shape)
                self.zero_point.resize_(_zero_point.shape)
            self.scale.copy_(_scale)
            self.zero_point.copy_(_zero_point)
        if self.fake_quant_enabled[0] == 1:
            if self.is_per_channel:
                X = torsh.fake_quantize_per_channel_affine(X, self.scale, self.zero_point, self.ch_axis,
                                                           self.activation_post_process.quant_min,
                                                           self.activation_post_process.quant_max)
            else:
                X = torsh.fake_quantize_per_tensor_affine(X, self.scale, self.zero_point,
                                                          self.activation_post_process.quant_min,
                                                          self.activation_post_process.quant_max)
        return X

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"quant_min={self.activation_post_process.quant_min}, "
                f"quant_max={self.activation_post_process.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, "
                f"ch_axis={self.ch_axis}, scale={self.scale}, zero_point={self.zero_point}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for name in ("scale", "zero_point"):  # per-channel qparams take the saved length
            if prefix + name in state_dict:
                getattr(self, name).resize_(state_dict[prefix + name].shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class FusedMovingAvgObsFakeQuantize(FakeQuantize):
    """PyTorch fuses observer and fake quantization in one op; the same numbers through the two steps here."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, **observer_kwargs):
        super().__init__(observer, quant_min, quant_max, **observer_kwargs)


default_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                            dtype=torsh.quint8, qscheme=torsh.per_tensor_affine, reduce_range=True)
default_weight_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=-128,
                                                   quant_max=127, dtype=torsh.qint8,
                                                   qscheme=torsh.per_tensor_symmetric, reduce_range=False)
default_dynamic_fake_quant = FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                    quant_max=255, is_dynamic=True, dtype=torsh.quint8,
                                                    averaging_constant=1)
default_per_channel_weight_fake_quant = FakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torsh.qint8,
    qscheme=torsh.per_channel_symmetric, reduce_range=False, ch_axis=0)
default_fused_act_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torsh.quint8)
default_fused_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=torsh.qint8,
    qscheme=torsh.per_tensor_symmetric)
default_fused_per_channel_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127, dtype=torsh.qint8,
    qscheme=torsh.per_channel_symmetric)


def _toggle(method):
    def apply(mod):
        if isinstance(mod, FakeQuantizeBase):
            getattr(mod, method)()
    apply.__name__ = method
    return apply


disable_fake_quant = _toggle("disable_fake_quant")
enable_fake_quant = _toggle("enable_fake_quant")
disable_observer = _toggle("disable_observer")
enable_observer = _toggle("enable_observer")
