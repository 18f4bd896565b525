"""Tensor ops by kind: elementwise, reduction (+ statistics), scan, sorting, shape, indexing, creation,
random, conversion, linalg, fft, special, misc and the legacy Tensor methods."""
