"""Dropout modules."""
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def _drop(self, dropout, input):
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    def forward(self, input):
        return self._drop(F.dropout, input)


class Dropout1d(_DropoutNd):
    def forward(self, input):
        return self._drop(F.dropout1d, input)


class Dropout2d(_DropoutNd):
    def forward(self, input):
        return self._drop(F.dropout2d, input)


class Dropout3d(_DropoutNd):
    def forward(self, input):
        return self._drop(F.dropout3d, input)


class AlphaDropout(_DropoutNd):
    def forward(self, input):
        return self._drop(F.alpha_dropout, input)


class FeatureAlphaDropout(_DropoutNd):
    def forward(self, input):
        return self._drop(F.feature_alpha_dropout, input)
