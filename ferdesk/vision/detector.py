"""Face detection with MediaPipe's BlazeFace, shipped in ``models/`` so it works offline.

``models/`` holds the two BlazeFace files from mediapipe 0.10.14's wheel (Apache-2.0, see
``models/MODEL_CARD.md``): ``short`` for faces within ~2 m of a webcam and ``full`` (full-range
sparse) for small faces and groups in photos.

Two backends run them:

- ``litert`` (the default): LiteRT plus MediaPipe's own anchors, decoding and weighted NMS, in
  :mod:`ferdesk.vision.blazeface`. Opens no network socket.
- ``mediapipe``: the MediaPipe Tasks ``FaceDetector``. Its native library carries Google's Clearcut
  usage logger: it resolves ``play.googleapis.com`` and posts usage statistics to
  ``https://play.googleapis.com/log`` (and takes ~5 s longer to quit where that is unreachable);
  there is no supported switch to turn that off. Only for users who opt in, with
  ``FERDESK_DETECTOR_BACKEND=mediapipe`` or ``FaceDetector(..., backend="mediapipe")``. See
  ``docs/privacy.md``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferdesk.vision.blazeface import BlazeFaceLiteRT
from ferdesk.vision.geometry import Box, clip_box
from ferdesk.vision.model_files import TRUST_MODEL_ENV, file_sha256, trust_model_from_environment
from ferdesk.vision.native_logs import quiet_native_logs
from ferdesk.vision.paths import MODELS_ENV, models_dir

#: Names ``FaceDetector(backend=...)`` and ``$FERDESK_DETECTOR_BACKEND`` accept.
BACKENDS = ("litert", "mediapipe")
DEFAULT_BACKEND = "litert"
BACKEND_ENV = "FERDESK_DETECTOR_BACKEND"

DETECTOR_FILES: dict[str, str] = {
    "short": "blazeface_short_range.tflite",
    "full": "blazeface_full_range_sparse.tflite",
}


#: SHA-256 of the shipped files: a damaged copy is refused instead of quietly finding other faces.
#: Checked for ``short``/``full`` from the shipped folder (not with ``$FERDESK_MODELS``, not for
#: a path the user names); ``$FERDESK_TRUST_MODEL=1`` skips it for a file changed on purpose.
DETECTOR_SHA256: dict[str, str] = {
    "blazeface_short_range.tflite": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "blazeface_full_range_sparse.tflite": "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
}


class DetectorError(RuntimeError):
    """The face detector could not be created; the message names the model file."""


@dataclass(frozen=True)
class Detection:
    """One detected face: its box in pixels (clipped to the image) and the detector's score."""

    box: Box
    score: float


_TF_DOCS = "tensorflow.tools.docs"

#: What to install for the opt-in backend: ferdesk's own pin (keep in step with pyproject.toml's
#: dependencies; tests/test_detector_backends.py checks that it is).
MEDIAPIPE_REQUIREMENT = "mediapipe>=1.2.2,<1.3"


def _mediapipe_missing(error: ImportError) -> DetectorError:
    """Why the opt-in backend cannot run, and the two ways out (install it, or use the default)."""
    return DetectorError(
        f"The MediaPipe detector backend was asked for (${BACKEND_ENV}=mediapipe or "
        f"backend='mediapipe'), but MediaPipe is not installed here ({error}); the desktop bundle "
        f"leaves it out. Install it with: pip install '{MEDIAPIPE_REQUIREMENT}', or unset "
        f"{BACKEND_ENV} to use the default, fully offline 'litert' backend."
    )


def _import_mediapipe_tasks():
    """Import MediaPipe's Tasks API without dragging in TensorFlow.

    MediaPipe imports TensorFlow, when it is installed, only to decorate its API docs: 5-10 s of
    start-up for nothing (the app runs on LiteRT). A ``None`` entry in ``sys.modules`` makes that one
    optional import fail at once, as it does where TensorFlow is absent; the entry is removed again
    so TensorFlow itself (training, tests) still imports normally later.

    Raises :class:`DetectorError` (what to install, or to unset the variable) where MediaPipe
    cannot be imported, e.g. in the PyInstaller bundle, which drops it.
    """
    added = "tensorflow" not in sys.modules and _TF_DOCS not in sys.modules
    if added:
        sys.modules[_TF_DOCS] = None  # type: ignore[assignment]  # Python's "import blocked" marker
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    except ImportError as error:  # absent (the bundle), or a broken install: the message says which
        raise _mediapipe_missing(error) from None
    finally:
        if added and sys.modules.get(_TF_DOCS, 0) is None:
            del sys.modules[_TF_DOCS]
    return mp, vision, BaseOptions


def resolve_backend(backend: str | None = None) -> str:
    """The backend to use: ``backend``, else ``$FERDESK_DETECTOR_BACKEND``, else ``litert``."""
    chosen = backend if backend is not None else (os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND)
    name = chosen.strip().lower()
    if name not in BACKENDS:
        source = "backend" if backend is not None else f"${BACKEND_ENV}"
        raise DetectorError(
            f"{source} == {chosen!r}, must be one of {', '.join(repr(b) for b in BACKENDS)}: "
            f"'litert' (default, fully offline) or 'mediapipe' (MediaPipe Tasks, which sends usage "
            f"statistics to Google)."
        )
    return name


