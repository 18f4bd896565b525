import pytest

from . import profiles  # noqa: F401 - registers and loads the hypothesis profile before the tests are collected
from .worker import Worker


@pytest.fixture(scope="module")
def worker():
    """One torsh worker subprocess per test module (restarted after a crash)."""
    w = Worker()
    yield w
    w.close()
