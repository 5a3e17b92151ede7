"""The user's settings in ``QSettings``: the store only; what a setting is lives in the session layer.

Values come back from QSettings as strings (INI) or as whatever a previous version stored, so
every field is parsed and range-checked on load with the declarations of
:mod:`ferdesk.session.settings`; a value that cannot be understood falls back to its default
instead of stopping the app. Tests inject their own ``QSettings`` (an INI file in a temporary
folder) so they never touch the user's real settings.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from ferdesk.session.settings import (
    DETECTORS,
    GAP_RANGE,
    HOLD_RANGE,
    OUTPUT_MODES,
    POSITION_STYLES,
    RATE_RANGE,
    THRESHOLD_RANGE,
    VERBOSITY_LEVELS,
    VOLUME_RANGE,
    AppSettings,
    load_settings,
    settings_items,
    with_changes,
)

ORGANISATION = "ferdesk"
APPLICATION = "ferdesk"


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

    def _read(self, name: str) -> tuple[bool, Any]:
        key = f"settings/{name}"
        if not self.qsettings.contains(key):
            return False, None
        return True, self.qsettings.value(key)

    def load(self) -> AppSettings:
        settings, self.problems = load_settings(self._read)
        return settings

    def save(self, settings: AppSettings) -> None:
        for name, value in settings_items(settings):
            self.qsettings.setValue(f"settings/{name}", value)
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


__all__ = [
    "DETECTORS",
    "GAP_RANGE",
    "HOLD_RANGE",
    "OUTPUT_MODES",
    "POSITION_STYLES",
    "RATE_RANGE",
    "THRESHOLD_RANGE",
    "VERBOSITY_LEVELS",
    "VOLUME_RANGE",
    "AppSettings",
    "SettingsStore",
    "with_changes",
]
