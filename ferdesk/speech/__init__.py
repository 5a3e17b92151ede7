"""What ferdesk says, when, and how it is spoken (plain Python: no Qt import here).

* :mod:`ferdesk.speech.policy` — :class:`AnnouncementPolicy` turns per-frame faces into a few
  honest sentences ("two people. left: appears happy. right: appears neutral").
* :mod:`ferdesk.speech.engine` — :class:`SpeechEngine` speaks them with pyttsx3 in its own thread.
* :mod:`ferdesk.speech.log` — :class:`SpeechLog` writes what was said, one line each.
"""

from ferdesk.speech.engine import SpeechEngine, SpeechUnavailableError, VoiceInfo
from ferdesk.speech.log import SpeechLog
from ferdesk.speech.policy import (
    NO_FACE,
    TOO_SMALL,
    UNCLEAR,
    Announcement,
    AnnouncementPolicy,
    PolicyConfig,
    describe_faces,
    number_to_words,
)

__all__ = [
    "NO_FACE",
    "TOO_SMALL",
    "UNCLEAR",
    "Announcement",
    "AnnouncementPolicy",
    "PolicyConfig",
    "SpeechEngine",
    "SpeechLog",
    "SpeechUnavailableError",
    "VoiceInfo",
    "describe_faces",
    "number_to_words",
]
