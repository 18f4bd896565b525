"""A stand-in for the few torchvision names the example programs use (torchvision is not installed here).

It is put on the programs' path by tests/test_public_programs.py so the programs' own text stays unchanged. Its one
real difference from torchvision: the datasets are small synthetic ones of the same shapes and types, made on the
spot instead of downloaded. Like the programs, it is imported by both runs: in the torsh run its `import torch`
lines are rewritten to torsh as well.
"""
from . import datasets, models, transforms, utils  # noqa: F401
