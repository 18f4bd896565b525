"""torchvision.utils.save_image: a batch of images (B, C, H, W) written as one PNG grid of ``nrow`` columns."""
import math

import numpy as np
from PIL import Image


def save_image(tensor, fp, nrow=8, padding=2, normalize=False, value_range=None, pad_value=0.0, format=None):
    images = tensor.detach().cpu().float().numpy()
    if images.ndim == 3:
        images = images[None]
    if normalize:  # torchvision scales the batch's own range (or value_range) to [0, 1]
        low, high = value_range if value_range is not None else (images.min(), images.max())
        images = (np.clip(images, low, high) - low) / max(high - low, 1e-5)
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    grid = np.full((channels, rows * (height + padding) + padding, columns * (width + padding) + padding), pad_value)
    for k, image in enumerate(images):
        top, left = padding + (k // columns) * (height + padding), padding + (k % columns) * (width + padding)
        grid[:, top:top + height, left:left + width] = image
    pixels = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(fp, format=format)
