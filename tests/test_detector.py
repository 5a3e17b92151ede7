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
