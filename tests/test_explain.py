"""Occlusion explanations: the heatmap points at a planted feature, and the words name its region."""

from __future__ import annotations

import numpy as np
import pytest

from ferdesk.vision.explain import (
    FACE_REGIONS,
    describe_region,
    occlusion_map,
    region_shares,
)

SIDE = 48


def region_box(name: str) -> tuple[slice, slice]:
    _, top, bottom, left, right = next(r for r in FACE_REGIONS if r[0] == name)
    # the middle of the region, a little smaller than it
    cy, cx = (top + bottom) / 2 * SIDE, (left + right) / 2 * SIDE
    half_h, half_w = max(2, (bottom - top) * SIDE / 3), max(2, (right - left) * SIDE / 4)
    return slice(round(cy - half_h), round(cy + half_h)), slice(round(cx - half_w), round(cx + half_w))


def planted_model(rows: slice, cols: slice):
    """A 'classifier' that looks only at one square: class 0's probability is that square's brightness."""

    def predict(batch: np.ndarray) -> np.ndarray:
        feature = batch[:, rows, cols, 0].mean(axis=(1, 2))
        return np.stack([feature, 1.0 - feature], axis=1)

    return predict


@pytest.mark.parametrize("region", ["mouth", "eyes", "brows", "nose"])
def test_the_heatmap_finds_a_planted_feature(region):
    rows, cols = region_box(region)
    face = np.full((SIDE, SIDE, 1), 0.2, np.float32)
    face[rows, cols] = 1.0
    explanation = occlusion_map(
        face, planted_model(rows, cols), labels=("planted", "other"), patch=8, stride=2
    )
    assert explanation.label == "planted" and explanation.probability == pytest.approx(1.0)
    heat = explanation.heatmap
    assert heat.shape == (SIDE, SIDE) and heat.min() >= 0
    peak_y, peak_x = np.unravel_index(np.argmax(heat), heat.shape)
    assert rows.start <= peak_y < rows.stop and cols.start <= peak_x < cols.stop
    assert heat[rows, cols].mean() > 5 * heat[np.ones_like(heat, bool) & ~_mask(rows, cols)].mean()
    assert describe_region(heat) == f"mostly the {region}"


def _mask(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), bool)
    mask[rows, cols] = True
    return mask


def test_occluded_copies_go_to_the_model_in_one_batch():
    calls: list[int] = []

    def predict(batch):
        calls.append(len(batch))
        return np.tile([0.7, 0.3], (len(batch), 1))

    explanation = occlusion_map(np.zeros((SIDE, SIDE)), predict, patch=16, stride=4)
    assert calls == [1 + 9 * 9]
    assert describe_region(explanation.heatmap) == "no part of the face in particular"


def test_words_for_spread_and_shared_heat():
    heat = np.zeros((SIDE, SIDE), np.float32)
    eyes_rows, eyes_cols = region_box("eyes")
    brows_rows, brows_cols = region_box("brows")
    heat[eyes_rows, eyes_cols] = 0.3
    heat[brows_rows, brows_cols] = 0.3
    assert describe_region(heat) in ("the eyes and the brows", "the brows and the eyes")
    assert describe_region(np.full((SIDE, SIDE), 0.2, np.float32)) == "the whole face"
    shares = region_shares(heat)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_bad_input_says_what_it_expected():
    with pytest.raises(ValueError, match="preprocess_face"):
        occlusion_map(np.zeros((48, 40, 1)), lambda b: b)
    with pytest.raises(ValueError, match="patch"):
        occlusion_map(np.zeros((48, 48)), lambda b: b, patch=60)


