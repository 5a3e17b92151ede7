"""Every user setting declared once: its default, its range or vocabulary, its words for people.

The settings dialog builds its controls from these declarations, ``QSettings`` loading parses and
range-checks with them, and the session validates changes with them — so a range or a list of
choices cannot drift between the dialog and the loader again. Plain Python (no Qt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ferdesk.capture import VIDEO_SUFFIXES
from ferdesk.vision.imageio import IMAGE_SUFFIXES
from ferdesk.vision.paths import DEFAULT_EMOTION_MODEL, emotion_model_setting

#: Where announcements go: ferdesk's own voice, the running screen reader, both, or nowhere.
OUTPUT_MODES: dict[str, str] = {
    "speech": "Built-in speech",
    "screen_reader": "Screen reader",
    "both": "Built-in speech and screen reader",
    "off": "Off (timeline only)",
}
VERBOSITY_LEVELS: dict[str, str] = {"brief": "Brief", "full": "Full"}
POSITION_STYLES: dict[str, str] = {"sides": "Left, centre, right", "clock": "Clock positions"}
DETECTORS: dict[str, str] = {"full": "Full range (small and distant faces)", "short": "Short range (faster)"}

RATE_RANGE = (80, 900)  # words per minute, what the speech engine accepts; many listen at 300+
VOLUME_RANGE = (0.0, 1.0)
HOLD_RANGE = (0.0, 10.0)
GAP_RANGE = (0.0, 60.0)
THRESHOLD_RANGE = (0.0, 1.0)

#: What the "Open file" dialog offers: the suffixes the capture layer opens, nothing typed twice.
OPENABLE_SUFFIXES: tuple[str, ...] = tuple(sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))
#: What "Save snapshot" writes; anything else gets ".png" appended.
SNAPSHOT_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")


@dataclass
class AppSettings:
    """Everything the user can set; the defaults are what a first start uses."""

    speech_rate: int = 200
    voice_id: str = ""  # "" = the speech engine's default voice
    volume: float = 1.0
    output: str = "speech"
    verbosity: str = "brief"
    position_style: str = "sides"
    hold_seconds: float = 1.0
    min_gap_seconds: float = 3.0
    confidence_threshold: float = 0.5
    start_source: str = "0"
    mirror: bool = False
    #: The camera looks at the user (a laptop's own webcam): the announced left and right swap.
    camera_faces_user: bool = False
    detector: str = "full"
    large_text: bool = False
    #: A video file (and the demo) starts again at its end; off, it ends and says so.
    loop_videos: bool = True
    #: Classify with the accurate-mode ensemble (models/ferdesk_accurate.json): slower per face.
    #: It averages FER2013 networks, so it applies to the default emotion model only.
    accurate_mode: bool = False
    #: The emotion model: a ``.tflite`` file name in the models folder; "" = the shipped default.
    #: ``--model PATH`` wins over it (and over accurate mode) for one run.
    emotion_model: str = ""

    @property
    def uses_default_model(self) -> bool:
        """True when the setting names the shipped default model (stored as "")."""
        return self.emotion_model in ("", DEFAULT_EMOTION_MODEL)

    @property
    def speech_wanted(self) -> bool:
        return self.output in ("speech", "both")

    @property
    def screen_reader_wanted(self) -> bool:
        return self.output in ("screen_reader", "both")


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {raw!r}")


@dataclass(frozen=True)
class SettingSpec:
    """One setting: how a stored or typed value is parsed, and its range or choices."""

    name: str
    parse: Callable[[Any], Any]
    value_range: tuple[float, float] | None = None
    choices: Mapping[str, str] | None = None
    #: How a warning names the default it falls back to (None: the default's repr).
    default_words: str | None = None


def _in_range(kind: Callable[[Any], float], low: float, high: float) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _one_of(choices: Mapping[str, str]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw)
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {sorted(choices)}")
        return value

    return parse


def _ranged(name: str, kind: Callable[[Any], float], value_range: tuple[float, float]) -> SettingSpec:
    return SettingSpec(name, _in_range(kind, *value_range), value_range=value_range)


def _choice(name: str, choices: Mapping[str, str]) -> SettingSpec:
    return SettingSpec(name, _one_of(choices), choices=choices)


def _source(raw: Any) -> str:
    return str(raw).strip() or "0"


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        _ranged("speech_rate", lambda raw: round(float(raw)), RATE_RANGE),
        SettingSpec("voice_id", str),
        _ranged("volume", float, VOLUME_RANGE),
        _choice("output", OUTPUT_MODES),
        _choice("verbosity", VERBOSITY_LEVELS),
        _choice("position_style", POSITION_STYLES),
        _ranged("hold_seconds", float, HOLD_RANGE),
        _ranged("min_gap_seconds", float, GAP_RANGE),
        _ranged("confidence_threshold", float, THRESHOLD_RANGE),
        SettingSpec("start_source", _source),
        SettingSpec("mirror", parse_bool),
        SettingSpec("camera_faces_user", parse_bool),
        _choice("detector", DETECTORS),
        SettingSpec("large_text", parse_bool),
        SettingSpec("loop_videos", parse_bool),
        SettingSpec("accurate_mode", parse_bool),
        # Checked against the models folder: a model that is gone (or whose sidecar broke) falls
        # back to the default on load, with the reason in the window's warning.
        SettingSpec(
            "emotion_model",
            emotion_model_setting,
            default_words=f"the default model ({DEFAULT_EMOTION_MODEL})",
        ),
    )
}
assert set(SPECS) == {f.name for f in fields(AppSettings)}, "every AppSettings field needs a SettingSpec"


def parse_setting(name: str, raw: Any) -> Any:
    """``raw`` (a stored string, a typed value) as setting ``name``; raises ValueError/TypeError."""
    if name not in SPECS:
        raise ValueError(f"{name!r} is not a setting; expected one of {sorted(SPECS)}.")
    return SPECS[name].parse(raw)


def load_settings(read: Callable[[str], tuple[bool, Any]]) -> tuple[AppSettings, list[str]]:
    """Settings from a store: ``read(name)`` gives (stored?, raw value). Unreadable values fall back.

    Returns the settings and one sentence per value that was ignored, for the window to show.
    """
    defaults = AppSettings()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in fields(AppSettings):
        default = getattr(defaults, spec.name)
        stored, raw = read(spec.name)
        if not stored:
            values[spec.name] = default
            continue
        try:
            values[spec.name] = parse_setting(spec.name, raw)
        except (TypeError, ValueError) as error:
            shown = SPECS[spec.name].default_words or repr(default)
            problems.append(f"{spec.name}: stored value {raw!r} ignored ({error}); using {shown}")
            values[spec.name] = default
    return AppSettings(**values), problems


def with_changes(settings: AppSettings, **changes: Any) -> AppSettings:
    """A validated copy: the same parsers as loading, but errors are raised."""
    return replace(settings, **{name: parse_setting(name, value) for name, value in changes.items()})


def settings_items(settings: AppSettings) -> list[tuple[str, Any]]:
    """(name, value) for every setting, in declaration order (what a store writes)."""
    return [(spec.name, getattr(settings, spec.name)) for spec in fields(AppSettings)]


__all__ = [
    "DETECTORS",
    "GAP_RANGE",
    "HOLD_RANGE",
    "OPENABLE_SUFFIXES",
    "OUTPUT_MODES",
    "POSITION_STYLES",
    "RATE_RANGE",
    "SNAPSHOT_SUFFIXES",
    "SPECS",
    "THRESHOLD_RANGE",
    "VERBOSITY_LEVELS",
    "VOLUME_RANGE",
    "AppSettings",
    "SettingSpec",
    "load_settings",
    "parse_setting",
    "settings_items",
    "with_changes",
]
