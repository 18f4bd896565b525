"""Writing export files all-or-nothing: a temporary file next to the target, then a rename.

A reader never sees a half-written trace, and a failed export leaves any previous file
with that name untouched. ``.gz`` paths are gzip-compressed.
"""
import gzip
import os
import tempfile


def write_text_atomically(path, text):
    """Write ``text`` (UTF-8) to ``path``; OSError with a clear message when it cannot be written."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"torsh.profiler: cannot write to {path!r}: it is a directory")
    data = text.encode("utf-8")
    if path.endswith(".gz"):
        data = gzip.compress(data)
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, f"torsh.profiler: cannot write to {path!r}: {error.strerror}") from error
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a trace is an ordinary file
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise OSError(error.errno, f"torsh.profiler: cannot write to {path!r}: {error.strerror}") from error
        raise

