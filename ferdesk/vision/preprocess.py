"""The one preprocessing function for a face crop, shared by training, evaluation and the app.

A mismatch between how the model saw faces during training and how the app feeds them silently
ruins accuracy, so every path (the training readers, ``training.evaluate``, ``ferdesk predict`` and
the live pipeline) calls :func:`preprocess_face` and nothing else. ``tests/test_preprocess.py``
proves the training input pipeline and the app give the same array for the same file.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Side of the square grayscale input every shipped model takes (FER2013's native size).
INPUT_SIZE = 48


@dataclass(frozen=True)
class PreprocessSpec:
    """What a model expects; stored in its sidecar and checked when the model loads."""

    input_size: int = INPUT_SIZE
    color: str = "gray"
    scale: str = "0-1"

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "color": self.color, "scale": self.scale}


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return a 2-D uint8 grayscale view of an RGB, RGBA or already-gray uint8 image."""
    if image.dtype != np.uint8:
        raise TypeError(
            f"preprocess_face expects a uint8 image, got dtype {image.dtype}; load images with "
            "ferdesk.vision.imageio.load_image, which converts 16-bit and float images to uint8."
        )
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise ValueError(
        f"Expected an image of shape (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA, "
        f"got shape {image.shape}."
    )


def preprocess_face(crop: np.ndarray, input_size: int = INPUT_SIZE) -> np.ndarray:
    """Turn one face crop (RGB/RGBA/gray uint8, any size) into the model's input.

    Returns float32 of shape ``(input_size, input_size, 1)`` with values in [0, 1]. Area
    interpolation when shrinking (what FER2013's faces look like: averaged, not aliased) and
    cubic when enlarging a small face.
    """
    if crop.size == 0 or min(crop.shape[:2]) < 1:
        raise ValueError(f"Cannot preprocess an empty face crop of shape {crop.shape}.")
    gray = to_gray(crop)
    height, width = gray.shape
    if (height, width) != (input_size, input_size):
        shrinking = height > input_size or width > input_size
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        gray = cv2.resize(gray, (input_size, input_size), interpolation=interpolation)
    return (gray.astype(np.float32) / np.float32(255.0))[:, :, np.newaxis]


def preprocess_batch(crops: list[np.ndarray], input_size: int = INPUT_SIZE) -> np.ndarray:
    """Stack :func:`preprocess_face` over several crops into one ``(N, S, S, 1)`` batch."""
    if not crops:
        return np.zeros((0, input_size, input_size, 1), dtype=np.float32)
    return np.stack([preprocess_face(crop, input_size) for crop in crops])


#: Ten-crop views: crops of this share of the face's side (42 of 48 px, as the FER2013 records used).
TEN_CROP_SHARE = 0.875


def mirror_faces(faces: np.ndarray) -> np.ndarray:
    """Mirror a batch of faces ``(N, H, W, C)`` left to right (a face's mirror is still that face)."""
    return np.ascontiguousarray(faces[:, :, ::-1, :])


def ten_crops(faces: np.ndarray, share: float = TEN_CROP_SHARE) -> list[np.ndarray]:
    """Ten views of each preprocessed face: the four corner crops and the centre crop, each as is
    and mirrored, in that order, each resized back to the network's input size.

    ``faces`` is a batch ``(N, S, S, 1)`` of :func:`preprocess_face` outputs; each view has that
    shape too (networks and the app take whole faces). A test-time augmentation: the network sees
    the face shifted by a few pixels in each direction and the predictions are averaged. Training's
    evaluation (``training.evaluate``) and ferdesk's accurate mode both use this one definition.
    """
    if faces.ndim != 4 or faces.shape[1] != faces.shape[2] or faces.shape[3] != 1:
        raise ValueError(f"ten_crops expects faces of shape (N, S, S, 1); got {faces.shape}.")
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share == {share}, must be in (0, 1]: the crop's side as a share of the face's.")
    size = faces.shape[1]
    if len(faces) == 0:
        return [np.zeros(faces.shape, np.float32) for _ in range(10)]
    crop = round(size * share)
    far = size - crop
    mid = far // 2
    views = []
    for top, left in ((0, 0), (0, far), (far, 0), (far, far), (mid, mid)):
        window = faces[:, top : top + crop, left : left + crop, 0]
        resized = np.stack(
            [cv2.resize(face, (size, size), interpolation=cv2.INTER_LINEAR) for face in window]
        )
        view = resized[..., np.newaxis].astype(np.float32)
        views.extend([view, mirror_faces(view)])
    return views
