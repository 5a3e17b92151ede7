"""Keep the native libraries' start-up chatter (LiteRT, XNNPACK, absl) out of the user's terminal.

MediaPipe and LiteRT print dozens of INFO/WARNING lines from C++ straight to file descriptor 2 when
a model loads; Python's ``sys.stderr`` cannot catch them. We redirect the descriptor itself for the
duration of a load, and keep it when ``FERDESK_NATIVE_LOGS=1`` asks to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    if os.environ.get("FERDESK_NATIVE_LOGS") == "1":
        yield
        return
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stderr_fd)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, stderr_fd)
        os.close(saved)
        os.close(devnull)
