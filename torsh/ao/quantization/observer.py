"""Observers (``torch.ao.quantization.observer``): modules that watch the tensors passing through them and
compute a scale and zero point (``calculate_qparams``), with PyTorch's formulas (``_calculate_qparams`` follows
PyTorch's own Python source, so the same statistics give the same parameters)."""
import functools
import warnings

import numpy as np

import torsh
from torsh import nn

_EPS = 1.1920928955078125e-07  # torch.finfo(torch.float32).eps


class _PartialWrapper:
    """``Observer.with_args(...)``: a factory making a fresh observer per call."""

    def __init__(self, p):
        self.p = p
        self.callable_args = {}

    def __call__(self, *args, **keywords):
        for name, fn in self.callable_args.items():
            keywords.setdefault(name, fn())
        return self.p(*args, **keywords)

    def __repr__(self):
        return self.p.__repr__() + self.callable_args.__repr__()

    def with_args(self, **kwargs):
        return _with_args(self, **kwargs)

    def with_callable_args(self, **kwargs):
        result = _PartialWrapper(self.p)
        result.callable_args = {**self.callable_args, **kwargs}
        return result


def _with_args(cls_or_self, **kwargs):
    return _PartialWrapper(functools.partial(cls_or_self, **kwargs))


def _with_callable_args(cls_or_self, **kwargs):
    return _PartialWrapper(functools.partial(cls_or_self)).with_callable_args(**kwargs)


