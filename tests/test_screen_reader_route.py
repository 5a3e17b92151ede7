"""The screen-reader route: finding the screen reader, speech-dispatcher, and the route per reader.

Real parts only: a real speech-dispatcher (its ``dummy`` module, libao's null driver) in a private
runtime folder, real processes found in the real ``/proc``, real Qt widgets offscreen with Qt's
accessibility switched on as AT-SPI would. The end-to-end proof with Orca itself is
``tests/test_orca.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QMainWindow

from ferdesk.speech.dispatcher import SpeechDispatcherOutput, socket_path
from ferdesk.speech.screen_readers import ScreenReaderInfo, ScreenReaderWatch, detect_screen_reader
from ferdesk.ui.screen_reader import (
    ANNOUNCEMENT,
    NOTIFICATION,
    SPEECH_DISPATCHER,
    AnnouncementNotifier,
    ScreenReaderBridge,
)

needs_speechd = pytest.mark.skipif(
    shutil.which("speech-dispatcher") is None,
    reason="speech-dispatcher is not installed (Debian/Ubuntu: bash scripts/system-packages.sh)",
)


class SpeechDispatcherServer:
    """A real speech-dispatcher in ``root``: dummy output module, no sound card needed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        config = root / "config" / "speech-dispatcher"
        config.mkdir(parents=True, exist_ok=True)
        (config / "speechd.conf").write_text(
            'AudioOutputMethod "libao"\nAddModule "dummy" "sd_dummy" ""\nDefaultModule dummy\n'
        )
        (root / ".libao").write_text("default_driver=null\n")
        runtime = root / "run"
        runtime.mkdir(exist_ok=True)
        runtime.chmod(0o700)
        self.env = dict(
            os.environ, HOME=str(root), XDG_CONFIG_HOME=str(root / "config"), XDG_RUNTIME_DIR=str(runtime)
        )
        self.socket = socket_path(self.env)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # --timeout 0: stay up without clients (the default ends an idle server after 5 s).
        self.process = subprocess.Popen(
            ["speech-dispatcher", "--run-single", "--timeout", "0"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"speech-dispatcher did not start (exit {self.process.poll()})")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash would (a polite SIGTERM takes it 5 s with a client)
            self.process.wait(timeout=10)
        self.process = None
        self.socket.unlink(missing_ok=True)  # a killed server leaves its socket file behind


@pytest.fixture
def speechd(tmp_path):
    server = SpeechDispatcherServer(tmp_path)
    server.start()
    yield server
    server.stop()


# -- speech-dispatcher ------------------------------------------------------------------------------
@needs_speechd
def test_messages_are_queued_by_a_real_speech_dispatcher(speechd):
    errors: list[str] = []
    with SpeechDispatcherOutput(errors.append, path=speechd.socket, autospawn=False) as output:
        output.say("two people. left: appears happy.")
        output.say(".a line that starts with a dot", interrupt=True)  # SSIP escapes it; not an end mark
        output.say("one person, in the centre: appears neutral")
        assert output.wait_idle(15)
        assert output.messages_queued == 3, output.last_error
    assert errors == []


@needs_speechd
def test_a_speech_dispatcher_that_dies_mid_run_is_reported_once_and_reconnected(speechd):
    errors: list[str] = []
    output = SpeechDispatcherOutput(errors.append, path=speechd.socket, autospawn=False)
    try:
        output.say("first")
        assert output.wait_idle(15) and output.messages_queued == 1
        speechd.stop()  # the server goes away while ferdesk runs
        for text in ("lost one", "lost two", "lost three"):
            output.say(text)
        assert output.wait_idle(15)
        assert output.messages_queued == 1
        assert len(errors) == 1 and "speech-dispatcher" in errors[0], errors  # said once, not per message
        speechd.start()  # back: the next message reconnects by itself
        output.say("back again")
        assert output.wait_idle(15)
        assert output.messages_queued == 2, output.last_error
    finally:
        output.close()
    assert not any(t.name == "ferdesk-speechd" and t.is_alive() for t in __import__("threading").enumerate())


def test_no_speech_dispatcher_is_a_message_not_a_crash(tmp_path):
    errors: list[str] = []
    with SpeechDispatcherOutput(errors.append, path=tmp_path / "nobody.sock", autospawn=False) as output:
        output.say("hello")
        assert output.wait_idle(10)
    assert output.messages_queued == 0
    assert len(errors) == 1 and "not listening" in errors[0] and "nobody.sock" in errors[0]


# -- finding the screen reader -----------------------------------------------------------------------
def test_a_running_orca_process_is_found_in_proc(tmp_path):
    # A real process whose program is called "orca" (Orca's own is /usr/bin/orca run by python3).
    program = tmp_path / "orca"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    before = detect_screen_reader(check_at_spi=False)
    process = subprocess.Popen([str(program), "30"])
    try:
        deadline = time.monotonic() + 5
        info = detect_screen_reader(check_at_spi=False)
        while not info.running and time.monotonic() < deadline:
            time.sleep(0.05)
            info = detect_screen_reader(check_at_spi=False)
    finally:
        process.kill()
        process.wait()
    assert info.running and info.name == "Orca" and info.found_by == "process"
    after = detect_screen_reader(check_at_spi=False)
    if before.running or after.running:  # ours was killed and reaped: this is another user's Orca
        pytest.skip("a real Orca runs on this machine; the 'no screen reader' half cannot be checked")
    assert after.running is False and after.describe() == "no screen reader"


@pytest.mark.skipif(shutil.which("orca") is None, reason="Orca is not installed")
def test_the_installed_orca_reports_a_version_that_decides_the_route():
    from ferdesk.speech.screen_readers import _orca_version

    version = _orca_version(subprocess.run)
    assert version is not None and version[0] >= 3
    info = ScreenReaderInfo(True, "Orca", version, "process")
    assert info.speaks_announcements == (version >= (45, 2))
    assert info.describe() == "Orca " + ".".join(map(str, version))


def test_other_platforms_cannot_tell_and_leave_it_to_qt():
    info = detect_screen_reader(platform="win32")
    assert info.running is None and info.speaks_announcements  # NVDA and VoiceOver take Qt's event


def test_the_watch_reports_changes_from_its_thread():
    answers = iter([ScreenReaderInfo(False), ScreenReaderInfo(True, "Orca", (43, 1), "process")])
    seen: list[ScreenReaderInfo] = []

    def detect(**_kwargs):
        return next(answers, ScreenReaderInfo(True, "Orca", (43, 1), "process"))

    watch = ScreenReaderWatch(seen.append, interval=0.05, detect=detect)
    try:
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watch.close()
    assert [s.running for s in seen] == [False, True]  # each change once, not every look
    assert watch.info() == ScreenReaderInfo(True, "Orca", (43, 1), "process")


# -- the route per reader ----------------------------------------------------------------------------
@pytest.fixture
def accessibility_on():
    was = QAccessible.isActive()
    QAccessible.setActive(True)  # what Qt does when AT-SPI reports a client
    yield
    QAccessible.setActive(was)


@pytest.fixture
def window(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(400, 300)
    window.show()
    return window


def test_orca_43_gets_a_notification_with_the_text(window, accessibility_on):
    bridge = ScreenReaderBridge(watch=False, platform="linux")
    bridge.set_info(ScreenReaderInfo(True, "Orca", (43, 1), "process"))
    assert bridge.screen_reader_running() and bridge.route() == NOTIFICATION
    texts = [f"announcement {i}" for i in range(6)]
    for text in texts:
        assert bridge.announce(window, text) is True
    notifiers = window.findChildren(AnnouncementNotifier)
    assert len(notifiers) == 4  # they take turns; no widget per announcement
    shown = [n for n in notifiers if n.isVisible()]
    assert [n.accessibleName() for n in shown] == [texts[-1]]  # only the newest is showing ...
    # ... and the last four texts are all still there for Orca to fetch when it gets to them.
    assert sorted(n.accessibleName() for n in notifiers) == sorted(texts[-4:])
    interface = QAccessible.queryAccessibleInterface(shown[0])
    assert interface.role() == QAccessible.Role.Notification
    assert interface.text(QAccessible.Text.Name) == shown[0].accessibleName()
    assert [s.route for s in bridge.sent] == [NOTIFICATION] * 6
    bridge.close()


def test_newer_orca_gets_only_the_announcement_event(window, accessibility_on):
    bridge = ScreenReaderBridge(watch=False, platform="linux")
    bridge.set_info(ScreenReaderInfo(True, "Orca", (46, 0), "process"))
    assert bridge.route() == ANNOUNCEMENT
    assert bridge.announce(window, "two people.", assertive=True)
    assert window.findChildren(AnnouncementNotifier) == []  # never both: Orca would say it twice
    assert bridge.sent[-1].route == ANNOUNCEMENT and bridge.sent[-1].assertive


def test_without_a_screen_reader_running_says_so(window):
    bridge = ScreenReaderBridge(watch=False, platform="linux")
    bridge.set_info(ScreenReaderInfo(False))
    assert bridge.screen_reader_running() is False  # the session then keeps built-in speech
    bridge.announce(window, "nobody listens")
    assert bridge.sent[-1].delivered is QAccessible.isActive()


@needs_speechd
def test_a_reader_without_qt_accessibility_is_reached_through_speech_dispatcher(window, speechd):
    assert not QAccessible.isActive()  # offscreen: nothing sent over AT-SPI could arrive
    outputs: list[SpeechDispatcherOutput] = []

    def factory(on_error):
        outputs.append(SpeechDispatcherOutput(on_error, path=speechd.socket, autospawn=False))
        return outputs[-1]

    bridge = ScreenReaderBridge(watch=False, platform="linux", dispatcher_factory=factory)
    bridge.set_info(ScreenReaderInfo(True, "Orca", (43, 1), "process"))
    assert bridge.route() == SPEECH_DISPATCHER
    assert bridge.announce(window, "one person, on the left: appears surprised")
    assert bridge.announce("Camera 0 disconnected.", assertive=True)  # the text-only form
    assert outputs[0].wait_idle(15) and outputs[0].messages_queued == 2, outputs[0].last_error
    bridge.close()


def test_windows_with_notifiers_come_and_go_without_a_crash_or_a_leak(qtbot, accessibility_on):
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    from ferdesk.ui import screen_reader

    bridge = ScreenReaderBridge(watch=False, platform="linux")
    bridge.set_info(ScreenReaderInfo(True, "Orca", (43, 1), "process"))
    for round_ in range(30):
        window = QMainWindow()
        window.show()
        for i in range(3):
            assert bridge.announce(window, f"window {round_}, announcement {i}")
        interface = QAccessible.queryAccessibleInterface(window.findChildren(AnnouncementNotifier)[0])
        assert interface.role() == QAccessible.Role.Notification
        window.close()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
    assert bridge.announce("after the last window") is False  # no window left: nothing to show it on
    assert len(screen_reader._notifier_interfaces) <= 2 * screen_reader.NOTIFIER_COUNT
