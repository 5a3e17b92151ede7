"""The session layer: everything the window decides, without Qt, so it can be tested and reused.

* :mod:`ferdesk.session.session` — :class:`Session`: the source's life, the one set of view
  flags (:class:`ViewFlags`), announcement routing and the user's commands (start/stop, repeat,
  describe, status, mute, verbosity, mirror, camera-faces-me, large text).
* :mod:`ferdesk.session.state` — the source state machine and "say it once".
* :mod:`ferdesk.session.routing` — which way an announcement goes (speech, screen reader, both,
  off), and honest words when a route fails.
* :mod:`ferdesk.session.people` — small reused person numbers; a gate that bounds update rates.
* :mod:`ferdesk.session.settings` — every setting, its range and vocabulary, declared once.

How a face reads and in what order lives one layer down, in :mod:`ferdesk.vision.reading`, so
speech, overlay and panel share it.

Hooks for other parts (plain Python; each listener runs in its own try/except, a failing one is
logged and stops nothing; ``add`` returns a function that removes the listener):

* ``session.frames.add(fn)`` — ``fn(result: FrameResult)`` for **every processed frame**, on the
  live runner's processing thread, after the announcement policy saw it. Keep it quick (append to a
  queue or a file); the first failure is reported to the user once as a warning.
* ``session.announcements.add(fn)`` — ``fn(announcement: Announcement)`` for **every announcement
  delivered** (scene changes, status lines, repeat, describe), on the UI thread, after it went to
  the log and to speech / the screen reader; ``announcement.text`` is what was said,
  ``announcement.kind`` one of "scene", "status", "repeat", "describe".
* ``session.displays``, ``session.source_changes``, ``session.problems``, ``session.cameras_found``,
  ``session.flags_changed`` and ``session.close_requested`` drive the window (UI thread).

The window's session is ``MainWindow.session``. A new command is a Session method plus one row in
:data:`ferdesk.ui.actions.ACTIONS`; the explanation at the end of a session, for example, is
``session.status(text, force=True)`` from such a method.
"""

from ferdesk.session.people import PersonNumbers, UpdateGate
from ferdesk.session.routing import OutputRouter, without_route_claims
from ferdesk.session.session import (
    EXIT_STARTUP_FAILED,
    LaunchOptions,
    Listeners,
    Session,
    StatusFigures,
    ViewFlags,
)
from ferdesk.session.settings import AppSettings
from ferdesk.session.state import SourceChange, SourceMachine, SourceState

__all__ = [
    "EXIT_STARTUP_FAILED",
    "AppSettings",
    "LaunchOptions",
    "Listeners",
    "OutputRouter",
    "PersonNumbers",
    "Session",
    "SourceChange",
    "SourceMachine",
    "SourceState",
    "StatusFigures",
    "UpdateGate",
    "ViewFlags",
    "without_route_claims",
]