def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """PyTorch's default 8-bit ranges (halved by ``reduce_range``) unless the caller gave its own."""
    if has_customized_qrange:
        span = quant_max - quant_min + 1
        if dtype in (torsh.qint8, torsh.int8) and not 0 < span <= 256:
            raise AssertionError("quantization range should be positive and not exceed the maximum bit range (=256).")
        if dtype in (torsh.qint32, torsh.int32) and not 0 < span <= 2 ** 32:
            raise AssertionError("quantization range should be positive and not exceed the maximum bit range "
                                 "(=4294967296).")
        # reduce_range halves a custom range too (PyTorch's default activation fake quantizers rely on it)
        return (quant_min // 2, quant_max // 2) if reduce_range else (quant_min, quant_max)
    if dtype in (torsh.qint8, torsh.int8):
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype in (torsh.quint8, torsh.uint8):
        return (0, 127) if reduce_range else (0, 255)
    if dtype in (torsh.qint32, torsh.int32):
        return -(2 ** 31), 2 ** 31 - 1
    if dtype is torsh.quint4x2:
        return 0, 15
    return 0, 15


def validate_qmin_qmax(quant_min, quant_max):
    if not quant_min <= 0 <= quant_max:
        raise AssertionError("Used-specified quantization range must include 0.")
    if quant_min >= quant_max:
        raise AssertionError("qmin must be strictly less than qmax for user-specified quantization range.")


def check_min_max_valid(min_val, max_val):
    if min_val.numel() == 0 or max_val.numel() == 0:
        warnings.warn("must run observer before calling calculate_qparams. Returning default values.")
        return False
    if min_val.dim() == 0 or max_val.dim() == 0:
        if min_val == float("inf") and max_val == float("-inf"):
            warnings.warn("must run observer before calling calculate_qparams. Returning default values.")
            return False
        if not min_val <= max_val:
            raise AssertionError(f"min {min_val} should be less than max {max_val}")
    elif not torsh.all(min_val <= max_val):
        raise AssertionError(f"min {min_val} should be less than max {max_val}")
    return True


class ObserverBase(nn.Module):
    """Base observer: ``dtype`` of the quantized tensors, ``is_dynamic``; ``forward`` records and returns x."""

    with_args = classmethod(_with_args)
    with_callable_args = classmethod(_with_callable_args)

    def __init__(self, dtype, is_dynamic=False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def forward(self, x):
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError


_ALLOWED_DTYPES = (torsh.qint8, torsh.quint8, torsh.quint4x2, torsh.qint32, torsh.int8, torsh.uint8, torsh.int16,
                   torsh.int32, torsh.uint16)
_QSCHEMES = (torsh.per_tensor_affine, torsh.per_tensor_symmetric, torsh.per_channel_affine,
             torsh.per_channel_symmetric, torsh.per_channel_affine_float_qparams)


class UniformQuantizationObserverBase(ObserverBase):
    """Observers with uniform quantization: the range, ``eps`` buffer and PyTorch's qparams formula."""

    _version = 3

    def __init__(self, dtype=torsh.quint8, qscheme=torsh.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        factory_kwargs = nn.factory_kwargs(factory_kwargs)
        super().__init__(dtype=dtype, is_dynamic=is_dynamic, **kwargs)
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for observers.                     "
                          "reduce_range will be deprecated in a future release of PyTorch.", stacklevel=2)
        self.reduce_range = reduce_range
        self.register_buffer("eps", torsh.tensor([eps], **factory_kwargs))
        if self.qscheme not in _QSCHEMES:
            raise AssertionError("Default Observer only works for per_tensor_affine, per_tensor_symmetric, "
                                 "per_channel_affine, per_channel_symmetric and per_channel_float_qparams "
                                 "quantization scheme")
        if self.dtype not in _ALLOWED_DTYPES:
            raise AssertionError(f"Default Observer only works for {_ALLOWED_DTYPES} data type")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            validate_qmin_qmax(quant_min, quant_max)
        self.quant_min, self.quant_max = calculate_qmin_qmax(quant_min, quant_max, self.has_customized_qrange,
                                                             self.dtype, self.reduce_range)

    def _calculate_qparams(self, min_val, max_val):
        if not check_min_max_valid(min_val, max_val):
            return torsh.tensor([1.0]), torsh.tensor([0])
        quant_min, quant_max = self.quant_min, self.quant_max
        min_val_neg = torsh.min(min_val, torsh.zeros_like(min_val))
        max_val_pos = torsh.max(max_val, torsh.zeros_like(max_val))
        scale = torsh.ones(min_val_neg.size(), dtype=torsh.float32)
        zero_point = torsh.zeros(min_val_neg.size(), dtype=torsh.int64)
        if self.qscheme in (torsh.per_tensor_symmetric, torsh.per_channel_symmetric):
            max_val_pos = torsh.max(-min_val_neg, max_val_pos)
            scale = max_val_pos / (float(quant_max - quant_min) / 2)
            scale = torsh.max(scale, self.eps)
            if self.dtype in (torsh.quint8, torsh.uint8):
                fill = (quant_min + quant_max) // 2 if self.has_customized_qrange else 128
                zero_point = zero_point.new_full(zero_point.size(), fill)
            elif self.dtype is torsh.uint16:
                zero_point = zero_point.new_full(zero_point.size(), 2 ** 15)
        elif self.qscheme is torsh.per_channel_affine_float_qparams:
            scale = (max_val - min_val) / float(quant_max - quant_min)
            scale = torsh.where(scale > self.eps, scale, torsh.ones_like(scale))
            zero_point = -1 * min_val / scale
        else:
            scale = (max_val_pos - min_val_neg) / float(quant_max - quant_min)
            scale = torsh.max(scale, self.eps)
            zero_point = quant_min - torsh.round(min_val_neg / scale).to(torsh.int)
            zero_point = torsh.clamp(zero_point, quant_min, quant_max)
        if len(scale.shape) == 0:
            scale = torsh.tensor([float(scale)], dtype=scale.dtype)
        if len(zero_point.shape) == 0:
            zero_point = torsh.tensor([int(zero_point)], dtype=zero_point.dtype)
            if self.qscheme is torsh.per_channel_affine_float_qparams:
                zero_point = torsh.tensor([float(zero_point)], dtype=zero_point.dtype)
        return scale, zero_point

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


class MinMaxObserver(UniformQuantizationObserverBase):
    """Running minimum and maximum of everything seen."""

    def __init__(self, dtype=torsh.quint8, qscheme=torsh.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if is_dynamic:
            raise NotImplementedError("MinMaxObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        factory_kwargs = nn.factory_kwargs(factory_kwargs)
        self.register_buffer("min_val", torsh.tensor(float("inf"), **factory_kwargs))
        self.register_buffer("max_val", torsh.tensor(float("-inf"), **factory_kwargs))
        if self.qscheme is torsh.per_tensor_symmetric and self.reduce_range and self.dtype is torsh.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        min_val_cur, max_val_cur = torsh.aminmax(x)
        self.min_val.copy_(torsh.min(min_val_cur, self.min_val))
        self.max_val.copy_(torsh.max(max_val_cur, self.max_val))
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def reset_min_max_vals(self):
        self.min_val.copy_(torsh.tensor(float("inf")))
        self.max_val.copy_(torsh.tensor(float("-inf")))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Minimum and maximum as exponential moving averages (``averaging_constant``) of each batch's."""

    def __init__(self, averaging_constant=0.01, dtype=torsh.quint8, qscheme=torsh.per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        if is_dynamic:
            raise NotImplementedError("MovingAverageMinMaxObserver doesn't support dynamic quantization")
        self.averaging_constant = averaging_constant
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        min_val, max_val = self.min_val, self.max_val
        if min_val == float("inf") and max_val == float("-inf"):
            min_val, max_val = torsh.aminmax(x)
        else:
            min_val_cur, max_val_cur = torsh.aminmax(x)
            min_val = min_val + self.averaging_constant * (min_val_cur - min_val)
            max_val = max_val + self.averaging_constant * (max_val_cur - max_val)
        self.min_val.copy_(min_val)
        self.max_val.copy_(max_val)
        return x_orig


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """Minimum and maximum per slice along ``ch_axis`` (weights: one scale per output channel)."""

    def __init__(self, ch_axis=0, dtype=torsh.quint8, qscheme=torsh.per_channel_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in (torsh.per_channel_affine, torsh.per_channel_symmetric,
                           torsh.per_channel_affine_float_qparams):
            raise NotImplementedError("PerChannelMinMaxObserver's qscheme only support "
                                      "torch.per_channel_symmetric, torch.per_channel_affine and "
                                      "torch.per_channel_affine_float_qparams.")
        if is_dynamic:
            raise NotImplementedError("PerChannelMinMaxObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        factory_kwargs = nn.factory_kwargs(factory_kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", torsh.tensor([], **factory_kwargs))
        self.register_buffer("max_val", torsh.tensor([], **factory_kwargs))
        if self.qscheme is torsh.per_channel_symmetric and self.reduce_range and self.dtype is torsh.quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        dims = list(range(x.dim()))
        dims[0], dims[self.ch_axis] = dims[self.ch_axis], dims[0]
        y = torsh.flatten(x.permute(dims), start_dim=1)
        if self.min_val.numel() == 0 or self.max_val.numel() == 0:
            min_val, max_val = torsh.aminmax(y, dim=1)
        else:
            min_val_cur, max_val_cur = torsh.aminmax(y, dim=1)
            min_val = torsh.min(min_val_cur, self.min_val)
            max_val = torsh.max(max_val_cur, self.max_val)
        self.min_val.resize_(min_val.shape)
        self.max_val.resize_(max_val.shape)
        self.min_val.copy_(min_val)
        self.max_val.copy_(max_val)
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for name in ("min_val", "max_val"):  # the per-channel buffers take the saved length
            if prefix + name in state_dict:
                getattr(self, name).resize_(state_dict[prefix + name].shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def reset_min_max_vals(self):
        self.min_val = torsh.tensor([])
        self.max_val = torsh.tensor([])


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=torsh.quint8, qscheme=torsh.per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        dims = list(range(x.dim()))
        dims[0], dims[self.ch_axis] = dims[self.ch_axis], dims[0]
        y = torsh.flatten(x.permute(dims), start_dim=1)
        min_val_cur, max_val_cur = torsh.aminmax(y, dim=1)
        if self.min_val.numel() == 0 or self.max_val.numel() == 0:
            min_val, max_val = min_val_cur, max_val_cur
        else:
            min_val = self.min_val + self.averaging_constant * (min_val_cur - self.min_val)
            max_val = self.max_val + self.averaging_constant * (max_val_cur - self.max_val)
        self.min_val.resize_(min_val.shape)
        self.max_val.resize_(max_val.shape)
        self.min_val.copy_(min_val)
        self.max_val.copy_(max_val)
        return x_orig


class HistogramObserver(UniformQuantizationObserverBase):
    """A running histogram of the values seen (``bins`` bins over the running min/max, re-binned when the range
    grows); ``calculate_qparams`` searches it for the min/max that minimise the L2 quantization error, then
    computes the qparams as MinMaxObserver. PyTorch's algorithm step for step (caffe2's norm minimization), in
    the same float32 tensor ops; the search's scalar scans run on a NumPy copy of the cumulative sums."""

    def __init__(self, bins=2048, dtype=torsh.quint8, qscheme=torsh.per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in (torsh.per_tensor_affine, torsh.per_tensor_symmetric):
            raise NotImplementedError("HistogramObserver's qscheme only support torch.per_tensor_symmetric "
                                      "                    and torch.per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic,
                         **kwargs)
        factory_kwargs = nn.factory_kwargs(factory_kwargs)
        self.bins = bins
        self.register_buffer("histogram", torsh.zeros(self.bins, **factory_kwargs))
        self.register_buffer("min_val", torsh.tensor(float("inf"), **factory_kwargs))
        self.register_buffer("max_val", torsh.tensor(float("-inf"), **factory_kwargs))
        self.dst_nbins = 2 ** torsh.iinfo(self.dtype).bits
        self.upsample_rate = 16  # used to reduce quantization errors when upscaling histogram

    @staticmethod
    def _get_norm(delta_begin, delta_end, density):
        """density * (end^3 - begin^3) / 3: the L2 norm of values spread uniformly over [begin, end]."""
        norm = (delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin) / 3
        return density * norm

    def _compute_quantization_error(self, next_start_bin, next_end_bin):
        bin_width = (self.max_val.item() - self.min_val.item()) / self.bins
        dst_bin_width = bin_width * (next_end_bin - next_start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        src_bin = torsh.arange(self.bins)
        src_bin_begin = (src_bin - next_start_bin) * bin_width
        src_bin_end = src_bin_begin + bin_width
        dst_bin_of_begin = torsh.clamp(torsh.div(src_bin_begin, dst_bin_width, rounding_mode="floor"), 0,
                                       self.dst_nbins - 1)
        dst_bin_of_begin_center = (dst_bin_of_begin + 0.5) * dst_bin_width
        dst_bin_of_end = torsh.clamp(torsh.div(src_bin_end, dst_bin_width, rounding_mode="floor"), 0,
                                     self.dst_nbins - 1)
        density = self.histogram / bin_width
        norm = torsh.zeros(self.bins)
        delta_begin = src_bin_begin - dst_bin_of_begin_center
        delta_end = dst_bin_width / 2
        norm += self._get_norm(delta_begin, torsh.ones(self.bins) * delta_end, density)
        norm += (dst_bin_of_end - dst_bin_of_begin - 1) * self._get_norm(
            torsh.tensor(-dst_bin_width / 2), torsh.tensor(dst_bin_width / 2), density)
        dst_bin_of_end_center = dst_bin_of_end * dst_bin_width + dst_bin_width / 2
        delta_begin = -dst_bin_width / 2
        delta_end = src_bin_end - dst_bin_of_end_center
        norm += self._get_norm(torsh.tensor(delta_begin), delta_end, density)
        return norm.sum().item()

    def _non_linear_param_search(self):
        """An approximation of the L2-error-minimising min/max, cutting outliers off the histogram's ends
        (NormMinimization::NonlinearQuantizationParamsSearch)."""
        if self.histogram.size()[0] != self.bins:
            raise AssertionError("bins mismatch")
        bin_width = (self.max_val - self.min_val) / self.bins
        total = torsh.sum(self.histogram).item()
        c_sum = torsh.cumsum(self.histogram, dim=0).numpy()  # float32: compared as PyTorch's tensor elements
        stepsize = 1e-5
        alpha, beta = 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta:
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            left, right = start_bin, end_bin
            while left < end_bin and c_sum[left] < np.float32(next_alpha * total):
                left += 1
            while right > start_bin and c_sum[right] > np.float32(next_beta * total):
                right -= 1
            next_start_bin, next_end_bin = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start_bin = left
                alpha = next_alpha
            else:
                next_end_bin = right
                beta = next_beta
            if next_start_bin == start_bin and next_end_bin == end_bin:
                continue
            norm = self._compute_quantization_error(next_start_bin, next_end_bin)
            if norm > norm_min:
                break
            norm_min = norm
            start_bin, end_bin = next_start_bin, next_end_bin
        new_min = self.min_val + bin_width * start_bin
        new_max = self.min_val + bin_width * (end_bin + 1)
        return new_min, new_max

    def _upscale_histogram(self, histogram, orig_min, orig_max, update_min, update_max):
        histogram = histogram.repeat_interleave(self.upsample_rate) / self.upsample_rate
        bin_size = (orig_max - orig_min) / (self.bins * self.upsample_rate)
        mid_points_histogram = (torsh.linspace(orig_min, orig_max, self.bins * self.upsample_rate + 1)[:-1]
                                + 0.5 * bin_size)
        boundaries_new_histogram = torsh.linspace(update_min, update_max, self.bins + 1)
        bucket_assignments = torsh.bucketize(mid_points_histogram, boundaries_new_histogram, right=True) - 1
        bucket_assignments[bucket_assignments >= self.bins] = self.bins - 1
        bucket_assignments[bucket_assignments < 0] = 0
        return torsh.bincount(bucket_assignments, weights=histogram, minlength=self.bins)

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min, update_max):
        if update_min == orig_min and update_max == orig_max:
            return orig_hist + update_hist
        if orig_min == orig_max:
            bin_value = torsh.sum(orig_hist)
            transformed_orig_hist = torsh.histc(orig_min, bins=self.bins, min=update_min, max=update_max) * bin_value
            return transformed_orig_hist + update_hist
        if update_min > orig_min:
            raise AssertionError("update_min must be <= orig_min")
        if update_max < orig_max:
            raise AssertionError("update_max must be >= orig_max")
        transformed_orig_hist = self._upscale_histogram(orig_hist, orig_min, orig_max, update_min, update_max)
        return update_hist + transformed_orig_hist

    def reset_histogram(self, x, min_val, max_val):
        self.min_val.resize_(min_val.shape)
        self.min_val.copy_(min_val)
        self.max_val.resize_(max_val.shape)
        self.max_val.copy_(max_val)
        if min_val.numel() != 1 or max_val.numel() != 1:
            raise AssertionError("histogram min/max values must be scalar.")
        new_histogram = torsh.histc(x, self.bins, min=min_val, max=max_val)
        self.histogram.detach_().resize_(new_histogram.shape)
        self.histogram.copy_(new_histogram)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach()
        x_min, x_max = torsh.aminmax(x)
        if x_min == -float("inf") or x_max == float("inf"):
            warnings.warn("torch.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[x.abs() != float("inf")]
            if x.numel() == 0:
                return x_orig
            x_min, x_max = torsh.aminmax(x)
        current_min, current_max = self.min_val, self.max_val
        is_uninitialized = self.min_val == float("inf") or self.max_val == float("-inf")
        if is_uninitialized:
            self.reset_histogram(x, x_min, x_max)
            return x_orig
        new_min = torsh.min(current_min, x_min).detach()
        new_max = torsh.max(current_max, x_max).detach()
        update_histogram = torsh.histc(x, self.bins, min=new_min, max=new_max)
        if new_min == current_min and new_max == current_max:
            self.histogram.copy_(self.histogram + update_histogram)
        else:
            combined = self._combine_histograms(self.histogram, current_min, current_max, update_histogram,
                                                new_min, new_max)
            self.histogram.detach_().resize_(combined.shape)
            self.histogram.copy_(combined)
            self.min_val.copy_(new_min)
            self.max_val.copy_(new_max)
        return x_orig

    def calculate_qparams(self):
        is_uninitialized = self.min_val == float("inf") and self.max_val == float("-inf")
        if is_uninitialized:
            warnings.warn("must run observer before calling calculate_qparams.                                    "
                          "Returning default scale and zero point ", stacklevel=2)
            return torsh.tensor([1.0]), torsh.tensor([0])
        if self.bins != len(self.histogram):
            raise AssertionError("The number of bins in histogram should be equal to the number of bins "
                                 "supplied while making this observer")
        new_min, new_max = self._non_linear_param_search()
        return self._calculate_qparams(new_min, new_max)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "min_val"] = self.min_val
        destination[prefix + "max_val"] = self.max_val

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version", None)
        if version is None or version < 3:
            for name, empty in (("min_val", float("inf")), ("max_val", float("-inf"))):
                key = prefix + name
                if key in state_dict and state_dict[key].shape == torsh.Size([0]):
                    state_dict[key] = torsh.tensor(empty)
        for name in ("min_val", "max_val"):
            key = prefix + name
            if key in state_dict:
                getattr(self, name).resize_(state_dict[key].shape)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class PlaceholderObserver(ObserverBase):
    """Records nothing: carries the dtype (and ``is_dynamic``) for dynamic quantization and float16."""

    def __init__(self, dtype=torsh.float32, custom_op_name="", compute_dtype=None, quant_min=None, quant_max=None,
                 qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if qscheme is None:
            qscheme = torsh.per_tensor_affine
        if eps is None:
            eps = _EPS
        self.quant_min, self.quant_max, self.qscheme, self.eps = quant_min, quant_max, qscheme, eps
        self.custom_op = custom_op_name
        if compute_dtype:
            is_dynamic = True
            warnings.warn("Please use `is_dynamic` instead of `compute_dtype`. `compute_dtype` will be "
                          "deprecated in a future release of PyTorch.")
        self.is_dynamic = is_dynamic

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for PlaceholderObserver")  # noqa: TRY002


class NoopObserver(ObserverBase):
    def __init__(self, dtype=torsh.float16, custom_op_name=""):
        super().__init__(dtype=dtype)
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise Exception("calculate_qparams should not be called for NoopObserver")  # noqa: TRY002


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_placeholder_observer = PlaceholderObserver
default_weight_observer = MinMaxObserver.with_args(dtype=torsh.qint8, qscheme=torsh.per_tensor_symmetric)
weight_observer_range_neg_127_to_127 = MinMaxObserver.with_args(
    dtype=torsh.qint8, qscheme=torsh.per_tensor_symmetric, quant_min=-127, quant_max=127, eps=2 ** -12)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(
    dtype=torsh.qint8, qscheme=torsh.per_channel_symmetric)
per_channel_weight_observer_range_neg_127_to_127 = PerChannelMinMaxObserver.with_args(
    dtype=torsh.qint8, qscheme=torsh.per_channel_symmetric, quant_min=-127, quant_max=127, eps=2 ** -12)
default_dynamic_quant_observer = PlaceholderObserver.with_args(dtype=torsh.quint8, quant_min=0, quant_max=255,
                                                               is_dynamic=True)
default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=torsh.quint8, qscheme=torsh.per_channel_affine_float_qparams, ch_axis=0)
