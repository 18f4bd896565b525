"""``torch.version``: the PyTorch API level torsh implements, as PyTorch programs check it.

Programs branch on ``torch.__version__`` (``>= "1.10"``, ``>= (2, 0)``, ``packaging.version.parse``)
to pick between old and new APIs. torsh implements PyTorch 2.13's API, so it reports that release,
with torsh's own version as the local label (``2.13.0+torsh.0.1.0``, like PyTorch's ``2.13.0+cpu``);
``torsh_version`` is the package's version alone. No CUDA, HIP or XPU build: those fields are None.
"""
from importlib import metadata

from packaging.version import InvalidVersion, Version

__all__ = ["TorchVersion", "__version__", "torsh_version", "cuda", "hip", "rocm", "xpu", "debug", "git_version"]

torsh_version = metadata.version("torsh")  # pyproject.toml's [project] version, as installed
API_LEVEL = "2.13.0"  # the PyTorch release whose behaviour torsh follows


class TorchVersion(str):
    """A version string that compares with strings and tuples by release (``v >= (2, 0)``,
    ``v < "2.14"``), like ``torch.torch_version.TorchVersion``."""

    def _convert(self, other):
        if isinstance(other, Version):
            return other
        if isinstance(other, (tuple, list)):
            return Version(".".join(str(part) for part in other))
        if isinstance(other, str):
            return Version(other)
        raise InvalidVersion(other)

    def _compare(self, other, method):
        try:
            return getattr(Version(self), method)(self._convert(other))
        except InvalidVersion:
            return getattr(super(), method)(other)


for _method in ("__gt__", "__lt__", "__ge__", "__le__", "__eq__"):
    setattr(TorchVersion, _method, (lambda name: lambda self, other: self._compare(other, name))(_method))
TorchVersion.__hash__ = str.__hash__  # equal strings hash alike; __eq__ above would otherwise drop hashing

__version__ = TorchVersion(f"{API_LEVEL}+torsh.{torsh_version}")
git_version = "unknown"
debug = False
cuda = None
hip = None
rocm = None
xpu = None
