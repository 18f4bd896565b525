"""nn.utils: gradient clipping, parameter/vector conversion, weight/spectral norm, parametrize, rnn packing."""
from . import parametrizations, parametrize, prune, rnn  # noqa: F401
from .clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm
from . import fusion  # noqa: F401,E402
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights  # noqa: E402


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)``. torsh has no meta device, so parameters are initialised anyway."""
    if "device" not in __import__("inspect").signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
from . import stateless  # noqa: F401,E402
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format  # noqa: E402,F401
