"""Which screen reader is running, if any — so "Screen reader" output can reach it, or say it cannot.

Why a check of our own: on Linux Qt switches its accessibility bridge on whenever AT-SPI's
``IsEnabled`` flag is set, which other assistive tools set too, so ``QAccessible.isActive()``
does not mean a screen reader listens. Two signs are read, both cheap:

* AT-SPI's ``org.a11y.Status.ScreenReaderEnabled`` on the session bus (GNOME and others set it
  when the user turns the screen reader on), read with ``dbus-send`` so no D-Bus library is needed;
* a running screen-reader process of this session — same user, same D-Bus session bus, so another
  desktop's Orca on a shared machine does not count (Orca 43 does not set the flag when started
  by hand: measured under Xvfb + AT-SPI, the flag stayed false while Orca ran).

The version matters: Orca 45.2 and newer speak Qt's announcement event (``object:announcement``),
older Orca (43.1 in Debian 12 and Ubuntu 22.04) ignores it, so the screen-reader bridge
(:mod:`ferdesk.ui.screen_reader`) picks its route from :attr:`ScreenReaderInfo.speaks_announcements`.

Plain Python, no Qt. Linux only; elsewhere :func:`detect_screen_reader` answers "unknown" and the
Qt layer relies on ``QAccessible.isActive()`` (Windows and macOS turn it on for screen readers).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("ferdesk.speech")

#: Process names of screen readers on Linux, and the name to show the user.
LINUX_SCREEN_READERS: dict[str, str] = {"orca": "Orca"}

#: The first Orca release that speaks ``object:announcement`` (Qt's QAccessibleAnnouncementEvent).
ORCA_ANNOUNCEMENT_VERSION = (45, 2)

_DBUS_QUERY = [
    "--session",
    "--print-reply=literal",
    "--reply-timeout=1000",
    "--dest=org.a11y.Bus",
    "/org/a11y/bus",
    "org.freedesktop.DBus.Properties.Get",
    "string:org.a11y.Status",
    "string:ScreenReaderEnabled",
]


@dataclass(frozen=True)
class ScreenReaderInfo:
    """What is known about the user's screen reader.

    ``running`` is None when this platform gives no way to tell (the caller then asks Qt).
    ``version`` is e.g. (43, 1), or None when unknown.
    """

    running: bool | None
    name: str | None = None
    version: tuple[int, ...] | None = None
    #: How it was found: "process", "at-spi", or "" when nothing was found.
    found_by: str = ""

    @property
    def speaks_announcements(self) -> bool:
        """Whether this screen reader is known to speak Qt's announcement event."""
        if self.name != "Orca":
            return self.running is None  # Windows/macOS readers (NVDA, VoiceOver) take it
        return self.version is not None and self.version >= ORCA_ANNOUNCEMENT_VERSION

    def describe(self) -> str:
        """A short phrase for the user: "Orca 43.1", "a screen reader", "no screen reader"."""
        if not self.running:
            return "no screen reader" if self.running is False else "an unknown screen reader"
        if self.name is None:
            return "a screen reader"
        return f"{self.name} {'.'.join(map(str, self.version))}" if self.version else self.name


