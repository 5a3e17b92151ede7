"""The Qt side of the session: its events as Qt signals that carry their payload (superqt's pattern).

The session (:mod:`ferdesk.session`) is plain Python; the live runner calls it on its own threads
and it hands everything meant for the user to ``call_soon``. :class:`UiThreadCalls` is that
``call_soon`` for Qt: one queued signal carrying the callable, run on the GUI thread. Then
:class:`SessionSignals` re-emits each session hook as a typed signal the window connects to:

* ``resultReady(FrameResult | None)`` — the newest result to draw. The session posts at most one
  such call at a time (latest frame wins), so however fast frames arrive nothing piles up;
* ``sourceChanged(SourceChange)``, ``announced(Announcement)``, ``problem(str)``,
  ``camerasFound(list)``, ``flagsChanged((old, new))``, ``closeRequested(int)``.

A callable that raises is logged and reported through ``problem``; it never reaches Qt's loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from ferdesk.session import Session
from ferdesk.ui.screen_reader import ScreenReaderBridge

log = logging.getLogger(__name__)


class UiThreadCalls(QObject):
    """``call_soon`` for the session: runs each posted callable on the GUI thread, in order."""

    _posted = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._posted.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def __call__(self, fn: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the window is already gone: nothing to show
            self._posted.emit(fn)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as error:  # reported, never a traceback in Qt's event loop
            log.exception("posted call failed")
            self.failed.emit(f"Internal error: {error}")


class SessionSignals(QObject):
    """The session's hooks as Qt signals with their payload; connect the window to these."""

    resultReady = Signal(object)
    sourceChanged = Signal(object)
    announced = Signal(object)
    problem = Signal(str)
    camerasFound = Signal(object)
    flagsChanged = Signal(object)
    closeRequested = Signal(int)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        session.displays.add(self.resultReady.emit)
        session.source_changes.add(self.sourceChanged.emit)
        session.announcements.add(self.announced.emit)
        session.problems.add(self.problem.emit)
        session.cameras_found.add(self.camerasFound.emit)
        session.flags_changed.add(self.flagsChanged.emit)
        session.close_requested.add(self.closeRequested.emit)


class WindowScreenReader:
    """The session's screen-reader route: the bridge, with the window as the announcing object."""

    def __init__(self, bridge: ScreenReaderBridge, source: QObject) -> None:
        self.bridge, self.source = bridge, source

    def announce(self, text: str, assertive: bool = False) -> bool:
        return bool(self.bridge.announce(self.source, text, assertive=assertive))

    def running(self) -> bool:
        return bool(self.bridge.screen_reader_running())
