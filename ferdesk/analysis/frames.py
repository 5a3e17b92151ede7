"""Frames of a file or camera, read ahead on one helper thread, handed out in order.

Analysis reads files at full speed (``realtime=False``: no pacing to the video's own rate), and
decoding overlaps the detector and classifier: a reader thread fills a small bounded queue while
the caller's thread analyses. Files give every frame, in order (a full queue makes the reader wait,
never drop); a live camera keeps only the newest frames (a slow consumer must not build up
latency), as the live app does.

:class:`FrameReader` always closes its source and ends its thread: at the end of the stream, on
an error, or when the consumer stops early (``close()``, also from ``with``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass

from ferdesk.capture.sources import BadFrameError, CaptureError, FrameSource
from ferdesk.vision.results import Frame

log = logging.getLogger(__name__)

#: Frames decoded ahead of the analysis (memory: ~1 MB each at 640x480).
READ_AHEAD = 8


@dataclass(frozen=True)
class _End:
    """The stream ended (``error`` None) or failed (``error`` the user's one-line reason)."""

    error: str | None = None


class FrameReader:
    """Reads ``source`` on a thread named ``ferdesk-analysis-reader``; iterate to get its frames.

    Only frames whose index is a multiple of ``every`` are queued (the others are still decoded:
    video frames depend on each other). A frame the source reports as bad and skippable (a
    picture of an image folder that cannot be read, a damaged stretch of a video) is counted in
    ``skipped`` and its message kept in ``warnings``; any other read failure ends the stream and
    is kept in ``error``. ``frames_read`` counts every frame the source delivered.
    """

    def __init__(self, source: FrameSource, *, every: int = 1, read_ahead: int = READ_AHEAD) -> None:
        if every < 1:
            raise ValueError(f"every == {every}, must be >= 1.")
        self.source = source
        self.every = every
        self.frames_read = 0
        self.skipped = 0
        self.warnings: list[str] = []
        self.error: str | None = None
        self._live = bool(source.is_live)
        self._queue: queue.Queue[Frame | _End] = queue.Queue(maxsize=2 if self._live else read_ahead)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FrameReader:
        """Open the source (errors raise :class:`CaptureError` here, in the caller) and start reading."""
        self.source.open()
        self._thread = threading.Thread(target=self._run, name="ferdesk-analysis-reader", daemon=True)
        self._thread.start()
        return self

    def _put(self, item: Frame | _End) -> bool:
        """Queue ``item``; False when asked to stop meanwhile."""
        while not self._stop.is_set():
            if self._live and isinstance(item, Frame) and self._queue.full():
                with contextlib.suppress(queue.Empty):  # latest frames win for a camera: drop the oldest
                    self._queue.get_nowait()
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        end = _End()
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except BadFrameError as error:
                    self.skipped += 1
                    self.warnings.append(" ".join(str(error).split()))
                    log.debug("%s", error)
                    continue
                except CaptureError as error:
                    end = _End(" ".join(str(error).split()))
                    return
                except Exception as error:  # a decoder's own failure: a reason, not a traceback
                    end = _End(f"{self.source.label}: reading failed ({type(error).__name__}: {error}).")
                    return
                if frame is None:
                    return
                self.frames_read += 1
                if frame.index % self.every == 0 and not self._put(frame):
                    return
        finally:
            try:
                self.source.close()
            except Exception:
                log.exception("closing %s failed", self.source)
            self.error = end.error
            self._put(end)

    def __iter__(self):
        return self

    def __next__(self) -> Frame:
        if self._thread is None:
            raise RuntimeError("FrameReader.start() was not called.")
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise StopIteration from None
                continue
            if isinstance(item, _End):
                self._stop.set()
                raise StopIteration
            return item

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading, close the source and wait for the thread; safe to call twice."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            try:
                self.source.close()
            except Exception:
                log.exception("closing %s failed", self.source)
            return
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a reader waiting on a full queue
                self._queue.get_nowait()
            thread.join(0.05)
            timeout -= 0.05
            if timeout <= 0:
                log.warning("the analysis reader thread did not stop; it is a daemon and ends with ferdesk")
                break

    def __enter__(self) -> FrameReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
