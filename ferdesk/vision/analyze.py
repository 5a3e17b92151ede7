"""From an image to faces with emotions: detect → crop → preprocess → classify.

:class:`FaceAnalyzer` holds one detector and one classifier and is what both ``ferdesk predict``
and the live pipeline call per image or frame. It has no Qt import and no threads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.vision.classifier import EmotionClassifier
from ferdesk.vision.detector import Detection, FaceDetector
from ferdesk.vision.ensemble import EnsembleClassifier, FaceClassifier
from ferdesk.vision.geometry import MIN_FACE_SIZE, Box, face_crop_box
from ferdesk.vision.imageio import load_image

#: Below this many pixels on its short side an image cannot hold a face any detector finds.
MIN_DETECTABLE_SIDE = 8

#: BlazeFace letterboxes the whole image into a 128/192-pixel square: beyond this aspect ratio the
#: short side is under ~1.5 pixels in the detector's input, so no face can be seen (and resizing the
#: image to that input would round its short side to 0 pixels, which OpenCV refuses).
MAX_DETECTABLE_ASPECT = 128


def can_hold_a_face(height: int, width: int) -> bool:
    """False for images too small or too elongated (5000x1, 1x5000) for the detector to see a face."""
    short, long = min(height, width), max(height, width)
    return short >= MIN_DETECTABLE_SIDE and long <= MAX_DETECTABLE_ASPECT * short


@dataclass
class Face:
    """One face in an image.

    ``emotion`` is None when the face is too small to classify (``too_small`` is then True):
    reported, never guessed.
    """

    box: Box
    detection_score: float
    emotion: str | None
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)
    too_small: bool = False

    def to_json(self) -> dict:
        return {
            "box": self.box.as_list(),
            "emotion": self.emotion,
            "confidence": round(float(self.confidence), 4),
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
        }


class FaceAnalyzer:
    """Detector + classifier; close it (or use ``with``) to release the detector.

    The classifier is the model at ``model_path`` (default: the shipped one); with
    ``accurate=True`` the accurate-mode ensemble of the shipped manifest
    (:mod:`ferdesk.vision.ensemble`: several networks and views, slower per face); or any
    ``classifier`` object already built (an :class:`EmotionClassifier` or
    :class:`EnsembleClassifier`). The three are exclusive.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        detector: str | os.PathLike = "full",
        min_detection_score: float = 0.5,
        min_face_size: int = MIN_FACE_SIZE,
        num_threads: int = 1,
        flip_tta: bool | None = None,
        *,
        accurate: bool = False,
        classifier: FaceClassifier | None = None,
    ) -> None:
        chosen = [
            name
            for name, given in (
                ("model_path", model_path is not None),
                ("accurate=True", accurate),
                ("classifier", classifier is not None),
            )
            if given
        ]
        if len(chosen) > 1:
            raise ValueError(
                f"FaceAnalyzer takes one of model_path, accurate=True and classifier; got {chosen}."
            )
        if flip_tta is not None and (accurate or classifier is not None):
            raise ValueError(
                "flip_tta applies to a model loaded from model_path; the accurate-mode manifest "
                "and a classifier object choose their own views."
            )
        self.classifier: FaceClassifier
        if classifier is not None:
            self.classifier = classifier
        elif accurate:
            self.classifier = EnsembleClassifier.from_manifest(num_threads=num_threads)
        else:
            self.classifier = EmotionClassifier(model_path, num_threads=num_threads, flip_tta=flip_tta)
        self._detector_spec = detector
        self._min_detection_score = min_detection_score
        self._detector: FaceDetector | None = None
        self.min_face_size = min_face_size

    @property
    def detector(self) -> FaceDetector:
        # Created on first use: '--faces whole' never needs it.
        if self._detector is None:
            self._detector = FaceDetector(self._detector_spec, self._min_detection_score)
        return self._detector

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def _faces_from_probabilities(self, boxes, scores, probabilities, small) -> list[Face]:
        faces: list[Face] = []
        row = 0
        for box, score, is_small in zip(boxes, scores, small, strict=True):
            if is_small:
                faces.append(Face(box, score, None, 0.0, {}, too_small=True))
                continue
            probs = probabilities[row]
            row += 1
            best = int(np.argmax(probs))
            faces.append(
                Face(
                    box=box,
                    detection_score=score,
                    emotion=self.labels[best],
                    confidence=float(probs[best]),
                    probabilities={label: float(p) for label, p in zip(self.labels, probs, strict=True)},
                )
            )
        return faces

    def classify_boxes(
        self, rgb: np.ndarray, detections: list[Detection], *, view: str | None = None
    ) -> list[Face]:
        """Classify already-detected faces (the live pipeline detects and classifies separately).

        ``view`` ("plain" or "mirror", one pass each) applies to a single model
        (:meth:`EmotionClassifier.predict`); an ensemble always runs its manifest's views.
        """
        height, width = rgb.shape[:2]
        boxes, scores, small, crops = [], [], [], []
        for detection in detections:
            crop_box = face_crop_box(detection.box, width, height, self.classifier.info.box_scale)
            too_small = min(crop_box.w, crop_box.h) < self.min_face_size
            boxes.append(detection.box)
            scores.append(detection.score)
            small.append(too_small)
            if not too_small:
                crops.append(rgb[crop_box.y : crop_box.y + crop_box.h, crop_box.x : crop_box.x + crop_box.w])
        if not crops:
            probabilities = np.zeros((0, len(self.labels)))
        elif view is not None and isinstance(self.classifier, EmotionClassifier):
            probabilities = self.classifier.classify_crops(crops, view=view)
        else:
            probabilities = self.classifier.classify_crops(crops)
        return self._faces_from_probabilities(boxes, scores, probabilities, small)

    def analyze(self, rgb: np.ndarray, faces: str = "auto") -> list[Face]:
        """Faces in an RGB uint8 image; ``faces='whole'`` treats the whole image as one face crop."""
        if faces == "whole":
            return self.analyze_whole([rgb])[0]
        if faces != "auto":
            raise ValueError(f"faces == {faces!r}, must be 'auto' or 'whole'.")
        if rgb.ndim >= 2 and not can_hold_a_face(int(rgb.shape[0]), int(rgb.shape[1])):
            return []
        return self.classify_boxes(rgb, self.detector.detect(rgb))

    def analyze_whole(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Each image is one face crop (e.g. FER2013); classified in one batch, one face per image."""
        probabilities = self.classifier.classify_crops(list(images))
        return [
            self._faces_from_probabilities(
                [Box(0, 0, int(image.shape[1]), int(image.shape[0]))], [1.0], probs[np.newaxis], [False]
            )
            for image, probs in zip(images, probabilities, strict=True)
        ]

    def analyze_file(self, path: str | os.PathLike, faces: str = "auto") -> list[Face]:
        return self.analyze(load_image(path), faces)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def analyze_image(
    image: str | os.PathLike | np.ndarray,
    model_path: str | os.PathLike | None = None,
    faces: str = "auto",
    detector: str = "full",
) -> list[Face]:
    """One-call API: ``analyze_image("photo.jpg")`` → faces with box, emotion, confidence.

    For many images, create one :class:`FaceAnalyzer` and reuse it (loading costs ~50 ms).
    """
    with FaceAnalyzer(model_path, detector=detector) as analyzer:
        if isinstance(image, (str, Path, os.PathLike)):
            return analyzer.analyze_file(image, faces)
        return analyzer.analyze(np.asarray(image), faces)
