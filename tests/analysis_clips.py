"""Short test videos for ``ferdesk analyze``, ``ferdesk.watch`` and the Ray engine, made on the fly.

All from public material: scikit-image's astronaut photo (the shipped demo's source) and, where
``../shared/data`` is present, two FER2013 PrivateTest faces with clear expressions. Nothing is
written to the repository.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ferdesk.capture.synthetic import ASTRONAUT_FACE, face_crop, pan_zoom, write_video

FPS = 15.0
SIZE = (640, 480)

#: Two FER2013 PrivateTest faces the shipped model reads clearly (checked by the tests that use them).
FER_HAPPY = "happy/PrivateTest_10077120.jpg"
FER_SURPRISE = "surprise/PrivateTest_12516829.jpg"


def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def astronaut_faces() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's smiling face, and the same face with the mouth blurred away (no smile)."""
    crop = face_crop(astronaut(), ASTRONAUT_FACE)
    height, width = crop.shape[:2]
    hidden = crop.copy()
    rows, cols = slice(int(height * 0.50), int(height * 0.78)), slice(int(width * 0.28), int(width * 0.72))
    hidden[rows, cols] = cv2.GaussianBlur(crop, (0, 0), 12)[rows, cols]
    return crop, hidden


def fer_faces(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """(happy, surprise) FER2013 faces as RGB uint8."""
    from ferdesk.vision.imageio import load_image

    root = Path(shared_data) / "fer2013" / "test"
    return load_image(root / FER_HAPPY), load_image(root / FER_SURPRISE)


def _paste(canvas: np.ndarray, face: np.ndarray, centre_x: int, centre_y: int, side: int) -> None:
    scaled = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    if scaled.ndim == 2:
        scaled = np.repeat(scaled[:, :, np.newaxis], 3, axis=2)
    top, left = centre_y - side // 2, centre_x - side // 2
    canvas[top : top + side, left : left + side] = scaled[:, :, :3]


def swap_frames(left: np.ndarray, right: np.ndarray, frames: int = 40, swap_at: int = 20, side: int = 200):
    """Two people side by side, gently moving; at ``swap_at`` they swap expressions (faces)."""
    width, height = SIZE
    for index in range(frames):
        canvas = np.full((height, width, 3), 60, np.uint8)
        first, second = (left, right) if index < swap_at else (right, left)
        bob = round(4 * math.sin(2 * math.pi * index / 15))
        _paste(canvas, first, width // 4 + bob, height // 2 - bob, side)
        _paste(canvas, second, 3 * width // 4 - bob, height // 2 + bob, side)
        yield canvas


def write_swap_clip(
    path: Path, left: np.ndarray, right: np.ndarray, frames: int = 40, swap_at: int = 20, side: int = 200
) -> Path:
    write_video(path, swap_frames(left, right, frames, swap_at, side), fps=FPS)
    return path


def write_one_face_clip(path: Path, frames: int = 30, fps: float = FPS, fourcc: str = "mp4v") -> Path:
    write_video(path, pan_zoom(astronaut(), frames, zoom=(1.0, 1.3), pan=0.2), fps=fps, fourcc=fourcc)
    return path


def write_corrupt_video(path: Path) -> Path:
    """Bytes that look like nothing: a .mp4 that no decoder opens."""
    path.write_bytes(np.random.default_rng(14).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    return path


def write_truncated_video(path: Path, frames: int = 30) -> Path:
    """An MJPG .avi cut in half: it opens and its header promises ``frames``, half of them decode."""
    full = path.with_name(path.stem + "_full.avi")
    write_one_face_clip(full, frames, fourcc="MJPG")
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_image_folder(folder: Path, frames: int = 6) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(pan_zoom(astronaut(), frames, zoom=(1.0, 1.2), pan=0.1)):
        Image.fromarray(frame).save(folder / f"frame{index}.png")
    return folder


def runs(values) -> list:
    """Consecutive duplicates collapsed: [a, a, b, b, a] -> [a, b, a]."""
    collapsed: list = []
    for value in values:
        if not collapsed or collapsed[-1] != value:
            collapsed.append(value)
    return collapsed
