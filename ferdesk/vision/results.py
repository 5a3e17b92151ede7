"""Plain data passed from the live pipeline to the session, speech and the window (no Qt, no logic).

These are the contract between ``ferdesk.pipeline`` (producer), ``ferdesk.speech`` (announces)
and ``ferdesk.ui`` (draws). Keep them small and stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ferdesk.vision.geometry import Box


@dataclass(frozen=True)
class Frame:
    """One captured image. ``index`` counts frames from the source (gaps = dropped frames)."""

    index: int
    timestamp: float  # time.monotonic() when captured
    rgb: np.ndarray  # (H, W, 3) uint8, C-contiguous

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass
class TrackedFace:
    """A face with a stable identity across frames and smoothed probabilities.

    ``position`` is 'left', 'centre' or 'right' from the user's point of view (the pipeline
    accounts for a mirrored camera). ``emotion`` is the smoothed top class (None when the face is
    too small to classify); ``confidence`` its smoothed probability. ``partly_out`` is True when the
    face touches the frame edge (for aiming help: "face at the left edge, partly out of frame").
    ``user_x`` is the box centre's distance in pixels from the user's left edge of the picture
    (the image's x, or its mirror image when the sides are swapped); the one left-to-right order
    (:func:`ferdesk.vision.reading.user_order`) sorts by it. None for a face not made by the
    tracker: the image's x is used then.
    """

    track_id: int
    box: Box
    emotion: str | None
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)
    position: str = "centre"
    too_small: bool = False
    partly_out: bool = False
    frames_seen: int = 1
    user_x: float | None = None


@dataclass
class FrameResult:
    """Everything known about one processed frame; ``timings_ms`` per stage."""

    frame: Frame
    faces: list[TrackedFace]
    timings_ms: dict[str, float] = field(default_factory=dict)
    model_name: str = ""
