"""The live crop gives the model training's array: detector box → ``face_crop_box(box_scale)`` →
the very pixels training's reader makes of that crop saved as an image file.

The live pipeline classifies faces it cut out of a camera frame; training learned from face images
read by ``training.data``. Here the real :class:`~ferdesk.pipeline.LivePipeline` (real BlazeFace
detector, shipped model) runs on the astronaut photo; what it hands the model must equal, bit for
bit, what training's reader gives for the crop ``face_crop_box`` describes — with the model's own
``box_scale`` — written to a lossless file. If the crop drifted (another scale, not square, a
colour or resize step of its own), this fails.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from ferdesk.pipeline import LivePipeline
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.geometry import face_crop_box
from ferdesk.vision.results import Frame
from training.data import read_class_folders


def test_the_live_crop_is_the_array_training_reads(tmp_path, astronaut_rgb):
    with FaceAnalyzer() as analyzer:
        classifier = analyzer.classifier
        detections = analyzer.detector.detect(astronaut_rgb)
        assert len(detections) == 1, detections
        fed: list[np.ndarray] = []
        real_predict = classifier.predict

        def recording_predict(faces: np.ndarray, **options) -> np.ndarray:
            fed.append(np.array(faces, copy=True))
            return real_predict(faces, **options)

        classifier.predict = recording_predict
        try:
            result = LivePipeline(analyzer).process(Frame(0, time.monotonic(), astronaut_rgb))
        finally:
            del classifier.predict
        assert len(result.faces) == 1 and len(fed) == 1

        height, width = astronaut_rgb.shape[:2]
        box = detections[0].box
        scale = classifier.info.box_scale
        crop = face_crop_box(box, width, height, scale)
        # Square, enlarged by the model's box_scale around the detector box, inside the frame.
        assert crop.w == crop.h == round(max(box.w, box.h) * scale)
        assert crop.x <= box.x and crop.y <= box.y
        assert crop.x + crop.w >= box.x + box.w and crop.y + crop.h >= box.y + box.h

        folder = tmp_path / "faces" / "happy"
        folder.mkdir(parents=True)
        pixels = astronaut_rgb[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / "crop.png")
        training = read_class_folders(tmp_path / "faces")
        assert training.images.shape == (1, classifier.input_size, classifier.input_size, 1)
        assert fed[0].dtype == np.float32
        assert np.array_equal(fed[0][:1], training.images), "the live crop differs from training's array"
        # ... and the announced reading comes from exactly those pixels.
        expected = real_predict(training.images)[0]
        assert result.faces[0].emotion == classifier.labels[int(np.argmax(expected))]
