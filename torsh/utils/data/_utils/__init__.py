"""DataLoader internals: batch collation and the worker-process loop."""
from . import collate, worker  # noqa: F401
