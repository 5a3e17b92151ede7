"""Sending text to the user's screen reader (Orca, NVDA, VoiceOver) through Qt's accessibility layer.

Qt 6.8 added ``QAccessibleAnnouncementEvent``; older Qt has no way to make a screen reader speak
arbitrary text, so the bridge checks for it and reports ``supported``. Qt drops the event while no
assistive technology is active (``QAccessible.isActive()`` is false — always so offscreen), which
is why every announcement is also kept in :attr:`ScreenReaderBridge.sent`: the record tests read,
and proof of what was handed to Qt. Must be called from the GUI thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from PySide6 import QtGui
from PySide6.QtCore import QObject

_ANNOUNCEMENT_EVENT = getattr(QtGui, "QAccessibleAnnouncementEvent", None)
_POLITENESS = getattr(QtGui.QAccessible, "AnnouncementPoliteness", None)


@dataclass(frozen=True)
class SentAnnouncement:
    text: str
    assertive: bool
    delivered: bool  # False when Qt lacks the event type or no screen reader was active


class ScreenReaderBridge:
    def __init__(self, history: int = 200) -> None:
        self.sent: deque[SentAnnouncement] = deque(maxlen=history)

    @property
    def supported(self) -> bool:
        """True when this Qt can send announcements at all (Qt 6.8 or newer)."""
        return _ANNOUNCEMENT_EVENT is not None

    @staticmethod
    def screen_reader_active() -> bool:
        return bool(QtGui.QAccessible.isActive())

    def announce(self, source: QObject, text: str, assertive: bool = False) -> bool:
        """Ask the screen reader to speak ``text``; ``assertive`` interrupts what it is saying.

        Returns whether the event was handed to an active accessibility layer.
        """
        delivered = False
        if _ANNOUNCEMENT_EVENT is not None:
            event = _ANNOUNCEMENT_EVENT(source, text)
            if _POLITENESS is not None:
                event.setPoliteness(_POLITENESS.Assertive if assertive else _POLITENESS.Polite)
            delivered = self.screen_reader_active()
            QtGui.QAccessible.updateAccessibility(event)
        self.sent.append(SentAnnouncement(text, assertive, delivered))
        return delivered
