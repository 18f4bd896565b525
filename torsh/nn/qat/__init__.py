"""``torch.nn.qat``: the older name of ``torch.ao.nn.qat`` (same classes)."""
from ...ao.nn.qat import Conv2d, Linear  # noqa: F401
