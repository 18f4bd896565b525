"""``QConfig`` / ``QConfigDynamic`` and the default qconfigs (``torch.ao.quantization.qconfig``)."""
from collections import namedtuple

import torsh

from .fake_quantize import (FakeQuantize, FusedMovingAvgObsFakeQuantize, default_fake_quant,
                            default_fused_per_channel_wt_fake_quant, default_fused_wt_fake_quant,
                            default_per_channel_weight_fake_quant, default_weight_fake_quant)
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver, PlaceholderObserver,
                       default_dynamic_quant_observer, default_observer, default_per_channel_weight_observer,
                       default_weight_observer)


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """How to observe a module's activations and weight: two observer (or fake-quantize) factories."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        if isinstance(activation, torsh.nn.Module) or isinstance(weight, torsh.nn.Module):
            raise ValueError("QConfig received observer instance, please pass observer class instead. "
                             "Use MyObserver.with_args(x=1) to override arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


class QConfigDynamic(namedtuple("QConfigDynamic", ["activation", "weight"])):
    __slots__ = ()

    def __new__(cls, activation=torsh.nn.Identity, weight=torsh.nn.Identity):
        if isinstance(weight, torsh.nn.Module):
            raise ValueError("QConfigDynamic received observer instance, please pass observer class instead. "
                             "Use MyObserver.with_args(x=1) to override arguments to constructor if needed")
        return super().__new__(cls, activation, weight)


default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
float16_dynamic_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=torsh.float16, is_dynamic=True),
                                  weight=PlaceholderObserver.with_args(dtype=torsh.float16))
float16_static_qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=torsh.float16),
                                 weight=PlaceholderObserver.with_args(dtype=torsh.float16))
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer, weight=default_per_channel_weight_observer)
default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)
default_qat_qconfig_v2 = QConfig(
    activation=FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                                       quant_max=255, dtype=torsh.quint8),
    weight=default_fused_wt_fake_quant)

_BACKENDS = ["fbgemm", "x86", "qnnpack", "onednn"]


def _check_backend(backend):
    if backend not in _BACKENDS:
        raise AssertionError("backend: " + str(backend) + f" not supported. backend must be one of {_BACKENDS}")


def get_default_qconfig(backend="x86", version=0):
    """PyTorch's post-training qconfig per backend: activations observed by a HistogramObserver (reduce_range
    on fbgemm / x86), weights per channel (per tensor on qnnpack)."""
    _check_backend(backend)
    if version != 0:
        raise AssertionError("Version number: " + str(version)
                             + " in get_default_qconfig is not supported. Version number must be 0")
    reduce_range = backend in ("fbgemm", "x86")
    weight = default_weight_observer if backend == "qnnpack" else default_per_channel_weight_observer
    return QConfig(activation=HistogramObserver.with_args(reduce_range=reduce_range), weight=weight)


def get_default_qat_qconfig(backend="x86", version=1):
    """PyTorch's QAT qconfig per backend (moving-average min/max activations, per-channel weights but qnnpack)."""
    _check_backend(backend)
    if version not in (0, 1):
        raise AssertionError("Version number: " + str(version)
                             + "in get_default_qat_qconfig is not supported. Version number must be 0 or 1")
    fq = FakeQuantize if version == 0 else FusedMovingAvgObsFakeQuantize
    reduce_range = backend in ("fbgemm", "x86")
    activation = fq.with_args(observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                              **({} if backend == "onednn" else {"reduce_range": reduce_range}))
    if backend == "qnnpack":
        weight = default_weight_fake_quant if version == 0 else default_fused_wt_fake_quant
    else:
        weight = (default_per_channel_weight_fake_quant if version == 0
                  else default_fused_per_channel_wt_fake_quant)
    return QConfig(activation=activation, weight=weight)


def get_default_qconfig_dict(backend="x86", version=0):
    return {"": get_default_qconfig(backend, version)}
