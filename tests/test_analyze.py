"""From an image to faces with emotions, with the real detector and the shipped model."""

from __future__ import annotations

import numpy as np

from ferdesk import FaceAnalyzer, analyze_image
from ferdesk.vision.emotions import EMOTIONS
from tests.faces import three_faces


def test_astronaut_smiles(astronaut_rgb):
    faces = analyze_image(astronaut_rgb)
    assert len(faces) == 1
    face = faces[0]
    assert face.emotion == "happy", face.probabilities
    assert set(face.probabilities) == set(EMOTIONS)
    assert abs(sum(face.probabilities.values()) - 1.0) < 1e-3
    assert face.confidence == max(face.probabilities.values())


def test_three_faces_three_results_left_to_right():
    canvas, centres = three_faces()
    with FaceAnalyzer() as analyzer:
        faces = analyzer.analyze(canvas)
    assert len(faces) == 3
    for face, expected in zip(faces, centres, strict=True):
        assert abs(face.box.center[0] - expected) < 40
        assert face.emotion in EMOTIONS


def test_faces_too_small_are_reported_not_guessed(astronaut_rgb):
    import cv2

    with FaceAnalyzer(detector="full", min_face_size=200) as analyzer:
        faces = analyzer.analyze(cv2.resize(astronaut_rgb, (512, 512)))
    assert len(faces) == 1
    assert faces[0].too_small and faces[0].emotion is None and faces[0].probabilities == {}


def test_no_face_gives_an_empty_list():
    assert analyze_image(np.full((240, 320, 3), 200, np.uint8)) == []


def test_whole_image_mode_classifies_the_image_as_one_crop(astronaut_rgb):
    faces = analyze_image(astronaut_rgb[40:210, 150:300], faces="whole")
    assert len(faces) == 1
    assert faces[0].box.as_list() == [0, 0, 150, 170]


def test_analyze_file(tmp_path, astronaut_rgb):
    from PIL import Image

    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut_rgb).save(path)
    faces = analyze_image(path)
    assert len(faces) == 1 and faces[0].emotion == "happy"
