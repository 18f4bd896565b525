"""torch.layout and torch.memory_format: closed sets of named singletons, as PyTorch's.

torsh tensors are always strided and C-contiguous in memory order: ``Tensor.layout`` is ``strided``, and the
formats are accepted wherever PyTorch takes ``memory_format=`` (ops that honour them check for them by identity).
"""


class _NamedConstant:
    """One named instance per value; pickles and copies as the module global of that name."""

    __slots__ = ("_name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError(f"cannot create 'torch.{cls.__name__}' instances")

    @classmethod
    def _make(cls, name):
        obj = object.__new__(cls)
        obj._name = name
        return obj

    def __repr__(self):
        return f"torsh.{self._name}"

    def __reduce__(self):
        return self._name  # the module global of that name: unpickling gives the same object back


class layout(_NamedConstant):
    """The memory layout of a tensor (torch.layout)."""

    __slots__ = ()


class memory_format(_NamedConstant):
    """The memory format a tensor is asked for (torch.memory_format)."""

    __slots__ = ()


layout.__module__ = memory_format.__module__ = "torsh"
strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc, jagged, _mkldnn = (
    layout._make(n) for n in ("strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
                              "jagged", "_mkldnn"))
contiguous_format, preserve_format, channels_last, channels_last_3d = (
    memory_format._make(n) for n in ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d"))
legacy_contiguous_format = contiguous_format  # PyTorch's alias: the same object

LAYOUTS = (strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc, jagged, _mkldnn)
MEMORY_FORMATS = (contiguous_format, preserve_format, channels_last, channels_last_3d)
