"""ferdesk's log file and crash reports, in the platform's places. Plain Python (no Qt).

- The log file lives in the user log folder (``platformdirs``): on Linux
  ``$XDG_STATE_HOME/ferdesk/log/ferdesk.log`` (``~/.local/state/...``), on Windows
  ``%LOCALAPPDATA%\\ferdesk\\Logs``, on macOS ``~/Library/Logs/ferdesk``. ``$FERDESK_LOG_DIR``
  overrides it (tests, portable installs). It rotates at 1 MB, three old files kept.
- :class:`CrashLog` routes every uncaught exception — main thread (``sys.excepthook``, which is
  also what PySide6 calls for an exception in a slot) and worker threads (``threading.excepthook``)
  — into that file with its traceback, and tells the user one line naming the file. Fatal errors
  Python cannot catch (a segfault in a native library, an abort) are written there by
  :mod:`faulthandler`; since nothing can be said at that moment, the next start finds the
  unfinished session (:func:`previous_run_crashed`) and says where the report is.

The settings themselves are Qt's ``QSettings`` (``ferdesk.ui.settings``), already in the platform's
place; :func:`settings_location` names it for ``--help`` without starting Qt.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import platform
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TextIO

APP_NAME = "ferdesk"
LOG_DIR_ENV = "FERDESK_LOG_DIR"
LOG_FILE_NAME = "ferdesk.log"
MAX_LOG_BYTES = 1_000_000
LOG_BACKUPS = 3

#: Written when a session starts and when it ends cleanly; a start without its end is a crash.
SESSION_START = "session started"
SESSION_END = "session ended"

log = logging.getLogger(APP_NAME)

#: The CrashLog of the running session, for code that reports an error without holding it.
_active: CrashLog | None = None


def log_dir() -> Path:
    """The user log folder (see the module notes); not created here."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_path(APP_NAME, appauthor=False))


def active_log_path() -> Path | None:
    """The log file of the running session (None outside one, or when none could be written)."""
    return _active.path if _active is not None else None


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def settings_location() -> str:
    """Where ``QSettings(ORGANISATION, APPLICATION)`` keeps ferdesk's settings on this platform."""
    if sys.platform == "win32":
        return r"the registry, HKEY_CURRENT_USER\Software\ferdesk\ferdesk"
    if sys.platform == "darwin":
        return str(Path.home() / "Library" / "Preferences" / "com.ferdesk.ferdesk.plist")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(config_home) / APP_NAME / f"{APP_NAME}.conf")


