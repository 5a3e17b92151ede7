"""The live loop in plain threads: capture → newest frame → detect, classify, track → callbacks.

Two threads, so a slow analysis never slows the camera and a slow camera never blocks analysis:

* the **capture thread** reads the source continuously into a one-slot "latest frame" buffer. A
  frame still in the slot when the next arrives is replaced and counted as dropped, so the
  processing thread always gets the newest frame and latency never grows;
* the **processing thread** creates the analyzer (MediaPipe and LiteRT objects belong to the
  thread that made them), runs :class:`~ferdesk.pipeline.LivePipeline` on each frame it takes
  from the slot, and hands the result to ``on_result``. Each frame is processed inside its own
  try/except: a bad frame is reported with ``on_status("warning", ...)`` and the loop goes on.

A lost camera is reported (``"disconnected"``) and reopened until it is back (``"connected"``):
first after ``FIRST_RETRY_S``, then backing off to one attempt every ``reconnect_interval``
seconds, so a camera that comes back is running again within about that interval (a camera
"sent no picture" for ``CAMERA_READ_TIMEOUT_S`` counts as lost: a read never blocks the loop).

Whether a run's source opened at all is reported to listeners added with
:func:`add_open_listener` (an :class:`OpenReport` per attempt that matters): a scripted run exits
non-zero when its source never opened, without the window having to know how it found out.

The callbacks run on these threads, not the caller's: the Qt
layer forwards them to the GUI thread with queued signals. Status kinds: "info", "warning",
"error", "connected", "disconnected", "ended"; every message is a sentence for the user.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ferdesk.capture.sources import BadFrameError, CaptureError, FrameSource, ImageSource, open_source
from ferdesk.pipeline import LivePipeline
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.results import Frame, FrameResult
from ferdesk.vision.tracking import FaceTracker

log = logging.getLogger(__name__)

STATUS_KINDS = frozenset({"info", "warning", "error", "connected", "disconnected", "ended"})

#: Repeated warnings (the same frame error 30 times a second) are summarised at most this often.
WARNING_INTERVAL_S = 5.0

NO_CAMERA_ADVICE = "Open a video or image file, or the demo, from the File menu."

#: The first reconnection attempt comes this soon after a loss; the wait then doubles up to the
#: runner's ``reconnect_interval``.
FIRST_RETRY_S = 0.25


@dataclass(frozen=True)
class OpenReport:
    """Whether a runner's source opened: sent once it opens, or when it first fails to.

    ``final`` is True when the runner gave up (a file that does not open ends the run) and False
    while a camera is still being retried (a later report says if it opened after all).
    """

    source_spec: str
    opened: bool
    message: str = ""
    final: bool = True


_open_listeners: list[Callable[[OpenReport], None]] = []
_open_listeners_lock = threading.Lock()


def add_open_listener(listener: Callable[[OpenReport], None]) -> Callable[[], None]:
    """Call ``listener(report)`` for every runner's :class:`OpenReport`; returns the remover.

    The listener runs on the runner's capture thread: keep it short, and hand anything for Qt
    to the GUI thread. An exception in it is logged, never raised into the runner.
    """
    with _open_listeners_lock:
        _open_listeners.append(listener)

    def remove() -> None:
        with _open_listeners_lock, contextlib.suppress(ValueError):
            _open_listeners.remove(listener)

    return remove


@dataclass(frozen=True)
class LiveStats:
    """Counters of one run (a snapshot; read ``LiveRunner.stats`` again for fresh numbers).

    ``frames_captured == frames_processed + frames_dropped + frames_failed`` once the runner has
    stopped, give or take the one frame left in the slot. ``latency_ms`` is capture to result of
    the last processed frame.
    """

    frames_captured: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_failed: int = 0
    capture_fps: float = 0.0
    processing_fps: float = 0.0
    latency_ms: float = 0.0
    reconnects: int = 0


class _RateMeter:
    """Events per second over the last ``window`` events."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float) -> None:
        self._times.append(now)

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class _WarningLimiter:
    """Say the first warning at once; fold repeats within ``interval`` seconds into a count."""

    def __init__(self, interval: float = WARNING_INTERVAL_S) -> None:
        self.interval = interval
        self._last = -float("inf")
        self._suppressed = 0
        self._lock = threading.Lock()  # both threads warn

    def check(self, now: float) -> tuple[bool, int]:
        """(say it now?, how many were held back since the last one said)."""
        with self._lock:
            if now - self._last >= self.interval:
                held, self._suppressed, self._last = self._suppressed, 0, now
                return True, held
            self._suppressed += 1
            return False, 0


