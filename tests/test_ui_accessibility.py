"""Keyboard and screen-reader access: names on every control, a key for every command, and the
announcement path (timeline, screen-reader queue, speech log) driven by real key presses."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMenu,
    QWidget,
)

from ferdesk.speech.log import SpeechLog
from ferdesk.ui.main_window import LaunchOptions, MainWindow
from ferdesk.ui.settings import AppSettings, SettingsStore
from ferdesk.ui.settings_dialog import SettingsDialog
from ferdesk.vision.geometry import Box
from ferdesk.vision.results import Frame, FrameResult, TrackedFace

CONTROL_TYPES = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit)


@pytest.fixture
def store(tmp_path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, store, tmp_path):
    log = SpeechLog(tmp_path / "speech.log")
    win = MainWindow(store, LaunchOptions(speech_enabled=False), speech_log=log)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.speech_log_path = log.path
    yield win
    win.close()
    log.close()


def unnamed_controls(root: QWidget) -> list[str]:
    """Controls a keyboard or screen-reader user meets that have no accessible name."""
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if isinstance(widget, QMenu) or not widget.isVisibleTo(root):
            continue
        focusable = bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus)
        interactive = isinstance(widget, CONTROL_TYPES) or (
            isinstance(widget, QLabel)
            and widget.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        if not (focusable or interactive):
            continue
        if widget.focusProxy() is not None and widget.focusProxy().accessibleName():
            continue  # e.g. the editor inside a spin box: the spin box carries the name
        if not widget.accessibleName().strip():
            missing.append(
                f"{type(widget).__name__} '{widget.objectName()}' under {type(widget.parent()).__name__}"
            )
    return missing


def all_menu_actions(menu_bar) -> set:
    found = set()

    def walk(menu: QMenu) -> None:
        for action in menu.actions():
            found.add(action)
            if action.menu() is not None:
                walk(action.menu())

    for action in menu_bar.actions():
        if action.menu() is not None:
            walk(action.menu())
    return found


def test_every_control_of_the_window_has_an_accessible_name_and_description(window):
    window.notice.show_message("warning", "Camera 0 disconnected.")  # show the buttons too
    assert unnamed_controls(window) == []
    for widget in (
        window.video,
        window.faces,
        window.timeline,
        window.notice.open_file,
        window.notice.use_demo,
    ):
        assert widget.accessibleDescription().strip(), widget.objectName()


def test_the_settings_dialog_is_fully_named_and_every_field_has_a_label(qtbot, window):
    dialog = SettingsDialog(AppSettings(), voices=[], preview=lambda text, settings: None, parent=window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert unnamed_controls(dialog) == []
    buddies = {label.buddy() for label in dialog.findChildren(QLabel) if label.buddy() is not None}
    fields = [
        dialog.output,
        dialog.voice,
        dialog.rate,
        dialog.volume,
        dialog.verbosity,
        dialog.position_style,
    ]
    fields += [dialog.hold, dialog.gap, dialog.threshold, dialog.start_source, dialog.detector]
    assert all(field in buddies for field in fields)
    for field in [*fields, dialog.mirror, dialog.camera_faces_user, dialog.large_text, dialog.try_voice]:
        assert field.accessibleDescription().strip(), field.accessibleName()
    # Alt+letter reaches each field: no two labels, boxes or buttons share a letter.
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    texts += [button.text() for button in dialog.findChildren(QAbstractButton)]
    letters = [m.group(1).lower() for text in texts if (m := re.search(r"&(\w)", text))]
    assert len(letters) >= 15 and len(letters) == len(set(letters)), sorted(letters)
    # Every field can be reached with Tab (an editable combo box takes focus in its line edit).
    reached = []
    dialog.output.setFocus()
    for _ in range(40):
        reached.append(dialog.focusWidget())
        qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    for field in [*fields, dialog.mirror, dialog.camera_faces_user, dialog.large_text]:
        assert any(w is field or field.isAncestorOf(w) for w in reached), field.accessibleName()
    dialog.reject()


def test_the_settings_dialog_returns_what_was_set_with_the_keyboard(qtbot):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.verbosity.setCurrentIndex(dialog.verbosity.findData("full"))
    dialog.rate.setValue(350)
    dialog.threshold.setValue(70)
    qtbot.keyClick(dialog.large_text, Qt.Key.Key_Space)
    result = dialog.settings()
    assert (result.verbosity, result.speech_rate, result.confidence_threshold, result.large_text) == (
        "full",
        350,
        0.7,
        True,
    )
    dialog.restore_defaults()
    assert dialog.settings() == AppSettings()


def test_every_command_is_in_a_menu_with_text_help_and_a_unique_shortcut(window):
    in_menus = all_menu_actions(window.menuBar())
    seen: dict[str, str] = {}
    for key, action in window.commands.items():
        assert action.text().replace("&", "").strip(), key
        assert action.statusTip().strip() and action.toolTip().strip(), key
        assert action in in_menus, f"{key} is in no menu"
        for sequence in action.shortcuts():
            text = sequence.toString()
            assert text not in seen, f"{text} is bound to both {seen.get(text)} and {key}"
            seen[text] = key
    required = {
        "start_stop": ["Ctrl+P", "Space"],
        "repeat": ["R"],
        "describe": ["D"],
        "mute": ["M"],
        "verbosity": ["V"],
        "settings": ["Ctrl+,"],
        "open_file": ["Ctrl+O"],
        "demo": ["Ctrl+D"],
        "snapshot": ["Ctrl+S"],
        "quit": ["Ctrl+Q"],
    }
    for key, sequences in required.items():
        bound = {s.toString() for s in window.commands[key].shortcuts()}
        assert {QKeySequence(s).toString() for s in sequences} <= bound, key
    # Every top-level menu opens with Alt and a letter of its own.
    mnemonics = [re.search(r"&(\w)", a.text()).group(1).lower() for a in window.menuBar().actions()]
    assert len(mnemonics) == len(set(mnemonics))
    for menu in window.menuBar().findChildren(QMenu) + window.findChildren(QMenu):
        letters = [m.group(1).lower() for a in menu.actions() if (m := re.search(r"&(\w)", a.text()))]
        assert len(letters) == len(set(letters)), (menu.title(), sorted(letters))
    assert "Ctrl+O" in "\n".join(window.shortcut_lines())


def lines(path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_repeat_key_re_announces_to_timeline_screen_reader_and_log(qtbot, window):
    window.apply_settings(AppSettings(output="screen_reader"))
    window.announcer.status("Camera 0 disconnected.")
    assert window.timeline.texts()[-1] == "Camera 0 disconnected."
    assert window.screen_reader.sent[-1].text == "Camera 0 disconnected."
    sent_before, shown_before = len(window.screen_reader.sent), window.timeline.count()

    window.faces.setFocus()  # a single-letter key works wherever the focus is in the window
    qtbot.keyClick(window.faces, Qt.Key.Key_R)
    assert window.timeline.count() == shown_before + 1
    assert window.timeline.texts()[-1] == "Camera 0 disconnected."
    assert len(window.screen_reader.sent) == sent_before + 1
    assert window.screen_reader.sent[-1].assertive  # a request the user made is not queued behind others
    logged = lines(window.speech_log_path)
    assert [line.split("\t", 1)[1] for line in logged[-2:]] == ["Camera 0 disconnected."] * 2
    assert all(re.match(r"^\S+\t.+$", line) for line in logged)


def fake_result(faces: list[TrackedFace]) -> FrameResult:
    import time

    import numpy as np

    frame = Frame(index=1, timestamp=time.monotonic(), rgb=np.zeros((480, 640, 3), np.uint8))
    return FrameResult(frame=frame, faces=faces, model_name="test")


def test_mute_verbosity_and_describe_keys(qtbot, window, monkeypatch):
    window.apply_settings(AppSettings(output="both"))
    happy = TrackedFace(
        track_id=3, box=Box(40, 100, 120, 120), emotion="happy", confidence=0.9, position="left"
    )
    window.current_result = fake_result([happy])

    class Running:
        def is_running(self):
            return True

    monkeypatch.setattr(window, "worker", Running())
    qtbot.keyClick(window.video, Qt.Key.Key_D)
    assert window.timeline.texts()[-1] == "one person, on the left: appears happy"

    qtbot.keyClick(window.video, Qt.Key.Key_V)
    assert window.settings.verbosity == "full" and window.policy.config.verbosity == "full"
    qtbot.keyClick(window.video, Qt.Key.Key_D)
    assert window.timeline.texts()[-1].startswith("one person, on the left: appears happy, ")

    sent = len(window.screen_reader.sent)
    qtbot.keyClick(window.video, Qt.Key.Key_M)
    assert window.announcer.muted and window.commands["mute"].isChecked()
    assert window.screen_reader.sent[-1].text.startswith("Muted")  # the mute itself is confirmed
    sent = len(window.screen_reader.sent)
    window.announcer.status("Something happened.")
    assert len(window.screen_reader.sent) == sent  # muted: not sent ...
    assert window.timeline.texts()[-1] == "Something happened."  # ... but shown and logged
    assert lines(window.speech_log_path)[-1].endswith("\tSomething happened.")
    qtbot.keyClick(window.video, Qt.Key.Key_M)
    assert not window.announcer.muted
    monkeypatch.setattr(window, "worker", None)


def test_space_starts_and_stops_but_presses_a_focused_button(qtbot, window):
    calls = []
    start_stop = window.commands["start_stop"]
    start_stop.triggered.disconnect()  # count key presses without opening a camera
    start_stop.triggered.connect(lambda: calls.append("start/stop"))
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_Space)
    qtbot.keyClick(window.video, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert calls == ["start/stop", "start/stop"]

    window.notice.show_message("warning", "Camera 0 disconnected.")
    window.notice.dismiss.setFocus()
    qtbot.keyClick(window.notice.dismiss, Qt.Key.Key_Space)
    assert window.notice.isHidden()  # the focused button took the Space ...
    assert len(calls) == 2  # ... not the start/stop shortcut


def test_f6_cycles_the_panes_and_alt_digits_jump_to_them(qtbot, window):
    window.video.setFocus()
    qtbot.keyClick(window.video, Qt.Key.Key_F6)
    assert window.focusWidget() is window.faces
    qtbot.keyClick(window.faces, Qt.Key.Key_F6)
    assert window.focusWidget() is window.timeline
    qtbot.keyClick(window.timeline, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert window.focusWidget() is window.faces
    qtbot.keyClick(window.faces, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.focusWidget() is window.video


def test_the_faces_panel_reads_in_words_and_the_video_describes_the_scene(qtbot, window):
    faces = [
        TrackedFace(
            track_id=2,
            box=Box(420, 100, 120, 120),
            emotion="sad",
            confidence=0.3,
            position="right",
            probabilities={"sad": 0.3, "happy": 0.2},
        ),
        TrackedFace(
            track_id=1,
            box=Box(40, 100, 120, 120),
            emotion="happy",
            confidence=0.82,
            position="left",
            probabilities={"happy": 0.82, "sad": 0.1},
            partly_out=True,
        ),
    ]
    window.faces.set_faces(faces)
    assert window.faces.face_texts() == [
        "Person 1, left: appears happy, 82 %, partly out of frame",
        "Person 2, right: expression unclear",
    ]
    first = window.faces.topLevelItem(0)
    assert [first.child(i).text(0) for i in range(first.childCount())] == ["happy: 82 %", "sad: 10 %"]
    window.faces.set_faces([])
    assert window.faces.face_texts() == ["No face in view."]


def test_announcements_reach_an_active_accessibility_layer(window):
    from PySide6.QtGui import QAccessible

    assert window.screen_reader.supported  # PySide6 >= 6.8 has QAccessibleAnnouncementEvent
    window.apply_settings(AppSettings(output="screen_reader"))
    window.announcer.status("Offscreen, no screen reader listens.")
    assert window.screen_reader.sent[-1].delivered is False
    was_active = QAccessible.isActive()
    QAccessible.setActive(True)  # what Qt does when AT-SPI reports a running screen reader
    try:
        window.announcer.status("Now one does.")
    finally:
        QAccessible.setActive(was_active)
    assert window.screen_reader.sent[-1].text == "Now one does."
    assert window.screen_reader.sent[-1].delivered is True
