"""Faces that keep their identity across frames, with probabilities smoothed per face.

A detector sees each frame afresh; the user hears about people. :class:`FaceTracker` links each
frame's faces to the faces of the frames before (by box overlap, then by centre distance for a
fast move), keeps a face's identity through a few missed detections, and averages each face's
emotion probabilities over time (an exponential moving average), so one odd frame does not flip
what is announced.

**Left and right, from the user's point of view.** A camera image that is not mirrored is a
photograph: what is on the camera's left is on the image's left. So:

* camera looking where the user looks (at the people in front of the user, e.g. a webcam on a
  stand or a wearable) and frames not mirrored: image left = user's left. This is the default
  (``user_facing_camera=False``).
* camera looking at the user (a laptop's built-in webcam; the faces are the user and whoever sits
  beside them): the camera's left is the user's right, so image left = user's right.
* a mirrored frame (selfie view, ``mirror=True`` at the source) swaps sides once more.

Hence the image side is swapped exactly when ``user_facing_camera != frames_mirrored``; a
mirrored view of a camera facing the user behaves like a mirror, and left is left again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ferdesk.vision.geometry import Box, horizontal_position
from ferdesk.vision.reading import user_order
from ferdesk.vision.results import TrackedFace

if TYPE_CHECKING:
    from ferdesk.vision.analyze import Face

_SWAP = {"left": "right", "right": "left", "centre": "centre"}


def user_side(
    box: Box, image_width: int, *, user_facing_camera: bool = False, frames_mirrored: bool = False
) -> str:
    """'left', 'centre' or 'right' from the user's point of view (see the module notes)."""
    side = horizontal_position(box, image_width)
    return _SWAP[side] if user_facing_camera != frames_mirrored else side


def user_x_of(
    box: Box, image_width: int, *, user_facing_camera: bool = False, frames_mirrored: bool = False
) -> float:
    """The box centre's distance from the user's left edge of the picture (see the module notes)."""
    centre = box.x + box.w / 2.0
    return float(image_width) - centre if user_facing_camera != frames_mirrored else centre


def touches_edge(box: Box, image_width: int, image_height: int, margin: int = 2) -> bool:
    """Whether the box reaches within ``margin`` pixels of the frame border (face partly out of view)."""
    return (
        box.x <= margin
        or box.y <= margin
        or box.x + box.w >= image_width - margin
        or box.y + box.h >= image_height - margin
    )


@dataclass
class _Track:
    track_id: int
    box: Box
    labels: tuple[str, ...] = ()
    smoothed: np.ndarray | None = None
    frames_seen: int = 1
    missing: int = 0


