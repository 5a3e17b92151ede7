"""Sending text to the user's screen reader (Orca, NVDA, VoiceOver), by a route that reader speaks.

Measured under Xvfb + AT-SPI with Debian 12's Orca 43.1: Qt's ``QAccessibleAnnouncementEvent``
reaches AT-SPI as ``object:announcement``, which Orca before 45.2 ignores (0 of 12 spoken). What
every Orca speaks is a *notification*: an object with the AT-SPI role "notification" that becomes
visible (``object:state-changed:showing``) is read out at once, wherever the focus is — the way
desktop notifications are read. So the bridge picks a route per announcement:

* ``"announcement"`` — Qt's announcement event: Windows and macOS (NVDA reads it as a UIA
  notification, VoiceOver as an announcement) and Orca 45.2 or newer;
* ``"notification"`` — on Linux otherwise: a tiny, transparent child widget of the window whose
  accessible role is Notification is given the text as its name and shown. Four such widgets take
  turns, so a text stays readable until Orca has fetched it even when announcements come fast;
* ``"speech-dispatcher"`` — a screen reader runs but Qt's accessibility bridge is off (nothing
  sent over AT-SPI can arrive): the text goes to speech-dispatcher, the speech server Orca speaks
  through (:mod:`ferdesk.speech.dispatcher`).

Only one route is used per announcement, so no reader hears it twice. Which screen reader runs
is watched in the background (:class:`ferdesk.speech.screen_readers.ScreenReaderWatch`);
:meth:`ScreenReaderBridge.screen_reader_running` tells the session whether anyone listens, so
"Screen reader" output falls back to built-in speech when nobody does.

Qt drops accessibility events while ``QAccessible.isActive()`` is false (always so offscreen), so
every announcement is also kept in :attr:`ScreenReaderBridge.sent` with the route it took and
whether an active accessibility layer (or speech-dispatcher) took it. Call from the GUI thread.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6 import QtGui
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QAccessibleWidget, QWidget

from ferdesk.speech.screen_readers import ScreenReaderInfo, ScreenReaderWatch

log = logging.getLogger(__name__)

_ANNOUNCEMENT_EVENT = getattr(QtGui, "QAccessibleAnnouncementEvent", None)
_POLITENESS = getattr(QtGui.QAccessible, "AnnouncementPoliteness", None)

ANNOUNCEMENT, NOTIFICATION, SPEECH_DISPATCHER = "announcement", "notification", "speech-dispatcher"
#: How many notification widgets take turns (a text stays put for this many announcements).
NOTIFIER_COUNT = 4
#: How long new notifiers wait before their first showing (AT-SPI learns about them meanwhile).
NOTIFIER_SETTLE_S = 1.0
#: How long the first question "is a screen reader running?" may wait for the first look.
FIRST_LOOK_WAIT_S = 0.5


@dataclass(frozen=True)
class SentAnnouncement:
    text: str
    assertive: bool
    #: True when an active accessibility layer (or speech-dispatcher) took it; False when Qt's
    #: accessibility was off and nothing could carry it.
    delivered: bool
    route: str = ANNOUNCEMENT


class AnnouncementNotifier(QWidget):
    """An invisible 1x1 child whose accessible role is Notification; showing it makes Orca read it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("announcementNotifier")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setGeometry(0, 0, 1, 1)
        self.hide()

    def present(self, text: str) -> None:
        self.hide()
        self.setAccessibleName(text)
        self.raise_()
        self.show()  # -> AT-SPI object:state-changed:showing on a "notification": Orca speaks it


# The accessible interfaces made for notifiers, kept alive here while their widget lives (Qt's
# cache holds the C++ side; Python must not free the wrapper under it).
_notifier_interfaces: weakref.WeakKeyDictionary[QWidget, QAccessibleWidget] = weakref.WeakKeyDictionary()
_factory_installed = False


