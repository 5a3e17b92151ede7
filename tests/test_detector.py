"""BlazeFace from the shipped models: boxes in pixels, any image size, explicit close."""

from __future__ import annotations

import numpy as np
import pytest

from ferdesk.vision.detector import DetectorError, FaceDetector
from tests.faces import three_faces


@pytest.mark.parametrize("model", ["short", "full"])
def test_astronaut_has_one_face_over_her_face(astronaut_rgb, model):
    with FaceDetector(model) as detector:
        detections = detector.detect(astronaut_rgb)
    assert len(detections) == 1
    box = detections[0].box
    cx, cy = box.center
    assert 190 < cx < 260 and 90 < cy < 160, box
    assert 70 < box.w < 140
    assert detections[0].score > 0.8


def test_three_faces_in_the_right_places():
    canvas, centres = three_faces()
    with FaceDetector("full") as detector:
        detections = detector.detect(canvas)
    assert len(detections) == 3
    found = sorted(d.box.center[0] for d in detections)
    for x, expected in zip(found, centres, strict=True):
        assert abs(x - expected) < 40


def test_huge_image_is_detected_on_a_downscaled_copy(astronaut_rgb):
    import cv2

    big = cv2.resize(astronaut_rgb, (4096, 4096), interpolation=cv2.INTER_LINEAR)
    with FaceDetector("full", max_side=1024) as detector:
        detections = detector.detect(big)
    assert len(detections) == 1
    cx, cy = detections[0].box.center
    assert 1500 < cx < 2100 and 700 < cy < 1300  # boxes come back in the big image's pixels


def test_no_face_and_bad_input():
    with FaceDetector("short") as detector:
        assert detector.detect(np.full((480, 640, 3), 127, np.uint8)) == []
        with pytest.raises(ValueError, match="RGB uint8"):
            detector.detect(np.zeros((10, 10), np.float32))
    with pytest.raises(RuntimeError, match="closed"):
        detector.detect(np.zeros((10, 10, 3), np.uint8))


def test_missing_or_wrong_detector_model(tmp_path):
    with pytest.raises(DetectorError, match="not found"):
        FaceDetector(tmp_path / "nope.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(DetectorError, match=r"junk\.tflite"):
        FaceDetector(junk)


@pytest.mark.parametrize("backend", ["litert", "mediapipe"])
@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1), (1, 1), (3, 100_000), (2, 7)])
def test_any_aspect_ratio_gives_no_face_instead_of_a_crash(backend, shape):
    # Downscaling a 5000x1 strip once rounded its short side to 0 and cv2.resize raised.
    with FaceDetector("full", max_side=1920, backend=backend) as detector:
        assert detector.detect(np.zeros((*shape, 3), np.uint8)) == []
        assert detector.detect(np.zeros((0, 10, 3), np.uint8)) == []


def test_a_face_in_a_long_strip_keeps_its_box(astronaut_rgb):
    # 512x1301 downscales to 403x1024: x and y factors differ a little, boxes still map back.
    strip = np.zeros((512, 1301, 3), np.uint8)
    strip[:, 700:1212] = astronaut_rgb
    with FaceDetector("full", max_side=1024) as detector:
        detections = detector.detect(strip)
    assert len(detections) == 1
    cx, cy = detections[0].box.center
    assert 890 < cx < 960 and 90 < cy < 160, detections


def test_backend_is_litert_by_default_and_chosen_by_name_or_environment(monkeypatch):
    monkeypatch.delenv("FERDESK_DETECTOR_BACKEND", raising=False)
    with FaceDetector("short") as detector:
        assert detector.backend == "litert"
    monkeypatch.setenv("FERDESK_DETECTOR_BACKEND", "MediaPipe")
    with FaceDetector("short") as detector:
        assert detector.backend == "mediapipe"
    with FaceDetector("short", backend="litert") as detector:
        assert detector.backend == "litert"
    monkeypatch.setenv("FERDESK_DETECTOR_BACKEND", "tensorflow")
    with pytest.raises(DetectorError, match=r"FERDESK_DETECTOR_BACKEND == 'tensorflow', must be one of"):
        FaceDetector("short")


def test_a_tflite_that_is_not_blazeface_is_refused(tmp_path):
    from ferdesk.vision.paths import default_emotion_model

    with pytest.raises(DetectorError, match=r"emotion\.tflite: not a usable face detector.*2 outputs"):
        FaceDetector(default_emotion_model())


def test_a_misspelt_backend_stops_the_app_at_start_up(monkeypatch, capsys):
    from ferdesk.ui.app import main as app_main

    monkeypatch.setenv("FERDESK_DETECTOR_BACKEND", "mediapip")
    assert app_main(["--source", "demo", "--quit-after", "2", "--no-speech"]) == 2
    message = "FERDESK_DETECTOR_BACKEND == 'mediapip', must be one of 'litert', 'mediapipe'"
    assert message in capsys.readouterr().err


def test_a_damaged_shipped_detector_is_refused(tmp_path, monkeypatch):
    """Seeded bit flips in a copy of each shipped BlazeFace file: refused, unless trusted on purpose."""
    import shutil

    import ferdesk.vision.detector as detector_module

    monkeypatch.delenv("FERDESK_MODELS", raising=False)
    monkeypatch.delenv("FERDESK_TRUST_MODEL", raising=False)
    shipped = detector_module.models_dir()
    monkeypatch.setattr(detector_module, "models_dir", lambda: tmp_path)
    rng = np.random.default_rng(11)
    for name, file_name in detector_module.DETECTOR_FILES.items():
        original = (shipped / file_name).read_bytes()
        shutil.copy(shipped / file_name, tmp_path / file_name)
        with FaceDetector(name):  # the released bytes load
            pass
        for _ in range(10):
            damaged = bytearray(original)
            damaged[int(rng.integers(len(damaged)))] ^= 1 << int(rng.integers(8))
            (tmp_path / file_name).write_bytes(bytes(damaged))
            with pytest.raises(DetectorError, match=r"damaged or was changed.*--trust-model"):
                FaceDetector(name)
    # A file edited on purpose (still a valid model) loads when the user says so.
    short_file = detector_module.DETECTOR_FILES["short"]
    (tmp_path / short_file).write_bytes((shipped / short_file).read_bytes() + b"\0" * 16)
    monkeypatch.setenv("FERDESK_TRUST_MODEL", "1")
    with FaceDetector("short") as detector:
        assert detector.detect(np.full((64, 64, 3), 127, np.uint8)) == []
