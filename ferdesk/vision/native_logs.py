"""Keep the native libraries' start-up chatter (LiteRT, XNNPACK, absl) out of the user's terminal.

MediaPipe and LiteRT print dozens of INFO/WARNING lines from C++ straight to file descriptor 2 when
a model loads; Python's ``sys.stderr`` cannot catch them. We redirect the descriptor itself for the
duration of a load, and keep it when ``FERDESK_NATIVE_LOGS=1`` asks to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def native_logs_wanted() -> bool:
    """True when the user asked to see the native libraries' raw messages (``FERDESK_NATIVE_LOGS=1``)."""
    return os.environ.get("FERDESK_NATIVE_LOGS") == "1"


_lock = threading.RLock()
_depth = 0
_visible: TextIO | None = None
_visible_target: tuple[int, int] | None = None


def _visible_stderr(real_fd: int, encoding: str) -> TextIO:
    """A text stream on a duplicate of the real stderr, kept open across loads.

    It is never closed while its target stays the same: a thread that picked it up as
    ``sys.stderr`` just before the redirect ended may still be halfway through a ``print`` (the text,
    then its newline), and a closed stream would cut that line in two.
    """
    global _visible, _visible_target
    status = os.fstat(real_fd)
    target = (status.st_dev, status.st_ino)
    if _visible is None or _visible.closed or _visible_target != target:
        previous = _visible
        _visible = open(os.dup(real_fd), "w", buffering=1, encoding=encoding, errors="backslashreplace")  # noqa: SIM115
        _visible_target = target
        if previous is not None and not previous.closed:
            with contextlib.suppress(OSError, ValueError):
                previous.close()
    return _visible


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Send descriptor 2 to /dev/null while a native library loads; Python's own stderr stays visible.

    Descriptor 2 belongs to the whole process, so while it points at /dev/null every thread's output
    would vanish with the chatter: a worker's one-line error printed at that moment was lost. For the
    duration, ``sys.stderr`` therefore writes to a duplicate of the real descriptor. Nested and
    concurrent uses share one redirect (a re-entrant lock and a depth count).
    """
    global _depth
    if native_logs_wanted():
        yield
        return
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _lock:
        _depth += 1
        if _depth > 1:
            try:
                yield
            finally:
                _depth -= 1
            return
        sys.stderr.flush()
        saved = os.dup(stderr_fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        python_stderr = sys.stderr
        try:
            visible = _visible_stderr(saved, getattr(python_stderr, "encoding", None) or "utf-8")
            os.dup2(devnull, stderr_fd)
            sys.stderr = visible
            try:
                yield
            finally:
                sys.stderr = python_stderr
                with contextlib.suppress(OSError, ValueError):
                    visible.flush()
        finally:
            os.dup2(saved, stderr_fd)
            os.close(saved)
            os.close(devnull)
            _depth -= 1
