"""Routes announcements from the policy to the outputs the user chose: voice, screen reader, log, timeline.

The policy (plain Python, cheap) decides *whether* something is worth saying; it runs on the
processing thread for every frame, guarded by a lock because the GUI thread also asks it to
repeat or describe. What it decides to say is posted to the GUI thread once per announcement
(announcements are debounced to a few per minute, so this queue cannot pile up), and delivered
there: the speech log gets every line, built-in speech and the screen reader get it unless muted
or switched off, and :attr:`Announcer.announced` feeds the visible timeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ferdesk.ui.screen_reader import ScreenReaderBridge
from ferdesk.vision.results import FrameResult, TrackedFace

log = logging.getLogger(__name__)


class Announcer(QObject):
    """One place that turns policy decisions into speech, screen-reader events, log lines and a timeline.

    ``speech`` is anything with ``say(text, interrupt=False)`` (a :class:`SpeechEngine`), or None
    when built-in speech is off (``--no-speech``); ``speech_log`` anything with ``append(text)``.
    """

    #: Emitted in the GUI thread after each delivered announcement (the policy's Announcement).
    announced = Signal(object)
    #: A problem with an output (e.g. the log file cannot be written), as a sentence for the user.
    outputProblem = Signal(str)
    _post = Signal(object)

    def __init__(
        self,
        policy: Any,
        screen_reader: ScreenReaderBridge,
        source_widget: QObject,
        *,
        speech: Any | None = None,
        speech_log: Any | None = None,
        output: str = "speech",
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._policy = policy
        self._lock = threading.Lock()
        self.screen_reader = screen_reader
        self._source_widget = source_widget
        self.speech = speech
        self.speech_log = speech_log
        self.output = output
        self.muted = False
        self._clock = clock
        self._log_failed = False
        self._post.connect(self._deliver)

    # -- configuration (GUI thread) -------------------------------------------------------------
    @property
    def policy(self) -> Any:
        return self._policy

    def configure(self, **changes: Any) -> None:
        """Change policy settings (verbosity, hold_seconds, ...); they apply from the next frame."""
        with self._lock:
            for name, value in changes.items():
                setattr(self._policy.config, name, value)

    def reset_scene(self) -> None:
        """Forget the scene after a source change, so the new one is announced afresh."""
        with self._lock:
            self._policy.reset()

    # -- from the processing thread ----------------------------------------------------------------
    def on_result(self, result: FrameResult) -> None:
        """Called for every processed frame, on the processing thread."""
        with self._lock:
            announcement = self._policy.update(result.faces, self._clock())
        if announcement is not None:
            self._post.emit(announcement)

    # -- from the GUI thread -----------------------------------------------------------------------
    def repeat_last(self) -> Any | None:
        with self._lock:
            announcement = self._policy.repeat_last(self._clock())
        if announcement is None:
            return self.status("Nothing has been announced yet.")
        self._deliver(announcement, force=True)
        return announcement

    def describe_now(self, faces: list[TrackedFace]) -> Any | None:
        with self._lock:
            announcement = self._policy.describe_now(faces, self._clock())
        if announcement is not None:
            self._deliver(announcement, force=True)
        return announcement

    def status(self, message: str, force: bool = False) -> Any | None:
        """Announce a status line ("Camera disconnected"); ``force`` speaks it even when muted."""
        with self._lock:
            announcement = self._policy.status(message, self._clock())
        if announcement is not None:
            self._deliver(announcement, force=force)
        return announcement

    @Slot(object)
    def _deliver(self, announcement: Any, force: bool = False) -> None:
        text = str(announcement.text)
        urgent = bool(getattr(announcement, "urgent", False))
        if self.speech_log is not None and not self._log_failed:
            try:
                self.speech_log.append(text)
            except OSError as error:
                # Said once, then the log is left alone: a full disk must not flood the user.
                self._log_failed = True
                self.outputProblem.emit(f"The speech log cannot be written ({error}); logging stopped.")
        if force or not self.muted:
            if self.output in ("speech", "both") and self.speech is not None:
                self.speech.say(text, interrupt=urgent)
            if self.output in ("screen_reader", "both"):
                self.screen_reader.announce(self._source_widget, text, assertive=urgent)
        self.announced.emit(announcement)
