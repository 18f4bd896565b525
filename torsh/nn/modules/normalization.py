"""BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm, CrossMapLRN2d."""
import numbers

import numpy as np

from ..._array_api import array, wrap
from ..._ops.tensor import creation
from ... import _dtype
from ...autograd.function import Function
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedBuffer, UninitializedParameter
from .lazy import LazyModuleMixin, _infer_parameters
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "SyncBatchNorm", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
           "CrossMapLRN2d"]


def _register_affine(module, affine, bias, shape, dtype):
    """weight (and bias unless ``bias=False``) of ``shape`` when ``affine``, else both None."""
    if affine:
        module.weight = Parameter(creation.empty(*shape, dtype=dtype))
        if bias:
            module.bias = Parameter(creation.empty(*shape, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module):
    """PyTorch's initialisation of a norm's affine parameters: weight 1, bias 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    _version = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, affine, bias, (num_features,), dtype)
        if self.track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=_dtype.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self):
        return ("{num_features}, eps={eps}, momentum={momentum}, affine={affine}, bias={use_bias}, "
                "track_running_stats={track_running_stats}".format(**self.__dict__, use_bias=self.bias is not None))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs, _plan=None):
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:  # checkpoints from before num_batches_tracked existed
                state_dict[key] = self.num_batches_tracked if self.num_batches_tracked is not None \
                    else creation.tensor(0, dtype=_dtype.int64)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs, _plan)


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        exponential_average_factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                exponential_average_factor = 1.0 / float(self.num_batches_tracked.item())
            else:
                exponential_average_factor = self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        return F.batch_norm(input,
                            self.running_mean if not self.training or self.track_running_stats else None,
                            self.running_var if not self.training or self.track_running_stats else None,
                            self.weight, self.bias, bn_training, exponential_average_factor, self.eps)


class BatchNorm1d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


SyncBatchNorm = BatchNorm2d  # single process: plain batch norm


class _LazyNormBase(LazyModuleMixin):
    def _channels_of(self, input):
        return input.shape[1]

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.num_features = self._channels_of(input)
            if self.affine:
                self.weight.materialize((self.num_features,))
                self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


def _lazy_norm(base, mixin, affine_default=True, track_default=True):
    """The Lazy<base> class: parameters and running stats shaped by the first input's channel count."""
    def __init__(self, eps=1e-5, momentum=0.1, affine=affine_default, track_running_stats=track_default, device=None,
                 dtype=None):
        base.__init__(self, 0, eps, momentum, False, False)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = creation.tensor(0, dtype=_dtype.int64)
        self._lazy_hook = self.register_forward_pre_hook(_infer_parameters)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            base.reset_parameters(self)
    return type("Lazy" + base.__name__, (mixin, base), {"__init__": __init__, "cls_to_become": base,
                                                        "reset_parameters": reset_parameters,
                                                        "__module__": __name__})


def _lazy_bn(base):
    return _lazy_norm(base, _LazyNormBase)


LazyBatchNorm1d = _lazy_bn(BatchNorm1d)
LazyBatchNorm2d = _lazy_bn(BatchNorm2d)
LazyBatchNorm3d = _lazy_bn(BatchNorm3d)


class _InstanceNorm(_NormBase):
    _nd = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def _check_input_dim(self, input):
        if input.dim() not in (self._nd + 1, self._nd + 2):
            raise ValueError(f"expected {self._nd + 1}D or {self._nd + 2}D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.dim() == self._nd + 1
        if unbatched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.num_features and self.affine:
            raise ValueError(f"expected input's size at dim=1 to match num_features ({self.num_features}), but got: "
                             f"{input.shape[1]}.")
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats, self.momentum if self.momentum is not None
                              else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    _nd = 3


class _LazyInstanceNormBase(_LazyNormBase):
    def _channels_of(self, input):
        return input.shape[0] if input.ndim == self._nd + 1 else input.shape[1]  # unbatched: channels first


def _lazy_in(base):
    return _lazy_norm(base, _LazyInstanceNormBase, affine_default=False, track_default=False)


LazyInstanceNorm1d = _lazy_in(InstanceNorm1d)
LazyInstanceNorm2d = _lazy_in(InstanceNorm2d)
LazyInstanceNorm3d = _lazy_in(InstanceNorm3d)


def _as_normalized_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (normalized_shape,)
    return tuple(normalized_shape)


class _AffineNorm(Module):
    """LayerNorm and GroupNorm: an optional elementwise weight (1) and bias (0); ``_repr`` names the fields."""
    _repr = ""

    def reset_parameters(self):
        _reset_affine(self)

    def extra_repr(self):
        return self._repr.format(**self.__dict__, use_bias=self.bias is not None)


class LayerNorm(_AffineNorm):
    _repr = "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}, bias={use_bias}"

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, elementwise_affine, bias, self.normalized_shape, dtype)
        self.reset_parameters()

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GroupNorm(_AffineNorm):
    _repr = "{num_groups}, {num_channels}, eps={eps}, affine={affine}, bias={use_bias}"

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, affine, bias, (num_channels,), dtype)
        self.reset_parameters()

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if self.elementwise_affine:
            self.weight = Parameter(creation.empty(*self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)


class _LRN(Module):
    """What the two local response norms share: their parameters and repr."""

    def __init__(self, size, alpha, beta, k):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


class LocalResponseNorm(_LRN):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__(size, alpha, beta, k)

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)


class _CrossMapLRN2dFunction(Function):
    """PyTorch's legacy cross-channel LRN, step for step: its forward keeps a running window sum (whose first
    channel is never dropped once the window has passed it) and its backward is its own hand-written formula, so
    both are ported as they are rather than derived."""

    @staticmethod
    def forward(ctx, input, size, alpha, beta, k):
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
        x = array(input)
        channels = x.shape[1]
        square = x * x
        scale = np.zeros_like(x)
        pre_pad = int((size - 1) / 2 + 1)
        scale[:, 0] = square[:, :min(pre_pad, channels)].sum(1)
        for c in range(1, channels):
            scale[:, c] = scale[:, c - 1]
            if c < channels - pre_pad + 1:
                scale[:, c] += square[:, c + pre_pad - 1]
            if c > pre_pad:
                scale[:, c] -= square[:, c - pre_pad]
        scale = scale * (alpha / size) + k
        output = wrap(np.power(scale, -beta) * x)
        ctx.size, ctx.alpha, ctx.beta, ctx.scale = size, alpha, beta, scale
        ctx.save_for_backward(input, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        x, out, g, scale = array(input), array(output), array(grad_output), ctx.scale
        channels, size = x.shape[1], ctx.size
        grad_input = np.power(scale, -ctx.beta) * g
        padded_ratio = np.zeros((channels + size - 1,) + x.shape[2:], dtype=x.dtype)
        cache_ratio_value = 2 * ctx.alpha * ctx.beta / size
        inverse_pre_pad = int(size - (size - 1) / 2)
        for n in range(x.shape[0]):
            padded_ratio[inverse_pre_pad:inverse_pre_pad + channels] = g[n] * out[n] / scale[n]
            accum_ratio = padded_ratio[:size - 1].sum(0)
            for c in range(channels):
                accum_ratio += padded_ratio[c + size - 1]
                grad_input[n, c] -= cache_ratio_value * x[n, c] * accum_ratio
                accum_ratio -= padded_ratio[c]
        return wrap(grad_input), None, None, None, None


class CrossMapLRN2d(_LRN):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__(size, alpha, beta, k)

    def forward(self, input):
        return _CrossMapLRN2dFunction.apply(input, self.size, self.alpha, self.beta, self.k)