@pytest.mark.slow
def test_the_real_model_looks_at_the_planted_smile():
    """The astronaut with her mouth blurred does not read happy; plant her smile back and the map finds it."""
    from ferdesk.vision.analyze import FaceAnalyzer
    from ferdesk.vision.explain import crop_for_box, explain_crop
    from tests.analysis_clips import astronaut_faces

    smile, hidden = astronaut_faces()
    height, width = smile.shape[:2]
    planted = hidden.copy()
    rows, cols = slice(int(height * 0.50), int(height * 0.78)), slice(int(width * 0.28), int(width * 0.72))
    planted[rows, cols] = smile[rows, cols]
    with FaceAnalyzer() as analyzer:
        (face,) = analyzer.analyze(planted)
        (hidden_face,) = analyzer.analyze(hidden)
        assert face.emotion == "happy" and hidden_face.emotion != "happy"
        crop = crop_for_box(analyzer.classifier, planted, face.box)
        explanation = explain_crop(analyzer.classifier, crop)
    assert explanation.label == "happy"
    # Where the planted rectangle lands in the 48x48 crop the classifier sees.
    from ferdesk.vision.geometry import face_crop_box

    box = face_crop_box(face.box, width, height, analyzer.classifier.info.box_scale)
    scale = SIDE / box.w
    top, bottom = (rows.start - box.y) * scale, (rows.stop - box.y) * scale
    left, right = (cols.start - box.x) * scale, (cols.stop - box.x) * scale
    peak_y, peak_x = np.unravel_index(np.argmax(explanation.heatmap), explanation.heatmap.shape)
    assert top <= peak_y <= bottom and left <= peak_x <= right, (peak_y, peak_x, top, bottom, left, right)
    assert explanation.region == "mostly the mouth"


