"""The emotion classes, in the one fixed order every model, reader and report uses.

The order is FER2013's own (`fer2013.csv` codes 0-6), so a label index read from the original CSV
needs no remapping. A model's sidecar repeats its label list; the classifier checks it against the
model's output width at load time.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: FER+ vote columns, in ``label.csv`` order (after the image name and face box).
FERPLUS_COLUMNS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)

#: FER+ emotion names mapped onto ferdesk's names (contempt has no FER2013 counterpart).
FERPLUS_TO_EMOTION: dict[str, str] = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "contempt": "contempt",
}

#: The eight FER+ emotion classes (FER2013's seven plus contempt), in a fixed order.
FERPLUS_EMOTIONS: tuple[str, ...] = (*EMOTIONS, "contempt")

#: How each class is spoken after "appears" ("appears disgusted"); shared by speech and the window
#: so screen and voice agree. Labels a future model adds fall back to the label itself.
EMOTION_WORDS: dict[str, str] = {
    "angry": "angry",
    "disgust": "disgusted",
    "fear": "afraid",
    "happy": "happy",
    "sad": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
    "contempt": "contemptuous",
}