def detector_path(model: str | os.PathLike) -> Path:
    """Resolve ``short`` / ``full`` to the shipped file, or take a path to a BlazeFace .tflite."""
    if isinstance(model, str) and model in DETECTOR_FILES:
        return models_dir() / DETECTOR_FILES[model]
    return Path(model)


def check_shipped_detector(model: str | os.PathLike, path: Path) -> None:
    """Refuse a shipped detector file whose bytes are not the ones ferdesk was released with."""
    if not (isinstance(model, str) and model in DETECTOR_FILES) or os.environ.get(MODELS_ENV):
        return
    if trust_model_from_environment():
        return
    expected = DETECTOR_SHA256.get(path.name)
    try:
        actual = file_sha256(path)
    except OSError as error:
        reason = error.strerror or error
        raise DetectorError(f"{path}: the face detector cannot be read ({reason}).") from None
    if expected is not None and actual != expected:
        raise DetectorError(
            f"{path}: the face detector file is damaged or was changed: its SHA-256 is {actual[:16]}..., "
            f"the released file's is {expected[:16]}.... Reinstall ferdesk to restore it; if you changed "
            f"it on purpose, run with --trust-model (or {TRUST_MODEL_ENV}=1)."
        )


class _TasksBackend:
    """The MediaPipe Tasks ``FaceDetector`` (opt-in: its runtime phones home, see module notes)."""

    def __init__(self, path: Path, min_score: float) -> None:
        self._mp, vision, BaseOptions = _import_mediapipe_tasks()
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_score,
        )
        with quiet_native_logs():
            self._detector = vision.FaceDetector.create_from_options(options)
        self._first_call = True

    def detect(self, rgb: np.ndarray) -> list[tuple[int, int, int, int, float]]:
        mp = self._mp
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self._first_call:
            # LiteRT logs a one-off memory-alignment notice on the first inference.
            with quiet_native_logs():
                result = self._detector.detect(mp_image)
            self._first_call = False
        else:
            result = self._detector.detect(mp_image)
        faces = []
        for found in result.detections:
            bb = found.bounding_box
            score = float(found.categories[0].score) if found.categories else 0.0
            faces.append((bb.origin_x, bb.origin_y, bb.width, bb.height, score))
        return faces

    def close(self) -> None:
        with quiet_native_logs():
            self._detector.close()


class FaceDetector:
    """BlazeFace on RGB images; use as a context manager (it must be closed).

    ``detect`` takes an RGB uint8 image of any size and returns boxes in that image's pixels.
    Images larger than ``max_side`` are detected on a downscaled copy (BlazeFace sees 128-192 px
    anyway) and the boxes scaled back, which keeps a 50 MP photo fast. Any aspect ratio is
    accepted: a 5000x1 strip simply has no face. ``backend`` picks the runtime (see the module
    notes); None takes ``$FERDESK_DETECTOR_BACKEND`` or the offline default ``litert``.
    """

    def __init__(
        self,
        model: str | os.PathLike = "full",
        min_score: float = 0.5,
        max_side: int = 1920,
        backend: str | None = None,
    ) -> None:
        path = detector_path(model)
        if not path.is_file():
            raise DetectorError(
                f"Face detector model not found: {path}. Reinstall ferdesk or pass "
                f"'short', 'full' or the path of a BlazeFace .tflite file."
            )
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score == {min_score}, must be between 0 and 1.")
        if max_side < 16:
            raise ValueError(f"max_side == {max_side}, must be >= 16 pixels.")
        check_shipped_detector(model, path)
        self.backend = resolve_backend(backend)
        self._detector: _TasksBackend | BlazeFaceLiteRT | None = None
        try:
            if self.backend == "mediapipe":
                self._detector = _TasksBackend(path, min_score)
            else:
                self._detector = BlazeFaceLiteRT(path, min_score)
        except DetectorError:  # already says what is wrong (MediaPipe missing): not the model's fault
            raise
        except (RuntimeError, ValueError) as error:
            raise DetectorError(f"{path}: not a usable face detector model ({error}).") from None
        self.path = path
        self.min_score = min_score
        self.max_side = max_side

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if self._detector is None:
            raise RuntimeError("FaceDetector is closed.")
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"detect expects an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}.")
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            return []
        scale_x = scale_y = 1.0
        image = rgb
        if max(height, width) > self.max_side:
            import cv2

            scale = self.max_side / max(height, width)
            # A side never rounds to 0 (cv2.resize refuses it): a 5000x1 strip becomes 1920x1.
            new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
            image = cv2.resize(rgb, (new_width, new_height), interpolation=cv2.INTER_AREA)
            scale_x, scale_y = new_width / width, new_height / height
        detections = []
        for x, y, w, h, score in self._detector.detect(image):
            box = clip_box(
                Box(round(x / scale_x), round(y / scale_y), round(w / scale_x), round(h / scale_y)),
                width,
                height,
            )
            if box.w > 0 and box.h > 0:
                detections.append(Detection(box, score))
        detections.sort(key=lambda d: (d.box.x, d.box.y))
        return detections

    def close(self) -> None:
        detector = getattr(self, "_detector", None)
        if detector is not None:
            detector.close()
            self._detector = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
