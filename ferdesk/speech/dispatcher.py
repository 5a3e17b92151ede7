"""Speaking through speech-dispatcher, the speech server Orca itself speaks through.

When the user chose "Screen reader" output and a screen reader runs, but Qt's accessibility
bridge is off (nothing ferdesk sends over AT-SPI would reach it), announcements are handed to
speech-dispatcher instead: the user hears them in the screen reader's own voice and rate, queued
with its speech by priority, not in a second voice talking over it.

The client speaks SSIP (speech-dispatcher's line protocol) over its Unix socket itself, so
nothing beyond the standard library is needed (the ``speechd`` bindings are a Debian package for
the system Python only). Messages go out on one background thread fed by a queue: ``say`` never
blocks, and a server that vanishes mid-run is reported once through ``on_error`` and retried on the
next announcement. Plain Python, no Qt.

SSIP reference: https://htmlpreview.github.io/?https://github.com/brailcom/speechd/blob/master/doc/ssip.html
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger("ferdesk.speech")

CLIENT_NAME = "user:ferdesk:announcements"

#: SSIP priorities: "message" waits for the screen reader's own speech; "important" is never cut off.
POLITE_PRIORITY, ASSERTIVE_PRIORITY = "message", "important"


class SpeechDispatcherError(RuntimeError):
    """speech-dispatcher could not be reached or refused a command; the message says why."""


def socket_path(environ: dict[str, str] | None = None) -> Path | None:
    """Where speech-dispatcher listens: ``$SPEECHD_ADDRESS`` (``unix_socket:PATH``) or its default."""
    env = os.environ if environ is None else environ
    address = env.get("SPEECHD_ADDRESS", "")
    if address.startswith("unix_socket:"):
        return Path(address.split(":", 1)[1])
    if address:
        return None  # inet_socket: not used by desktops; not supported here
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "speech-dispatcher" / "speechd.sock"
    return Path.home() / ".cache" / "speech-dispatcher" / "speechd.sock"


def _escape(text: str) -> bytes:
    """SSIP message body: CRLF lines, a line that starts with "." gets a second one."""
    lines = " ".join(str(text).split()).splitlines() or [""]
    body = "\r\n".join("." + line if line.startswith(".") else line for line in lines)
    return body.encode("utf-8") + b"\r\n.\r\n"


class SSIPConnection:
    """One open SSIP session with speech-dispatcher (blocking; used from one thread)."""

    def __init__(self, path: Path, timeout: float = 3.0) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(timeout)
        try:
            self._socket.connect(str(path))
        except OSError as error:
            self._socket.close()
            raise SpeechDispatcherError(f"speech-dispatcher is not listening at {path} ({error}).") from None
        self._buffer = b""
        self.command(f"SET self CLIENT_NAME {CLIENT_NAME}", expect="2")

    def _reply(self) -> tuple[str, list[str]]:
        lines: list[str] = []
        while True:
            while b"\r\n" not in self._buffer:
                chunk = self._socket.recv(4096)
                if not chunk:
                    raise SpeechDispatcherError("speech-dispatcher closed the connection.")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\r\n", 1)
            line = raw.decode("utf-8", "replace")
            lines.append(line[4:])
            if len(line) >= 4 and line[3] == " ":
                return line[:3], lines

    def command(self, line: str, expect: str = "2") -> list[str]:
        """Send one command; returns the reply's lines, or raises unless the code starts with ``expect``."""
        self._socket.sendall(line.encode("utf-8") + b"\r\n")
        code, lines = self._reply()
        if not code.startswith(expect):
            raise SpeechDispatcherError(f"speech-dispatcher answered {code} {' '.join(lines)!r} to {line!r}.")
        return lines

    def speak(self, text: str, priority: str = POLITE_PRIORITY) -> str:
        """Queue ``text``; returns speech-dispatcher's message id."""
        self.command(f"SET self PRIORITY {priority}")
        self.command("SPEAK", expect="230")
        self._socket.sendall(_escape(text))
        code, lines = self._reply()
        if code != "225":
            raise SpeechDispatcherError(f"speech-dispatcher did not queue the message: {code} {lines}.")
        return lines[0] if lines else ""

    def close(self) -> None:
        with contextlib.suppress(OSError, SpeechDispatcherError):
            self._socket.sendall(b"QUIT\r\n")
        self._socket.close()


