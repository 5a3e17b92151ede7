"""Scenes made from one still photo: the shipped demo clip and the clips the tests write.

ferdesk's demo must run on a machine with no camera and no data set, and the tests need faces
that move, multiply and stay put on demand. Both come from one public-domain photo (scikit-image's
``astronaut``, NASA) passed in by the caller, so nothing here needs scikit-image at run time;
``assets/make_demo.py`` and the tests load the photo and call these functions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ferdesk.vision.geometry import Box

#: Where BlazeFace (full range) finds the face in ``skimage.data.astronaut()`` (512x512).
ASTRONAUT_FACE = Box(173, 67, 103, 103)

#: The live app's usual frame size (VGA, what most webcams deliver by default).
DEFAULT_SIZE = (640, 480)


def face_crop(photo: np.ndarray, face: Box, margin: float = 0.5) -> np.ndarray:
    """A square crop around ``face`` with ``margin`` x its size added on every side.

    Kept generous so a detector still sees hair, chin and neck: a crop cut at the brows is
    not a face to BlazeFace.
    """
    height, width = photo.shape[:2]
    side = max(face.w, face.h) * (1.0 + 2.0 * margin)
    cx, cy = face.center
    left = max(0, round(cx - side / 2.0))
    top = max(0, round(cy - side / 2.0))
    right = min(width, round(cx + side / 2.0))
    bottom = min(height, round(cy + side / 2.0))
    if right <= left or bottom <= top:
        raise ValueError(f"face {face} lies outside the {width}x{height} photo; nothing to crop.")
    return np.ascontiguousarray(photo[top:bottom, left:right])


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    shrinking = width < image.shape[1] or height < image.shape[0]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def compose_faces(
    faces: Sequence[np.ndarray],
    size: tuple[int, int] = DEFAULT_SIZE,
    face_width: int | None = None,
    offsets: Sequence[tuple[int, int]] | None = None,
    background: tuple[int, int, int] = (48, 52, 60),
) -> np.ndarray:
    """Paste face crops side by side, each centred in its own equal-width column.

    With three faces the columns are the image's left, centre and right thirds, which is what
    :func:`ferdesk.vision.geometry.horizontal_position` reports. ``offsets`` shifts each face by
    (dx, dy) pixels from its column centre (for motion); a face pushed past the canvas is cut.
    """
    width, height = size
    if not faces:
        raise ValueError("compose_faces needs at least one face crop.")
    count = len(faces)
    column = width / count
    face_width = face_width or int(min(column * 0.8, height * 0.7))
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = background
    for number, face in enumerate(faces):
        scaled_height = max(1, round(face.shape[0] * face_width / face.shape[1]))
        scaled = _resize(face, face_width, scaled_height)
        dx, dy = offsets[number] if offsets is not None else (0, 0)
        left = round(column * (number + 0.5) - face_width / 2.0) + dx
        top = round((height - scaled_height) / 2.0) + dy
        # Cut whatever falls outside the canvas (a face leaving the frame).
        src_left, src_top = max(0, -left), max(0, -top)
        dst_left, dst_top = max(0, left), max(0, top)
        dst_right = min(width, left + face_width)
        dst_bottom = min(height, top + scaled_height)
        if dst_right > dst_left and dst_bottom > dst_top:
            canvas[dst_top:dst_bottom, dst_left:dst_right] = scaled[
                src_top : src_top + dst_bottom - dst_top, src_left : src_left + dst_right - dst_left
            ]
    return canvas


def pan_zoom(
    photo: np.ndarray,
    count: int,
    size: tuple[int, int] = DEFAULT_SIZE,
    focus: tuple[float, float] | None = None,
    zoom: tuple[float, float] = (1.0, 1.6),
    pan: float = 0.25,
) -> Iterator[np.ndarray]:
    """``count`` frames of a slow zoom towards ``focus`` with a sideways sweep (a "Ken Burns" shot).

    The view window has the output's aspect ratio; at zoom 1.0 it is the largest such window
    inside the photo. ``pan`` sweeps the window sideways by that fraction of its width, from
    one side to the other, so the face crosses the frame as a person walking past would.
    """
    import cv2

    width, height = size
    photo_height, photo_width = photo.shape[:2]
    aspect = width / height
    base_width = min(photo_width, photo_height * aspect)
    focus_x, focus_y = focus if focus is not None else (photo_width / 2.0, photo_height / 2.0)
    for step in range(count):
        t = step / max(count - 1, 1)
        eased = 0.5 - 0.5 * math.cos(math.pi * t)
        window_width = base_width / (zoom[0] + (zoom[1] - zoom[0]) * eased)
        window_height = window_width / aspect
        sweep = (eased - 0.5) * pan * window_width
        cx = min(max(focus_x - sweep, window_width / 2.0), photo_width - window_width / 2.0)
        cy = min(max(focus_y, window_height / 2.0), photo_height - window_height / 2.0)
        # An affine warp samples the sub-pixel window smoothly (no jitter from rounding).
        scale = width / window_width
        matrix = np.array(
            [
                [scale, 0.0, -(cx - window_width / 2.0) * scale],
                [0.0, scale, -(cy - window_height / 2.0) * scale],
            ],
            np.float64,
        )
        yield cv2.warpAffine(
            photo, matrix, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
        )


def three_faces(
    face: np.ndarray,
    count: int,
    size: tuple[int, int] = DEFAULT_SIZE,
    bob: int = 12,
) -> Iterator[np.ndarray]:
    """``count`` frames of three copies of ``face`` (left, centre, right), each gently bobbing.

    The middle copy is mirrored so the three are not pixel-identical; each moves on its own
    phase, so a tracker has to follow motion without the faces ever swapping places.
    """
    faces = [face, np.ascontiguousarray(face[:, ::-1]), face]
    for step in range(count):
        phase = 2.0 * math.pi * step / 30.0
        offsets = [
            (round(bob * math.sin(phase + k * 2.1)), round(bob * math.cos(phase * 0.7 + k * 1.3)))
            for k in range(3)
        ]
        yield compose_faces(faces, size, offsets=offsets)


def demo_frames(
    photo: np.ndarray, fps: float = 15.0, seconds: tuple[float, float] = (4.0, 4.0)
) -> Iterator[np.ndarray]:
    """The demo scene: one face in a slow pan and zoom, then three faces side by side."""
    single, group = (max(1, round(fps * s)) for s in seconds)
    face_x, face_y = ASTRONAUT_FACE.center
    yield from pan_zoom(photo, single, focus=(face_x, face_y + 40), zoom=(1.0, 1.5), pan=0.3)
    yield from three_faces(face_crop(photo, ASTRONAUT_FACE), group)


def write_video(
    path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 15.0, fourcc: str = "mp4v"
) -> int:
    """Write RGB uint8 frames to a video file with OpenCV; returns how many were written.

    ``mp4v`` in an .mp4 or .avi container and ``MJPG`` in .avi are what every OpenCV build
    writes (no H.264 encoder ships with the pip wheels).
    """
    import cv2

    path = Path(path)
    writer = None
    size: tuple[int, int] = (0, 0)
    written = 0
    try:
        for frame in frames:
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(
                    f"write_video expects RGB uint8 frames (H, W, 3), got {frame.dtype} {frame.shape}."
                )
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), float(fps), size)
                if not writer.isOpened():
                    raise OSError(
                        f"{path}: OpenCV could not open a {fourcc!r} video writer for {size[0]}x{size[1]} "
                        f"frames; use 'mp4v' (.mp4/.avi) or 'MJPG' (.avi)."
                    )
            elif (frame.shape[1], frame.shape[0]) != size:
                raise ValueError(
                    f"frame {written} is {frame.shape[1]}x{frame.shape[0]}, but the video is "
                    f"{size[0]}x{size[1]}; every frame of a video must have one size."
                )
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            written += 1
    finally:
        if writer is not None:
            writer.release()
    if written == 0:
        raise ValueError(f"{path}: no frames given; a video needs at least one.")
    return written
