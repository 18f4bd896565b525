"""torch.testing for torsh: ``assert_close`` (PyTorch's defaults, exception types and messages) and
``make_tensor``."""
from ._comparison import assert_close
from ._creation import make_tensor
from ._deprecated import assert_allclose

__all__ = ["assert_close", "make_tensor"]  # assert_allclose is deprecated: importable, not starred