@pytest.mark.slow
def test_predict_explain_writes_one_heatmap_per_face(tmp_path, capsys):
    from PIL import Image

    from ferdesk.predict import main as predict
    from tests.faces import three_faces

    canvas, _ = three_faces()
    Image.fromarray(canvas).save(tmp_path / "group.png")
    from tests.analysis_clips import astronaut

    Image.fromarray(astronaut()).save(tmp_path / "astronaut.png")
    out = tmp_path / "heatmaps"
    assert (
        predict(
            ["--json", "--explain", str(out), str(tmp_path / "astronaut.png"), str(tmp_path / "group.png")]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    written = sorted(p.name for p in out.iterdir())
    assert written[0] == "astronaut_face1_happy.png"
    assert [name.split("_")[0] for name in written] == ["astronaut", "group", "group", "group"]
    picture = Image.open(out / written[0])
    assert picture.size == (192, 192) and picture.mode == "RGB"


def test_predict_explain_into_a_file_is_a_usage_error(tmp_path, capsys):
    from PIL import Image

    from ferdesk.predict import main as predict
    from tests.analysis_clips import astronaut

    Image.fromarray(astronaut()).save(tmp_path / "a.png")
    (tmp_path / "taken").write_text("x")
    assert predict(["--explain", str(tmp_path / "taken"), str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err
    assert "--explain takes a folder" in err and "Traceback" not in err


@pytest.mark.slow
def test_the_e_key_command_explains_off_the_calling_thread():
    """The Qt-free half of the app's E key: a frame's face in, an overlay and a sentence out, elsewhere."""
    import threading

    from ferdesk.pipeline import LivePipeline
    from ferdesk.vision.analyze import FaceAnalyzer
    from ferdesk.vision.explain import FaceExplainer
    from ferdesk.vision.results import Frame
    from tests.analysis_clips import astronaut

    rgb = astronaut()
    with FaceAnalyzer() as analyzer:
        result = LivePipeline(analyzer).process(Frame(0, 0.0, rgb))
    done, errors, threads = [], [], []
    finished = threading.Event()

    def on_done(explanation):
        threads.append(threading.current_thread().name)
        done.append(explanation)
        finished.set()

    explainer = FaceExplainer(on_done, errors.append)
    try:
        assert explainer.request(result, who="Person 1")
        assert finished.wait(60)
        assert not explainer.request(result, track_id=999)
    finally:
        explainer.close()
    assert not explainer.is_alive
    (explanation,) = done
    assert threads == ["ferdesk-explain"]
    assert explanation.overlay.shape == (explanation.crop_box.h, explanation.crop_box.w, 3)
    assert explanation.sentence == "Person 1 appears happy, mostly because of the mouth."
    assert errors == ["There is no face to explain: none in view, or too small to read."]


@pytest.mark.slow
def test_the_session_command_speaks_the_region(tmp_path):
    """E in the app: the session's current face is explained off-thread and the reason is announced."""
    import threading

    from ferdesk.pipeline import LivePipeline
    from ferdesk.session import LaunchOptions, Session
    from ferdesk.session.settings import AppSettings
    from ferdesk.speech.log import SpeechLog
    from ferdesk.vision.analyze import FaceAnalyzer
    from ferdesk.vision.explain import ExplainCommand
    from ferdesk.vision.results import Frame
    from tests.analysis_clips import astronaut

    with FaceAnalyzer() as analyzer:
        result = LivePipeline(analyzer).process(Frame(0, 0.0, astronaut()))
    queued: list = []
    ui_thread = threading.current_thread()
    log_path = tmp_path / "speech.log"
    with SpeechLog(log_path) as speech_log:
        session = Session(
            AppSettings(), LaunchOptions(speech_enabled=False), speech_log=speech_log, call_soon=queued.append
        )
        session.current_result = result
        session.people.update(result.faces, 0.0)
        shown = []
        command = ExplainCommand(session, show=lambda e: shown.append((e, threading.current_thread())))
        try:
            assert command(person_number=1)
            for _ in range(600):  # the UI thread's event loop, by hand
                if queued:
                    break
                threading.Event().wait(0.1)
            assert queued, "the explanation never came back"
            queued.pop(0)()
        finally:
            command.close()
        assert not command(person_number=7)  # nobody with that number: said, not raised
    ((explanation, thread),) = shown
    assert thread is ui_thread and explanation.track_id == result.faces[0].track_id
    said = [line.split("\t", 1)[1] for line in log_path.read_text().splitlines()]
    assert said == [
        "Person 1 appears happy, mostly because of the mouth.",
        "There is no face to explain: none in view, or too small to read.",
    ]


@pytest.mark.slow
def test_e_in_the_window_shows_the_heatmap_and_says_the_region(qtbot, tmp_path):
    """The real window offscreen: E over the astronaut clip draws the heatmap and announces why."""
    import threading

    from PySide6.QtCore import QSettings

    from ferdesk.capture.synthetic import write_video
    from ferdesk.speech.screen_readers import ScreenReaderInfo
    from ferdesk.ui.main_window import LaunchOptions, MainWindow
    from ferdesk.ui.screen_reader import ScreenReaderBridge
    from ferdesk.ui.settings import SettingsStore
    from tests.analysis_clips import astronaut

    clip = tmp_path / "astronaut.mp4"
    write_video(clip, [astronaut()] * 20, fps=15.0)
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    reader = ScreenReaderBridge(watch=False)
    reader.set_info(ScreenReaderInfo(running=False))
    window = MainWindow(store, LaunchOptions(speech_enabled=False), screen_reader=reader)
    qtbot.addWidget(window)
    window.resize(1000, 640)
    window.show()
    qtbot.waitExposed(window)
    window.open_source_spec(str(clip))
    qtbot.waitUntil(
        lambda: window.video.result is not None and bool(window.video.result.faces), timeout=90_000
    )
    qtbot.waitUntil(lambda: bool(window.session.scene()), timeout=10_000)
    window.faces.setCurrentItem(window.faces.topLevelItem(0))
    window.commands["explain"].trigger()
    sentence = "Person 1 appears happy, mostly because of the mouth."
    qtbot.waitUntil(lambda: any(sentence in text for text in window.timeline.texts()), timeout=60_000)
    from PySide6.QtWidgets import QLabel

    overlay = window.findChild(QLabel, "explanationOverlay")
    assert overlay is not None and overlay.isVisible()
    assert window.video.rect().contains(overlay.geometry().center())
    assert overlay.accessibleDescription() == sentence
    assert "E" in [s.toString() for s in window.commands["explain"].shortcuts()]
    window.close()
    assert "ferdesk-explain" not in [t.name for t in threading.enumerate()]
