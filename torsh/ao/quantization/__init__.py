"""``torch.ao.quantization`` (also ``torch.quantization``): observers, fake quantization, qconfigs, stubs, module
fusion and eager-mode prepare / convert / prepare_qat / quantize_dynamic."""
from .fake_quantize import (FakeQuantize, FakeQuantizeBase, FusedMovingAvgObsFakeQuantize,  # noqa: F401
                            default_dynamic_fake_quant, default_fake_quant, default_fused_act_fake_quant,
                            default_fused_per_channel_wt_fake_quant, default_fused_wt_fake_quant,
                            default_per_channel_weight_fake_quant, default_weight_fake_quant, disable_fake_quant,
                            disable_observer, enable_fake_quant, enable_observer)
from .fuse_modules import fuse_modules, fuse_modules_qat, get_fuser_method  # noqa: F401
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,  # noqa: F401
                       MovingAveragePerChannelMinMaxObserver, NoopObserver, ObserverBase, PerChannelMinMaxObserver,
                       PlaceholderObserver, UniformQuantizationObserverBase, default_dynamic_quant_observer,
                       default_float_qparams_observer, default_histogram_observer, default_observer,
                       default_per_channel_weight_observer,
                       default_placeholder_observer, default_weight_observer)
from .qconfig import (QConfig, QConfigDynamic, default_dynamic_qconfig, default_per_channel_qconfig,  # noqa: F401
                      default_qat_qconfig, default_qat_qconfig_v2, default_qconfig, float16_dynamic_qconfig,
                      float16_static_qconfig, get_default_qat_qconfig, get_default_qconfig,
                      get_default_qconfig_dict, per_channel_dynamic_qconfig)
from .quantize import (convert, get_default_dynamic_quant_module_mappings,  # noqa: F401
                       get_default_qat_module_mappings, get_default_static_quant_module_mappings, prepare,
                       prepare_qat, propagate_qconfig_, quantize, quantize_dynamic, quantize_qat, swap_module)
from .stubs import DeQuantStub, QuantStub, QuantWrapper  # noqa: F401
from . import fake_quantize, observer, qconfig, stubs  # noqa: F401,E402
