"""LiveRunner: real analyzer on real and fake sources, newest-frame-wins, reconnects, bad frames."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from ferdesk.capture import CaptureError, FrameSource
from ferdesk.capture.synthetic import ASTRONAUT_FACE, compose_faces, face_crop, three_faces, write_video
from ferdesk.live import LiveRunner
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.results import Frame, FrameResult

pytestmark = pytest.mark.timeout(120)


class Recorder:
    """Collects what the runner reports, from its threads."""

    def __init__(self) -> None:
        self.results: list[FrameResult] = []
        self.latencies: list[float] = []
        self.statuses: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def on_result(self, result: FrameResult) -> None:
        with self.lock:
            self.latencies.append(time.monotonic() - result.frame.timestamp)
            self.results.append(result)

    def on_status(self, kind: str, message: str) -> None:
        with self.lock:
            self.statuses.append((kind, message))

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.statuses]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; statuses so far: {self.statuses}")
            time.sleep(0.02)


class SlowAnalyzer(FaceAnalyzer):
    """The real analyzer, made slower than the source, so frames must be dropped."""

    delay = 0.08

    def classify_boxes(self, rgb, detections, **options):
        time.sleep(self.delay)
        return super().classify_boxes(rgb, detections, **options)


class FakeCamera(FrameSource):
    """A live source over one still picture at ``fps`` that a test can unplug and plug back in.

    ``unplug(failed_opens)`` makes the next read fail with CaptureError (cable pulled) and the
    next ``failed_opens`` attempts to open fail too (still unplugged). ``send_bad_frames(n)``
    makes the next ``n`` frames broken images (wrong shape) instead of pictures.
    """

    is_live = True

    def __init__(self, rgb, fps=30.0, failed_opens=0, mirror=False):
        super().__init__(mirror=mirror)
        self.label = "Camera 9"
        self.name = "Camera 9 (640x480)"
        self.fps = fps
        self.rgb = rgb
        self.failed_opens = failed_opens
        self.unplugged_at: int | None = None
        self.bad_frames: list[int] = []
        self._pending_bad = 0
        self._lose_next = False
        self.opened = False
        self.open_threads: list[str] = []

    @property
    def is_open(self) -> bool:
        return self.opened

    def unplug(self, failed_opens: int = 0) -> None:
        self.failed_opens = failed_opens
        self._lose_next = True

    def send_bad_frames(self, count: int) -> None:
        self._pending_bad = count

    def open(self) -> None:
        self.open_threads.append(threading.current_thread().name)
        if self.failed_opens > 0:
            self.failed_opens -= 1
            raise CaptureError(f"{self.label} could not be opened (busy or not connected).")
        self.opened = True

    def read(self) -> Frame | None:
        self._ensure_open()
        time.sleep(1.0 / self.fps)
        if self._lose_next:
            self._lose_next = False
            self.unplugged_at = self._next_index
            raise CaptureError(f"{self.label} stopped sending pictures (disconnected?).")
        if self._pending_bad > 0:
            self._pending_bad -= 1
            self.bad_frames.append(self._next_index)
            return self._stamp(np.zeros((4, 4), np.uint8))
        return self._make_frame(self.rgb)

    def close(self) -> None:
        self.opened = False


@pytest.fixture(scope="module")
def three_face_rgb(astronaut_rgb) -> np.ndarray:
    crop = face_crop(astronaut_rgb, ASTRONAUT_FACE)
    return compose_faces([crop, crop, crop], size=(640, 480))


@pytest.fixture(scope="module")
def one_face_left_rgb(astronaut_rgb) -> np.ndarray:
    crop = face_crop(astronaut_rgb, ASTRONAUT_FACE)
    blank = np.full_like(crop, 48)
    return compose_faces([crop, blank, blank], size=(640, 480))


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut_rgb):
    """Two seconds of three moving faces at 30 fps (60 frames)."""
    path = tmp_path_factory.mktemp("live") / "three.mp4"
    write_video(path, three_faces(face_crop(astronaut_rgb, ASTRONAUT_FACE), 60), fps=30.0)
    return path


def run_until_done(runner: LiveRunner, timeout: float = 60.0) -> None:
    runner.start()
    deadline = time.monotonic() + timeout
    while runner.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()


def test_a_video_file_plays_through_with_results_and_ends(clip):
    made_in: list[str] = []
    closed: list[str] = []

    class RecordingAnalyzer(FaceAnalyzer):
        def close(self):
            closed.append(threading.current_thread().name)
            super().close()

    def factory():
        made_in.append(threading.current_thread().name)
        return RecordingAnalyzer()

    seen = Recorder()
    runner = LiveRunner(str(clip), factory, on_result=seen.on_result, on_status=seen.on_status, loop=False)
    run_until_done(runner)
    assert not runner.is_running()
    assert made_in == ["ferdesk-process"] and closed == ["ferdesk-process"]
    assert seen.statuses[0] == ("info", "Playing video three.mp4.")
    assert runner.source_name == "video three.mp4 (640x480, 30 fps)"
    assert seen.statuses[-1] == ("ended", "End of video three.mp4.")
    assert "error" not in seen.kinds() and "warning" not in seen.kinds()
    stats = runner.stats
    assert stats.frames_captured == 60
    assert stats.frames_processed == len(seen.results) > 0
    assert stats.frames_processed + stats.frames_dropped == 60
    indices = [r.frame.index for r in seen.results]
    assert indices == sorted(set(indices)) and indices[-1] == 59  # the last frame is never lost
    assert sum(len(r.faces) == 3 for r in seen.results) >= 0.9 * len(seen.results)
    assert all(
        [f.position for f in r.faces] == ["left", "centre", "right"]
        for r in seen.results
        if len(r.faces) == 3
    )
    # Paced at the file's 30 fps; a loaded 2-core machine can fall a little behind, never ahead.
    assert stats.capture_fps == pytest.approx(30.0, rel=0.35)


def test_stale_frames_are_dropped_so_latency_never_grows(clip):
    seen = Recorder()
    runner = LiveRunner(
        str(clip), SlowAnalyzer, on_result=seen.on_result, on_status=seen.on_status, loop=False
    )
    run_until_done(runner)
    stats = runner.stats
    assert stats.frames_dropped > 10, stats
    assert stats.frames_processed + stats.frames_dropped == stats.frames_captured == 60
    indices = [r.frame.index for r in seen.results]
    assert indices == sorted(indices) and max(np.diff(indices)) > 1
    # A queue would fall ~3 s behind over two seconds of video; the newest frame is at most
    # one analysis (80 ms + detection) plus one frame old, with headroom for a loaded machine.
    assert max(seen.latencies[1:]) < 1.0, seen.latencies


def test_stop_joins_both_threads_while_running(three_face_rgb):
    seen = Recorder()
    camera = FakeCamera(three_face_rgb)
    runner = LiveRunner(
        "camera",
        FaceAnalyzer,
        on_result=seen.on_result,
        on_status=seen.on_status,
        source_factory=lambda: camera,
    )
    runner.start()
    with pytest.raises(RuntimeError, match="already running"):
        runner.start()
    seen.wait_for(lambda: len(seen.results) >= 3)
    assert runner.is_running()
    start = time.monotonic()
    runner.stop(timeout=5.0)
    assert time.monotonic() - start < 5.0
    assert not runner.is_running() and not camera.is_open
    count = len(seen.results)
    time.sleep(0.2)
    assert len(seen.results) == count  # nothing arrives after stop()
    assert seen.statuses[0] == ("connected", "Camera 9 connected.")
    runner.stop()  # twice is fine


def test_a_lost_camera_is_reported_and_reconnected(three_face_rgb):
    seen = Recorder()
    camera = FakeCamera(three_face_rgb)
    runner = LiveRunner(
        "9",
        FaceAnalyzer,
        on_result=seen.on_result,
        on_status=seen.on_status,
        reconnect_interval=0.1,
        source_factory=lambda: camera,
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 3)
        camera.unplug(failed_opens=2)
        seen.wait_for(lambda: seen.kinds().count("connected") == 2)
        seen.wait_for(lambda: any(r.frame.index > camera.unplugged_at + 2 for r in seen.results))
    finally:
        runner.stop()
    assert seen.kinds() == ["connected", "disconnected", "connected"]
    assert seen.statuses[1] == ("disconnected", "Camera 9 disconnected. Trying to reconnect…")
    assert runner.stats.reconnects == 1
    assert len(camera.open_threads) == 4  # first open, two failed retries, the successful one
    assert set(camera.open_threads) == {"ferdesk-capture"}
    gap = camera.unplugged_at
    before = [r for r in seen.results if r.frame.index < gap]
    after = [r for r in seen.results if r.frame.index >= gap]
    assert before and after and all(len(r.faces) == 3 for r in before + after)
    before_ids = {f.track_id for r in before for f in r.faces}
    after_ids = {f.track_id for r in after for f in r.faces}
    assert before_ids.isdisjoint(after_ids), "faces from before the gap must not carry over"


def test_no_camera_at_start_is_an_error_and_keeps_trying(three_face_rgb):
    seen = Recorder()
    camera = FakeCamera(three_face_rgb, failed_opens=3)
    runner = LiveRunner(
        "9",
        FaceAnalyzer,
        on_result=seen.on_result,
        on_status=seen.on_status,
        reconnect_interval=0.05,
        source_factory=lambda: camera,
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 2)
    finally:
        runner.stop()
    assert seen.kinds()[:2] == ["error", "connected"]
    assert seen.statuses[0][1] == (
        "No camera found: Camera 9 could not be opened (busy or not connected). "
        "Open a video or image file, or the demo, from the File menu."
    )
    assert len(camera.open_threads) == 4


def test_a_real_missing_camera_keeps_the_runner_waiting():
    seen = Recorder()
    runner = LiveRunner(
        "57", FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status, reconnect_interval=0.05
    )
    runner.start()
    try:
        seen.wait_for(lambda: seen.kinds() == ["error"])
        time.sleep(0.3)  # several retries later: still running, and said only once
        assert runner.is_running() and seen.kinds() == ["error"]
        assert "Camera 57 could not be opened" in seen.statuses[0][1]
    finally:
        runner.stop()
    assert not runner.is_running()


def test_a_bad_frame_is_a_warning_and_the_loop_goes_on(three_face_rgb):
    seen = Recorder()
    camera = FakeCamera(three_face_rgb, fps=15.0)
    runner = LiveRunner(
        "9", FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status, source_factory=lambda: camera
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 2)
        camera.send_bad_frames(3)
        seen.wait_for(lambda: len(camera.bad_frames) == 3)
        last_bad = camera.bad_frames[-1]
        seen.wait_for(lambda: any(r.frame.index > last_bad + 2 for r in seen.results))
    finally:
        runner.stop()
    warnings = [message for kind, message in seen.statuses if kind == "warning"]
    assert len(warnings) == 1, "repeats within a few seconds are folded into one warning"
    assert warnings[0].startswith("Frame ") and "could not be analysed (ValueError:" in warnings[0]
    assert 1 <= runner.stats.frames_failed <= 3
    assert all(r.frame.index not in camera.bad_frames for r in seen.results)
    assert all(len(r.faces) == 3 for r in seen.results)


def test_a_failing_result_handler_does_not_stop_the_loop(three_face_rgb):
    seen = Recorder()
    calls = []

    def on_result(result):
        calls.append(result.frame.index)
        raise KeyError("the window is gone")

    runner = LiveRunner(
        "9",
        FaceAnalyzer,
        on_result=on_result,
        on_status=seen.on_status,
        source_factory=lambda: FakeCamera(three_face_rgb),
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(calls) >= 3)
    finally:
        runner.stop()
    assert "warning" in seen.kinds()


def test_the_analyzer_failing_to_load_is_reported(tmp_path, three_face_rgb):
    seen = Recorder()
    runner = LiveRunner(
        "9",
        lambda: FaceAnalyzer(model_path=tmp_path / "missing.tflite"),
        on_result=seen.on_result,
        on_status=seen.on_status,
        source_factory=lambda: FakeCamera(three_face_rgb),
    )
    run_until_done(runner, timeout=10)
    assert not runner.is_running()
    errors = [message for kind, message in seen.statuses if kind == "error"]
    assert len(errors) == 1 and errors[0].startswith("Face analysis could not start: Emotion model not found")


def test_a_corrupt_video_is_reported_and_the_runner_ends(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    seen = Recorder()
    runner = LiveRunner(str(path), FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status)
    run_until_done(runner, timeout=20)
    assert seen.kinds() == ["error"]
    assert str(path) in seen.statuses[0][1]
    assert seen.results == []


def test_mirroring_moves_the_box_but_not_the_person(one_face_left_rgb):
    seen = Recorder()
    runner = LiveRunner(
        "9",
        FaceAnalyzer,
        on_result=seen.on_result,
        on_status=seen.on_status,
        source_factory=lambda: FakeCamera(one_face_left_rgb),
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 2)
        runner.set_mirror(True)
        switched = len(seen.results) + 3  # give the frames already in flight time to pass
        seen.wait_for(lambda: len(seen.results) >= switched + 2)
    finally:
        runner.stop()
    before, after = seen.results[0], seen.results[-1]
    assert len(before.faces) == len(after.faces) == 1
    assert before.faces[0].box.center[0] < 213 < 427 < after.faces[0].box.center[0]
    # The person sits on the user's left either way; only the picture is flipped.
    assert before.faces[0].position == after.faces[0].position == "left"
    assert after.faces[0].track_id != before.faces[0].track_id  # tracking restarts on a flip


def test_a_still_image_is_analysed_again_and_again(tmp_path, astronaut_rgb):
    from PIL import Image

    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut_rgb).save(path)
    seen = Recorder()
    runner = LiveRunner(str(path), FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status)
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 3)
    finally:
        runner.stop()
    assert seen.statuses == [("info", "Showing image astronaut.png.")]
    assert all(len(r.faces) == 1 for r in seen.results)
    assert len({r.faces[0].track_id for r in seen.results}) == 1


def test_open_reports_say_whether_the_source_opened(tmp_path, three_face_rgb):
    from ferdesk.live import OpenReport, add_open_listener

    reports: list[OpenReport] = []
    remove = add_open_listener(reports.append)
    try:
        broken = tmp_path / "broken.mp4"
        broken.write_text("not a video, only text")
        seen = Recorder()
        run_until_done(
            LiveRunner(str(broken), FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status), 20
        )
        assert reports == [OpenReport(str(broken), False, seen.statuses[0][1], final=True)]
        assert "could not be opened as a video" in reports[0].message

        camera = FakeCamera(three_face_rgb, failed_opens=2)
        seen = Recorder()
        runner = LiveRunner(
            "9",
            FaceAnalyzer,
            on_result=seen.on_result,
            on_status=seen.on_status,
            reconnect_interval=0.05,
            source_factory=lambda: camera,
        )
        runner.start()
        try:
            seen.wait_for(lambda: "connected" in seen.kinds())
        finally:
            runner.stop()
        # A camera that is retried: first "not (yet)", then "opened".
        assert [(r.opened, r.final) for r in reports[1:]] == [(False, False), (True, True)]
        assert reports[1].message.startswith("No camera found: Camera 9 could not be opened")
        assert runner.open_report == reports[-1]
    finally:
        remove()
    remove()  # twice is fine
    run_until_done(LiveRunner(str(broken), FaceAnalyzer, on_result=seen.on_result, on_status=seen.on_status))
    assert len(reports) == 3, "a removed listener hears nothing"


def test_reconnecting_backs_off_but_never_waits_longer_than_the_interval(three_face_rgb):
    camera = FakeCamera(three_face_rgb)
    seen = Recorder()
    attempts: list[float] = []
    original_open = camera.open

    def timed_open():
        attempts.append(time.monotonic())
        original_open()

    camera.open = timed_open
    runner = LiveRunner(
        "9",
        FaceAnalyzer,
        on_result=seen.on_result,
        on_status=seen.on_status,
        reconnect_interval=0.6,
        source_factory=lambda: camera,
    )
    runner.start()
    try:
        seen.wait_for(lambda: len(seen.results) >= 2)
        camera.unplug(failed_opens=5)
        seen.wait_for(lambda: seen.kinds().count("connected") == 2)
    finally:
        runner.stop()
    gaps = np.diff(attempts[1:])  # the attempts after the loss
    assert len(gaps) == 5
    # 0.25 s, then doubling (0.5), then capped at the interval (0.6 s): a camera that comes back
    # is running again within the interval, however long it was away.
    np.testing.assert_allclose(gaps, [0.25, 0.5, 0.6, 0.6, 0.6], atol=0.15)
