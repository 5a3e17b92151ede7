"""What a long run meets: files that loop or end, a source that fails late, speech that fails,
the settings dialog and start/stop a hundred times each — no crash, no leak, no stuck thread.

Everything is real: the shipped model and detector, MP4 clips of the public-domain astronaut
photo, the real :class:`~ferdesk.live.LiveRunner`, the real window offscreen driven through its
own actions (the keys a user presses), pyttsx3 with espeak-ng for speech. What fails is real too:
a video source whose reads start failing through the capture interface, an audio player program
that starts failing after a few utterances.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from ferdesk.capture.sources import CaptureError, VideoFileSource
from ferdesk.capture.synthetic import write_video
from ferdesk.live import LiveRunner
from ferdesk.ui.main_window import LaunchOptions, MainWindow
from ferdesk.ui.settings import SettingsStore
from ferdesk.vision.analyze import FaceAnalyzer

#: The first live run of a test session imports MediaPipe; later ones start in well under a second.
FIRST_RESULT_TIMEOUT_MS = 90_000
CLIP_FRAMES, CLIP_FPS = 12, 30.0
LIVE_THREADS = ("ferdesk-capture", "ferdesk-process")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 0.4 s clip: 12 frames of the astronaut at 30 fps, so a few seconds hold many loops."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    path = tmp_path_factory.mktemp("clip") / "astronaut.mp4"
    write_video(path, [photo] * CLIP_FRAMES, fps=CLIP_FPS, fourcc="mp4v")
    return path


@pytest.fixture
def store(tmp_path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def make_window(qtbot, store, **kwargs) -> MainWindow:
    options = kwargs.pop("options", None) or LaunchOptions(speech_enabled=False)
    window = MainWindow(store, options, **kwargs)
    qtbot.addWidget(window)
    window.resize(1000, 640)
    window.show()
    qtbot.waitExposed(window)
    return window


def live_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith("ferdesk-"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0


def flush_deleted() -> None:
    """Run Qt's pending deleteLater()s now, so leaked widgets can be counted."""
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


def wait_painted(qtbot, window: MainWindow, frames: int, timeout: int = FIRST_RESULT_TIMEOUT_MS) -> None:
    target = window.video.frames_painted + frames
    qtbot.waitUntil(lambda: window.video.frames_painted >= target, timeout=timeout)


# -- files loop, or end cleanly ----------------------------------------------------------------------
def run_clip(clip: Path, loop: bool, seconds: float) -> tuple[list[tuple[str, str]], object, bool]:
    statuses: list[tuple[str, str]] = []
    indices: list[int] = []
    runner = LiveRunner(
        str(clip),
        FaceAnalyzer,
        on_result=lambda result: indices.append(result.frame.index),
        on_status=lambda kind, message: statuses.append((kind, message)),
        loop=loop,
    )
    runner.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and runner.is_running():
        time.sleep(0.05)
    still_running = runner.is_running()
    runner.stop(timeout=10)
    return statuses, (runner.stats, indices), still_running


def test_a_looping_clip_plays_on_through_many_ends(clip):
    statuses, (stats, indices), still_running = run_clip(clip, loop=True, seconds=6.0)
    assert still_running, f"the looping clip stopped by itself: {statuses}"
    assert stats.frames_captured >= 5 * CLIP_FRAMES, stats  # played through its end five times and more
    assert indices == sorted(indices) and len(set(indices)) == len(indices)  # frame numbers keep counting
    assert not any(kind in ("ended", "error") for kind, _ in statuses), statuses
    assert not any(name in LIVE_THREADS for name in live_threads())


def test_a_clip_that_does_not_loop_ends_once_and_cleanly(clip):
    statuses, (stats, _indices), still_running = run_clip(clip, loop=False, seconds=20.0)
    assert not still_running, "the runner kept running after the clip ended"
    ended = [message for kind, message in statuses if kind == "ended"]
    assert ended == [f"End of video {clip.name}."], statuses
    assert stats.frames_captured == CLIP_FRAMES, stats
    assert not any(name in LIVE_THREADS for name in live_threads())


