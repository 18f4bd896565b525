"""The torsh side of the fuzz suite, in a subprocess: a crash in a compiled kernel fails one case, not the run.

``python -m fuzz.worker`` (run from ``tests/``) reads pickled ``Call`` objects on stdin and answers each
with its normalised outcome on its original stdout (its fd 1 is pointed at stderr, so stray prints
cannot corrupt the stream). It never imports torch: every answer says whether torch got loaded.
``Worker`` is the parent's handle: it starts the subprocess, restarts it after a crash or a hang,
and turns those into a ``Crashed`` outcome.
"""
import os
import pickle
import select
import struct
import subprocess
import sys
from dataclasses import dataclass

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALL_TIMEOUT = 120.0  # seconds; a hang is reported like a crash
START_TIMEOUT = 900.0  # importing torsh rebuilds the editable install's kernels when their sources changed


def _send(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read_exact(fd, n, timeout):
    chunks, got = [], 0
    while got < n:
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        chunk = os.read(fd, n - got)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(fd, timeout=None):
    (size,) = struct.unpack("<Q", _read_exact(fd, 8, timeout))
    return pickle.loads(_read_exact(fd, size, timeout))


@dataclass
class Crashed:
    """The worker died (or hung) while running a call."""
    how: str

    def __repr__(self):
        return f"Crashed({self.how})"


class Worker:
    def __init__(self):
        self.proc = None

    def _start(self):
        env = dict(os.environ, PYTHONPATH=TESTS_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "fuzz.worker"], cwd=TESTS_DIR, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = _recv(self.proc.stdout.fileno(), timeout=START_TIMEOUT)
        assert ready == "ready", ready

    def run(self, call):
        """The torsh outcome of ``call``, or Crashed (the next call gets a fresh worker)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            _send(self.proc.stdin, call)
            result, torch_loaded = _recv(self.proc.stdout.fileno(), timeout=CALL_TIMEOUT)
        except TimeoutError:
            self.close()
            return Crashed(f"no answer within {CALL_TIMEOUT:.0f} s")
        except (EOFError, BrokenPipeError):
            code = self.proc.wait()
            self.proc = None
            return Crashed(f"worker exited with code {code}")
        assert not torch_loaded, "the torsh worker imported torch"
        return result

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def main():
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    import torsh
    from fuzz.case import outcome
    _send(answers, "ready")
    requests = sys.stdin.buffer.fileno()
    while True:
        try:
            call = _recv(requests)
        except EOFError:
            return
        _send(answers, (outcome(torsh, call), "torch" in sys.modules))


if __name__ == "__main__":
    main()
