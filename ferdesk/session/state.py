"""The source's life as a small state machine, and "say it once" for messages a runner repeats.

A camera that is unplugged reports "disconnected" once and then retries quietly; a camera that was
never there reports "No camera found" on every retry. The window must show the problem, say it
once, let "describe" repeat why there is no picture, and forget all that when the source changes
or comes back. Before this module that state lived in four places of the window; now the window
only draws the :class:`SourceChange` this machine returns. Plain Python (no Qt).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SourceState(StrEnum):
    """Where the source is in its life."""

    IDLE = "idle"  # nothing opened yet
    OPENING = "opening"  # runner started, no "connected"/first picture yet
    OPEN = "open"  # pictures flow
    LOST = "lost"  # a camera dropped out; the runner is reconnecting
    ENDED = "ended"  # a file that does not loop came to its end
    FAILED = "failed"  # could not open (no camera, bad file) or analysis could not start
    STOPPED = "stopped"  # the user stopped it


#: What the user can do instead, added to a problem that does not already say it.
ALTERNATIVES = "You can open a video or image file (Ctrl+O) or use the demo (Ctrl+D) instead."


def with_alternatives(message: str) -> str:
    return message if "Ctrl+O" in message or "File menu" in message else f"{message} {ALTERNATIVES}"


class SaidOnce:
    """Remembers the last (kind, message) spoken, so a retrying runner is not heard again and again."""

    def __init__(self) -> None:
        self.last: tuple[str, str] | None = None

    def first_time(self, kind: str, message: str) -> bool:
        if self.last == (kind, message):
            return False
        self.last = (kind, message)
        return True

    def reset(self) -> None:
        self.last = None


@dataclass(frozen=True)
class SourceChange:
    """What the window shows after a source event; every field the window needs, nothing to decide.

    ``notice`` is (severity, text, offer_alternatives) for the problem strip, or None to leave it
    (``hide_notice`` hides it). ``placeholder`` replaces the picture with a sentence when set.
    ``speak`` is the sentence to announce (already de-duplicated), ``status_bar`` a passing note.
    ``fatal`` means nothing can work (model or detector failed): scripted runs end with status 2.
    """

    state: SourceState
    message: str
    video_description: str | None  # None: leave the video's description as it is
    notice: tuple[str, str, bool] | None = None
    hide_notice: bool = False
    placeholder: str | None = None
    panel_message: str | None = None  # the faces panel's one line instead of faces
    speak: str | None = None
    status_bar: str | None = None
    console: tuple[str, str] | None = None
    fatal: bool = False


class SourceMachine:
    """The state of the current source, fed by the runner's status kinds.

    Kinds (from :mod:`ferdesk.live`): info, warning, error, connected, disconnected, ended.
    """

    def __init__(self) -> None:
        self.state = SourceState.IDLE
        self.spec: str | None = None
        self.label = ""
        self.is_camera = False
        #: Results captured at or before this time (time.monotonic()) belong to a lost picture.
        self.lost_at = 0.0
        self.said = SaidOnce()
        self.problem: str | None = None

    @property
    def lost(self) -> bool:
        return self.state in (SourceState.LOST, SourceState.FAILED)

    def describe_video(self, state: str) -> str:
        # Deliberately not the live scene: a screen reader re-reads the description of the focused
        # widget whenever it changes, which would talk over ferdesk's own, debounced announcements.
        return (
            f"{state} Press D to hear the faces in view, R to repeat the last announcement, F1 for all keys."
        )

    def opening(self, spec: str, label: str, is_camera: bool) -> SourceChange:
        self.spec, self.label, self.is_camera = spec, label, is_camera
        self.state = SourceState.OPENING
        self.lost_at = 0.0
        self.problem = None
        self.said.reset()
        return SourceChange(
            SourceState.OPENING,
            f"Starting {label}…",
            self.describe_video(f"Video from {label}."),
            hide_notice=True,
            placeholder=f"Starting {label}…",
            panel_message=f"Starting {label}…",
        )

    def invalid(self, message: str) -> SourceChange:
        """The spec was refused before anything started (no such file, not a source)."""
        return self._problem(SourceState.FAILED, "error", message, now=None, keep_state=True)

    def stopped(self) -> SourceChange:
        self.state = SourceState.STOPPED
        return SourceChange(
            SourceState.STOPPED,
            "Stopped.",
            self.describe_video(f"Stopped: {self.label or 'no source'}."),
            placeholder="Stopped. Press Ctrl+P or Space to start again.",
            panel_message="Stopped.",
            speak="Stopped.",
        )

    def status(self, kind: str, message: str, now: float, analysis_failed: bool = False) -> SourceChange:
        """The runner reported ``kind``/``message``; ``now`` is time.monotonic() of its arrival."""
        if kind == "connected":
            self.state = SourceState.OPEN
            self.problem = None
            self.said.reset()
            return SourceChange(
                SourceState.OPEN,
                message,
                self.describe_video(f"Video from {self.label}."),
                hide_notice=True,
                speak=message,
                status_bar=message,
            )
        if kind == "error" and analysis_failed:
            self.state = SourceState.FAILED
            self.problem = message
            return SourceChange(
                SourceState.FAILED,
                message,
                self.describe_video(f"No picture: {message}"),
                notice=("error", message, False),
                placeholder=message,
                panel_message=message,
                speak=message if self.said.first_time("error", message) else None,
                console=("error", message),
                fatal=True,
            )
        if kind in ("disconnected", "error"):
            state = SourceState.LOST if kind == "disconnected" else SourceState.FAILED
            severity = "warning" if kind == "disconnected" else "error"
            return self._problem(state, severity, message, now=now)
        if kind == "ended":
            self.state = SourceState.ENDED
            first = self.said.first_time(kind, message)
            return SourceChange(
                SourceState.ENDED,
                message,
                self.describe_video(f"{message}"),
                notice=("info", with_alternatives(message), True),
                speak=message if first else None,
                console=(kind, message) if first else None,
                panel_message=message,
            )
        # info, warning: a passing note, no change of state.
        return SourceChange(
            self.state,
            message,
            self.describe_video(f"Video from {self.label}.")
            if self.label
            else self.describe_video("No video yet."),
            status_bar=message,
            console=(kind, message),
        )

    def _problem(
        self, state: SourceState, severity: str, message: str, now: float | None, keep_state: bool = False
    ) -> SourceChange:
        if not keep_state:
            self.state = state
            self.problem = message
            if now is not None:
                self.lost_at = now
        first = self.said.first_time(severity, message)
        return SourceChange(
            state,
            message,
            None if keep_state else self.describe_video(f"No picture: {message}"),
            notice=(severity, with_alternatives(message), True),
            placeholder=None if keep_state else message,
            panel_message=None if keep_state else message,
            speak=message if first else None,
            console=(severity, message) if first else None,
        )
