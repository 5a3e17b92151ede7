"""Which way an announcement goes: built-in speech, the screen reader, both, or nowhere.

The user picks an output mode; what actually works can change during a run. Built-in speech can
fail (no sound card, espeak missing) and a screen reader may not be running. The router decides
from both, so a failure never leaves the user in silence when another route works, and the
warning about it says where announcements go *now* — not a fixed sentence that may be false.

The routes themselves belong to their owners: ``speech`` is a
:class:`ferdesk.speech.engine.SpeechEngine` (``say(text, interrupt=...)``, ``available``), the
screen reader route anything with ``announce(text, assertive) -> bool`` and ``running() -> bool``
(the window adapts :class:`ferdesk.ui.screen_reader.ScreenReaderBridge`). Plain Python (no Qt).
"""

from __future__ import annotations

import re
from typing import Protocol

SPEECH = "speech"
SCREEN_READER = "screen_reader"


class SpeechRoute(Protocol):
    def say(self, text: str, interrupt: bool = False) -> None: ...


class ScreenReaderRoute(Protocol):
    def announce(self, text: str, assertive: bool = False) -> bool: ...

    def running(self) -> bool: ...


# The speech engine's messages end with a claim about where announcements go; the router knows
# better (the claim is false when no screen reader runs). Matches "; announcements stay on screen
# and go to the screen reader.", " (announcements stay ...)" and "ferdesk keeps running: ...".
_ROUTE_CLAIM = re.compile(
    r"(?:[;:,]\s*|\s*\(|\.?\s+)(?:ferdesk keeps running:\s*)?announcements stay on screen[^.)]*\)?\.?",
    re.IGNORECASE,
)


def without_route_claims(message: str) -> str:
    """``message`` without its own claim of where announcements go ("... go to the screen reader")."""
    text = _ROUTE_CLAIM.sub("", message).strip()
    text = re.sub(r"\s+", " ", text).rstrip(" ;:,")
    return text if text.endswith((".", "?", "!")) else f"{text}."


class OutputRouter:
    """Decides the routes for each announcement from the chosen mode and what works now."""

    def __init__(
        self,
        mode: str = "speech",
        *,
        speech: SpeechRoute | None = None,
        screen_reader: ScreenReaderRoute | None = None,
    ) -> None:
        self.mode = mode
        self.speech = speech
        self.screen_reader = screen_reader
        self.muted = False
        #: The reason built-in speech stopped working, or None while it works.
        self.speech_failure: str | None = None

    # -- what works -------------------------------------------------------------------------------
    def speech_works(self) -> bool:
        """Whether built-in speech can be handed text (an engine exists and started)."""
        return self.speech is not None and bool(getattr(self.speech, "available", True))

    def speech_trusted(self) -> bool:
        """Whether built-in speech works and has reported no failure (so it is heard)."""
        return self.speech_works() and self.speech_failure is None

    def speech_let_down(self) -> bool:
        """Built-in speech was wanted and is failing (not: switched off with ``--no-speech``)."""
        if self.speech_failure is not None:
            return True
        return self.speech is not None and not self.speech_works()

    def screen_reader_running(self) -> bool:
        if self.screen_reader is None:
            return False
        try:
            return bool(self.screen_reader.running())
        except Exception:  # a route that cannot tell counts as not running
            return False

    # -- decisions --------------------------------------------------------------------------------
    def routes(self, force: bool = False) -> tuple[str, ...]:
        """The routes an announcement takes now; ``force`` ignores mute (the user's own request).

        Built-in speech that reported a failure (e.g. no sound card) is still handed text — the
        failure may pass — but the screen reader then gets every announcement too, so nothing
        depends on a voice that may not be heard.
        """
        if self.mode == "off" or (self.muted and not force):
            return ()
        wants_speech = self.mode in ("speech", "both")
        wants_reader = self.mode in ("screen_reader", "both")
        routes: list[str] = []
        if self.speech_works() and (wants_speech or not self.screen_reader_running()):
            # "Screen reader" with no screen reader running keeps built-in speech, not silence.
            routes.append(SPEECH)
        if self.screen_reader is not None and (wants_reader or (wants_speech and self.speech_let_down())):
            routes.append(SCREEN_READER)
        return tuple(routes)

    def where_announcements_go(self) -> str:
        """One honest sentence about where announcements go now, for warnings and "status"."""
        if self.mode == "off":
            return "Announcements are only listed in the Announcements list (Alt+3)."
        routes = self.routes(force=True)
        reader = SCREEN_READER in routes and self.screen_reader_running()
        if self.speech_trusted() and SPEECH in routes:
            return (
                "Announcements are spoken and sent to your screen reader."
                if reader
                else "Announcements are spoken by ferdesk's own voice."
            )
        if reader:
            now = " now" if self.speech_let_down() else ""
            return f"Announcements{now} go to your screen reader."
        if not self.speech_let_down():
            return (
                "Built-in speech is off: announcements are listed in the Announcements list (Alt+3) and "
                "the speech log."
            )
        return (
            "No screen reader is running either: announcements are listed in the Announcements list "
            "(Alt+3) and the speech log."
        )

    def speech_failed(self, reason: str) -> str:
        """Built-in speech stopped working; returns the warning to give (spoken by what still works)."""
        self.speech_failure = reason
        return f"Built-in speech failed: {without_route_claims(reason)} {self.where_announcements_go()}"

    def speech_restored(self) -> None:
        self.speech_failure = None
