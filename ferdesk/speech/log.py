"""The spoken-text log: one line per announcement, for scripts and for checking what was said.

Format (a stable scripting contract behind ``--speech-log FILE``)::

    <ISO 8601 time>\\t<text>\\n

The time is local with its UTC offset, to the millisecond, e.g.
``2025-01-31T14:05:09.123+01:00``. Text never contains a tab or a newline (they are replaced by
spaces), so every line splits cleanly on the first tab. The file is appended to, line-buffered
(a ``tail -f`` sees each line at once) and safe to write from several threads.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import TextIO

logger = logging.getLogger("ferdesk.speech")


class SpeechLog:
    """Appends ``<ISO time>\\t<text>`` lines to ``path``; creates the parent folders."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(
                f"--speech-log expects a file name, but {self.path} is a folder; "
                f"try {self.path / 'speech.log'}."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: TextIO | None = self.path.open("a", encoding="utf-8", buffering=1, newline="\n")
        self._warned_closed = False

    def append(self, text: str, when: datetime | None = None) -> None:
        """Write one line. ``when`` defaults to now (local time with offset)."""
        when = when if when is not None else datetime.now().astimezone()
        clean = " ".join(str(text).split())
        line = f"{when.isoformat(timespec='milliseconds')}\t{clean}\n"
        with self._lock:
            if self._file is None:
                # Late announcements racing a shutdown must not crash the app; say so once.
                if not self._warned_closed:
                    logger.warning("speech log %s is closed; dropped: %s", self.path, clean)
                    self._warned_closed = True
                return
            self._file.write(line)

    @property
    def closed(self) -> bool:
        return self._file is None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> SpeechLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["SpeechLog"]
