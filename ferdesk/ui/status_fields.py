"""The status bar's fields — source, model, frame rate, latency — readable with their values.

A screen reader reads a label's accessible name *instead of* its text, so a name such as "Frames
per second" hid the value; each field's name is "<what>: <value>" and changes with it. Values are
rounded (whole frames per second, latency to 10 ms) and a field is only touched when its words
change, so the bar makes a few accessibility events a second at most, not one per refresh.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from ferdesk.session import StatusFigures

#: field key -> (object name, what it is, help)
FIELDS: dict[str, tuple[str, str, str]] = {
    "source": ("sourceLabel", "Source", "The camera or file being shown."),
    "model": (
        "modelLabel",
        "Model",
        "The emotion model in use: the one chosen in the settings or with --model, or accurate mode "
        "and how many networks it averages.",
    ),
    "fps": ("fpsLabel", "Frames per second", "Faces analysed per second."),
    "latency": ("latencyLabel", "Latency", "Time from capturing a picture to showing it, in milliseconds."),
}


class StatusFields:
    """Four labels in the status bar; :meth:`show` updates only what changed."""

    def __init__(self, bar: QStatusBar) -> None:
        self.labels: dict[str, QLabel] = {}
        self.changes = 0  # label updates made (each is an accessibility event)
        self._latency_ms: float | None = None
        for key, (object_name, name, description) in FIELDS.items():
            label = QLabel()
            label.setObjectName(object_name)
            label.setAccessibleName(name)
            label.setAccessibleDescription(description)
            label.setToolTip(description)
            bar.addPermanentWidget(label)
            self.labels[key] = label

    def _set(self, key: str, text: str, spoken: str) -> None:
        label = self.labels[key]
        if label.text() != text:
            label.setText(text)
            self.changes += 1
        name = f"{FIELDS[key][1]}: {spoken}"
        if label.accessibleName() != name:
            label.setAccessibleName(name)

    def show(self, figures: StatusFigures, latency_ms: float | None) -> None:
        if latency_ms is not None:
            previous = self._latency_ms
            self._latency_ms = latency_ms if previous is None else 0.7 * previous + 0.3 * latency_ms
        fps = round(figures.fps) if figures.running else 0
        self._set("source", f"source: {figures.source}", figures.source)
        self._set("model", f"model: {figures.model}", figures.model)
        self._set("fps", f"{fps} fps", f"{fps}")
        if self._latency_ms is None:
            self._set("latency", "latency –", "not measured yet")
        else:
            rounded = round(self._latency_ms, -1)
            self._set("latency", f"latency {rounded:.0f} ms", f"{rounded:.0f} milliseconds")
