"""torch.storage: the storage classes (defined in torsh/_storage.py, which the tensor imports) and PyTorch's
switches of the TypedStorage deprecation warning."""
from typing import Union

from . import _storage as _impl
from ._storage import (LEGACY_STORAGE_TYPES, TypedStorage, UntypedStorage, _LegacyStorage,  # noqa: F401
                       _LegacyStorageMeta, _reset_warn_typed_storage_removal, _set_always_warn_typed_storage_removal,
                       warn_typed_storage_removal as _warn_typed_storage_removal)

__all__ = ["TypedStorage", "UntypedStorage"]
Storage = Union[TypedStorage, UntypedStorage]  # the annotation alias (torch.storage.Storage)


def _get_always_warn_typed_storage_removal():
    return _impl._always_warn[0]
