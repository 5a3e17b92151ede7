"""Face boxes: from the detector's tight box to the square crop the classifier was trained on.

FER2013's faces are square crops that include a little forehead and chin around the face;
BlazeFace boxes are tighter (brows to mouth). :func:`face_crop_box` enlarges the detector box by
``box_scale`` around its centre, makes it square and clips it to the image, so the crop the app
classifies looks like the crops the model learned from.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Faces narrower than this (in image pixels, after expansion) are reported but not classified:
#: below ~24 px there is too little detail for a 48x48 classifier to mean anything.
MIN_FACE_SIZE = 24

#: How much the detector box is enlarged before cropping (1.0 = the detector's box as is).
DEFAULT_BOX_SCALE = 1.25


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def iou(self, other: Box) -> float:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right = min(self.x + self.w, other.x + other.w)
        bottom = min(self.y + self.h, other.y + other.h)
        inter = max(0, right - left) * max(0, bottom - top)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


def clip_box(box: Box, width: int, height: int) -> Box:
    left = min(max(box.x, 0), width)
    top = min(max(box.y, 0), height)
    right = min(max(box.x + box.w, 0), width)
    bottom = min(max(box.y + box.h, 0), height)
    return Box(left, top, right - left, bottom - top)


def face_crop_box(box: Box, width: int, height: int, box_scale: float = DEFAULT_BOX_SCALE) -> Box:
    """Square, enlarged and clipped crop box for a detected face in a ``width`` x ``height`` image."""
    cx, cy = box.center
    side = max(box.w, box.h) * box_scale
    square = Box(round(cx - side / 2.0), round(cy - side / 2.0), round(side), round(side))
    return clip_box(square, width, height)


def horizontal_position(box: Box, image_width: int) -> str:
    """'left', 'centre' or 'right' third of the image, by the box centre (viewer's side)."""
    cx = box.center[0] / max(image_width, 1)
    if cx < 1 / 3:
        return "left"
    if cx > 2 / 3:
        return "right"
    return "centre"