class FaceTracker:
    """Gives each face a stable ``track_id`` and smooths its probabilities over frames.

    Matching is greedy, best pair first: pairs whose boxes overlap by at least ``iou_threshold``
    (intersection over union) come first; a face that moved too fast to overlap can still match by
    centre distance, when its centre lies within ``max_centre_distance`` face sizes of the track's
    last box (a little more for each frame the track was missed) and its size is within a factor
    of two. A track not seen for more than ``max_missing`` frames is dropped; a face that matches
    no track starts a new one. Track ids are never reused within one tracker's life, not even after
    :meth:`reset`, so a listener can't mistake a new face for an old one.

    Smoothing: ``p = alpha * p_new + (1 - alpha) * p``, per track; ``alpha=1`` turns it off. With the
    default 0.3 at 15-30 fps a change of expression shows within a few tenths of a second, while a
    single odd frame does not flip the label.
    """

    def __init__(
        self,
        *,
        iou_threshold: float = 0.3,
        max_centre_distance: float = 1.0,
        max_missing: int = 5,
        alpha: float = 0.3,
        user_facing_camera: bool = False,
        frames_mirrored: bool = False,
        edge_margin: int = 2,
    ) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold == {iou_threshold}, must be in (0, 1].")
        if max_centre_distance < 0:
            raise ValueError(f"max_centre_distance == {max_centre_distance}, must be >= 0.")
        if max_missing < 0:
            raise ValueError(f"max_missing == {max_missing}, must be >= 0.")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha == {alpha}, must be in (0, 1] (1 = no smoothing).")
        self.iou_threshold = iou_threshold
        self.max_centre_distance = max_centre_distance
        self.max_missing = max_missing
        self.alpha = alpha
        self.user_facing_camera = user_facing_camera
        self.frames_mirrored = frames_mirrored
        self.edge_margin = edge_margin
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def active_tracks(self) -> int:
        """Tracks alive now, including faces missed in the last ``max_missing`` frames."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every face (new source, camera reconnected, view mirrored); ids keep counting."""
        self._tracks = []

    def _match_cost(self, track: _Track, box: Box) -> tuple[int, float] | None:
        """(rank, cost) for a possible pair, lower is better; None when they can't be one face."""
        overlap = track.box.iou(box)
        if overlap >= self.iou_threshold:
            return (0, -overlap)
        size = max(track.box.w, track.box.h, 1)
        (tx, ty), (bx, by) = track.box.center, box.center
        distance = math.hypot(bx - tx, by - ty) / size
        allowed = self.max_centre_distance * (1.0 + 0.5 * track.missing)
        ratio = math.sqrt(max(box.area, 1) / max(track.box.area, 1))
        if distance <= allowed and 0.5 <= ratio <= 2.0:
            return (1, distance)
        return None

    def _match(self, boxes: Sequence[Box]) -> dict[int, int]:
        """detection index -> track index."""
        pairs = []
        for ti, track in enumerate(self._tracks):
            for di, box in enumerate(boxes):
                cost = self._match_cost(track, box)
                if cost is not None:
                    pairs.append((cost, ti, di))
        pairs.sort()
        matched: dict[int, int] = {}
        used_tracks: set[int] = set()
        for _, ti, di in pairs:
            if di in matched or ti in used_tracks:
                continue
            matched[di] = ti
            used_tracks.add(ti)
        return matched

    def _smooth(self, track: _Track, probabilities: dict[str, float]) -> None:
        labels = tuple(probabilities)
        values = np.fromiter((probabilities[k] for k in labels), np.float64, len(labels))
        if track.smoothed is None or track.labels != labels:
            track.labels, track.smoothed = labels, values
        else:
            track.smoothed = self.alpha * values + (1.0 - self.alpha) * track.smoothed

    def update(self, faces: Sequence[Face], frame_width: int, frame_height: int) -> list[TrackedFace]:
        """This frame's faces as tracked faces, ordered from the user's left to right.

        ``faces`` are :class:`ferdesk.vision.analyze.Face` (or anything with ``box``,
        ``probabilities`` and ``too_small``). A face too small to classify keeps its identity but
        has no emotion this frame; its earlier smoothing is kept for when it comes closer.
        """
        if frame_width <= 0 or frame_height <= 0:
            raise ValueError(f"frame size {frame_width}x{frame_height}: both must be > 0.")
        boxes = [face.box for face in faces]
        matched = self._match(boxes)
        seen: set[int] = set()
        current: list[tuple[_Track, Face]] = []
        for di, face in enumerate(faces):
            if di in matched:
                track = self._tracks[matched[di]]
                track.box = face.box
                track.frames_seen += 1
                track.missing = 0
            else:
                track = _Track(track_id=self._next_id, box=face.box)
                self._next_id += 1
                self._tracks.append(track)
            seen.add(id(track))
            if not face.too_small and face.probabilities:
                self._smooth(track, face.probabilities)
            current.append((track, face))
        survivors = []
        for track in self._tracks:
            if id(track) not in seen:
                track.missing += 1
                if track.missing > self.max_missing:
                    continue
            survivors.append(track)
        self._tracks = survivors
        tracked = [self._tracked_face(track, face, frame_width, frame_height) for track, face in current]
        return user_order(tracked)

    def _tracked_face(self, track: _Track, face: Face, width: int, height: int) -> TrackedFace:
        position = user_side(
            face.box, width, user_facing_camera=self.user_facing_camera, frames_mirrored=self.frames_mirrored
        )
        partly_out = touches_edge(face.box, width, height, self.edge_margin)
        from_left = user_x_of(
            face.box, width, user_facing_camera=self.user_facing_camera, frames_mirrored=self.frames_mirrored
        )
        if face.too_small or track.smoothed is None:
            return TrackedFace(
                track_id=track.track_id,
                box=face.box,
                emotion=None,
                confidence=0.0,
                probabilities={},
                position=position,
                too_small=bool(face.too_small),
                partly_out=partly_out,
                frames_seen=track.frames_seen,
                user_x=from_left,
            )
        best = int(np.argmax(track.smoothed))
        return TrackedFace(
            track_id=track.track_id,
            box=face.box,
            emotion=track.labels[best],
            confidence=float(track.smoothed[best]),
            probabilities={label: float(p) for label, p in zip(track.labels, track.smoothed, strict=True)},
            position=position,
            too_small=False,
            partly_out=partly_out,
            frames_seen=track.frames_seen,
            user_x=from_left,
        )
