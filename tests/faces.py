"""Test images with real faces, made from scikit-image's public-domain astronaut photo."""

from __future__ import annotations

import cv2
import numpy as np

#: The astronaut's face region in skimage.data.astronaut() (512x512), with margin.
ASTRONAUT_FACE = (150, 40, 150, 170)  # x, y, w, h


def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def face_crop(size: int = 150) -> np.ndarray:
    x, y, w, h = ASTRONAUT_FACE
    crop = astronaut()[y : y + h, x : x + w]
    return cv2.resize(crop, (size, round(size * h / w)), interpolation=cv2.INTER_AREA)


def three_faces(width: int = 960, height: int = 400, face_size: int = 150) -> tuple[np.ndarray, list[int]]:
    """A canvas with three astronaut faces side by side; returns it and the faces' centre x."""
    canvas = np.full((height, width, 3), 90, np.uint8)
    crop = face_crop(face_size)
    centres = []
    for third in range(3):
        cx = round(width * (third + 0.5) / 3)
        left = cx - crop.shape[1] // 2
        top = (height - crop.shape[0]) // 2
        canvas[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
        centres.append(cx)
    return canvas, centres
