"""The main window with the real live runner, model and detector, offscreen.

A short MP4 of the astronaut photo stands in for a camera; a camera that drops out mid-stream is a
real :class:`FrameSource` that fails after a few frames, fed to the real :class:`LiveRunner`.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QImage
from pytestqt.exceptions import TimeoutError as WaitTimeout

from ferdesk.capture.sources import CaptureError, FrameSource
from ferdesk.capture.synthetic import ASTRONAUT_FACE, write_video
from ferdesk.live import LiveRunner
from ferdesk.ui.main_window import LaunchOptions, MainWindow
from ferdesk.ui.overlay import colour_for, face_label, text_colour_on
from ferdesk.ui.settings import AppSettings, SettingsStore
from ferdesk.ui.video_view import wrap_rgb
from ferdesk.vision.results import Frame, FrameResult

#: The first live run of a test session imports MediaPipe; later ones start in well under a second.
FIRST_RESULT_TIMEOUT_MS = 90_000


@pytest.fixture
def store(tmp_path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory) -> str:
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    write_video(path, [photo] * 20, fps=15.0, fourcc="mp4v")
    return str(path)


def quiet_reader():
    """A screen-reader bridge that knows none runs: whatever runs on the test machine stays out."""
    from ferdesk.speech.screen_readers import ScreenReaderInfo
    from ferdesk.ui.screen_reader import ScreenReaderBridge

    bridge = ScreenReaderBridge(watch=False)
    bridge.set_info(ScreenReaderInfo(running=False))
    return bridge


def make_window(qtbot, store, **kwargs) -> MainWindow:
    kwargs.setdefault("screen_reader", quiet_reader())
    window = MainWindow(store, LaunchOptions(speech_enabled=False), **kwargs)
    qtbot.addWidget(window)
    window.resize(1000, 640)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_for_faces(qtbot, window: MainWindow, timeout: int = FIRST_RESULT_TIMEOUT_MS) -> None:
    qtbot.waitUntil(
        lambda: window.video.result is not None and len(window.video.result.faces) >= 1, timeout=timeout
    )


def live_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("ferdesk-capture", "ferdesk-process")]


def close_enough(image: QImage, x: float, y: float, colour: QColor, tolerance: int = 12) -> bool:
    pixel = image.pixelColor(round(x), round(y))
    return all(
        abs(a - b) <= tolerance
        for a, b in zip(
            (pixel.red(), pixel.green(), pixel.blue()),
            (colour.red(), colour.green(), colour.blue()),
            strict=True,
        )
    )


def test_video_frames_are_drawn_with_a_coloured_box_and_label_over_the_face(qtbot, store, astronaut_video):
    window = make_window(qtbot, store)
    assert window.open_source_spec(astronaut_video)
    wait_for_faces(qtbot, window)
    qtbot.wait(200)  # a few more frames: the view is painting a stream, not one picture

    # Read the result and grab in one go (no events in between), so the grab shows this result.
    result = window.video.result
    face = max(result.faces, key=lambda f: f.box.area)
    grab = window.video.grab().toImage()
    assert grab.width() == window.video.width()

    # The face the detector found is the astronaut's.
    assert face.box.iou(ASTRONAUT_FACE) > 0.5, face.box

    # The frame is drawn: the view's centre shows photo pixels, not the black background.
    rect = window.video.image_rect()
    centre = grab.pixelColor(round(rect.center().x()), round(rect.center().y()))
    assert (centre.red(), centre.green(), centre.blue()) != (0, 0, 0)

    # The box: its colour along the middle of each edge (the pen is at least 3 px wide).
    expected = colour_for(face.emotion, face.confidence, window.settings.confidence_threshold)
    box = window.video.map_box(face.box)
    edge_points = []
    for step in range(5, 96, 10):
        t = step / 100
        edge_points += [
            (box.left() + t * box.width(), box.bottom()),
            (box.left(), box.top() + t * box.height()),
            (box.right(), box.top() + t * box.height()),
        ]
    hits = sum(close_enough(grab, x, y, expected) for x, y in edge_points)
    assert hits >= 0.8 * len(edge_points), (
        f"box colour {expected.name()} found at {hits}/{len(edge_points)} points"
    )

    # The label: a filled block of the same colour just above the box, holding dark or light text.
    label_band = [(box.left() + dx, box.top() - 8) for dx in range(4, 40, 4)]
    assert sum(close_enough(grab, x, y, expected) for x, y in label_band) >= len(label_band) // 2
    # The label's text is drawn: inside the label block, pixels of the text colour form the glyphs
    # of "1: happy 82 %" (its width as the label font measures it), not just a coloured block.
    [label] = window.video.label_rects
    assert label.bottom() <= box.top() + 2  # above the face, not over it
    ink = text_colour_on(expected)
    inside = [
        (x, y) for x in range(round(label.left()) + 2, round(label.right()) - 2)
        for y in range(round(label.top()) + 2, round(label.bottom()) - 2)
    ]  # fmt: skip
    inked = [(x, y) for x, y in inside if close_enough(grab, x, y, ink, tolerance=60)]
    assert len(inked) >= 0.04 * len(inside), f"{len(inked)} of {len(inside)} label pixels are text"
    inked_columns = {x for x, _ in inked}
    assert max(inked_columns) - min(inked_columns) >= 0.6 * label.width()  # text across the label
    number = window.session.people.number(face.track_id)
    assert number == 1
    assert face_label(face, window.settings.confidence_threshold, number).startswith("1: ")

    # The side panel names the same person, and the status bar shows what runs.
    qtbot.waitUntil(lambda: any(text.startswith("Person 1, ") for text in window.faces.face_texts()))
    qtbot.waitUntil(lambda: "fps" in window.fps_label.text() and window.fps_label.text() != "0 fps")
    # The status bar reads with its values (a label's accessible name replaces its text).
    assert window.fps_label.accessibleName() == f"Frames per second: {window.fps_label.text().split()[0]}"
    assert window.source_label.accessibleName().startswith("Source: ") and "astronaut.mp4" in (
        window.source_label.accessibleName()
    )
    assert "astronaut.mp4" in window.source_label.text()
    assert result.model_name in window.model_label.text()
    assert window.video.last_latency_ms is not None and window.video.last_latency_ms > 0

    window.close()
    assert live_threads() == []


def test_the_event_loop_stays_responsive_while_frames_are_analysed(qtbot, store, astronaut_video):
    window = make_window(qtbot, store)
    window.open_source_spec(astronaut_video)
    wait_for_faces(qtbot, window)
    received_before = window.session.results_received

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(2000)
    timer.stop()

    gaps_ms = np.diff(ticks) * 1000
    analysed = window.session.results_received - received_before
    assert analysed >= 5, f"only {analysed} frames analysed in 2 s"
    assert len(ticks) > 50
    assert gaps_ms.max() < 200, f"the GUI thread stalled for {gaps_ms.max():.0f} ms"
    # The display timer took the newest results (latest wins), it did not replay a backlog.
    assert window.video.frames_painted <= analysed + 2
    window.close()


def is_connected_message(text: str) -> bool:
    return text.startswith("Camera 7") and text.endswith(" connected.")


class FlakyCamera(FrameSource):
    """A live source that the test unplugs and plugs back in — a USB camera pulled out mid-stream.

    Pictures flow until ``unplug`` is set; then reading fails, and opening fails until
    ``plug_in`` is set. Events, not frame counts, so the test decides when things happen.
    """

    is_live = True

    def __init__(self, photo: np.ndarray) -> None:
        super().__init__()
        self.photo = photo
        self.label = "Camera 7"
        self.name = "Camera 7 (test)"
        self.unplug = threading.Event()
        self.plug_in = threading.Event()
        self.opens = 0
        self.failed_opens = 0
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self.opens += 1
        if self.unplug.is_set() and not self.plug_in.is_set():
            self.failed_opens += 1
            raise CaptureError("Camera 7 could not be opened (busy or not connected).")
        self._open = True

    def read(self):
        self._ensure_open()
        if self.unplug.is_set() and not self.plug_in.is_set():
            raise CaptureError("Camera 7 stopped sending pictures (disconnected?).")
        time.sleep(1 / 15)
        return self._make_frame(self.photo)

    def close(self) -> None:
        self._open = False


def test_camera_lost_mid_stream_shows_and_says_it_then_recovers(qtbot, store, astronaut_rgb):
    camera = FlakyCamera(astronaut_rgb)

    def runner_factory(spec, analyzer_factory, **kwargs):
        return LiveRunner(
            spec, analyzer_factory, reconnect_interval=0.2, source_factory=lambda: camera, **kwargs
        )

    window = make_window(qtbot, store, runner_factory=runner_factory)
    window.open_source_spec("7")  # a camera number: the spec is checked, the fake source used
    wait_for_faces(qtbot, window)
    assert is_connected_message(window.timeline.texts()[-1])

    camera.unplug.set()
    qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=10_000)
    assert "disconnected" in window.notice.text().lower()
    assert window.notice.open_file.isVisible() and window.notice.use_demo.isVisible()
    lost_message = window.timeline.texts()[-1]
    assert "Camera 7" in lost_message and "disconnected" in lost_message
    assert window.video.result is None and "disconnected" in window.video.placeholder.lower()
    qtbot.waitUntil(lambda: camera.failed_opens >= 2, timeout=5_000)  # it keeps trying ...
    assert window.timeline.texts()[-1] == lost_message  # ... quietly
    shown = window.timeline.count()
    qtbot.keyClick(window.video, Qt.Key.Key_D)  # "describe" while lost says why there is nothing
    assert window.timeline.count() == shown + 1 and window.timeline.texts()[-1] == lost_message
    assert window.session.is_running()

    # Plugged back in: the runner reopens it, the message goes away and the user hears it.
    camera.plug_in.set()
    qtbot.waitUntil(lambda: not window.notice.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: is_connected_message(window.timeline.texts()[-1]))
    wait_for_faces(qtbot, window, timeout=10_000)
    window.close()
    assert live_threads() == []


def test_no_camera_offers_the_demo_and_the_demo_button_works(qtbot, store):
    class NoCamera(FlakyCamera):
        def open(self) -> None:
            self.opens += 1
            raise CaptureError("Camera 0 could not be opened (busy or not connected).")

    def runner_factory(spec, analyzer_factory, **kwargs):
        if spec == "demo":
            return LiveRunner(spec, analyzer_factory, **kwargs)
        return LiveRunner(
            spec, analyzer_factory, reconnect_interval=0.3, source_factory=lambda: NoCamera(None), **kwargs
        )

    window = make_window(qtbot, store, runner_factory=runner_factory)
    window.start()  # the saved "start with" source: camera 0
    qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=10_000)
    assert "no camera found" in window.notice.text().lower()
    # The video no longer claims to show the camera; it says why there is no picture.
    description = window.video.accessibleDescription()
    assert "Video from Camera 0" not in description and description.startswith("No picture: No camera found")
    spoken = [t for t in window.timeline.texts() if "no camera" in t.lower()]
    assert len(spoken) == 1
    qtbot.wait(800)  # the runner keeps retrying; the user is not told again each time
    assert len([t for t in window.timeline.texts() if "no camera" in t.lower()]) == 1

    qtbot.mouseClick(window.notice.use_demo, Qt.MouseButton.LeftButton)
    assert not window.notice.isVisible()
    assert window.source_label.text() == "source: demo" or "demo" in window.source_label.text()
    wait_for_faces(qtbot, window)
    window.close()
    assert live_threads() == []


def test_a_missing_file_is_reported_without_stopping_the_window(qtbot, store, tmp_path):
    window = make_window(qtbot, store)
    assert not window.open_source_spec(str(tmp_path / "nowhere.mp4"))
    assert window.notice.isVisible()
    assert "no such file" in window.notice.text().lower()
    assert window.timeline.texts(), "the problem is also announced"
    window.close()


def test_a_broken_model_is_reported_in_the_window(qtbot, store, tmp_path, astronaut_video):
    from ferdesk.vision.paths import default_emotion_model

    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    bad.with_suffix(".json").write_text(default_emotion_model().with_suffix(".json").read_text())
    window = MainWindow(
        store,
        LaunchOptions(speech_enabled=False, model_path=bad, scripted=True),
        screen_reader=quiet_reader(),
    )
    qtbot.addWidget(window)
    window.show()
    window.open_source_spec(astronaut_video)
    # isHidden, not isVisible: a scripted run closes the window (hiding its children) right away.
    qtbot.waitUntil(lambda: "could not start" in window.notice.text(), timeout=30_000)
    assert not window.notice.isHidden()
    assert str(bad) in window.notice.text()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)  # scripted runs end at once
    assert window.exit_code == 2


def test_snapshot_writes_only_the_chosen_file(qtbot, store, tmp_path, astronaut_video, monkeypatch):
    window = make_window(qtbot, store)
    window.open_source_spec(astronaut_video)
    wait_for_faces(qtbot, window)
    target = tmp_path / "snaps" / "me.png"
    target.parent.mkdir()
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    window.commands["snapshot"].trigger()
    assert sorted(p.name for p in target.parent.iterdir()) == ["me.png"]
    saved = QImage(str(target))
    assert (saved.width(), saved.height()) == (512, 512)
    assert any("snapshot saved" in t.lower() for t in window.timeline.texts())
    window.close()


def test_settings_persist_and_bad_stored_values_fall_back(qtbot, tmp_path):
    path = str(tmp_path / "s.ini")
    store = SettingsStore(QSettings(path, QSettings.Format.IniFormat))
    window = MainWindow(store, LaunchOptions(speech_enabled=False), screen_reader=quiet_reader())
    qtbot.addWidget(window)
    changed = AppSettings(
        speech_rate=320,
        volume=0.6,
        output="both",
        verbosity="full",
        position_style="clock",
        hold_seconds=2.0,
        min_gap_seconds=5.0,
        confidence_threshold=0.65,
        start_source="demo",
        mirror=True,
        detector="short",
        large_text=True,
    )
    window.apply_settings(changed)
    assert window.policy.config.verbosity == "full" and window.policy.config.hold_seconds == 2.0
    assert window.commands["verbosity"].isChecked() and window.commands["mirror"].isChecked()
    window.close()
    assert SettingsStore(QSettings(path, QSettings.Format.IniFormat)).load() == changed

    raw = QSettings(path, QSettings.Format.IniFormat)
    raw.setValue("settings/speech_rate", "fast")
    raw.setValue("settings/output", "telepathy")
    raw.sync()
    reloaded_store = SettingsStore(QSettings(path, QSettings.Format.IniFormat))
    reloaded = reloaded_store.load()
    assert reloaded.speech_rate == AppSettings().speech_rate and reloaded.output == AppSettings().output
    assert reloaded.verbosity == "full"
    assert len(reloaded_store.problems) == 2 and "speech_rate" in reloaded_store.problems[0]


def test_large_text_scales_the_application_font_and_is_undone_on_close(qtbot, store):
    from PySide6.QtWidgets import QApplication

    before = QApplication.font().pointSizeF()
    window = make_window(qtbot, store)
    window.commands["large_text"].trigger()
    assert QApplication.font().pointSizeF() == pytest.approx(before * 1.5)
    assert store.load().large_text
    window.close()
    assert QApplication.font().pointSizeF() == pytest.approx(before)


def test_wrap_rgb_shares_memory_and_rejects_wrong_shapes():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[1, 2] = (10, 20, 30)
    image, pixels = wrap_rgb(rgb)
    assert pixels is rgb
    assert image.pixelColor(2, 1) == QColor(10, 20, 30)
    strided = np.zeros((4, 12, 3), np.uint8)[:, ::2]
    image, pixels = wrap_rgb(strided)
    assert pixels.flags["C_CONTIGUOUS"] and image.width() == 6
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        wrap_rgb(np.zeros((4, 6), np.uint8))


def test_built_in_speech_speaks_announcements_and_stops_with_the_window(qtbot, store):
    from ferdesk.speech.engine import SpeechEngine
    from ferdesk.ui.app import _make_speech_engine

    engines: list[SpeechEngine] = []

    def speech_factory(settings, on_error):
        engines.append(_make_speech_engine(settings, on_error))
        return engines[-1]

    window = MainWindow(store, LaunchOptions(), speech_factory=speech_factory, screen_reader=quiet_reader())
    qtbot.addWidget(window)
    window.apply_settings(AppSettings(output="speech", speech_rate=400))
    assert len(engines) == 1 and window.session.speech is engines[0]
    engine = engines[0]
    if not engine.available:
        pytest.skip(f"no speech engine on this machine: {engine.last_error}")
    # Each utterance is synthesised by espeak-ng and handed to the audio player (which fails on a
    # machine without a sound card: that is reported in the window, not raised). Status messages
    # interrupt older speech, so the second is said after the first has started.
    window.session.status("Camera 0 disconnected.")
    qtbot.waitUntil(lambda: engine.utterances_started >= 1, timeout=20_000)
    window.session.status("Camera 0 connected.")
    qtbot.waitUntil(lambda: engine.utterances_started >= 2, timeout=20_000)
    window.close()
    assert not any(t.name == "ferdesk-speech" and t.is_alive() for t in threading.enumerate())


def test_mirror_from_the_command_line_is_not_saved(qtbot, store):
    window = MainWindow(store, LaunchOptions(speech_enabled=False, mirror=True), screen_reader=quiet_reader())
    qtbot.addWidget(window)
    assert window.commands["mirror"].isChecked()
    window.commands["verbosity"].trigger()  # saving any other setting ...
    assert store.load().verbosity == "full"
    assert store.load().mirror is False  # ... does not save --mirror
    window.commands["mirror"].trigger()  # the user's own choice is saved
    assert not window.commands["mirror"].isChecked()
    window.commands["mirror"].trigger()
    assert store.load().mirror is True
    window.close()


class BurstRunner:
    """Stands in for LiveRunner: delivers ``count`` results from its own thread as fast as it can."""

    def __init__(self, spec, analyzer_factory, *, on_result, on_status, count=300, **kwargs):
        self.on_result, self.on_status, self.count = on_result, on_status, count
        self.thread = threading.Thread(target=self._run, name="burst-runner")

    def _run(self) -> None:
        rgb = np.zeros((8, 8, 3), np.uint8)
        for index in range(self.count):
            self.on_result(FrameResult(Frame(index, time.monotonic(), rgb), []))
        self.on_status("ended", "End of the burst.")

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.thread.join(timeout)

    def is_running(self) -> bool:
        return self.thread.is_alive()

    def set_mirror(self, mirror: bool) -> None:
        pass


def test_results_reach_the_window_as_signals_with_their_payload_newest_only(qtbot, store):
    """300 results from a runner thread: one queued display call, carrying the newest result."""
    from ferdesk.session import Session
    from ferdesk.ui.worker import SessionSignals, UiThreadCalls

    calls = UiThreadCalls()
    session = Session(AppSettings(), runner_factory=BurstRunner, call_soon=calls)
    signals = SessionSignals(session)
    shown, statuses, frames = [], [], []
    signals.resultReady.connect(shown.append)
    signals.sourceChanged.connect(statuses.append)
    session.frames.add(lambda result: frames.append(result.frame.index))

    def failing_hook(result):
        raise RuntimeError("listener broke")

    session.frames.add(failing_hook)
    assert session.open_source("demo")
    session.runner.thread.join(10)
    qtbot.waitUntil(lambda: any(change.state == "ended" for change in statuses), timeout=5_000)

    assert session.results_received == 300
    assert frames == list(range(300))  # the frame hook saw every frame, on the runner's thread
    results = [r for r in shown if r is not None]
    # Nothing piles up: the display got at most a few results (latest wins), the last one the newest.
    assert 1 <= len(results) <= 3 and results[-1].frame.index == 299
    assert session.current_result is results[-1]
    # A failing frame listener is reported once (a warning) and never stops the stream.
    notes = [change.message for change in statuses if change.status_bar]
    assert sum("listener broke" in note for note in notes) == 1
    session.close()


def test_the_smiling_astronaut_is_shown_and_announced_as_happy(qtbot, store, astronaut_video):
    """Accuracy-dependent: needs a trained emotion model (the provisional one reads 'unclear')."""
    window = make_window(qtbot, store)
    window.open_source_spec(astronaut_video)
    wait_for_faces(qtbot, window)
    try:
        qtbot.waitUntil(lambda: any("appears happy" in t for t in window.timeline.texts()), timeout=8_000)
    except WaitTimeout:
        raise AssertionError(
            f"never announced as happy; announcements: {window.timeline.texts()}, "
            f"panel: {window.faces.face_texts()}"
        ) from None
    assert any("appears happy" in text for text in window.faces.face_texts())
    assert window.video.result.faces[0].emotion == "happy"
    window.close()
