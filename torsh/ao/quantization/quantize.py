"""Eager-mode quantization (``torch.ao.quantization.quantize``): ``propagate_qconfig_``, ``prepare`` (an observer
after each quantizable leaf, as ``activation_post_process`` + a forward hook), ``convert`` (swap modules by the
mappings with ``from_float``), ``prepare_qat``, ``quantize_dynamic``; ``fuse_modules``."""
import copy

import torsh
from torsh import nn

from ..nn import intrinsic as nni, qat as nnqat
from ..nn.quantized import dynamic as nnqd, modules as nnq
from ..nn.quantized.functional_modules import FloatFunctional, QFunctional
from .qconfig import default_dynamic_qconfig, float16_dynamic_qconfig, per_channel_dynamic_qconfig  # noqa: F401
from .fake_quantize import FakeQuantizeBase
from .observer import ObserverBase
from .stubs import DeQuantStub, QuantStub

DEFAULT_STATIC_QUANT_MODULE_MAPPINGS = {
    QuantStub: nnq.Quantize, DeQuantStub: nnq.DeQuantize, nn.Linear: nnq.Linear, nn.Conv2d: nnq.Conv2d,
    nn.ReLU: nnq.ReLU, nn.MaxPool2d: nnq.MaxPool2d, nn.Flatten: nnq.Flatten, nn.Dropout: nnq.Dropout,
    nn.AdaptiveAvgPool2d: nnq.AdaptiveAvgPool2d, nni.LinearReLU: nnq.LinearReLU, nni.ConvReLU2d: nnq.ConvReLU2d,
    nnqat.Linear: nnq.Linear, nnqat.Conv2d: nnq.Conv2d, nnqat.LinearReLU: nnq.LinearReLU,
    nnqat.ConvReLU2d: nnq.ConvReLU2d, FloatFunctional: QFunctional,
}
DEFAULT_QAT_MODULE_MAPPINGS = {nn.Linear: nnqat.Linear, nn.Conv2d: nnqat.Conv2d, nni.LinearReLU: nnqat.LinearReLU,
                               nni.ConvReLU2d: nnqat.ConvReLU2d}
DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {nn.Linear: nnqd.Linear}
# these keep their input's qparams: no observer, and convert swaps in the subclass taking quantized tensors
_KEEPS_QPARAMS = {nn.ReLU: nnq.ReLU, nn.MaxPool2d: nnq.MaxPool2d, nn.Flatten: nnq.Flatten, nn.Dropout: nnq.Dropout,
                  nn.AdaptiveAvgPool2d: nnq.AdaptiveAvgPool2d}
_NO_OBSERVER = (DeQuantStub, *_KEEPS_QPARAMS)


def get_default_static_quant_module_mappings():
    return copy.deepcopy(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)


def get_default_qat_module_mappings():
    return copy.deepcopy(DEFAULT_QAT_MODULE_MAPPINGS)


def get_default_dynamic_quant_module_mappings():
    return DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS


def _propagate(module, qconfig_dict, qconfig_parent, prefix):
    module_qconfig = qconfig_dict.get(type(module), qconfig_parent)
    module_qconfig = qconfig_dict.get(prefix, module_qconfig)
    module_qconfig = getattr(module, "qconfig", module_qconfig)
    module.qconfig = module_qconfig
    for name, child in module.named_children():
        _propagate(child, qconfig_dict, module_qconfig, prefix + "." + name if prefix else name)


def propagate_qconfig_(module, qconfig_dict=None, prepare_custom_config_dict=None):
    """Give every submodule its qconfig: its own, else its entry by type or name in ``qconfig_dict``, else its
    parent's."""
    _propagate(module, qconfig_dict or {}, None, "")


def _observer_forward_hook(self, input, output):
    return self.activation_post_process(output)


def _is_leaf(module):
    return next(iter(module.children()), None) is None or getattr(module, "_fused_float", False)


def _add_observer_(module):
    for child in module.children():
        if isinstance(child, FloatFunctional):  # its ops call activation_post_process: the observer goes there
            if getattr(child, "qconfig", None) is not None:
                child.activation_post_process = child.qconfig.activation()
            continue
        fused = getattr(child, "_fused_float", False)
        if _is_leaf(child) or fused or isinstance(child, (nnqat.Linear, nnqat.Conv2d)):
            if getattr(child, "qconfig", None) is not None and not isinstance(child, _NO_OBSERVER) and \
                    not isinstance(child, (ObserverBase, FakeQuantizeBase)) and \
                    (type(child) in DEFAULT_STATIC_QUANT_MODULE_MAPPINGS or fused):
                child.add_module("activation_post_process", child.qconfig.activation())
                child.register_forward_hook(_observer_forward_hook)
        else:
            _add_observer_(child)


def prepare(model, inplace=False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Observers after QuantStubs and quantizable modules, for post-training calibration."""
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _add_observer_(model)
    return model


def _remove_qconfig(module):
    for child in module.children():
        _remove_qconfig(child)
    if hasattr(module, "qconfig"):
        del module.qconfig


def swap_module(mod, mapping, custom_module_class_mapping=None, use_precomputed_fake_quant=False):
    if getattr(mod, "qconfig", None) is not None and type(mod) in mapping:
        if type(mod) in _KEEPS_QPARAMS:  # the same module, as the subclass (its state and repr unchanged)
            new = copy.copy(mod)
            new.__class__ = _KEEPS_QPARAMS[type(mod)]
            return new
        return mapping[type(mod)].from_float(mod)
    return mod


def _convert(module, mapping, inplace=True, is_reference=False):
    reassign = {}
    for name, child in module.named_children():
        if not getattr(child, "_fused_float", False) and type(child) not in mapping:
            _convert(child, mapping, True)
        reassign[name] = swap_module(child, mapping)
    for name, child in reassign.items():
        setattr(module, name, child)
    return module


def convert(module, mapping=None, inplace=False, remove_qconfig=True, is_reference=False,
            convert_custom_config_dict=None, use_precomputed_fake_quant=False):
    """Swap each observed module for its quantized counterpart (``mapping``: float type -> quantized type)."""
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping or DEFAULT_STATIC_QUANT_MODULE_MAPPINGS)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize(model, run_fn, run_args, mapping=None, inplace=False):
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


def prepare_qat(model, mapping=None, inplace=False):
    """QAT modules (weights through fake quantizers) in place of the float ones, and fake quantizers after them."""
    if not model.training:
        raise AssertionError("prepare_qat only works on models in training mode")
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    _convert(model, mapping or DEFAULT_QAT_MODULE_MAPPINGS)
    _add_observer_(model)
    return model


def quantize_qat(model, run_fn, run_args, inplace=False):
    if not inplace:
        model = copy.deepcopy(model)
    model.train()
    prepare_qat(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, inplace=True)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=torsh.qint8, mapping=None, inplace=False):
    """Dynamic quantization: weights of the listed module types (default nn.Linear) stored as qint8, activations
    quantized per call."""
    if qconfig_spec is None:
        if dtype is torsh.qint8:
            qconfig_spec = {nn.Linear: default_dynamic_qconfig}
        else:
            raise ValueError(f"Don't know how to quantize with default settings for {dtype}. Provide full "
                             "qconfig please")
    elif isinstance(qconfig_spec, set):
        if dtype is not torsh.qint8:
            raise ValueError("Unknown dtype specified for quantize_dynamic: " + str(dtype))
        qconfig_spec = dict.fromkeys(qconfig_spec, default_dynamic_qconfig)
    if mapping is None:
        mapping = get_default_dynamic_quant_module_mappings()
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    _convert(model, mapping)
    _remove_qconfig(model)
    return model