def test_the_window_keeps_a_file_looping_and_announcing(qtbot, store, clip):
    window = make_window(qtbot, store)
    assert window.open_source_spec(str(clip))
    wait_painted(qtbot, window, 5)
    painted = window.video.frames_painted
    qtbot.wait(4000)  # the clip is 0.4 s long: 4 s are ten passes through its end
    assert window.session.is_running(), f"the file stopped: {window.timeline.texts()[-3:]}"
    assert window.video.frames_painted - painted >= 40
    assert not any(text.startswith("End of") for text in window.timeline.texts())
    window.close()
    assert not any(name in LIVE_THREADS for name in live_threads())


def test_with_looping_off_in_the_settings_a_file_ends_once_and_says_so(qtbot, store, clip):
    from ferdesk.session.settings import AppSettings

    store.save(AppSettings(loop_videos=False))
    window = make_window(qtbot, store)
    assert window.open_source_spec(str(clip))
    qtbot.waitUntil(
        lambda: any(text.startswith("End of") for text in window.timeline.texts()),
        timeout=FIRST_RESULT_TIMEOUT_MS,
    )
    qtbot.wait(1500)  # a clip that looped would have passed its end several times by now
    assert sum(text.startswith("End of") for text in window.timeline.texts()) == 1
    assert not any(name in LIVE_THREADS for name in live_threads()), "the ended clip left its threads"
    window.close()


# -- a source that fails late ------------------------------------------------------------------------
class LateFailingVideo(VideoFileSource):
    """A real video file played as a camera that is lost after ``fail_after`` frames, many passes
    through the file in (minutes, in a real run), and cannot be reopened ``stays_down`` times."""

    is_live = True

    def __init__(self, path: Path, fail_after: int, stays_down: int) -> None:
        super().__init__(path, loop=True)
        self.label = "Camera 5"
        self.fail_after = fail_after
        self.stays_down = stays_down
        self.failed_opens = 0
        self.losses = 0
        self._frames_since_open = 0

    def open(self) -> None:
        if self.losses and self.failed_opens < self.stays_down * self.losses:
            self.failed_opens += 1
            raise CaptureError("Camera 5 could not be opened (busy or not connected).")
        super().open()
        self.name = "Camera 5 (test)"
        self._frames_since_open = 0

    def read(self):
        if self._frames_since_open >= self.fail_after:
            self.losses += 1
            self._frames_since_open = 0
            raise CaptureError("Camera 5 stopped sending pictures (disconnected?).")
        frame = super().read()
        self._frames_since_open += 1
        return frame


@pytest.mark.slow
def test_a_source_lost_after_many_loops_is_said_once_each_time_and_comes_back(qtbot, store, clip):
    source = LateFailingVideo(clip, fail_after=4 * CLIP_FRAMES, stays_down=3)

    def runner_factory(spec, analyzer_factory, **kwargs):
        return LiveRunner(
            spec, analyzer_factory, reconnect_interval=0.1, source_factory=lambda: source, **kwargs
        )

    window = make_window(qtbot, store, runner_factory=runner_factory)
    window.open_source_spec("5")  # a camera number: the spec is checked, the test's source used
    wait_painted(qtbot, window, 3)
    threads_before, fds_before = live_threads(), open_fds()
    for loss in range(1, 4):
        qtbot.waitUntil(lambda loss=loss: source.losses >= loss, timeout=20_000)
        qtbot.waitUntil(lambda loss=loss: source.failed_opens >= 3 * loss, timeout=20_000)
        wait_painted(qtbot, window, 5, timeout=20_000)  # back, and showing pictures again
    texts = window.timeline.texts()
    lost = [t for t in texts if "disconnected" in t.lower()]
    assert 3 <= len(lost) <= 4, texts  # once per loss (the 4th may just be starting), not per retry
    assert window.session.is_running()
    assert live_threads() == threads_before and open_fds() <= fds_before + 2
    window.close()
    assert not any(name in LIVE_THREADS for name in live_threads())


