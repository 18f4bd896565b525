"""The ToRSh side panel's live feed: ``kernel_stats()`` pushed from the kernel while cells run.

The panel's polls are execute requests, which wait behind a running cell. Instead, while the
panel is visible, it opens a comm (target ``torsh_stats``, registered by ``register_target()``,
which the panel runs silently first); the kernel answers with a ``StatsPublisher``: a daemon
thread that sends a snapshot over that comm every ``interval`` seconds (at most 2 per second).
Comm messages from the kernel go out on iopub, whose sends ipykernel accepts from any thread, so
they reach the panel while the main thread runs a cell. The panel closes the comm when it is
hidden or switches notebooks; the close stops and joins the thread. A close sent while a
(synchronous) cell runs waits for that cell, as every shell message does: the thread keeps
sending until the cell ends. Snapshots are read from another thread than the one changing them:
one that meets a dict being resized (RuntimeError) is skipped, the next tick tries again.
"""
import threading

from . import stats

TARGET = "torsh_stats"
MIN_INTERVAL = 0.5  # seconds: at most 2 snapshots a second, whatever the panel asks
MAX_INTERVAL = 10.0

_publishers = {}  # comm_id -> the StatsPublisher serving that comm


class StatsPublisher:
    """Calls ``send(snapshot())`` now and then every ``interval`` seconds on a daemon thread, until ``stop()``."""

    def __init__(self, send, interval=MIN_INTERVAL, snapshot=stats.kernel_stats):
        self.interval = min(max(float(interval), MIN_INTERVAL), MAX_INTERVAL)
        self.sent = 0
        self.thread = None
        self._send = send
        self._snapshot = snapshot
        self._stopping = threading.Event()

    @property
    def running(self):
        return self.thread is not None and self.thread.is_alive()

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="torsh-stats-publisher", daemon=True)
            self.thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop sending and wait for the thread to end (idempotent)."""
        self._stopping.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self):
        while not self._stopping.is_set():
            self.publish_once()
            self._stopping.wait(self.interval)

    def publish_once(self):
        try:
            snapshot = self._snapshot()
        except RuntimeError:  # a dict the main thread was resizing: skip this tick
            return
        try:
            self._send(snapshot)
        except Exception:  # the comm or the kernel is gone: nobody to send to
            self._stopping.set()
            return
        self.sent += 1


def register_target():
    """Let the panel open ``torsh_stats`` comms in this kernel (idempotent); False outside a kernel."""
    manager = _comm_manager()
    if manager is None:
        return False
    manager.register_target(TARGET, _on_open)
    return True


def _comm_manager():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(getattr(shell, "kernel", None), "comm_manager", None)


def _on_open(comm, message):
    """The panel opened a comm: publish on it until it closes (``{"interval_ms": ...}`` in the open)."""
    data = message.get("content", {}).get("data") or {}
    publisher = serve(comm, data.get("interval_ms", MIN_INTERVAL * 1000) / 1000.0)
    comm.on_close(lambda _message: stop(comm.comm_id))
    return publisher


def serve(comm, interval=MIN_INTERVAL):
    """Start a StatsPublisher sending on ``comm`` (anything with ``send(data)`` and ``comm_id``)."""
    stop(comm.comm_id)
    publisher = _publishers[comm.comm_id] = StatsPublisher(lambda snapshot: comm.send(snapshot), interval)
    return publisher.start()


def stop(comm_id):
    publisher = _publishers.pop(comm_id, None)
    if publisher is not None:
        publisher.stop()


def stop_all():
    for comm_id in list(_publishers):
        stop(comm_id)


def publishers():
    """The publishers running now, by comm id."""
    return dict(_publishers)
