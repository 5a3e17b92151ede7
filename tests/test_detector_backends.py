"""The offline LiteRT BlazeFace gives the boxes MediaPipe's Tasks FaceDetector gives.

The default backend re-implements MediaPipe's letterboxing, SSD anchors, box decoding and weighted
NMS (``ferdesk.vision.blazeface``); this compares it with the Tasks runtime on real faces — every
scene of ``tests/detector_scenes.py`` plus FER2013 faces in a scene when the data set is present —
for both shipped models: the same number of faces, each LiteRT box overlapping a Tasks box with
IoU >= 0.95. (This module loads the Tasks runtime on purpose, so it is the one place in the
suite where MediaPipe's usage logger runs; ``tests/test_no_network.py`` checks the app does not.)
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from ferdesk.vision.blazeface import ANCHOR_OPTIONS, ssd_anchor_centres, weighted_nms
from ferdesk.vision.detector import BACKEND_ENV, MEDIAPIPE_REQUIREMENT, DetectorError, FaceDetector
from ferdesk.vision.geometry import Box
from tests.detector_scenes import fer_scenes, scenes

MIN_IOU = 0.95


def iou(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a.area + b.area - inter)


def _compare(tasks: FaceDetector, litert: FaceDetector, images: dict[str, np.ndarray]) -> int:
    faces = 0
    for name, image in images.items():
        expected = tasks.detect(image)
        found = litert.detect(image)
        assert len(found) == len(expected), f"{name}: LiteRT {found} vs Tasks {expected}"
        unmatched = list(expected)
        for detection in found:
            best = max(unmatched, key=lambda other: iou(detection.box, other.box))
            overlap = iou(detection.box, best.box)
            assert overlap >= MIN_IOU, f"{name}: {detection} vs {best}: IoU {overlap:.3f}"
            assert abs(detection.score - best.score) < 0.02, (name, detection, best)
            unmatched.remove(best)
        faces += len(found)
    return faces


@pytest.fixture(scope="module")
def all_scenes() -> dict[str, np.ndarray]:
    return scenes()


@pytest.mark.parametrize("model, min_faces", [("short", 15), ("full", 25)])
def test_litert_boxes_match_the_tasks_face_detector(all_scenes, model, min_faces):
    with FaceDetector(model, backend="mediapipe") as tasks, FaceDetector(model, backend="litert") as litert:
        assert litert.backend == "litert" and tasks.backend == "mediapipe"
        faces = _compare(tasks, litert, all_scenes)
    assert faces >= min_faces  # the scenes really exercise faces, not just empty frames


@pytest.mark.parametrize("model", ["short", "full"])
def test_litert_boxes_match_on_fer2013_faces_in_a_scene(shared_data, model):
    with FaceDetector(model, backend="mediapipe") as tasks, FaceDetector(model, backend="litert") as litert:
        assert _compare(tasks, litert, fer_scenes(shared_data)) >= 3


def test_anchor_counts_are_mediapipes():
    short = ssd_anchor_centres(ANCHOR_OPTIONS[128])
    full = ssd_anchor_centres(ANCHOR_OPTIONS[192])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # Stride 8: 16x16 cells, 2 anchors each, first cell centre (0.5/16, 0.5/16).
    assert np.allclose(short[0], [1 / 32, 1 / 32]) and np.allclose(short[1], short[0])
    # Stride 16 layers merged: 8x8 cells with 6 anchors each after the 512 stride-8 ones.
    assert np.allclose(short[512:518], [1 / 16, 1 / 16])
    assert np.allclose(full[1], [1.5 / 48, 0.5 / 48])


def test_weighted_nms_averages_overlapping_boxes_by_score():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.1, 1.1, 1.1], [5, 5, 6, 6]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    kept = weighted_nms(boxes, scores, 0.3)
    assert [round(score, 2) for _, score in kept] == [0.9, 0.8]
    assert np.allclose(kept[0][0], [0.04, 0.04, 1.04, 1.04])  # (0.9*0 + 0.6*0.1) / 1.5
    assert np.allclose(kept[1][0], boxes[2])


def test_mediapipe_backend_without_mediapipe_says_how_to_install_it_or_unset_the_variable(monkeypatch):
    # As in the PyInstaller bundle, which drops mediapipe: a None entry makes `import mediapipe` fail.
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    monkeypatch.setenv(BACKEND_ENV, "mediapipe")
    with pytest.raises(DetectorError) as caught:
        FaceDetector("full")
    message = str(caught.value)
    assert "\n" not in message
    assert "MediaPipe is not installed" in message
    assert f"pip install '{MEDIAPIPE_REQUIREMENT}'" in message
    assert f"unset {BACKEND_ENV}" in message and "'litert'" in message
    assert "not a usable face detector model" not in message  # the shipped model is not to blame
    # The same with the backend asked for in code rather than by the variable.
    monkeypatch.delenv(BACKEND_ENV)
    with pytest.raises(DetectorError, match="MediaPipe is not installed"):
        FaceDetector("short", backend="mediapipe")
    # The default backend never needs MediaPipe.
    with FaceDetector("full") as detector:
        assert detector.backend == "litert"


def test_the_install_hint_is_ferdesks_own_mediapipe_pin():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert MEDIAPIPE_REQUIREMENT in pyproject["project"]["dependencies"]
