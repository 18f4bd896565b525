"""The side panel's live feed (torsh.viz._publisher): a publisher starts when the panel opens its
comm, sends kernel_stats at 2 Hz at most, and stops (its thread joined) when the comm closes; in a
real kernel its messages arrive on iopub while a cell keeps the kernel busy."""
import threading
import time
import uuid

import pytest

from torsh.viz import _publisher, stats
from torsh.viz._publisher import StatsPublisher


@pytest.fixture(autouse=True)
def _no_dispatch_counting_left():
    """kernel_stats() starts the process-wide dispatch counter: stop it after each test, so later tests
    (the dispatch views) start with nobody listening, as in a fresh process."""
    yield
    _publisher.stop_all()
    stats.stop_counting()


def _publisher_threads():
    return [t for t in threading.enumerate() if t.name == "torsh-stats-publisher"]


class FakeComm:
    def __init__(self):
        self.comm_id = uuid.uuid4().hex
        self.sent = []
        self.close_callbacks = []

    def send(self, data):
        self.sent.append((time.monotonic(), data))

    def on_close(self, callback):
        self.close_callbacks.append(callback)

    def close_from_frontend(self):
        for callback in self.close_callbacks:
            callback({"content": {"comm_id": self.comm_id}})


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_publisher_starts_on_open_sends_at_most_2_hz_and_stops_on_close():
    comm = FakeComm()
    publisher = _publisher._on_open(comm, {"content": {"data": {"interval_ms": 50}}})  # asks 20 Hz
    assert publisher.interval == _publisher.MIN_INTERVAL == 0.5
    assert publisher.running and _publisher.publishers() == {comm.comm_id: publisher}
    _wait_for(lambda: len(comm.sent) >= 3)
    times = [t for t, _ in comm.sent]
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.45  # bounded rate
    snapshot = comm.sent[-1][1]
    assert snapshot["version"] == 1 and "dispatch" in snapshot and "memory" in snapshot
    comm.close_from_frontend()
    assert not publisher.running and publisher.thread is not None and not publisher.thread.is_alive()
    assert _publisher.publishers() == {} and _publisher_threads() == []
    count = len(comm.sent)
    time.sleep(0.6)
    assert len(comm.sent) == count  # nothing after the close


def test_a_send_that_fails_ends_the_thread_and_a_busy_snapshot_is_skipped():
    def broken(_):
        raise OSError("comm closed")

    publisher = StatsPublisher(broken).start()
    _wait_for(lambda: not publisher.running)
    assert publisher.sent == 0
    calls = []

    def racing():  # the main thread resized a dict under the walk
        calls.append(1)
        raise RuntimeError("dictionary changed size during iteration")

    sent = []
    skipping = StatsPublisher(sent.append, snapshot=racing)
    skipping.publish_once()
    assert calls == [1] and sent == [] and skipping.sent == 0
    skipping.stop()  # never started: nothing to join


def test_register_target_outside_a_kernel_is_a_no_op():
    assert _publisher.register_target() is False


# -- in a real kernel: messages arrive while a cell runs ---------------------------------------
LONG_CELL = """
import time
keep = []
for _ in range(10):
    keep.append(torsh.ones(256, 1024))  # 1 MiB more live memory every 0.3 s
    time.sleep(0.3)
"""


def _until_idle(kc, parent_id, timeout=60):
    """iopub messages up to the kernel's idle status for ``parent_id``, each with (busy?, message)."""
    seen, busy = [], False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        is_ours = msg["parent_header"].get("msg_id") == parent_id
        if msg["msg_type"] == "status" and is_ours:
            busy = msg["content"]["execution_state"] == "busy"
            if not busy:
                return seen
        seen.append((busy, msg))
    raise AssertionError("the kernel did not finish the cell")


def test_in_a_kernel_the_panel_gets_numbers_while_a_cell_runs():
    jupyter_client = pytest.importorskip("jupyter_client.manager")
    km, kc = jupyter_client.start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive("import torsh, torsh.viz._publisher as p; p.register_target(); "
                                       "torsh.memory_allocated()", timeout=120)
        assert reply["content"]["status"] == "ok"
        comm_id = uuid.uuid4().hex
        kc.shell_channel.send(kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": _publisher.TARGET,
                                                            "data": {"interval_ms": 500}}))
        msg_id = kc.execute(LONG_CELL)
        during = [m["content"]["data"] for busy, m in _until_idle(kc, msg_id)
                  if busy and m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id]
        assert len(during) >= 3, during  # the cell takes 3 s: ~6 snapshots
        allocated = [d["memory"]["allocated_bytes"] for d in during]
        assert allocated[-1] - allocated[0] >= 2 * 2**20, allocated  # the numbers moved with the cell
        kc.shell_channel.send(kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}}))
        printed = []
        reply = kc.execute_interactive(
            "import threading, time; time.sleep(0.1); "
            "print(sorted(t.name for t in threading.enumerate()), p.publishers())",
            timeout=30, output_hook=lambda m: m["msg_type"] == "stream" and printed.append(m["content"]["text"]))
        assert reply["content"]["status"] == "ok"
        assert printed and "torsh-stats-publisher" not in printed[0] and printed[0].rstrip().endswith("{}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