def spawn_server(timeout: float = 5.0) -> bool:
    """Start speech-dispatcher if it is installed and not running (``--spawn`` does nothing then)."""
    executable = shutil.which("speech-dispatcher")
    if executable is None:
        return False
    try:
        subprocess.run(
            [executable, "--spawn"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return True


class SpeechDispatcherOutput:
    """Says announcements through speech-dispatcher from a background thread.

    ``say(text, interrupt)`` returns at once; ``interrupt`` sends the text as "important" (the
    screen reader's current speech is not cut, but this is not dropped or delayed behind it).
    ``messages_queued`` counts the messages speech-dispatcher confirmed (reply 225).
    ``on_error(message)`` is called from the thread, once per failure streak.
    """

    def __init__(
        self,
        on_error: Callable[[str], None] | None = None,
        *,
        path: Path | None = None,
        autospawn: bool = True,
    ) -> None:
        self._path = path
        self._autospawn = autospawn
        self._on_error = on_error
        self._lock = threading.Condition()
        self._queue: deque[tuple[str, str] | None] = deque()
        self._connection: SSIPConnection | None = None
        self._failing = False
        self._pending = 0
        self._closed = False
        self.messages_queued = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="ferdesk-speechd", daemon=True)
        self._thread.start()

    @property
    def path(self) -> Path | None:
        return self._path if self._path is not None else socket_path()

    def say(self, text: str, interrupt: bool = False) -> None:
        text = " ".join(str(text).split())
        if not text:
            return
        with self._lock:
            if self._closed:
                return
            self._queue.append((text, ASSERTIVE_PRIORITY if interrupt else POLITE_PRIORITY))
            self._pending += 1
            self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued message was handed over (or failed); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 3.0) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.append(None)
                self._lock.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> SpeechDispatcherOutput:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the thread ---------------------------------------------------------------------------------
    def _connect(self) -> SSIPConnection:
        path = self.path
        if path is None:
            raise SpeechDispatcherError(
                "SPEECHD_ADDRESS names a network address; only Unix sockets are used."
            )
        if not path.exists() and self._autospawn:
            spawn_server()
        return SSIPConnection(path)

    def _send(self, text: str, priority: str) -> None:
        for attempt in (1, 2):  # a server restarted since the last message: reconnect once
            try:
                if self._connection is None:
                    self._connection = self._connect()
                self._connection.speak(text, priority)
                self.messages_queued += 1
                self._failing = False
                return
            except (OSError, SpeechDispatcherError) as error:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                if attempt == 2:
                    self._report(f"Could not speak through speech-dispatcher: {error}")

    def _report(self, message: str) -> None:
        self.last_error = message
        logger.warning("%s", message)
        if not self._failing:
            self._failing = True
            if self._on_error is not None:
                try:
                    self._on_error(message)
                except Exception:
                    logger.exception("speech-dispatcher error handler failed")

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    self._lock.wait_for(lambda: bool(self._queue))
                    item = self._queue.popleft()
                if item is None:
                    return
                try:
                    self._send(*item)
                finally:
                    with self._lock:
                        self._pending -= 1
                        self._lock.notify_all()
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            with self._lock:
                self._pending = 0
                self._lock.notify_all()


__all__ = [
    "ASSERTIVE_PRIORITY",
    "CLIENT_NAME",
    "POLITE_PRIORITY",
    "SSIPConnection",
    "SpeechDispatcherError",
    "SpeechDispatcherOutput",
    "socket_path",
    "spawn_server",
]
