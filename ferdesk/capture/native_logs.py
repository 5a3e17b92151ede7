"""Keep FFmpeg's and OpenCV's per-frame complaints out of the user's terminal.

A damaged video makes FFmpeg's decoder print a line for every broken block ("ac-tex damaged at
11 16", "Error at MB: 667"): tens of thousands of lines in seconds, straight from C to file
descriptor 2, burying ferdesk's own messages. ferdesk says what went wrong itself, once, in words
(a video "stopped decoding at frame 23 of 120", "could not be opened as a video"), so the raw lines
are switched off at the source rather than filtered:

* ``OPENCV_FFMPEG_LOGLEVEL=-8`` (``AV_LOG_QUIET``): OpenCV reads it each time it opens a video and
  sets FFmpeg's log level from it. (Any other value makes OpenCV print FFmpeg's lines on *stdout*,
  which would corrupt machine-readable output, so ferdesk never sets one.)
* ``OPENCV_LOG_LEVEL=ERROR`` and :func:`cv2.utils.logging.setLogLevel`: OpenCV's own
  "[ WARN:0@0.015] ... can't be used to capture by name" lines.

A value the user set is kept, and ``FERDESK_NATIVE_LOGS=1`` keeps everything as it is (the raw
lines are what a bug report about a codec needs). Descriptor 2 is never redirected here: the capture
thread reads all the time, and a redirect would swallow every other thread's messages too.
"""

from __future__ import annotations

import os
import threading

from ferdesk.vision.native_logs import native_logs_wanted

#: Shown where ferdesk summarises a problem whose raw details it hid.
SHOW_NATIVE_LOGS_HINT = "FERDESK_NATIVE_LOGS=1 shows FFmpeg's own messages"

_applied = False
_lock = threading.Lock()


def quiet_video_logs() -> None:
    """Silence FFmpeg and OpenCV warnings for the rest of the process (idempotent, cheap).

    Call it before opening a video or camera; ``ferdesk.capture`` does so on import (environment
    only) and again, with OpenCV loaded, at each open.
    """
    global _applied
    if native_logs_wanted():
        return
    user_set_opencv_level = "OPENCV_LOG_LEVEL" in os.environ
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    with _lock:
        if _applied:
            return
        import sys

        cv2 = sys.modules.get("cv2")
        if cv2 is None:
            return  # OpenCV not loaded yet: it will read the environment when it first logs
        if not user_set_opencv_level:
            # OpenCV read OPENCV_LOG_LEVEL at its first message, possibly before we set it.
            try:
                import cv2.utils.logging as cv_logging

                cv_logging.setLogLevel(cv_logging.LOG_LEVEL_ERROR)
            except (ImportError, AttributeError):  # an OpenCV build without the logging module
                pass
        _applied = True
