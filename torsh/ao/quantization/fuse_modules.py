"""``fuse_modules``: conv-bn(-relu) and linear(-bn)(-relu) runs of a model replaced by one module (batch norm
folded in eval mode), the other names by nn.Identity, as PyTorch's default fuser methods."""
import copy

from torsh import nn
from torsh.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from ..nn import intrinsic as nni


def fuse_conv_bn(is_qat, conv, bn):
    if is_qat:
        return nni.ConvBn2d(conv, bn)
    return fuse_conv_bn_eval(conv, bn)


def fuse_conv_bn_relu(is_qat, conv, bn, relu):
    if is_qat:
        return nni.ConvBnReLU2d(conv, bn, relu)
    return nni.ConvReLU2d(fuse_conv_bn_eval(conv, bn), relu)


def fuse_linear_bn(is_qat, linear, bn):
    if is_qat:
        return nni.LinearBn1d(linear, bn)
    return fuse_linear_bn_eval(linear, bn)


_FUSER = {(nn.Conv2d, nn.BatchNorm2d): fuse_conv_bn, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU): fuse_conv_bn_relu,
          (nn.Conv2d, nn.ReLU): lambda is_qat, conv, relu: nni.ConvReLU2d(conv, relu),
          (nn.Linear, nn.ReLU): lambda is_qat, linear, relu: nni.LinearReLU(linear, relu),
          (nn.Linear, nn.BatchNorm1d): fuse_linear_bn}


def get_fuser_method(op_list, additional_fuser_method_mapping=None):
    mapping = {**_FUSER, **(additional_fuser_method_mapping or {})}
    fuser = mapping.get(tuple(op_list))
    if fuser is None:
        raise AssertionError(f"did not find fuser method for: {tuple(op_list)} ")
    return fuser


def _get_module(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def _set_module(model, name, new):
    *parents, last = name.split(".")
    for part in parents:
        model = getattr(model, part)
    setattr(model, last, new)


def _fuse(model, names, is_qat, fuser_func=None, fuse_custom_config_dict=None):
    mods = [_get_module(model, n) for n in names]
    fuser = get_fuser_method(tuple(type(m) for m in mods),
                             (fuse_custom_config_dict or {}).get("additional_fuser_method_mapping"))
    fused = fuser(is_qat, *mods)
    _set_module(model, names[0], fused)
    for n in names[1:]:
        identity = nn.Identity()
        identity.training = mods[0].training
        _set_module(model, n, identity)


def fuse_modules(model, modules_to_fuse, inplace=False, fuser_func=None, fuse_custom_config_dict=None):
    """Fuse each list of submodule names in ``modules_to_fuse`` (or a single list) into its first module."""
    if not inplace:
        model = copy.deepcopy(model)
    groups = modules_to_fuse if all(isinstance(g, (list, tuple)) for g in modules_to_fuse) else [modules_to_fuse]
    for g in groups:
        _fuse(model, g, False, fuser_func, fuse_custom_config_dict)
    return model


def fuse_modules_qat(model, modules_to_fuse, inplace=False, fuser_func=None, fuse_custom_config_dict=None):
    if not inplace:
        model = copy.deepcopy(model)
    groups = modules_to_fuse if all(isinstance(g, (list, tuple)) for g in modules_to_fuse) else [modules_to_fuse]
    for g in groups:
        _fuse(model, g, True, fuser_func, fuse_custom_config_dict)
    return model
