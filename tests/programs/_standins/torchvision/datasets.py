"""Synthetic datasets of MNIST's and FakeData's shapes: PIL images and int targets, as torchvision yields them."""
import numpy as np
import torch
from PIL import Image

MNIST_SIZES = {True: 512, False: 256}  # train / test images (MNIST has 60000 / 10000)


class MNIST:
    """1x28x28 uint8 digits 0-9: each class a bright 7x7 patch at its own place on a dim noisy background, so a
    model learns it in a few batches (as tests/programs/mnist/main.py's synthetic set)."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        rng = np.random.default_rng(0 if train else 1)
        n = MNIST_SIZES[bool(train)]
        targets = rng.integers(0, 10, n)
        images = (rng.random((n, 28, 28)) * 80).astype(np.uint8)
        for image, label in zip(images, targets):
            row, col = 3 + 7 * (label // 4), 2 + 6 * (label % 4)
            image[row:row + 7, col:col + 7] += 170
        # tensors, as torchvision's: uint8 images (N, 28, 28) and int64 targets
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(targets)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image, target = Image.fromarray(self.data[index].numpy()), int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class FakeData:
    """torchvision.datasets.FakeData: random RGB images of ``image_size`` (C, H, W) and random class targets."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        self.size, self.image_size, self.num_classes = size, image_size, num_classes
        self.transform, self.target_transform, self.random_offset = transform, target_transform, random_offset

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        rng = np.random.default_rng(index + self.random_offset)
        pixels = (rng.random(self.image_size) * 255).astype(np.uint8).transpose(1, 2, 0)
        image, target = Image.fromarray(pixels), int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