# -- speech that fails mid-run -----------------------------------------------------------------------
@pytest.mark.slow
def test_speech_whose_player_starts_failing_is_reported_and_the_run_goes_on(qtbot, store, tmp_path):
    from ferdesk.speech.engine import SpeechEngine

    counter = tmp_path / "plays"
    player = tmp_path / "player.sh"
    # A real audio player program: plays (accepts) two utterances, then the device is gone.
    player.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{counter}" 2>/dev/null || echo 0); echo $((n+1)) > "{counter}"\n'
        'if [ "$n" -ge 2 ]; then echo "aplay: main:831: audio open error: No such device" >&2; exit 1; fi\n'
        "exit 0\n"
    )
    player.chmod(0o755)
    engines: list[SpeechEngine] = []

    def speech_factory(settings, on_error):
        engines.append(SpeechEngine(rate=450, on_error=on_error, player=[str(player)]))
        return engines[-1]

    window = make_window(qtbot, store, options=LaunchOptions(source="demo"), speech_factory=speech_factory)
    problems: list[str] = []
    window.session.problems.add(problems.append)
    window.start()  # what the app does once the window is up: speech, then the source
    qtbot.waitUntil(lambda: bool(engines), timeout=10_000)
    engine = engines[0]
    if not engine.available:
        window.close()
        pytest.skip(f"no speech engine on this machine: {engine.last_error}")
    # Generous waits: on a loaded machine espeak-ng and the model share two cores.
    qtbot.waitUntil(lambda: counter.is_file() and int(counter.read_text() or 0) >= 3, timeout=90_000)
    qtbot.waitUntil(lambda: any("speech failed" in p.lower() for p in problems), timeout=40_000)
    speech_problems = [p for p in problems if "speech failed" in p.lower()]
    assert len(speech_problems) == 1, problems  # said once, not once per utterance
    assert "No such device" in speech_problems[0] or "play" in speech_problems[0].lower()
    logged = len(window.timeline.texts())
    wait_painted(qtbot, window, 30, timeout=40_000)  # the video goes on ...
    qtbot.waitUntil(lambda: len(window.timeline.texts()) > logged, timeout=40_000)  # ... and announcing
    window.close()
    assert not any(t.name == "ferdesk-speech" and t.is_alive() for t in threading.enumerate())


# -- the settings dialog, a hundred times --------------------------------------------------------------
def close_next_dialog(accept: bool) -> None:
    def close() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QDialog):
            (dialog.accept if accept else dialog.reject)()
        else:  # not up yet: try again shortly
            QTimer.singleShot(5, close)

    QTimer.singleShot(0, close)


@pytest.mark.slow
def test_the_settings_dialog_opens_and_closes_100_times_without_leaking(qtbot, store, clip):
    window = make_window(qtbot, store)
    window.open_source_spec(str(clip))
    wait_painted(qtbot, window, 3)
    flush_deleted()
    widgets_before, threads_before = len(QApplication.allWidgets()), live_threads()
    for round_ in range(100):
        close_next_dialog(accept=round_ % 2 == 0)
        window.commands["settings"].trigger()  # Ctrl+, : modal, returns when closed
    flush_deleted()
    assert len(QApplication.allWidgets()) == widgets_before  # every dialog was deleted
    assert live_threads() == threads_before
    assert sum(t == "Settings saved." for t in window.timeline.texts()) >= 1
    wait_painted(qtbot, window, 10, timeout=20_000)  # and the video never stopped
    window.close()


# -- start and stop, a hundred times -----------------------------------------------------------------
@pytest.mark.slow
def test_start_stop_100_times_leaves_no_thread_or_descriptor_behind(qtbot, store, clip):
    window = make_window(qtbot, store)
    baseline_threads = live_threads()
    window.open_source_spec(str(clip))
    wait_painted(qtbot, window, 3)
    start_stop = window.commands["start_stop"]  # Ctrl+P or Space
    start_stop.trigger()
    assert not window.session.is_running()
    flush_deleted()
    stopped_threads, fds_before = live_threads(), open_fds()
    assert stopped_threads == baseline_threads
    for _ in range(100):
        start_stop.trigger()  # start
        QCoreApplication.processEvents()
        start_stop.trigger()  # stop
        QCoreApplication.processEvents()
    flush_deleted()
    assert not window.session.is_running()
    assert live_threads() == stopped_threads, live_threads()
    assert open_fds() <= fds_before + 2
    start_stop.trigger()  # and it still starts and shows pictures
    wait_painted(qtbot, window, 5, timeout=20_000)
    window.close()
    assert live_threads() == baseline_threads
