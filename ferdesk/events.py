"""``ferdesk --events FILE|-``: the live app's results as JSON lines, for scripts (a stable contract).

One line per processed frame and one per announcement, in the order they happen::

    {"time": "2026-12-01T14:05:09.123+01:00", "frame": 42,
     "faces": [{"track_id": 1, "box": [x, y, w, h], "emotion": "happy", "confidence": 0.91,
                "probabilities": {"angry": 0.01, ...}}]}
    {"time": "2026-12-01T14:05:09.456+01:00", "announcement": "Person on the left appears happy."}

``time`` is local time with its UTC offset, to the millisecond — the same clock and format as the
speech log (``--speech-log``), so an announcement's line in both carries the same text. ``frame``
is the source's frame number. A face too small to classify has ``"emotion": null``,
``"confidence": null`` and ``"probabilities": {}``. Probabilities are the tracker's smoothed ones
(what the window shows), rounded to 6 decimals, in the model's label order.

Plain Python, no Qt: the app's session calls :meth:`EventWriter.frame` from its result path and
:meth:`EventWriter.announcement` from its announcement path; both are safe from any thread. A
write that fails (a closed pipe, a full disk) is reported once through ``on_error`` and the app
goes on without events — losing the event stream must never stop the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

#: Decimal places of confidences and probabilities (as in ``ferdesk analyze``'s tables).
EVENT_DECIMALS = 6


def iso_now(when: datetime | None = None) -> str:
    """Local time with offset, to the millisecond: the speech log's format."""
    when = when if when is not None else datetime.now().astimezone()
    return when.isoformat(timespec="milliseconds")


def face_event(face) -> dict:
    """The ``faces`` entry of a :class:`ferdesk.vision.results.TrackedFace`."""
    classified = face.emotion is not None and bool(face.probabilities)
    return {
        "track_id": int(face.track_id),
        "box": [int(face.box.x), int(face.box.y), int(face.box.w), int(face.box.h)],
        "emotion": face.emotion if classified else None,
        "confidence": round(float(face.confidence), EVENT_DECIMALS) if classified else None,
        "probabilities": (
            {label: round(float(p), EVENT_DECIMALS) for label, p in face.probabilities.items()}
            if classified
            else {}
        ),
    }


def frame_event(result, when: datetime | None = None) -> dict:
    """The line of one processed frame (a :class:`ferdesk.vision.results.FrameResult`)."""
    return {
        "time": iso_now(when),
        "frame": int(result.frame.index),
        "faces": [face_event(face) for face in result.faces],
    }


def announcement_event(text: str, when: datetime | None = None) -> dict:
    """The line of one announcement; the text is cleaned exactly as the speech log cleans it."""
    return {"time": iso_now(when), "announcement": " ".join(str(text).split())}


class EventWriter:
    """Writes event lines to a file (appended, created with its folders) or to stdout (``"-"``).

    ``on_error(message)`` is called once if writing fails; after that the writer drops events.
    """

    def __init__(self, target: str | os.PathLike | TextIO, on_error: Callable[[str], None] | None = None):
        self._owns = False
        if isinstance(target, (str, os.PathLike)):
            if os.fspath(target) == "-":
                self._stream: TextIO | None = sys.stdout
                self.name = "standard output"
            else:
                path = Path(target)
                if path.is_dir():
                    raise IsADirectoryError(
                        f"--events expects a file name or '-', but {path} is a folder; "
                        f"try {path / 'events.jsonl'}."
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = path.open("a", encoding="utf-8", buffering=1, newline="\n")
                self._owns = True
                self.name = str(path)
        else:
            self._stream = target
            self.name = getattr(target, "name", "stream")
        self._on_error = on_error
        self._lock = threading.Lock()
        self._failed = False
        self.lines_written = 0

    def write(self, event: dict) -> None:
        """Write one event as one line; never raises."""
        line = json.dumps(event, ensure_ascii=False, separators=(", ", ": ")) + "\n"
        with self._lock:
            if self._stream is None or self._failed:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
                self.lines_written += 1
            except (OSError, ValueError) as error:  # a closed pipe or file, a full disk
                self._failed = True
                message = f"The event stream to {self.name} stopped: {error}. ferdesk goes on without it."
                log.warning("%s", message)
                if self._on_error is not None:
                    try:
                        self._on_error(message)
                    except Exception:
                        log.exception("the event writer's error handler raised")

    def frame(self, result, when: datetime | None = None) -> None:
        """One processed frame (a ``FrameResult``)."""
        self.write(frame_event(result, when))

    def announcement(self, text: str, when: datetime | None = None) -> None:
        """One announcement, as spoken."""
        self.write(announcement_event(text, when))

    @property
    def closed(self) -> bool:
        return self._stream is None

    def close(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None and self._owns:
                try:
                    stream.close()
                except OSError:
                    log.debug("closing the event file failed", exc_info=True)
            elif stream is not None:
                with contextlib.suppress(OSError, ValueError):  # stdout closed already
                    stream.flush()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["EventWriter", "announcement_event", "face_event", "frame_event", "iso_now"]
