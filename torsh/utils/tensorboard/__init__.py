"""torch.utils.tensorboard for torsh: ``SummaryWriter`` writes TensorBoard event files.

The protobuf messages and the event-file writer come from the ``tensorboard`` package
(``pip install torsh[tensorboard]``); torsh only turns tensors into those messages.
"""
try:
    import tensorboard  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without tensorboard
    raise ImportError("torsh.utils.tensorboard needs the tensorboard package: "
                      "pip install tensorboard (or torsh[tensorboard])") from exc

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["FileWriter", "SummaryWriter"]
