"""Real-face test scenes for comparing detector backends: every aspect, size and crop.

Built from public-domain or bundled images only: ``skimage.data.astronaut()``, scikit-image's
LFW subset (real faces, 25x25), the demo clip's frames, and FER2013 faces when the shared data
set is present (``fer_scenes``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.faces import astronaut, face_crop, three_faces


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def lfw_mosaic(columns: int = 5, rows: int = 2, size: int = 110, gap: int = 30, seed: int = 3) -> np.ndarray:
    """A grid of real faces from scikit-image's LFW subset (25x25 gray), upscaled, on grey."""
    from skimage import data

    faces = data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    picks = np.random.default_rng(seed).choice(len(faces), columns * rows, replace=False)
    canvas = np.full((rows * (size + gap) + gap, columns * (size + gap) + gap), 110, np.uint8)
    for n, index in enumerate(picks):
        face = cv2.resize((faces[index] * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
        top, left = gap + (n // columns) * (size + gap), gap + (n % columns) * (size + gap)
        canvas[top : top + size, left : left + size] = face
    return _gray_to_rgb(canvas)


def mixed_sizes_mosaic() -> np.ndarray:
    """Astronaut faces from 60 to 220 px on one wide canvas, one of them mirrored."""
    canvas = np.full((360, 1280, 3), 70, np.uint8)
    left = 20
    for number, size in enumerate((60, 90, 130, 170, 220)):
        crop = face_crop(size)
        if number % 2:
            crop = crop[:, ::-1]
        top = (canvas.shape[0] - crop.shape[0]) // 2
        canvas[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
        left += crop.shape[1] + 30
    return canvas


def demo_frames(count: int = 6) -> dict[str, np.ndarray]:
    from ferdesk.vision.paths import assets_dir

    capture = cv2.VideoCapture(str(assets_dir() / "demo.mp4"))
    frames: dict[str, np.ndarray] = {}
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 120
    for index in np.linspace(0, total - 1, count).astype(int):
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if ok:
            frames[f"demo_frame_{index}"] = np.ascontiguousarray(frame[:, :, ::-1])
    capture.release()
    return frames


def scenes() -> dict[str, np.ndarray]:
    """Named RGB scenes with 0 to 10 real faces, square and not, small to large."""
    photo = astronaut()
    camera = _gray_to_rgb(__import__("skimage.data", fromlist=["camera"]).camera())
    wide = np.full((480, 1280, 3), 30, np.uint8)
    wide[:, 400:912] = photo[16:496]
    tall = np.full((1280, 480, 3), 200, np.uint8)
    tall[600:1112] = photo[:, 16:496]
    corner = np.zeros((1080, 1920, 3), np.uint8)
    corner[40:296, 1620:1876] = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    found = {
        "astronaut": photo,
        "astronaut_half": cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA),
        "astronaut_large": cv2.resize(photo, (900, 900), interpolation=cv2.INTER_LINEAR),
        "astronaut_squeezed": cv2.resize(photo, (640, 480), interpolation=cv2.INTER_AREA),
        "crop_tall": np.ascontiguousarray(photo[:, 150:330]),
        "crop_wide": np.ascontiguousarray(photo[40:260]),
        "crop_offcentre": np.ascontiguousarray(photo[60:400, 120:512]),
        "pad_wide": wide,
        "pad_tall": tall,
        "corner_1080p": corner,
        "three_faces": three_faces()[0],
        "mixed_sizes": mixed_sizes_mosaic(),
        "lfw_mosaic": lfw_mosaic(),
        "cameraman": camera,
        "no_face": np.full((480, 640, 3), 127, np.uint8),
    }
    found.update(demo_frames())
    return found


def fer_scenes(data_root: Path, count: int = 3, seed: int = 7) -> dict[str, np.ndarray]:
    """FER2013 test faces (48x48 gray) upscaled and pasted into the astronaut photo's corners."""
    rng = np.random.default_rng(seed)
    files = sorted((data_root / "fer2013" / "test" / "happy").glob("*.*"))[:200]
    files += sorted((data_root / "fer2013" / "test" / "surprise").glob("*.*"))[:200]
    result: dict[str, np.ndarray] = {}
    for number in range(count):
        scene = cv2.resize(astronaut(), (960, 720), interpolation=cv2.INTER_LINEAR)
        for slot, (top, left) in enumerate(((30, 30), (30, 760), (520, 40))):
            face = cv2.imread(str(files[int(rng.integers(len(files)))]), cv2.IMREAD_GRAYSCALE)
            size = (170, 150, 130)[slot]
            face = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
            scene[top : top + size, left : left + size] = face[:, :, None]
        result[f"fer_scene_{number}"] = scene
    return result
