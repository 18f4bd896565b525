"""Summary protobufs (tensorboard's own message classes) built from NumPy data, as PyTorch's writer builds them."""
import io

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData

from ._convert import to_hwc, to_numpy


def default_bins():
    """TensorFlow's histogram bucket edges: +-1e-12 growing by 10% up to 1e20, and 0."""
    edges = []
    edge = 1e-12
    while edge < 1e20:
        edges.append(edge)
        edge *= 1.1
    return [-e for e in reversed(edges)] + [0] + edges


def scalar(tag, value, new_style=False, double_precision=False):
    array = to_numpy(value).squeeze()
    if array.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). "
                             f"Was given size: {array.size} and {array.ndim} dimensions.")
    number = float(array)
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=number)])
    proto = (TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision
             else TensorProto(float_val=[number], dtype="DT_FLOAT"))
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=proto, metadata=metadata)])


def _coarsen(counts, limits, max_bins):
    """Merge neighbouring bins so that at most ``max_bins`` remain (the last group padded with empty bins)."""
    group = len(counts) // max_bins
    remainder = len(counts) % group
    if remainder:
        counts = np.pad(counts, (0, group - remainder))
    counts = counts.reshape(-1, group).sum(axis=1)
    limits = np.concatenate([limits[:-1:group], limits[-1:]])
    return counts, limits


def histogram_proto(values, bins, max_bins=None):
    """A HistogramProto of ``values`` over ``bins``, trimmed to the occupied range plus one empty bin on the left.

    TensorBoard stores only right bucket edges, so the bin left of the first occupied one is kept
    to carry the leftmost edge.
    """
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        counts, limits = _coarsen(counts, limits, max_bins)
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:  # every value fell outside the bins
        raise ValueError("The histogram is empty, please file a bug report.")
    first, last = int(occupied[0]), int(occupied[-1])
    if first > 0:
        counts = counts[first - 1:last + 1]
    else:
        counts = np.concatenate([[0], counts[:last + 1]])
    limits = limits[first:last + 2]
    return HistogramProto(min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
                          sum_squares=values.dot(values), bucket_limit=limits.tolist(),
                          bucket=counts.tolist())


def histogram(tag, values, bins, max_bins=None):
    proto = histogram_proto(to_numpy(values).astype(float), bins, max_bins)
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):  # noqa: A002
    proto = HistogramProto(min=min, max=max, num=num, sum=sum, sum_squares=sum_squares,
                           bucket_limit=bucket_limits, bucket=bucket_counts)
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def _png(hwc_uint8):
    from PIL import Image
    height, width, channels = hwc_uint8.shape
    buffer = io.BytesIO()
    Image.fromarray(hwc_uint8).save(buffer, format="PNG")
    return Summary.Image(height=height, width=width, colorspace=channels,
                         encoded_image_string=buffer.getvalue())


def image(tag, value, dataformats="NCHW"):
    """A PNG image summary: uint8 data is taken as [0, 255], anything else as [0, 1]; values are clipped."""
    hwc = to_hwc(to_numpy(value), dataformats)
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    return Summary(value=[Summary.Value(tag=tag, image=_png(pixels))])


def text(tag, string):
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    proto = TensorProto(dtype="DT_STRING", string_val=[string.encode("utf_8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=metadata, tensor=proto)])


# ----------------------------------------------------------------------------- hparams

def _hparam_value(value):
    """(field of struct_pb2.Value, value, DataType name) for one hyperparameter, or None to skip it."""
    from ... import Tensor
    if value is None:
        return None
    if isinstance(value, (int, float)):  # bools included, logged as 0/1 numbers as PyTorch does
        return "number_value", value, "DATA_TYPE_FLOAT64"
    if isinstance(value, str):
        return "string_value", value, "DATA_TYPE_STRING"
    if isinstance(value, Tensor):
        return "number_value", to_numpy(value).reshape(-1)[0], "DATA_TYPE_FLOAT64"
    raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")


def _check_domains(hparam_dict, domains):
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for key, choices in domains.items():
        if (key not in hparam_dict or not isinstance(choices, list)
                or not all(isinstance(c, type(hparam_dict[key])) for c in choices)):
            raise TypeError(f"parameter: hparam_domain_discrete[{key}] should be a list of same type as "
                            f"hparam_dict[{key}].")


def _plugin_summary(tag, plugin_data):
    from tensorboard.plugins.hparams import metadata as hp_metadata
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=hp_metadata.PLUGIN_NAME, content=plugin_data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd)])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The hparams plugin's three summaries: experiment, session start (the values), session end."""
    from tensorboard.plugins.hparams import metadata as hp_metadata
    from tensorboard.plugins.hparams.api_pb2 import (DataType, Experiment, HParamInfo, MetricInfo, MetricName,
                                                     Status)
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    _check_domains(hparam_dict, domains)

    start = SessionStartInfo()
    infos = []
    for key, value in hparam_dict.items():
        parsed = _hparam_value(value)
        if parsed is None:
            continue
        field, number, type_name = parsed
        setattr(start.hparams[key], field, number)
        domain = None
        if key in domains:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: c}) for c in domains[key]])
        infos.append(HParamInfo(name=key, type=DataType.Value(type_name), domain_discrete=domain))

    version = hp_metadata.PLUGIN_DATA_VERSION
    experiment = Experiment(hparam_infos=infos,
                            metric_infos=[MetricInfo(name=MetricName(tag=k)) for k in metric_dict])
    end = SessionEndInfo(status=Status.Value("STATUS_SUCCESS"))
    return (_plugin_summary(hp_metadata.EXPERIMENT_TAG, HParamsPluginData(experiment=experiment, version=version)),
            _plugin_summary(hp_metadata.SESSION_START_INFO_TAG,
                            HParamsPluginData(session_start_info=start, version=version)),
            _plugin_summary(hp_metadata.SESSION_END_INFO_TAG,
                            HParamsPluginData(session_end_info=end, version=version)))
