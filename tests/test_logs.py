"""ferdesk.logs: the log file in the user log folder, crash reports that say where they went.

Crashes are real: a subprocess raises in its main thread and in a worker thread, and another dies
of a segmentation fault (faulthandler's own ``_sigsegv``); the log file must hold the details and
stderr one line naming the file. The app's side (the start-up notice, ``--reset-settings``, a
start-up error naming the log) runs the real app headless.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import shiboken6

from ferdesk import logs

REPO = Path(__file__).resolve().parent.parent


def _python(code: str, log_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, FERDESK_LOG_DIR=str(log_dir), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_log_folder_is_the_platforms_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(logs.LOG_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if sys.platform.startswith("linux"):
        assert logs.log_dir() == tmp_path / "state" / "ferdesk" / "log"
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "mine"))
    assert logs.log_file() == tmp_path / "mine" / "ferdesk.log"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    if sys.platform.startswith("linux"):
        assert logs.settings_location() == str(tmp_path / "config" / "ferdesk" / "ferdesk.conf")


def test_a_clean_session_is_logged_and_is_not_a_crash(tmp_path):
    path = tmp_path / "ferdesk.log"
    crash_log = logs.CrashLog(path).start(["--source", "demo"])
    assert sys.excepthook == crash_log._on_exception
    assert logs.active_log_path() == path
    logs.log.warning("a line from the app")
    crash_log.stop()
    assert sys.excepthook is sys.__excepthook__ or sys.excepthook != crash_log._on_exception
    assert logs.active_log_path() is None
    text = path.read_text(encoding="utf-8")
    assert "session started" in text and "'--source', 'demo'" in text
    assert "a line from the app" in text and "session ended" in text
    assert not logs.previous_run_crashed(path)
    crash_log.stop()  # twice is harmless


def test_an_uncaught_error_goes_to_the_log_and_stderr_names_it(tmp_path):
    done = _python(
        "from ferdesk.logs import CrashLog\n"
        "CrashLog().start()\n"
        "def load_model():\n"
        "    raise ValueError('the model is upside down')\n"
        "load_model()\n",
        tmp_path,
    )
    assert done.returncode == 1
    log_file = tmp_path / "ferdesk.log"
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"ferdesk: Internal error: the model is upside down. The details are in the log file {log_file}."
    )
    text = log_file.read_text(encoding="utf-8")
    assert "CRITICAL" in text and "in load_model" in text and "ValueError: the model is upside down" in text


def test_a_worker_thread_error_is_logged_with_the_threads_name(tmp_path):
    done = _python(
        "import threading, time\n"
        "from ferdesk.logs import CrashLog\n"
        "crash_log = CrashLog().start()\n"
        "seen = []\n"
        "crash_log.listeners.append(seen.append)\n"
        "def capture():\n"
        "    raise RuntimeError('camera unplugged')\n"
        "t = threading.Thread(target=capture, name='capture-thread'); t.start(); t.join()\n"
        "assert seen and 'capture-thread' in seen[0], seen\n"
        "crash_log.stop()\n"
        "print('main thread went on')\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "main thread went on" in done.stdout
    assert "in thread capture-thread: camera unplugged" in done.stderr and "Traceback" not in done.stderr
    text = (tmp_path / "ferdesk.log").read_text(encoding="utf-8")
    assert "RuntimeError: camera unplugged" in text and "in capture" in text


def test_a_segfault_leaves_its_stack_in_the_log_and_the_next_start_says_so(tmp_path):
    crashed = _python(
        "import faulthandler\nfrom ferdesk.logs import CrashLog\n"
        "CrashLog().start()\nfaulthandler._sigsegv()\n",
        tmp_path,
    )
    assert crashed.returncode != 0
    log_file = tmp_path / "ferdesk.log"
    text = log_file.read_text(encoding="utf-8")
    assert "Fatal Python error: Segmentation fault" in text
    assert 'File "<string>", line 4' in text  # the crashing line, readable
    assert logs.previous_run_crashed(log_file)

    after = logs.CrashLog(log_file).start()
    try:
        notice = after.crash_notice()
    finally:
        after.stop()
    assert notice == f"ferdesk closed unexpectedly last time; what happened is in the log file {log_file}."
    assert not logs.previous_run_crashed(log_file)  # this session ended cleanly


def test_a_running_second_instance_is_not_taken_for_a_crash(tmp_path):
    path = tmp_path / "ferdesk.log"
    # Another ferdesk (this test process stands in for it) started and has not ended yet.
    path.write_text(
        f"2026-12-01 10:00:00,000 INFO ferdesk [MainThread] session started (pid {os.getpid()})\n"
    )
    assert not logs.previous_run_crashed(path)


def test_an_unwritable_log_folder_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(blocker / "log"))
    crash_log = logs.CrashLog().start()
    try:
        assert crash_log.path is not None and crash_log.path.parent.name == "ferdesk-logs"
    finally:
        crash_log.stop()


# The app's side -------------------------------------------------------------------------------


def _run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        COLUMNS="2000",  # argparse wraps --help at hyphens, paths included
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        FERDESK_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=str(REPO),
    )
    return subprocess.run(
        [sys.executable, "-m", "ferdesk", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_help_says_where_settings_and_the_log_are(tmp_path):
    done = _run_app(tmp_path, "--help")
    assert done.returncode == 0
    flat = " ".join(done.stdout.split())
    assert "--reset-settings" in flat and str(tmp_path / "config" / "ferdesk" / "ferdesk.conf") in flat
    assert str(tmp_path / "logs" / "ferdesk.log") in flat


def test_a_start_up_error_is_logged_and_names_the_log_file(tmp_path):
    done = _run_app(
        tmp_path, "--source", "demo", "--model", str(tmp_path / "nowhere.tflite"), "--quit-after", "1"
    )
    assert done.returncode == 2
    log_file = tmp_path / "logs" / "ferdesk.log"
    assert f"ferdesk: the log file is {log_file}" in done.stderr.splitlines()
    text = log_file.read_text(encoding="utf-8")
    assert "start-up stopped" in text and "nowhere.tflite" in text and "session ended" in text


@pytest.mark.slow
def test_reset_settings_forgets_what_was_saved(tmp_path):
    conf = tmp_path / "config" / "ferdesk" / "ferdesk.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[settings]\nspeech_rate=555\n", encoding="utf-8")
    kept = _run_app(tmp_path, "--source", "demo", "--quit-after", "1", "--no-speech")
    assert kept.returncode == 0, kept.stderr
    assert "speech_rate=555" in conf.read_text(encoding="utf-8"), "the setting was not read back"
    reset = _run_app(tmp_path, "--source", "demo", "--quit-after", "1", "--no-speech", "--reset-settings")
    assert reset.returncode == 0, reset.stderr
    assert "555" not in conf.read_text(encoding="utf-8")


def test_the_starting_notice_is_announced_and_closed_by_the_window(qtbot):
    from ferdesk.ui import app

    notice = app.show_starting_notice()
    assert notice.isVisible()
    assert notice.windowTitle() == "ferdesk is starting, loading the models…"
    assert notice.accessibleName() == "ferdesk is starting"
    assert notice.text() == notice.windowTitle()
    app.close_starting_notice()
    assert not shiboken6.isValid(notice) or not notice.isVisible()
    app.close_starting_notice()  # idempotent


@pytest.mark.qt_no_exception_capture
def test_slot_and_thread_errors_reach_the_log_and_the_status_bar(qtbot, tmp_path, capsys):
    import threading

    from PySide6.QtWidgets import QMainWindow, QPushButton

    from ferdesk.ui.app import _status_relay

    window = QMainWindow()
    button = QPushButton("go")
    window.setCentralWidget(button)
    qtbot.addWidget(window)

    def slot_with_a_bug() -> None:
        raise RuntimeError("the slot went wrong")

    def thread_with_a_bug() -> None:
        raise ValueError("the capture thread went wrong")

    button.clicked.connect(slot_with_a_bug)
    log_file = tmp_path / "ferdesk.log"
    crash_log = logs.CrashLog(log_file).start()
    try:
        crash_log.listeners.append(_status_relay(window).message.emit)
        button.click()  # PySide6 hands the slot's exception to sys.excepthook and goes on
        qtbot.waitUntil(lambda: "the slot went wrong" in window.statusBar().currentMessage())
        worker = threading.Thread(target=thread_with_a_bug, name="capture")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: "the capture thread went wrong" in window.statusBar().currentMessage())
    finally:
        crash_log.stop()
    assert str(log_file) in window.statusBar().currentMessage()
    err = capsys.readouterr().err
    assert "Internal error: the slot went wrong" in err and "in thread capture" in err
    text = log_file.read_text(encoding="utf-8")
    assert "in slot_with_a_bug" in text and "in thread_with_a_bug" in text


def test_a_bug_while_building_the_window_is_status_3_one_line_and_the_log(tmp_path):
    code = (
        "import sys\n"
        "from ferdesk.ui import app, main_window\n"
        "def broken_init(self, *args, **kwargs):\n"
        "    raise KeyError('a setting the window did not expect')\n"
        "main_window.MainWindow.__init__ = broken_init\n"
        "sys.exit(app.main(['--source', 'demo', '--quit-after', '1', '--no-speech']))\n"
    )
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        FERDESK_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    log_file = tmp_path / "logs" / "ferdesk.log"
    assert f"The details are in the log file {log_file}." in done.stderr
    text = log_file.read_text(encoding="utf-8")
    assert (
        "in broken_init" in text and "a setting the window did not expect" in text and "session ended" in text
    )
