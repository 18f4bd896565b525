import os
import sys

import pytest

# make `import helpers` work whatever the import mode
sys.path.insert(0, os.path.dirname(__file__))
# tests see the built-in dispatch thresholds, not whatever this machine's calibration cached
os.environ["TORSH_NO_CALIBRATION"] = "1"

import torsh  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests that change the default dtype or grad mode must not leak into others."""
    get_dd = getattr(torsh, "get_default_dtype", None)
    saved_dtype = get_dd() if get_dd else None
    is_ge = getattr(torsh, "is_grad_enabled", None)
    saved_grad = is_ge() if is_ge else None
    yield
    if saved_dtype is not None and torsh.get_default_dtype() != saved_dtype:
        torsh.set_default_dtype(saved_dtype)
    if saved_grad is not None and torsh.is_grad_enabled() != saved_grad:
        torsh.set_grad_enabled(saved_grad)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def num_threads(request):
    """Run the test with torsh.set_num_threads(1), then (2); the thread count is restored after."""
    before = torsh.get_num_threads()
    torsh.set_num_threads(request.param)
    yield request.param
    torsh.set_num_threads(before)