def _notifier_factory(key: str, obj: QObject) -> QAccessibleWidget | None:
    if not isinstance(obj, AnnouncementNotifier):
        return None
    interface = _notifier_interfaces.get(obj)
    if interface is None:
        interface = QAccessibleWidget(obj, QtGui.QAccessible.Role.Notification)
        _notifier_interfaces[obj] = interface
    return interface


def _install_factory() -> None:
    global _factory_installed
    if not _factory_installed:
        QtGui.QAccessible.installFactory(_notifier_factory)
        _factory_installed = True


_watch: ScreenReaderWatch | None = None


def _shared_watch() -> ScreenReaderWatch:
    """One watch thread for the whole process, however many windows (and tests) make bridges."""
    global _watch
    if _watch is None:
        _watch = ScreenReaderWatch()
    return _watch


class ScreenReaderBridge:
    """Hands announcements to the screen reader by the route it speaks (see the module notes).

    ``watch`` looks for a running screen reader in the background (False in tests that decide
    ``info`` themselves via :meth:`set_info`). ``dispatcher_factory(on_error)`` makes the
    speech-dispatcher output (default :class:`ferdesk.speech.dispatcher.SpeechDispatcherOutput`);
    ``on_problem`` gets a sentence for the user when that route fails (called from a background
    thread). ``settle_s``: how long the first notification of a new window waits, so AT-SPI knows
    the new objects first (measured under Orca 43: without it the start-up announcement was lost
    one time in three); default 1 s for a bridge that watches for the real screen reader, 0 for
    one that is told (tests).
    """

    def __init__(
        self,
        history: int = 200,
        *,
        watch: bool = True,
        platform: str = sys.platform,
        dispatcher_factory: Callable[[Callable[[str], None]], Any] | None = None,
        on_problem: Callable[[str], None] | None = None,
        settle_s: float | None = None,
    ) -> None:
        self.sent: deque[SentAnnouncement] = deque(maxlen=history)
        self._platform = platform
        self._info: ScreenReaderInfo | None = None
        self._watch = _shared_watch() if watch else None
        self._dispatcher_factory = dispatcher_factory
        self._dispatcher: Any | None = None
        self._on_problem = on_problem
        self._notifiers: list[AnnouncementNotifier] = []
        self._next_notifier = 0
        self._notifiers_ready_at = 0.0
        self._settle_s = (NOTIFIER_SETTLE_S if watch else 0.0) if settle_s is None else float(settle_s)

    # -- what is there -----------------------------------------------------------------------------
    @property
    def supported(self) -> bool:
        """True when this Qt can send announcement events at all (Qt 6.8 or newer)."""
        return _ANNOUNCEMENT_EVENT is not None

    @staticmethod
    def screen_reader_active() -> bool:
        """Whether Qt's accessibility layer is on (a client such as a screen reader asked for it)."""
        return bool(QtGui.QAccessible.isActive())

    def set_info(self, info: ScreenReaderInfo) -> None:
        """Decide what runs instead of looking (tests; or a caller that knows better)."""
        self._info = info
        self._watch = None

    def info(self) -> ScreenReaderInfo:
        """What is known about the running screen reader (running=None: this platform cannot tell)."""
        if self._info is not None and self._watch is None:
            return self._info
        if self._watch is not None:
            latest = self._watch.info(wait=FIRST_LOOK_WAIT_S if self._info is None else 0.0)
            if latest is not None:
                self._info = latest
        return self._info if self._info is not None else ScreenReaderInfo(running=None)

    def screen_reader_running(self) -> bool:
        """Whether a screen reader listens now; where the platform cannot tell, Qt's answer."""
        running = self.info().running
        return self.screen_reader_active() if running is None else bool(running)

    def route(self) -> str:
        """The route the next announcement takes (see the module notes)."""
        info = self.info()
        if not self._platform.startswith("linux"):
            return ANNOUNCEMENT
        if info.running and not self.screen_reader_active():
            return SPEECH_DISPATCHER
        if info.speaks_announcements and self.supported:
            return ANNOUNCEMENT
        return NOTIFICATION

    # -- sending -----------------------------------------------------------------------------------
    def announce(self, source: QObject | str, text: str | None = None, assertive: bool = False) -> bool:
        """Ask the screen reader to speak ``text``; ``assertive`` asks it not to wait.

        ``source`` is the object announcing (the main window); ``announce(text)`` alone is also
        accepted once a notifier exists. Returns whether something took the announcement.
        """
        if isinstance(source, str):
            source, text = None, source
        text = " ".join(str(text or "").split())
        route = self.route()
        if route == ANNOUNCEMENT and not self.supported:
            route = NOTIFICATION
        delivered = False
        if route == SPEECH_DISPATCHER:
            delivered = self._speak_through_dispatcher(text, assertive)
        elif route == NOTIFICATION:
            delivered = self._notify(source, text)
        else:
            delivered = self._send_event(source, text, assertive)
        self.sent.append(SentAnnouncement(text, assertive, delivered, route))
        return delivered

    def _send_event(self, source: QObject | None, text: str, assertive: bool) -> bool:
        host = source if source is not None else (self._notifiers[0].parent() if self._notifiers else None)
        if _ANNOUNCEMENT_EVENT is None or host is None:
            return False
        event = _ANNOUNCEMENT_EVENT(host, text)
        if _POLITENESS is not None:
            event.setPoliteness(_POLITENESS.Assertive if assertive else _POLITENESS.Polite)
        delivered = self.screen_reader_active()
        QtGui.QAccessible.updateAccessibility(event)
        return delivered

    def _notifier_for(self, source: QObject | None) -> AnnouncementNotifier | None:
        """The next notifier (made for ``source``'s window when it has none, or others')."""
        if not all(shiboken6.isValid(notifier) for notifier in self._notifiers):
            self._notifiers = []  # their window was deleted (they go with it)
        host = source.window() if isinstance(source, QWidget) else None
        if host is not None and (not self._notifiers or self._notifiers[0].parent() is not host):
            _install_factory()
            for notifier in self._notifiers:
                notifier.deleteLater()
            self._notifiers = [AnnouncementNotifier(host) for _ in range(NOTIFIER_COUNT)]
            self._notifiers_ready_at = time.monotonic() + self._settle_s
        if not self._notifiers:
            return None
        notifier = self._notifiers[self._next_notifier % len(self._notifiers)]
        self._next_notifier += 1
        return notifier

    def _notify(self, source: QObject | None, text: str) -> bool:
        notifier = self._notifier_for(source)
        if notifier is None:
            return False
        for other in self._notifiers:
            if other is not notifier:
                # Only the newest stays visible (nothing stale to find when reviewing the window);
                # a hidden one keeps its name, so Orca can still fetch it. Hiding is not announced.
                other.hide()
        wait_ms = round((self._notifiers_ready_at - time.monotonic()) * 1000)
        if wait_ms > 0:
            # Just made: AT-SPI has not yet told Qt that Orca listens for "showing" (measured: the
            # start-up announcement was lost 1 time in 3). Show it once the object is known.
            QTimer.singleShot(wait_ms, notifier, functools.partial(notifier.present, text))
        else:
            notifier.present(text)
        return self.screen_reader_active()

    def _speak_through_dispatcher(self, text: str, assertive: bool) -> bool:
        if self._dispatcher is None:
            factory = self._dispatcher_factory
            if factory is None:
                from ferdesk.speech.dispatcher import SpeechDispatcherOutput as factory
            try:
                self._dispatcher = factory(self._dispatcher_problem)
            except Exception as error:  # no route is a degraded mode, not a crash
                log.exception("speech-dispatcher output failed to start")
                self._dispatcher_problem(f"Could not reach speech-dispatcher: {error}")
                return False
        self._dispatcher.say(text, interrupt=assertive)
        return True

    def _dispatcher_problem(self, message: str) -> None:
        log.warning("%s", message)
        if self._on_problem is not None:
            self._on_problem(message)

    def close(self) -> None:
        """End the speech-dispatcher connection (the watch is shared and lives with the process)."""
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None