def _writable_log_path() -> Path | None:
    """The log file, or one in the temporary folder when the log folder cannot be made (read-only home)."""
    for directory in (log_dir(), Path(tempfile.gettempdir()) / f"{APP_NAME}-logs"):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / LOG_FILE_NAME
            with path.open("a", encoding="utf-8"):
                pass
            return path
        except OSError:
            continue
    return None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill would terminate it there; assume it is gone
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def previous_run_crashed(path: Path) -> bool:
    """True when the last session in ``path`` started and never ended (killed, segfault, abort).

    Sessions are told apart by process id, so a second ferdesk still running beside this one is not
    mistaken for a crash.
    """
    try:
        with path.open("rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - 64_000))
            tail = stream.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    starts = [line for line in tail.splitlines() if f"{SESSION_START} (pid " in line]
    if not starts:
        return False
    try:
        pid = int(starts[-1].split(f"{SESSION_START} (pid ", 1)[1].split(")", 1)[0])
    except ValueError:
        return False
    after = tail[tail.rfind(starts[-1]) :]
    return f"{SESSION_END} (pid {pid})" not in after and not _pid_alive(pid)


class CrashLog:
    """The log file of one ferdesk session, and the hooks that send crashes into it.

    ``start()`` opens the file (rotating), records the session start, installs the hooks and
    enables faulthandler; ``stop()`` records a clean end and restores everything. ``listeners``
    get the one-line message for each uncaught error (the window shows it in its status bar).
    """

    def __init__(self, path: Path | None = None, stderr: TextIO | None = None) -> None:
        self.path = path
        self.stderr = stderr
        self.listeners: list[Callable[[str], None]] = []
        self.crashed_last_time = False
        self._handler: logging.Handler | None = None
        self._fault_stream: TextIO | None = None
        self._previous_excepthook: Callable | None = None
        self._previous_threading_hook: Callable | None = None
        self._fault_was_enabled = False

    def start(self, argv: list[str] | None = None) -> CrashLog:
        if self.path is None:
            self.path = _writable_log_path()
        if self.path is not None:
            self.crashed_last_time = previous_run_crashed(self.path)
            try:
                self._open(self.path)
            except OSError as error:
                self._say(
                    f"ferdesk: the log file {self.path} cannot be written ({error}); logging to stderr only."
                )
                self.path = None
        from ferdesk import __version__

        self._write(
            logging.INFO,
            "%s (pid %d): ferdesk %s, Python %s, %s, arguments %s",
            SESSION_START,
            os.getpid(),
            __version__,
            platform.python_version(),
            platform.platform(),
            argv if argv is not None else sys.argv[1:],
        )
        global _active
        _active = self
        self._previous_excepthook, sys.excepthook = sys.excepthook, self._on_exception
        self._previous_threading_hook, threading.excepthook = threading.excepthook, self._on_thread_exception
        return self

    def _open(self, path: Path) -> None:
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        )
        # The app's own warnings and errors (the "ferdesk" logger and its children) go to the file
        # too; the logger's level is left alone, so nothing new reaches other handlers or stderr.
        log.addHandler(handler)
        self._handler = handler
        # faulthandler writes straight to the file descriptor, even from a signal handler: keep
        # the stream open for the whole session. Line-buffered so log lines around it stay in order.
        self._fault_stream = path.open("a", encoding="utf-8", buffering=1)
        self._fault_was_enabled = faulthandler.is_enabled()  # e.g. pytest's, or PYTHONFAULTHANDLER
        faulthandler.enable(file=self._fault_stream, all_threads=True)

    def stop(self) -> None:
        """Record a clean end, restore the hooks, close the file. Safe to call twice."""
        if self._previous_excepthook is None:
            return
        global _active
        if _active is self:
            _active = None
        self._write(logging.INFO, "%s (pid %d)", SESSION_END, os.getpid())
        sys.excepthook = self._previous_excepthook
        if self._previous_threading_hook is not None:
            threading.excepthook = self._previous_threading_hook
        self._previous_excepthook = self._previous_threading_hook = None
        if self._fault_stream is not None:
            faulthandler.disable()
            if self._fault_was_enabled and sys.__stderr__ is not None:
                faulthandler.enable(file=sys.__stderr__, all_threads=True)
            self._fault_stream.close()
            self._fault_stream = None
        if self._handler is not None:
            log.removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def __enter__(self) -> CrashLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def where(self) -> str:
        """How to refer to the log in a message."""
        return (
            f"the log file {self.path}"
            if self.path is not None
            else "the terminal (no log file could be written)"
        )

    def report(
        self,
        kind: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
        thread_name: str | None = None,
    ) -> str:
        """Log an uncaught error with its traceback; tell stderr and the listeners one line. Returns it."""
        details = "".join(traceback.format_exception(kind, error, tb))
        origin = f" in thread {thread_name}" if thread_name else ""
        self._write(logging.CRITICAL, "uncaught error%s:\n%s", origin, details.rstrip())
        message = f"Internal error{origin}: {error or kind.__name__}. The details are in {self.where()}."
        self._say(f"ferdesk: {message}")
        if self.path is None:
            self._say(details)
        for listener in list(self.listeners):
            try:
                listener(message)
            except Exception:  # a failing listener (window already gone) must not hide the report
                log.exception("could not show the error message")
        return message

    def _write(self, level: int, message: str, *args: object) -> None:
        """Into the log file only: session marks and crash reports must not echo on other handlers."""
        if self._handler is not None:
            self._handler.handle(log.makeRecord(log.name, level, __file__, 0, message, args, None))

    def _say(self, text: str) -> None:
        stream = self.stderr if self.stderr is not None else sys.stderr
        if stream is not None:
            print(text, file=stream, flush=True)

    def _on_exception(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt) and self._previous_excepthook is not None:
            self._previous_excepthook(kind, error, tb)
            return
        self.report(kind, error, tb)

    def _on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        self.report(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback, thread_name=name)

    def crash_notice(self) -> str | None:
        """The message for a start after a crash, or None when the last session ended cleanly."""
        if not self.crashed_last_time or self.path is None:
            return None
        return f"ferdesk closed unexpectedly last time; what happened is in the log file {self.path}."
