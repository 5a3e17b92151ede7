"""Words for what the window shows about a face (panel rows, the video's accessible description).

Doubt is said in words ("appears happy", "expression unclear"), never carried by colour or tone
alone, and nothing but position and expression is described: no age, gender or identity.
Plain Python, no Qt, so the wording can be tested on its own.
"""

from __future__ import annotations

from ferdesk.vision.emotions import EMOTION_WORDS
from ferdesk.vision.results import TrackedFace


def emotion_word(emotion: str) -> str:
    return EMOTION_WORDS.get(emotion, emotion)


#: The same hours the spoken announcements use (``ferdesk.speech.policy``), so screen and voice agree.
CLOCK_HOURS: dict[str, int] = {"left": 10, "centre": 12, "right": 2}


def clock_position(face: TrackedFace) -> str:
    """The face's place as a clock hour ("at 10 o'clock"), from its left/centre/right third."""
    return f"at {CLOCK_HOURS.get(face.position, 12)} o'clock"


def position_words(face: TrackedFace, position_style: str) -> str:
    if position_style == "clock":
        return clock_position(face)
    return {"left": "left", "right": "right"}.get(face.position, "centre")


def describe_face(face: TrackedFace, threshold: float, position_style: str, with_percent: bool = True) -> str:
    """One line per face, e.g. ``Person 1, left: appears happy, 82 %``.

    The number is the tracker's, shown so a sighted helper can match a row to a box on the video;
    it follows the face from frame to frame and says nothing about who the person is.
    """
    where = position_words(face, position_style)
    if face.too_small or face.emotion is None:
        what = "far away, too small to read"
    elif face.confidence < threshold:
        what = "expression unclear"
    else:
        what = f"appears {emotion_word(face.emotion)}"
        if with_percent:
            what += f", {round(100 * face.confidence)} %"
    edge = ", partly out of frame" if face.partly_out else ""
    return f"Person {face.track_id}, {where}: {what}{edge}"
