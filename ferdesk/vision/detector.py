"""Face detection with MediaPipe's BlazeFace, shipped in ``models/`` so it works offline.

mediapipe 1.2 ships no detector model; ``models/`` holds the two BlazeFace files from mediapipe
0.10.14's wheel (Apache-2.0, see ``models/MODEL_CARD.md``): ``short`` for faces within ~2 m of a
webcam and ``full`` (full-range sparse) for small faces and groups in photos.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferdesk.vision.geometry import Box, clip_box
from ferdesk.vision.native_logs import quiet_native_logs
from ferdesk.vision.paths import models_dir

DETECTOR_FILES: dict[str, str] = {
    "short": "blazeface_short_range.tflite",
    "full": "blazeface_full_range_sparse.tflite",
}


class DetectorError(RuntimeError):
    """The face detector could not be created; the message names the model file."""


@dataclass(frozen=True)
class Detection:
    """One detected face: its box in pixels (clipped to the image) and the detector's score."""

    box: Box
    score: float


_TF_DOCS = "tensorflow.tools.docs"


def _import_mediapipe_tasks():
    """Import MediaPipe's Tasks API without dragging in TensorFlow.

    MediaPipe imports TensorFlow, when it is installed, only to decorate its API docs: 5-10 s of
    start-up for nothing (the app runs on LiteRT). A ``None`` entry in ``sys.modules`` makes that one
    optional import fail at once, as it does where TensorFlow is absent; the entry is removed again
    so TensorFlow itself (training, tests) still imports normally later.
    """
    added = "tensorflow" not in sys.modules and _TF_DOCS not in sys.modules
    if added:
        sys.modules[_TF_DOCS] = None
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    finally:
        if added and sys.modules.get(_TF_DOCS, 0) is None:
            del sys.modules[_TF_DOCS]
    return mp, vision, BaseOptions


def detector_path(model: str | os.PathLike) -> Path:
    """Resolve ``short`` / ``full`` to the shipped file, or take a path to a BlazeFace .tflite."""
    if isinstance(model, str) and model in DETECTOR_FILES:
        return models_dir() / DETECTOR_FILES[model]
    return Path(model)


class FaceDetector:
    """BlazeFace through the MediaPipe Tasks API; use as a context manager (it must be closed).

    ``detect`` takes an RGB uint8 image of any size and returns boxes in that image's pixels.
    Images larger than ``max_side`` are detected on a downscaled copy (BlazeFace sees 128-192 px
    anyway) and the boxes scaled back, which keeps a 50 MP photo fast.
    """

    def __init__(
        self,
        model: str | os.PathLike = "full",
        min_score: float = 0.5,
        max_side: int = 1920,
    ) -> None:
        path = detector_path(model)
        if not path.is_file():
            raise DetectorError(
                f"Face detector model not found: {path}. Reinstall ferdesk or pass "
                f"'short', 'full' or the path of a BlazeFace .tflite file."
            )
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score == {min_score}, must be between 0 and 1.")
        self._mp, vision, BaseOptions = _import_mediapipe_tasks()
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_score,
        )
        try:
            with quiet_native_logs():
                self._detector = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise DetectorError(f"{path}: not a usable face detector model ({error}).") from None
        self.path = path
        self._first_call = True
        self.min_score = min_score
        self.max_side = max_side

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        mp = self._mp

        if self._detector is None:
            raise RuntimeError("FaceDetector is closed.")
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"detect expects an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}.")
        height, width = rgb.shape[:2]
        scale = 1.0
        image = rgb
        if max(height, width) > self.max_side:
            import cv2

            scale = self.max_side / max(height, width)
            image = cv2.resize(
                rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        if self._first_call:
            # LiteRT logs a one-off memory-alignment notice on the first inference.
            with quiet_native_logs():
                result = self._detector.detect(mp_image)
            self._first_call = False
        else:
            result = self._detector.detect(mp_image)
        detections = []
        for found in result.detections:
            bb = found.bounding_box
            box = Box(
                round(bb.origin_x / scale),
                round(bb.origin_y / scale),
                round(bb.width / scale),
                round(bb.height / scale),
            )
            box = clip_box(box, width, height)
            if box.w > 0 and box.h > 0:
                score = float(found.categories[0].score) if found.categories else 0.0
                detections.append(Detection(box, score))
        detections.sort(key=lambda d: (d.box.x, d.box.y))
        return detections

    def close(self) -> None:
        if getattr(self, "_detector", None) is not None:
            with quiet_native_logs():
                self._detector.close()
            self._detector = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
