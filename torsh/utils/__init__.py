"""torch.utils for torsh: ``data`` (datasets, samplers, DataLoader) and ``safetensors`` files."""
from . import data  # noqa: F401
from . import checkpoint  # noqa: F401,E402  (torch.utils.checkpoint)
from . import _pytree  # noqa: F401,E402  (torch.utils._pytree)
from . import flop_counter  # noqa: F401,E402  (torch.utils.flop_counter)