def _process_names(proc: Path) -> dict[str, int]:
    """Screen-reader names found among the running processes, with a process id each."""
    found: dict[str, int] = {}
    try:
        entries = list(proc.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended, or belongs to someone else
            continue
        # "orca" itself, or a Python interpreter running /usr/bin/orca.
        for arg in argv[:2]:
            base = os.path.basename(arg.decode("utf-8", "replace"))
            if base in LINUX_SCREEN_READERS and _in_this_session(entry):
                found.setdefault(base, int(entry.name))
                break
    return found


def _in_this_session(process: Path) -> bool:
    """Whether ``process`` belongs to this user's desktop session (another user's, or another
    desktop's screen reader cannot hear this window): same user, and same D-Bus session bus."""
    try:
        if process.stat().st_uid != os.getuid():
            return False
        ours = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        theirs = None
        for item in (process / "environ").read_bytes().split(b"\0"):
            if item.startswith(b"DBUS_SESSION_BUS_ADDRESS="):
                theirs = item.split(b"=", 1)[1].decode("utf-8", "replace")
    except OSError:
        return False
    return theirs == ours  # both unset counts as the same (a desktop without a session bus)


def _at_spi_screen_reader_enabled(runner: Callable[..., subprocess.CompletedProcess]) -> bool | None:
    """AT-SPI's ScreenReaderEnabled flag; None when there is no session bus or no dbus-send."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.environ.get("XDG_RUNTIME_DIR"):
        return None
    executable = shutil.which("dbus-send")
    if executable is None:
        return None
    try:
        reply = runner([executable, *_DBUS_QUERY], capture_output=True, text=True, timeout=2.0)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if reply.returncode != 0:
        return None
    return "true" in reply.stdout.split()


def _orca_version(runner: Callable[..., subprocess.CompletedProcess]) -> tuple[int, ...] | None:
    """Orca's version from ``orca --version`` ("orca 43.1" or "43.1"), None if it cannot be read."""
    executable = shutil.which("orca")
    if executable is None:
        return None
    try:
        reply = runner([executable, "--version"], capture_output=True, text=True, timeout=5.0)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", reply.stdout or "")
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


_orca_versions: dict[int, tuple[int, ...] | None] = {}  # by process id: asked once per Orca process


def detect_screen_reader(
    *,
    proc: Path = Path("/proc"),
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    platform: str = sys.platform,
    check_at_spi: bool = True,
) -> ScreenReaderInfo:
    """Look for a running screen reader now (a scan of ``/proc``; one short ``dbus-send`` unless
    ``check_at_spi`` is False; ``orca --version`` once per Orca process)."""
    if not platform.startswith("linux"):
        return ScreenReaderInfo(running=None)
    processes = _process_names(proc)
    if "orca" in processes:
        pid = processes["orca"]
        if pid not in _orca_versions:
            _orca_versions[pid] = _orca_version(runner)
        return ScreenReaderInfo(True, "Orca", _orca_versions[pid], "process")
    if check_at_spi and _at_spi_screen_reader_enabled(runner):
        return ScreenReaderInfo(True, None, None, "at-spi")
    return ScreenReaderInfo(False)


class ScreenReaderWatch:
    """Keeps :func:`detect_screen_reader`'s answer fresh in one background thread.

    A screen reader can be started or quit while ferdesk runs. The thread looks every
    ``interval`` seconds (a scan of ``/proc``; AT-SPI's flag every ``at_spi_every`` looks, as it
    costs a ``dbus-send``) and calls ``on_change(info)`` from that thread when the answer changes.
    :meth:`close` ends the thread.
    """

    def __init__(
        self,
        on_change: Callable[[ScreenReaderInfo], None] | None = None,
        *,
        interval: float = 5.0,
        at_spi_every: int = 6,
        detect: Callable[..., ScreenReaderInfo] = detect_screen_reader,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval == {interval}, must be > 0 seconds.")
        self._on_change = on_change
        self._interval = interval
        self._at_spi_every = max(1, int(at_spi_every))
        self._detect = detect
        self._info: ScreenReaderInfo | None = None
        self._first = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ferdesk-screen-reader-watch", daemon=True)
        self._thread.start()

    def info(self, wait: float = 0.0) -> ScreenReaderInfo | None:
        """The latest answer; waits up to ``wait`` seconds for the first one (None until then)."""
        if wait > 0:
            self._first.wait(wait)
        return self._info

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        looks = 0
        while not self._stop.is_set():
            check_at_spi = looks % self._at_spi_every == 0 or (
                self._info is not None and self._info.found_by == "at-spi"
            )
            looks += 1
            try:
                info = self._detect(check_at_spi=check_at_spi)
            except Exception:  # a failed look counts as "unknown", never a crash
                info = ScreenReaderInfo(running=None)
            changed = info != self._info
            self._info = info
            self._first.set()
            if changed and self._on_change is not None:
                try:
                    self._on_change(info)
                except Exception:  # the listener's own problem; the watch goes on
                    logger.exception("screen-reader listener failed")
            self._stop.wait(self._interval)


__all__ = [
    "LINUX_SCREEN_READERS",
    "ORCA_ANNOUNCEMENT_VERSION",
    "ScreenReaderInfo",
    "ScreenReaderWatch",
    "detect_screen_reader",
]
