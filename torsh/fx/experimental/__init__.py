"""``torch.fx.experimental``: the symbolic-shape exceptions torch.export raises (``symbolic_shapes``)."""
from . import symbolic_shapes  # noqa: F401