class LiveRunner:
    """Runs one source through the analyzer on two threads; see the module notes.

    ``source_spec`` is what :func:`ferdesk.capture.open_source` takes ("0", a file, "demo").
    ``analyzer_factory`` is called inside the processing thread (e.g. ``FaceAnalyzer`` or a
    ``functools.partial`` of it) and the analyzer is closed there when the run ends.
    ``mirror`` flips the frames (selfie view); ``user_facing_camera`` says the camera looks at the
    user rather than where the user looks; together they decide which side is the user's left
    (see :mod:`ferdesk.vision.tracking`). ``source_factory`` replaces ``open_source`` (tests, or a
    source the app builds itself); such a source must honour ``mirror`` itself. ``tracker_factory``
    builds the :class:`FaceTracker` (default: the tracker's defaults with the two view flags).
    ``reconnect_interval`` is the longest wait between two attempts to reopen a camera.
    """

    def __init__(
        self,
        source_spec: str,
        analyzer_factory: Callable[[], FaceAnalyzer],
        *,
        on_result: Callable[[FrameResult], None],
        on_status: Callable[[str, str], None],
        mirror: bool = False,
        loop: bool = True,
        reconnect_interval: float = 0.5,
        width: int | None = None,
        height: int | None = None,
        user_facing_camera: bool = False,
        source_factory: Callable[[], FrameSource] | None = None,
        tracker_factory: Callable[[], FaceTracker] | None = None,
    ) -> None:
        if reconnect_interval <= 0:
            raise ValueError(f"reconnect_interval == {reconnect_interval}, must be > 0 seconds.")
        self.source_spec = source_spec
        self._analyzer_factory = analyzer_factory
        self._on_result = on_result
        self._on_status = on_status
        self._mirror = mirror
        self._user_facing_camera = user_facing_camera
        self.loop = loop
        self.reconnect_interval = reconnect_interval
        self.width = width
        self.height = height
        self._source_factory = source_factory or (
            lambda: open_source(source_spec, loop=loop, width=width, height=height, mirror=self._mirror)
        )
        self._tracker_factory = tracker_factory
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._slot_lock = threading.Condition()
        self._reset_state()

    # ------------------------------------------------------------------ public

    def start(self, timeout: float = 5.0) -> None:
        """Start the capture and processing threads; RuntimeError if already running or they don't start."""
        if self.is_running():
            raise RuntimeError("LiveRunner is already running; call stop() before starting it again.")
        self._reset_state()
        self._stop.clear()
        started = [threading.Event(), threading.Event()]
        self._threads = [
            threading.Thread(
                target=self._capture_main, args=(started[0],), name="ferdesk-capture", daemon=True
            ),
            threading.Thread(
                target=self._process_main, args=(started[1],), name="ferdesk-process", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for event, thread in zip(started, self._threads, strict=True):
            if not event.wait(max(0.0, deadline - time.monotonic())):
                self._stop.set()
                raise RuntimeError(f"LiveRunner: the {thread.name} thread did not start within {timeout} s.")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and wait for them; RuntimeError naming any that won't stop in time.

        Safe to call when not running, twice, or from a callback (it then only asks to stop).
        """
        self._stop.set()
        with self._slot_lock:
            self._slot_lock.notify_all()
        deadline = time.monotonic() + timeout
        stuck = []
        for thread in self._threads:
            if thread is threading.current_thread():
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                stuck.append(thread.name)
        if stuck:
            raise RuntimeError(
                f"LiveRunner.stop: {' and '.join(stuck)} did not stop within {timeout} s (a camera read or "
                "an analysis step is stuck); the threads are daemons and end with the program."
            )

    def is_running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    @property
    def stats(self) -> LiveStats:
        with self._slot_lock:
            return LiveStats(
                frames_captured=self._captured,
                frames_processed=self._processed,
                frames_dropped=self._dropped,
                frames_failed=self._failed,
                capture_fps=self._capture_rate.rate,
                processing_fps=self._process_rate.rate,
                latency_ms=self._latency_ms,
                reconnects=self._reconnects,
            )

    @property
    def open_report(self) -> OpenReport | None:
        """The last :class:`OpenReport` of this run (None while the first open is under way)."""
        return self._open_report

    @property
    def source_name(self) -> str | None:
        """The open source's name ("Camera 0 (640x480)"), None before it opened."""
        return self._source_name

    @property
    def mirror(self) -> bool:
        return self._mirror

    def set_mirror(self, mirror: bool) -> None:
        """Flip the view from the next frame on (faces are tracked afresh: every box moves)."""
        self._mirror = bool(mirror)

    @property
    def user_facing_camera(self) -> bool:
        return self._user_facing_camera

    def set_user_facing_camera(self, user_facing_camera: bool) -> None:
        """Whether the camera looks at the user; swaps the announced left and right from the next frame."""
        self._user_facing_camera = bool(user_facing_camera)

    # ------------------------------------------------------------------ shared state

    def _reset_state(self) -> None:
        with self._slot_lock:
            self._slot: tuple[int, bool, Frame] | None = None
            self._capture_done = False
            self._generation = 0
            self._captured = self._processed = self._dropped = self._failed = self._reconnects = 0
            self._latency_ms = 0.0
            self._capture_rate = _RateMeter()
            self._process_rate = _RateMeter()
        self._source_name: str | None = None
        self._open_report: OpenReport | None = None
        self._end_message: str | None = None
        self._warnings = _WarningLimiter()

    def _status(self, kind: str, message: str) -> None:
        try:
            self._on_status(kind, message)
        except Exception:  # a broken status handler must not stop the live loop
            log.exception("on_status(%r, %r) raised", kind, message)

    def _report_open(self, opened: bool, message: str = "", final: bool = True) -> None:
        report = OpenReport(self.source_spec, opened, message, final)
        self._open_report = report
        with _open_listeners_lock:
            listeners = list(_open_listeners)
        for listener in listeners:
            try:
                listener(report)
            except Exception:  # a broken listener must not stop the live loop
                log.exception("open listener %r raised", listener)

    def _retry_delays(self):
        """FIRST_RETRY_S, doubling, then ``reconnect_interval`` for ever."""
        delay = min(FIRST_RETRY_S, self.reconnect_interval)
        while True:
            yield delay
            delay = min(delay * 2.0, self.reconnect_interval)

    def _warn(self, message: str) -> None:
        say, held_back = self._warnings.check(time.monotonic())
        if say:
            if held_back:
                message += f" ({held_back} similar warnings in the last {self._warnings.interval:g} s.)"
            self._status("warning", message)
        else:
            log.warning("%s", message)

    # ------------------------------------------------------------------ capture thread

    def _open(self, source: FrameSource, reconnecting: bool) -> bool:
        """Open ``source``; a camera is retried (with backoff) until it opens or stop() is called."""
        told = reconnecting  # a reconnect was announced already; say nothing per failed attempt
        delays = self._retry_delays()
        while not self._stop.is_set():
            try:
                source.open()
            except Exception as error:  # CaptureError, or a driver's own exception
                message = str(error) if isinstance(error, CaptureError) else f"{source.label}: {error}"
                if not source.is_live:
                    self._status("error", message)
                    self._report_open(False, message, final=True)
                    return False
                if not told:
                    message = f"No camera found: {message} {NO_CAMERA_ADVICE}"
                    self._status("error", message)
                    self._report_open(False, message, final=False)
                    told = True
                if self._stop.wait(next(delays)):
                    return False
                continue
            if not reconnecting:
                self._report_open(True)
            self._source_name = source.name
            # Short labels: these are spoken. The window shows ``source_name`` for the details.
            if source.is_live:
                self._status("connected", f"{source.label} connected.")
            elif isinstance(source, ImageSource):
                self._status("info", f"Showing {source.label}.")
            else:
                self._status("info", f"Playing {source.label}.")
            return True
        return False

    def _publish(self, frame: Frame, mirrored: bool) -> None:
        with self._slot_lock:
            if self._slot is not None:
                self._dropped += 1
            self._slot = (self._generation, mirrored, frame)
            self._captured += 1
            self._capture_rate.tick(frame.timestamp)
            self._slot_lock.notify()

    def _capture_main(self, started: threading.Event) -> None:
        started.set()
        source: FrameSource | None = None
        try:
            try:
                source = self._source_factory()
            except CaptureError as error:
                self._status("error", str(error))
                self._report_open(False, str(error), final=True)
                return
            if not self._open(source, reconnecting=False):
                return
            while not self._stop.is_set():
                mirrored = self._mirror
                source.mirror = mirrored
                try:
                    frame = source.read()
                except BadFrameError as error:
                    self._warn(str(error))
                    continue
                except Exception as error:  # CaptureError, or any failure of a device
                    if self._stop.is_set():
                        return
                    if not source.is_live:
                        reason = (
                            str(error)
                            if isinstance(error, CaptureError)
                            else f"{type(error).__name__}: {error}"
                        )
                        self._status("error", f"{source.label} stopped: {reason}")
                        return
                    self._status("disconnected", f"{source.label} disconnected. Trying to reconnect…")
                    log.info("%s lost: %s", source.label, error)
                    try:
                        source.close()
                    except Exception:  # the device is gone; closing may fail too
                        log.debug("closing a lost source failed", exc_info=True)
                    first_retry = min(FIRST_RETRY_S, self.reconnect_interval)
                    if self._stop.wait(first_retry) or not self._open(source, reconnecting=True):
                        return
                    with self._slot_lock:
                        self._generation += 1  # faces from before the gap are stale
                        self._reconnects += 1
                    continue
                if frame is None:
                    # Said by the processing thread once the last frame's result is out.
                    self._end_message = f"End of {source.label}."
                    return
                self._publish(frame, mirrored)
        finally:
            if source is not None:
                try:
                    source.close()
                except Exception:
                    log.exception("closing %s failed", source)
            with self._slot_lock:
                self._capture_done = True
                self._slot_lock.notify_all()

    # ------------------------------------------------------------------ processing thread

    def _make_tracker(self, mirrored: bool) -> FaceTracker:
        tracker = self._tracker_factory() if self._tracker_factory else FaceTracker()
        tracker.frames_mirrored = mirrored
        tracker.user_facing_camera = self._user_facing_camera
        return tracker

    def _next_frame(self) -> tuple[int, bool, Frame] | None:
        """Wait for the newest frame; None when stopping or the source has ended."""
        with self._slot_lock:
            while self._slot is None and not self._stop.is_set() and not self._capture_done:
                self._slot_lock.wait(0.5)
            if self._stop.is_set() or self._slot is None:
                return None
            taken, self._slot = self._slot, None
            return taken

    def _process_main(self, started: threading.Event) -> None:
        started.set()
        analyzer = None
        try:
            try:
                analyzer = self._analyzer_factory()
                # The detector loads on first use; load it now, before the first frame is waiting.
                _ = analyzer.detector
            except Exception as error:  # ModelError, DetectorError, or anything else
                self._status("error", f"Face analysis could not start: {error}")
                self._stop.set()
                return
            pipeline = LivePipeline(analyzer, self._make_tracker(self._mirror))
            generation = 0
            while True:
                taken = self._next_frame()
                if taken is None:
                    if self._end_message and not self._stop.is_set():
                        self._status("ended", self._end_message)
                    return
                frame_generation, mirrored, frame = taken
                tracker = pipeline.tracker
                if frame_generation != generation or mirrored != tracker.frames_mirrored:
                    pipeline.reset()
                    tracker.frames_mirrored = mirrored
                    generation = frame_generation
                tracker.user_facing_camera = self._user_facing_camera
                try:
                    result = pipeline.process(frame)
                except Exception as error:  # one bad frame must never stop the loop
                    with self._slot_lock:
                        self._failed += 1
                    log.debug("frame %d failed", frame.index, exc_info=True)
                    self._warn(
                        f"Frame {frame.index} could not be analysed ({type(error).__name__}: {error})."
                    )
                    continue
                now = time.monotonic()
                with self._slot_lock:
                    self._processed += 1
                    self._process_rate.tick(now)
                    self._latency_ms = (now - frame.timestamp) * 1000.0
                try:
                    self._on_result(result)
                except Exception as error:  # a broken result handler must not stop the loop
                    log.exception("on_result raised")
                    self._warn(f"Showing frame {frame.index} failed ({type(error).__name__}: {error}).")
        finally:
            if analyzer is not None:
                try:
                    analyzer.close()
                except Exception:
                    log.exception("closing the analyzer failed")
