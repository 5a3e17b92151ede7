"""How a face reads, and in which order faces are read: the one place that decides both.

Speech (:mod:`ferdesk.speech.policy`), the video overlay and the faces panel all show the same
facts about a face; when each decided them on its own they drifted apart ("too small" in one,
"unclear" in another; the panel listing the right-hand person first while speech said "left"
first). Everything that says what a face shows, or where it is, comes from here:

* :func:`read_face` — an emotion the model is sure enough of, "expression unclear" (below the
  confidence threshold, or never classified), or "too small" (detected, too few pixels to read).
  Doubt is said in words; nothing but expression and place is ever described (no age, gender,
  identity).
* :func:`user_order` / :func:`order_key` — left to right *from the user's point of view*. The
  tracker stores each face's :attr:`~ferdesk.vision.results.TrackedFace.user_x` after accounting
  for a mirrored picture and a camera that faces the user (see :mod:`ferdesk.vision.tracking`),
  so sorting by image x — which is wrong for a camera facing the user — never happens anywhere.
* :func:`place_label` / :func:`place_phrase` — "left" / "on the left" or "at 10 o'clock".
* :func:`row_text` and :func:`overlay_label` — the faces panel's row and the label on the box.

Plain Python: no Qt, so speech, the window and tests share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ferdesk.vision.emotions import EMOTION_WORDS
from ferdesk.vision.results import TrackedFace

ReadingKind = Literal["emotion", "unclear", "too_small"]

#: Spoken and shown instead of a label when the model is not confident enough.
UNCLEAR = "expression unclear"
#: Spoken for a face that is detected but too small to classify.
TOO_SMALL = "a face far away, too small to read"
#: The panel's shorter form (the row already says "Person 1, left: ...").
TOO_SMALL_ROW = "far away, too small to read"
#: The overlay's shortest forms: a label on a box must stay small.
OVERLAY_WORDS: dict[str, str] = {"unclear": "unclear", "too_small": "too small"}

POSITIONS: tuple[str, ...] = ("left", "centre", "right")
POSITION_RANK: dict[str, int] = {position: rank for rank, position in enumerate(POSITIONS)}
#: Clock hours for the three places; speech, panel and settings all say the same hours.
CLOCK_HOURS: dict[str, int] = {"left": 10, "centre": 12, "right": 2}
POSITION_STYLES: tuple[str, ...] = ("sides", "clock")
_SIDE_PHRASES = {"left": "on the left", "centre": "in the centre", "right": "on the right"}


@dataclass(frozen=True)
class FaceReading:
    """What one face shows, reduced to what may be said about it."""

    kind: ReadingKind
    emotion: str | None  # the label, only when kind == "emotion"
    confidence: float

    @property
    def is_emotion(self) -> bool:
        return self.kind == "emotion"

    def words(self, *, percent: bool = False) -> str:
        """ "appears happy" (", 82 %" with ``percent``), "expression unclear", or the too-small phrase."""
        if self.kind == "too_small":
            return TOO_SMALL
        if self.kind == "unclear" or self.emotion is None:
            return UNCLEAR
        text = f"appears {emotion_word(self.emotion)}"
        return f"{text}, {round(100 * self.confidence)} %" if percent else text


def emotion_word(emotion: str) -> str:
    """How a label is said after "appears" ("disgust" -> "disgusted"); unknown labels as they are."""
    return EMOTION_WORDS.get(emotion, emotion.replace("_", " "))


def read_face(face: TrackedFace, threshold: float) -> FaceReading:
    """The reading of ``face`` at confidence ``threshold`` (0..1)."""
    confidence = float(face.confidence) if math.isfinite(face.confidence) else 0.0
    if face.too_small:
        return FaceReading("too_small", None, 0.0)
    if face.emotion is None or not math.isfinite(face.confidence) or face.confidence < threshold:
        return FaceReading("unclear", None, confidence)
    return FaceReading("emotion", face.emotion, confidence)


def normal_position(position: str) -> str:
    """A position this module knows ("left", "centre", "right"); anything else is the centre."""
    return position if position in POSITION_RANK else "centre"


def user_x(face: TrackedFace) -> float:
    """The face's horizontal place from the user's left (the tracker's ``user_x``, else image x).

    Without ``user_x`` (a face not made by the tracker) the image's x is the best guess there is.
    """
    return float(face.user_x) if face.user_x is not None else float(face.box.x + face.box.w / 2.0)


def order_key(face: TrackedFace) -> tuple[int, float]:
    """Sort key, left to right from the user's side: the third first, then the place within it."""
    return (POSITION_RANK.get(face.position, 1), user_x(face))


def user_order(faces: Iterable[TrackedFace]) -> list[TrackedFace]:
    """``faces`` from the user's left to right: the one order speech, panel and overlay use."""
    return sorted(faces, key=order_key)


def place_label(position: str, style: str) -> str:
    """Short place label used in a list of several faces: "left" or "at 10 o'clock"."""
    position = normal_position(position)
    if style == "clock":
        return f"at {CLOCK_HOURS[position]} o'clock"
    return position


def place_phrase(position: str, style: str) -> str:
    """Place phrase for a single face: "on the left" or "at 10 o'clock"."""
    position = normal_position(position)
    if style == "clock":
        return f"at {CLOCK_HOURS[position]} o'clock"
    return _SIDE_PHRASES[position]


def person_name(number: int) -> str:
    """ "Person 1": a small number for a sighted helper to match a row to a box; never an identity."""
    return f"Person {number}"


def row_text(number: int, face: TrackedFace, threshold: float, style: str) -> str:
    """The faces panel's row, e.g. ``Person 1, left: appears happy, 82 %, partly out of frame``."""
    reading = read_face(face, threshold)
    what = TOO_SMALL_ROW if reading.kind == "too_small" else reading.words(percent=True)
    edge = ", partly out of frame" if face.partly_out else ""
    return f"{person_name(number)}, {place_label(face.position, style)}: {what}{edge}"


def overlay_label(number: int, face: TrackedFace, threshold: float) -> str:
    """The label on a box, e.g. ``1: happy 82 %``, ``2: unclear``, ``3: too small`` (kept short)."""
    reading = read_face(face, threshold)
    if reading.kind != "emotion" or reading.emotion is None:
        return f"{number}: {OVERLAY_WORDS[reading.kind]}"
    return f"{number}: {reading.emotion} {round(100 * reading.confidence)} %"


__all__ = [
    "CLOCK_HOURS",
    "POSITIONS",
    "POSITION_STYLES",
    "TOO_SMALL",
    "UNCLEAR",
    "FaceReading",
    "emotion_word",
    "order_key",
    "overlay_label",
    "person_name",
    "place_label",
    "place_phrase",
    "read_face",
    "row_text",
    "user_order",
    "user_x",
]
