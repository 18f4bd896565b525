"""Turning torsh tensors, NumPy arrays and Python numbers into NumPy arrays shaped for summaries."""
import numbers

import numpy as np


def to_numpy(value):
    """A NumPy array of ``value`` (torsh tensor, ndarray or Python/NumPy number); numbers become 1-element arrays."""
    from ... import Tensor, bfloat16, float16
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (numbers.Number, np.generic)):
        return np.array([value])
    if isinstance(value, Tensor):
        if value.dtype == bfloat16:  # NumPy has no bfloat16 of its own: widen as PyTorch does
            value = value.to(float16)
        return value.detach().numpy()
    raise NotImplementedError(f"Got {type(value)}, but a numpy array or a torsh tensor was expected.")


def image_grid(images_nchw, ncols=8):
    """One CHW canvas with the N images laid out row by row, ``ncols`` per row (grayscale made RGB)."""
    if images_nchw.shape[1] == 1:
        images_nchw = np.repeat(images_nchw, 3, axis=1)
    if images_nchw.ndim != 4 or images_nchw.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    count, _, height, width = images_nchw.shape
    ncols = min(count, ncols)
    nrows = -(-count // ncols)
    canvas = np.zeros((3, height * nrows, width * ncols), dtype=images_nchw.dtype)
    for i in range(count):
        row, col = divmod(i, ncols)
        canvas[:, row * height:(row + 1) * height, col * width:(col + 1) * width] = images_nchw[i]
    return canvas


def to_hwc(array, dataformats):
    """``array`` laid out as ``dataformats`` (e.g. 'CHW', 'HWC', 'HW', 'NCHW') turned into an HWC image."""
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError(f"You can not use the same dimension shorthand twice. input_format: {dataformats}")
    if array.ndim != len(dataformats):
        raise AssertionError("size of input tensor and input format are different. "
                             f"tensor shape: {array.shape}, input_format: {dataformats}")
    layout = dataformats.upper()
    if len(layout) == 4:
        nchw = array.transpose([layout.find(c) for c in "NCHW"])
        return image_grid(nchw).transpose(1, 2, 0)
    if len(layout) == 3:
        hwc = array.transpose([layout.find(c) for c in "HWC"])
        return np.repeat(hwc, 3, axis=2) if hwc.shape[2] == 1 else hwc
    hw = array.transpose([layout.find(c) for c in "HW"])
    return np.stack([hw, hw, hw], axis=2)


def figure_to_chw(figure, close=True):
    """Render a matplotlib figure to a uint8 CHW RGB array."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    width, height = canvas.get_width_height()
    rgba = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(height, width, 4)
    if close:
        plt.close(figure)
    return np.moveaxis(rgba[:, :, :3], 2, 0)
