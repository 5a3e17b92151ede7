"""The user's settings: one dataclass, read from and written to ``QSettings``.

Values come back from QSettings as strings (INI) or as whatever a previous version stored, so
every field is parsed and range-checked on load; a value that cannot be understood falls back to
its default instead of stopping the app. Tests inject their own ``QSettings`` (an INI file in a
temporary folder) so they never touch the user's real settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "ferdesk"
APPLICATION = "ferdesk"

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

# Ranges the dialog offers and the loader enforces.
RATE_RANGE = (80, 900)  # words per minute, what the speech engine accepts; many listen at 300+
VOLUME_RANGE = (0.0, 1.0)
HOLD_RANGE = (0.0, 10.0)
GAP_RANGE = (0.0, 60.0)
THRESHOLD_RANGE = (0.0, 1.0)


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

    @property
    def speech_wanted(self) -> bool:
        return self.output in ("speech", "both")

    @property
    def screen_reader_wanted(self) -> bool:
        return self.output in ("screen_reader", "both")


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {raw!r}")


def _in_range(kind: Callable[[Any], Any], low: float, high: float) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        value = kind(raw)
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _one_of(choices: dict[str, str]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw)
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {sorted(choices)}")
        return value

    return parse


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "speech_rate": _in_range(lambda raw: round(float(raw)), *RATE_RANGE),
    "voice_id": str,
    "volume": _in_range(float, *VOLUME_RANGE),
    "output": _one_of(OUTPUT_MODES),
    "verbosity": _one_of(VERBOSITY_LEVELS),
    "position_style": _one_of(POSITION_STYLES),
    "hold_seconds": _in_range(float, *HOLD_RANGE),
    "min_gap_seconds": _in_range(float, *GAP_RANGE),
    "confidence_threshold": _in_range(float, *THRESHOLD_RANGE),
    "start_source": lambda raw: str(raw).strip() or "0",
    "mirror": _parse_bool,
    "camera_faces_user": _parse_bool,
    "detector": _one_of(DETECTORS),
    "large_text": _parse_bool,
}


class SettingsStore:
    """Loads and saves :class:`AppSettings` (and the window's geometry) in one ``QSettings``.

    ``problems`` lists the stored values that were unreadable at the last :meth:`load`, so the
    window can say that a default was used instead of failing silently.
    """

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings if qsettings is not None else QSettings(ORGANISATION, APPLICATION)
        self.problems: list[str] = []

    @property
    def location(self) -> str:
        return self.qsettings.fileName()

    def load(self) -> AppSettings:
        defaults = AppSettings()
        values: dict[str, Any] = {}
        self.problems = []
        for spec in fields(AppSettings):
            key = f"settings/{spec.name}"
            default = getattr(defaults, spec.name)
            if not self.qsettings.contains(key):
                values[spec.name] = default
                continue
            raw = self.qsettings.value(key)
            try:
                values[spec.name] = _PARSERS[spec.name](raw)
            except (TypeError, ValueError) as error:
                self.problems.append(
                    f"{spec.name}: stored value {raw!r} ignored ({error}); using {default!r}"
                )
                values[spec.name] = default
        return AppSettings(**values)

    def save(self, settings: AppSettings) -> None:
        for spec in fields(AppSettings):
            self.qsettings.setValue(f"settings/{spec.name}", getattr(settings, spec.name))
        self.qsettings.sync()

    def reset(self) -> None:
        """Forget everything stored (``--reset-settings``)."""
        self.qsettings.clear()
        self.qsettings.sync()

    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.sync()


def with_changes(settings: AppSettings, **changes: Any) -> AppSettings:
    """A validated copy: the same parsers as :meth:`SettingsStore.load`, but errors are raised."""
    for name, value in changes.items():
        if name not in _PARSERS:
            raise ValueError(f"{name!r} is not a setting; expected one of {sorted(_PARSERS)}.")
        changes[name] = _PARSERS[name](value)
    return replace(settings, **changes)
