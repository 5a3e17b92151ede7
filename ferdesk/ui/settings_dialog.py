"""The settings dialog: every setting reachable with Tab and the arrow keys, each with a label mnemonic.

Each control has an accessible name (what a screen reader says on focus) and an accessible
description (the help behind it). The dialog edits a copy of :class:`AppSettings`; nothing changes
until OK. "Try voice" speaks a sample with the voice, rate and volume as currently set in the dialog.

The emotion models offered are those the models folder holds (:func:`emotion_models`), each named
from its sidecar. Accurate mode averages FER2013 networks, so its checkbox is unavailable — and
says why — while another model is chosen (or ``--model`` picks one for this run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

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
)
from ferdesk.vision.paths import (
    DEFAULT_EMOTION_MODEL,
    emotion_model_description,
    emotion_model_title,
    emotion_models,
)


def _percent(value_range: tuple[float, float]) -> tuple[int, int]:
    return round(value_range[0] * 100), round(value_range[1] * 100)


SAMPLE_SENTENCE = "Person 1, left: appears happy."


def _combo(choices: dict[str, str], current: str) -> QComboBox:
    combo = QComboBox()
    for value, text in choices.items():
        combo.addItem(text, value)
    index = combo.findData(current)
    combo.setCurrentIndex(max(index, 0))
    return combo


def accurate_mode_description() -> str:
    """What accurate mode does and costs per face, read from its manifest (no model is loaded)."""
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.ensemble import accurate_cost

    what = (
        "Classifies each face with every network and view that accurate mode lists, averaged: "
        "usually a little more accurate, never faster. Takes effect when you press OK (a running "
        "video restarts)."
    )
    try:
        return f"{what} {accurate_cost().sentence()}"
    except ModelError as error:
        return f"{what} It cannot be used now: {error}"


EMOTION_MODEL_HELP = (
    "Which model names the expressions. Each entry says the data set it learnt from, how many "
    "expressions it tells apart, and its file in the models folder. Takes effect when you press "
    "OK (a running video restarts)."
)


def accurate_mode_unavailable(model_title: str) -> str:
    """Why the accurate-mode checkbox is unavailable while another model is chosen."""
    return (
        f"Accurate mode is not used with {model_title}: it is an average of FER2013 networks made "
        f"for the default model, not for this one. Choose the default model "
        f"({Path(DEFAULT_EMOTION_MODEL).stem}) under Emotion model to use it."
    )


def _describe(widget: QWidget, name: str, description: str) -> QWidget:
    widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)
    widget.setToolTip(description)
    return widget


class SettingsDialog(QDialog):
    """Edit a copy of the settings; :meth:`settings` returns the edited copy after ``exec()``."""

    def __init__(
        self,
        settings: AppSettings,
        voices: Sequence[Any] = (),
        camera_choices: Sequence[tuple[str, str]] = (),
        preview: Callable[[str, AppSettings], None] | None = None,
        parent: QWidget | None = None,
        *,
        model_override: Path | None = None,
    ) -> None:
        """``model_override``: the ``--model PATH`` of this run, which wins over the model choice."""
        super().__init__(parent)
        self.setWindowTitle("ferdesk settings")
        self.setObjectName("settingsDialog")
        self.setAccessibleName("Settings")
        self.setAccessibleDescription(
            "Speech, announcement, video and display settings. Saved when you press OK."
        )
        self._original = settings
        self._preview = preview

        # -- Speech ------------------------------------------------------------------------------
        self.output = _describe(
            _combo(OUTPUT_MODES, settings.output),
            "Announcements go to",
            "Where announcements are spoken: ferdesk's own voice, your screen reader, both, or nowhere "
            "(they are still listed in the timeline).",
        )
        self.voice = _describe(QComboBox(), "Voice", "The voice of ferdesk's built-in speech.")
        self.voice.addItem("System default", "")
        for voice in voices:
            self.voice.addItem(str(getattr(voice, "name", voice)), str(getattr(voice, "id", voice)))
        voice_index = self.voice.findData(settings.voice_id)
        if voice_index < 0 and settings.voice_id:
            # A voice that is not installed now stays selected, so saving does not forget it.
            self.voice.addItem(f"{settings.voice_id} (not found)", settings.voice_id)
            voice_index = self.voice.count() - 1
        self.voice.setCurrentIndex(max(voice_index, 0))
        self.rate = _describe(
            QSpinBox(),
            "Speech rate in words per minute",
            f"How fast the built-in voice speaks, {RATE_RANGE[0]} to {RATE_RANGE[1]} words per minute.",
        )
        self.rate.setRange(*RATE_RANGE)
        self.rate.setSingleStep(10)
        self.rate.setSuffix(" words/min")
        self.rate.setValue(settings.speech_rate)
        self.volume = _describe(
            QSpinBox(), "Volume in percent", "Loudness of the built-in voice, 0 to 100 percent."
        )
        self.volume.setRange(*_percent(VOLUME_RANGE))
        self.volume.setSingleStep(5)
        self.volume.setSuffix(" %")
        self.volume.setValue(round(settings.volume * 100))
        self.try_voice = _describe(
            QPushButton("&Try voice"),
            "Try voice",
            "Speaks a sample sentence with the voice, rate and volume chosen here.",
        )
        self.try_voice.setEnabled(preview is not None)
        self.try_voice.clicked.connect(self._on_try_voice)

        # -- Announcements -----------------------------------------------------------------------
        self.verbosity = _describe(
            _combo(VERBOSITY_LEVELS, settings.verbosity),
            "Verbosity",
            "Brief: the expression only. Full: also the position and how sure the model is.",
        )
        self.position_style = _describe(
            _combo(POSITION_STYLES, settings.position_style),
            "Position style",
            "How a face's place is said: left, centre and right, or clock positions such as 10 o'clock.",
        )
        self.hold = _describe(
            QDoubleSpinBox(),
            "Hold time in seconds",
            "How long an expression must stay the same before it is announced.",
        )
        self.hold.setRange(*HOLD_RANGE)
        self.hold.setSingleStep(0.5)
        self.hold.setDecimals(1)
        self.hold.setSuffix(" s")
        self.hold.setValue(settings.hold_seconds)
        self.gap = _describe(
            QDoubleSpinBox(),
            "Minimum gap in seconds",
            "The shortest time between two announcements; urgent messages such as a lost camera "
            "are not held back.",
        )
        self.gap.setRange(*GAP_RANGE)
        self.gap.setSingleStep(0.5)
        self.gap.setDecimals(1)
        self.gap.setSuffix(" s")
        self.gap.setValue(settings.min_gap_seconds)
        self.threshold = _describe(
            QSpinBox(),
            "Confidence threshold in percent",
            "Below this confidence an expression is announced as unclear instead of named.",
        )
        self.threshold.setRange(*_percent(THRESHOLD_RANGE))
        self.threshold.setSingleStep(5)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(round(settings.confidence_threshold * 100))

        # -- Video -------------------------------------------------------------------------------
        self.start_source = _describe(
            QComboBox(),
            "Start with source",
            "What ferdesk opens when it starts: a camera number, 'demo', or the path of a video, "
            "image or folder.",
        )
        self.start_source.setEditable(True)
        self.start_source.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        choices = list(camera_choices) or [("0", "Camera 0")]
        choices.append(("demo", "Demo clip"))
        for value, text in choices:
            self.start_source.addItem(text, value)
        source_index = self.start_source.findData(settings.start_source)
        if source_index >= 0:
            self.start_source.setCurrentIndex(source_index)
        else:
            self.start_source.setEditText(settings.start_source)
        self.start_source.lineEdit().setAccessibleName("Start with source")
        self.start_source.lineEdit().setAccessibleDescription(self.start_source.accessibleDescription())
        self.mirror = _describe(
            QCheckBox("&Mirror the camera image"),
            "Mirror the camera image",
            "Flip the picture left to right, like a mirror; positions are announced accordingly.",
        )
        self.mirror.setChecked(settings.mirror)
        self.camera_faces_user = _describe(
            QCheckBox("The camera looks at m&e"),
            "The camera looks at me",
            "Tick for a camera that faces you, such as a laptop's built-in webcam: left and right are then "
            "announced from your side, not the camera's.",
        )
        self.camera_faces_user.setChecked(settings.camera_faces_user)
        self.loop_videos = _describe(
            QCheckBox("Play videos in a l&oop"),
            "Play videos in a loop",
            "A video file or the demo starts again when it ends. Untick to have it stop at its end and "
            "say so. Applies the next time a video is opened.",
        )
        self.loop_videos.setChecked(settings.loop_videos)
        self.accurate_mode = _describe(
            QCheckBox("A&ccurate mode (slower)"),
            "Accurate mode",
            accurate_mode_description(),
        )
        self.accurate_mode.setWhatsThis(self.accurate_mode.accessibleDescription())
        self.accurate_mode.setChecked(settings.accurate_mode)
        #: The user's accurate-mode choice, kept while the box is unavailable (and shown unticked).
        self._accurate_wanted = settings.accurate_mode
        self._model_override = model_override
        self._model_descriptions: dict[str, str] = {}
        self.emotion_model = _describe(QComboBox(), "Emotion model", EMOTION_MODEL_HELP)
        for file_name, info in emotion_models():
            value = "" if file_name == DEFAULT_EMOTION_MODEL else file_name
            self.emotion_model.addItem(emotion_model_title(file_name, info), value)
            description = emotion_model_description(file_name, info)
            self.emotion_model.setItemData(
                self.emotion_model.count() - 1, description, Qt.ItemDataRole.ToolTipRole
            )
            self._model_descriptions[value] = description
        if self.emotion_model.findData("") < 0:
            # The default's sidecar is unreadable: still offered, so the choice can go back to it.
            self.emotion_model.insertItem(0, f"Default model — {Path(DEFAULT_EMOTION_MODEL).stem}", "")
        chosen = "" if settings.uses_default_model else settings.emotion_model
        model_index = self.emotion_model.findData(chosen)
        if model_index < 0:
            # A model removed since the settings were loaded stays selected, so OK does not
            # quietly switch models; the next start falls back to the default and says so.
            self.emotion_model.addItem(f"{chosen} (not found)", chosen)
            model_index = self.emotion_model.count() - 1
        self.emotion_model.setCurrentIndex(model_index)
        self.emotion_model.currentIndexChanged.connect(self._show_model_choice)
        self.detector = _describe(
            _combo(DETECTORS, settings.detector),
            "Face detector",
            "Full range finds small and distant faces; short range is a little faster for faces "
            "close to the camera.",
        )

        # -- Display -----------------------------------------------------------------------------
        self.large_text = _describe(
            QCheckBox("&Large text"),
            "Large text",
            "Makes all text in ferdesk's window one and a half times larger.",
        )
        self.large_text.setChecked(settings.large_text)

        speech_box = QGroupBox("Speech")
        speech_form = QFormLayout(speech_box)
        self._row(speech_form, "&Announcements go to:", self.output)
        self._row(speech_form, "&Voice:", self.voice)
        self._row(speech_form, "&Rate:", self.rate)
        self._row(speech_form, "Vol&ume:", self.volume)
        speech_form.addRow("", self.try_voice)

        policy_box = QGroupBox("Announcements")
        policy_form = QFormLayout(policy_box)
        self._row(policy_form, "Ver&bosity:", self.verbosity)
        self._row(policy_form, "&Position style:", self.position_style)
        self._row(policy_form, "&Hold time:", self.hold)
        self._row(policy_form, "Minimum &gap:", self.gap)
        self._row(policy_form, "Co&nfidence threshold:", self.threshold)

        video_box = QGroupBox("Video and display")
        video_form = QFormLayout(video_box)
        self._row(video_form, "&Start with:", self.start_source)
        self._row(video_form, "&Face detector:", self.detector)
        self._row(video_form, "Emotion mo&del:", self.emotion_model)
        video_form.addRow("", self.accurate_mode)
        video_form.addRow("", self.mirror)
        video_form.addRow("", self.camera_faces_user)
        video_form.addRow("", self.loop_videos)
        video_form.addRow("", self.large_text)
        self._show_model_choice()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        for button_type, name, description in (
            (QDialogButtonBox.StandardButton.Ok, "OK", "Save these settings and close."),
            (QDialogButtonBox.StandardButton.Cancel, "Cancel", "Close without changing anything."),
            (
                QDialogButtonBox.StandardButton.RestoreDefaults,
                "Restore defaults",
                "Put every setting in this dialog back to its default; nothing is saved until OK.",
            ),
        ):
            _describe(self.buttons.button(button_type), name, description)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(speech_box)
        left.addWidget(policy_box)
        columns.addLayout(left)
        columns.addWidget(video_box, alignment=Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.buttons)
        self.output.setFocus()

    def _show_model_choice(self, _index: int = -1) -> None:
        """Describe the chosen model, and make accurate mode unavailable where it does not apply."""
        value = str(self.emotion_model.currentData() or "")
        title = self.emotion_model.currentText()
        parts = [EMOTION_MODEL_HELP]
        if value in self._model_descriptions:
            parts.append(self._model_descriptions[value])
        override = self._model_override
        if override is not None:
            parts.append(
                f"This run uses {override.name}, given with --model on the command line: it wins over "
                f"this choice until ferdesk starts without it."
            )
        _describe(self.emotion_model, "Emotion model", " ".join(parts))
        if override is not None:
            reason = (
                f"Accurate mode is not used in this run: --model {override.name} on the command line "
                f"chose one model."
            )
        elif value:
            reason = accurate_mode_unavailable(title)
        else:
            reason = ""
        if reason and self.accurate_mode.isEnabled():
            self._accurate_wanted = self.accurate_mode.isChecked()
            self.accurate_mode.setChecked(False)  # shown as it runs: off
            self.accurate_mode.setEnabled(False)
        elif not reason and not self.accurate_mode.isEnabled():
            self.accurate_mode.setEnabled(True)
            self.accurate_mode.setChecked(self._accurate_wanted)
        description = reason or accurate_mode_description()
        _describe(self.accurate_mode, "Accurate mode", description)
        self.accurate_mode.setWhatsThis(description)

    def _accurate_mode_value(self) -> bool:
        """The accurate-mode setting: the box, or the kept choice while the box is unavailable."""
        return self.accurate_mode.isChecked() if self.accurate_mode.isEnabled() else self._accurate_wanted

    @staticmethod
    def _row(form: QFormLayout, text: str, field: QWidget) -> None:
        label = QLabel(text)
        label.setBuddy(field)  # Alt+mnemonic moves focus to the field; screen readers read the label
        form.addRow(label, field)

    # -- values ----------------------------------------------------------------------------------
    def settings(self) -> AppSettings:
        source = self.start_source.currentText().strip()
        data = self.start_source.currentData()
        if data is not None and self.start_source.itemText(self.start_source.currentIndex()) == source:
            source = str(data)
        return replace(
            self._original,
            output=str(self.output.currentData()),
            voice_id=str(self.voice.currentData() or ""),
            speech_rate=int(self.rate.value()),
            volume=self.volume.value() / 100.0,
            verbosity=str(self.verbosity.currentData()),
            position_style=str(self.position_style.currentData()),
            hold_seconds=float(self.hold.value()),
            min_gap_seconds=float(self.gap.value()),
            confidence_threshold=self.threshold.value() / 100.0,
            start_source=source or "0",
            mirror=self.mirror.isChecked(),
            camera_faces_user=self.camera_faces_user.isChecked(),
            detector=str(self.detector.currentData()),
            large_text=self.large_text.isChecked(),
            loop_videos=self.loop_videos.isChecked(),
            accurate_mode=self._accurate_mode_value(),
            emotion_model=str(self.emotion_model.currentData() or ""),
        )

    def restore_defaults(self) -> None:
        defaults = AppSettings()
        for combo, value in (
            (self.output, defaults.output),
            (self.verbosity, defaults.verbosity),
            (self.position_style, defaults.position_style),
            (self.detector, defaults.detector),
            (self.voice, defaults.voice_id),
        ):
            combo.setCurrentIndex(max(combo.findData(value), 0))
        self.rate.setValue(defaults.speech_rate)
        self.volume.setValue(round(defaults.volume * 100))
        self.hold.setValue(defaults.hold_seconds)
        self.gap.setValue(defaults.min_gap_seconds)
        self.threshold.setValue(round(defaults.confidence_threshold * 100))
        source_index = self.start_source.findData(defaults.start_source)
        if source_index >= 0:
            self.start_source.setCurrentIndex(source_index)
        else:
            self.start_source.setEditText(defaults.start_source)
        self.mirror.setChecked(defaults.mirror)
        self.camera_faces_user.setChecked(defaults.camera_faces_user)
        self.large_text.setChecked(defaults.large_text)
        self.loop_videos.setChecked(defaults.loop_videos)
        self.emotion_model.setCurrentIndex(max(self.emotion_model.findData(defaults.emotion_model), 0))
        self._accurate_wanted = defaults.accurate_mode
        if self.accurate_mode.isEnabled():
            self.accurate_mode.setChecked(defaults.accurate_mode)

    def _on_try_voice(self) -> None:
        if self._preview is not None:
            self._preview(SAMPLE_SENTENCE, self.settings())
