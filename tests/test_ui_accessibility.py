"""Keyboard and screen-reader access: names on every control, a key for every command, and the
announcement path (timeline, screen-reader queue, speech log) driven by real key presses."""

from __future__ import annotations

import re
import time

import numpy as np
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


def quiet_reader():
    """A screen-reader bridge that knows none runs: whatever runs on the test machine stays out."""
    from ferdesk.speech.screen_readers import ScreenReaderInfo
    from ferdesk.ui.screen_reader import ScreenReaderBridge

    bridge = ScreenReaderBridge(watch=False)
    bridge.set_info(ScreenReaderInfo(running=False))
    return bridge


CONTROL_TYPES = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit)


@pytest.fixture
def store(tmp_path) -> SettingsStore:
    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, store, tmp_path):
    log = SpeechLog(tmp_path / "speech.log")
    win = MainWindow(store, LaunchOptions(speech_enabled=False), speech_log=log, screen_reader=quiet_reader())
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


def test_the_settings_dialog_offers_exactly_the_declared_ranges_and_choices(qtbot):
    from ferdesk.session.settings import SPECS

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    assert (dialog.rate.minimum(), dialog.rate.maximum()) == SPECS["speech_rate"].value_range
    assert (dialog.hold.minimum(), dialog.hold.maximum()) == SPECS["hold_seconds"].value_range
    assert (dialog.gap.minimum(), dialog.gap.maximum()) == SPECS["min_gap_seconds"].value_range
    low, high = SPECS["confidence_threshold"].value_range
    assert (dialog.threshold.minimum(), dialog.threshold.maximum()) == (round(low * 100), round(high * 100))
    low, high = SPECS["volume"].value_range
    assert (dialog.volume.minimum(), dialog.volume.maximum()) == (round(low * 100), round(high * 100))
    for field, name in (
        (dialog.output, "output"),
        (dialog.verbosity, "verbosity"),
        (dialog.detector, "detector"),
    ):
        offered = [field.itemData(i) for i in range(field.count())]
        assert offered == list(SPECS[name].choices), name


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
    window.session.status("Camera 0 disconnected.")
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


def fake_result(faces: list[TrackedFace], index: int = 1) -> FrameResult:
    frame = Frame(index=index, timestamp=time.monotonic(), rgb=np.zeros((480, 640, 3), np.uint8))
    return FrameResult(frame=frame, faces=faces, model_name="test")


def test_mute_verbosity_and_describe_keys(qtbot, window, monkeypatch):
    window.apply_settings(AppSettings(output="both"))
    happy = TrackedFace(
        track_id=3, box=Box(40, 100, 120, 120), emotion="happy", confidence=0.9, position="left"
    )
    window.session.current_result = fake_result([happy])
    monkeypatch.setattr(window.session, "is_running", lambda: True)
    qtbot.keyClick(window.video, Qt.Key.Key_D)
    assert window.timeline.texts()[-1] == "one person, on the left: appears happy"

    qtbot.keyClick(window.video, Qt.Key.Key_V)
    assert window.settings.verbosity == "full" and window.policy.config.verbosity == "full"
    qtbot.keyClick(window.video, Qt.Key.Key_D)
    assert window.timeline.texts()[-1].startswith("one person, on the left: appears happy, ")

    sent = len(window.screen_reader.sent)
    qtbot.keyClick(window.video, Qt.Key.Key_M)
    assert window.session.muted and window.commands["mute"].isChecked()
    assert window.screen_reader.sent[-1].text.startswith("Muted")  # the mute itself is confirmed
    sent = len(window.screen_reader.sent)
    window.session.status("Something happened.")
    assert len(window.screen_reader.sent) == sent  # muted: not sent ...
    assert window.timeline.texts()[-1] == "Something happened."  # ... but shown and logged
    assert lines(window.speech_log_path)[-1].endswith("\tSomething happened.")
    qtbot.keyClick(window.video, Qt.Key.Key_M)
    assert not window.session.muted


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


def test_the_video_says_what_it_shows_and_d_describes_the_scene_in_words(qtbot, store):
    """What the focused video tells a screen reader, and what D says, for a real scene."""
    window = MainWindow(
        store, LaunchOptions(speech_enabled=False), runner_factory=SceneRunner, screen_reader=quiet_reader()
    )
    qtbot.addWidget(window)
    window.show()
    assert window.video.accessibleName() == "Video"
    assert window.video.accessibleDescription().startswith("No video yet. Press D to hear the faces in view")
    window.open_source_spec("demo")
    assert window.video.accessibleDescription().startswith("Video from demo. Press D")
    runner = SceneRunner.made[-1]
    faces = [person(1, 500, "sad", 0.3), person(2, 60, "happy", 0.82)]
    runner.on_result(fake_result(faces, 5))
    qtbot.waitUntil(lambda: window.current_result is not None)
    qtbot.keyClick(window.video, Qt.Key.Key_D)
    assert window.timeline.texts()[-1] == "two people. left: appears happy. right: expression unclear"
    runner.on_status("ended", "End of demo.")
    qtbot.waitUntil(lambda: window.video.accessibleDescription().startswith("End of demo."))
    assert window.faces.face_texts() == ["End of demo."]
    window.close()


@pytest.fixture
def reader_window(qtbot, store):
    """A window whose screen-reader bridge is told which reader runs (no looking around)."""
    from ferdesk.ui.screen_reader import ScreenReaderBridge

    bridge = ScreenReaderBridge(watch=False)
    win = MainWindow(store, LaunchOptions(speech_enabled=False), screen_reader=bridge)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.apply_settings(AppSettings(output="screen_reader"))
    yield win
    win.close()


@pytest.fixture
def accessibility_on():
    from PySide6.QtGui import QAccessible

    was_active = QAccessible.isActive()
    QAccessible.setActive(True)  # what Qt does when AT-SPI reports a running screen reader
    yield
    QAccessible.setActive(was_active)


def test_announcements_reach_the_accessibility_layer_as_announcement_events(
    reader_window, monkeypatch, accessibility_on
):
    """NVDA / VoiceOver / Orca >= 45.2: fails if no announcement event reaches Qt's layer."""
    from PySide6.QtGui import QAccessible

    from ferdesk.speech.screen_readers import ScreenReaderInfo

    window = reader_window
    assert window.screen_reader.supported  # PySide6 >= 6.8 has QAccessibleAnnouncementEvent
    window.screen_reader.set_info(ScreenReaderInfo(running=None))  # a platform that takes the event
    events = []
    original = QAccessible.updateAccessibility

    def record(event):
        if event.type() == QAccessible.Event.Announcement:
            events.append((event.object(), event.message(), event.politeness()))
        original(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", staticmethod(record))
    window.session.status("Camera 0 connected.")
    window.commands["say_status"].trigger()  # Ctrl+I
    messages = [message for _, message, _ in events]
    assert messages[0] == "Camera 0 connected."
    assert messages[1].startswith("Stopped: none.")
    assert all(source is window for source, _, _ in events)
    assert events[0][2] == QAccessible.AnnouncementPoliteness.Assertive  # status lines interrupt
    assert window.screen_reader.sent[-1].delivered is True


def test_orca_43_gets_announcements_as_a_shown_notification(reader_window, accessibility_on):
    """Orca before 45.2 ignores announcement events; a shown Notification object reaches it."""
    from PySide6.QtGui import QAccessible

    from ferdesk.speech.screen_readers import ScreenReaderInfo

    window = reader_window
    window.screen_reader.set_info(ScreenReaderInfo(running=True, name="Orca", version=(43, 1)))
    window.session.status("No camera found.")
    notifiers = [w for w in window.findChildren(QWidget, "announcementNotifier") if w.isVisible()]
    assert [w.accessibleName() for w in notifiers] == ["No camera found."]
    interface = QAccessible.queryAccessibleInterface(notifiers[0])
    assert interface is not None and interface.role() == QAccessible.Role.Notification
    assert interface.text(QAccessible.Text.Name) == "No camera found."
    assert window.screen_reader.sent[-1].route == "notification"


def test_the_status_bar_reads_with_its_values(window):
    window._refresh_status()
    names = {key: label.accessibleName() for key, label in window.status_fields.labels.items()}
    assert names == {
        "source": "Source: none",
        "model": "Model: default",
        "fps": "Frames per second: 0",
        "latency": "Latency: not measured yet",
    }
    assert window.source_label.text() == "source: none"


def test_the_problem_strip_reads_the_message_not_a_fixed_name(window):
    window.notice.show_message("warning", "Camera 0 disconnected.")
    assert window.notice.message.accessibleName() == "Warning: Camera 0 disconnected."
    window.notice.show_message("error", "No camera found.")
    assert window.notice.message.accessibleName() == "Problem: No camera found."


def test_timeline_rows_read_words_first_and_the_time_last(window):
    from datetime import datetime

    item = window.timeline.add_entry(
        "one person, on the left: appears happy", datetime(2026, 12, 1, 21, 27, 42)
    )
    assert item.text() == "one person, on the left: appears happy (21:27:42)"
    assert window.timeline.texts()[-1] == "one person, on the left: appears happy"


def test_large_text_key_is_spoken(qtbot, window):
    qtbot.keyClick(window.video, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.settings.large_text and window.timeline.texts()[-1] == "Large text on."
    qtbot.keyClick(window.video, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert not window.settings.large_text and window.timeline.texts()[-1] == "Large text off."


class RecordingSpeech:
    """Built-in speech that records what it is asked to say (the routing is what is tested here)."""

    made: list = []  # noqa: RUF012

    def __init__(self, settings, on_error) -> None:
        self.on_error, self.available, self.said = on_error, True, []
        RecordingSpeech.made.append(self)

    def say(self, text: str, interrupt: bool = False) -> None:
        self.said.append(text)

    def set_rate(self, wpm) -> None:
        pass

    def set_volume(self, v) -> None:
        pass

    def set_voice(self, voice_id) -> None:
        pass

    def voices(self) -> list:
        return []

    def close(self, timeout: float = 5.0) -> None:
        pass


class RecordingDispatcher:
    """speech-dispatcher as the bridge uses it (the route Orca speaks through)."""

    def __init__(self, on_error) -> None:
        self.said: list[str] = []

    def say(self, text: str, interrupt: bool = False) -> None:
        self.said.append(text)

    def close(self) -> None:
        pass


ENGINE_FAILURE = (
    "No audio player found (looked for aplay, paplay, pw-play). Install alsa-utils to hear speech; "
    "announcements stay on screen and go to the screen reader."
)


@pytest.mark.parametrize("reader_running", [False, True])
def test_failed_speech_warning_is_sent_where_it_can_be_heard_and_tells_the_truth(
    qtbot, store, reader_running
):
    from ferdesk.speech.screen_readers import ScreenReaderInfo
    from ferdesk.ui.screen_reader import ScreenReaderBridge

    dispatchers: list[RecordingDispatcher] = []
    bridge = ScreenReaderBridge(
        watch=False,
        dispatcher_factory=lambda on_error: (
            dispatchers.append(RecordingDispatcher(on_error)) or dispatchers[-1]
        ),
    )
    bridge.set_info(
        ScreenReaderInfo(running=reader_running, name="Orca" if reader_running else None, version=(43, 1))
    )
    window = MainWindow(store, LaunchOptions(), speech_factory=RecordingSpeech, screen_reader=bridge)
    qtbot.addWidget(window)
    window.apply_settings(AppSettings(output="speech"))
    window.session.speech.on_error(ENGINE_FAILURE)
    qtbot.waitUntil(lambda: not window.notice.isHidden())
    warning = window.timeline.texts()[-1]
    assert warning.startswith("Built-in speech failed: No audio player found")
    assert "Install alsa-utils to hear speech." in warning
    assert "Built-in speech failed" in window.notice.text()
    assert window.screen_reader.sent[-1].text == warning  # handed to the screen-reader route
    if reader_running:  # Orca runs (Qt's accessibility off): it hears it through speech-dispatcher
        assert warning.endswith("Announcements now go to your screen reader.")
        assert dispatchers and dispatchers[-1].said[-1] == warning
    else:  # nobody listens: the warning must not send the user to a screen reader
        assert "go to the screen reader" not in warning and "go to your screen reader" not in warning
        assert "No screen reader is running either" in warning
    window.close()


class SceneRunner:
    """Stands in for LiveRunner: the test hands it results to deliver as the processing thread would."""

    made: list = []  # noqa: RUF012

    def __init__(self, spec, analyzer_factory, *, on_result, on_status, **kwargs) -> None:
        self.on_result, self.on_status, self.running = on_result, on_status, False
        self.source_name, self.stats = None, None
        SceneRunner.made.append(self)

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running

    def set_mirror(self, mirror) -> None:
        pass

    def set_user_facing_camera(self, value) -> None:
        pass


def person(track_id: int, x: int, emotion: str = "happy", confidence: float = 0.9) -> TrackedFace:
    position = "left" if x < 213 else "right" if x > 426 else "centre"
    return TrackedFace(track_id, Box(x, 100, 80, 80), emotion, confidence, {emotion: confidence}, position)


def test_faces_list_rows_stay_put_with_small_numbers_and_entering_it_speaks_the_row(qtbot, store):
    from PySide6.QtCore import QPersistentModelIndex

    RecordingSpeech.made.clear()
    window = MainWindow(
        store,
        LaunchOptions(),
        speech_factory=RecordingSpeech,
        runner_factory=SceneRunner,
        screen_reader=quiet_reader(),
    )
    qtbot.addWidget(window)
    window.show()
    window.apply_settings(AppSettings(output="speech", hold_seconds=0.0))
    window.open_source_spec("demo")
    runner = SceneRunner.made[-1]

    def deliver(faces, index):
        runner.on_result(fake_result(faces, index))
        qtbot.waitUntil(
            lambda: window.current_result is not None and window.current_result.frame.index == index
        )

    deliver([person(54, 60), person(55, 500, "sad")], 1)
    qtbot.waitUntil(lambda: window.faces.face_texts()[0].startswith("Person 1"))
    assert window.faces.face_texts() == [
        "Person 1, left: appears happy, 90 %",
        "Person 2, right: appears sad, 90 %",
    ]
    rows = [QPersistentModelIndex(window.faces.indexFromItem(window.faces.topLevelItem(i))) for i in range(2)]
    # The tracker re-numbers the left person (54 -> 69) and the panel updates a while later.
    for index in range(2, 40):
        deliver([person(69, 62 + index % 3), person(55, 500, "sad")], index)
        qtbot.wait(20)
    qtbot.waitUntil(lambda: window.faces.face_texts()[0] == "Person 1, left: appears happy, 90 %")
    assert all(row.isValid() for row in rows)  # the same row objects: nothing was rebuilt
    assert [row.row() for row in rows] == [0, 1]
    # The overlay names the same people as the panel.
    assert window.video.numbers == {69: 1, 55: 2}

    speech = RecordingSpeech.made[-1]
    qtbot.keyClick(window.video, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert window.focusWidget() is window.faces
    assert window.faces.currentItem() is window.faces.topLevelItem(0)
    assert speech.said[-1] == "Person 1, left: appears happy, 90 %"
    window.close()


def test_accessibility_updates_come_at_a_bounded_rate(qtbot, store):
    """60 results a second for 2 s, every probability moving: the panel and status bar stay calm."""
    window = MainWindow(
        store, LaunchOptions(speech_enabled=False), runner_factory=SceneRunner, screen_reader=quiet_reader()
    )
    qtbot.addWidget(window)
    window.show()
    window.open_source_spec("demo")
    runner = SceneRunner.made[-1]
    model_changes = []
    window.faces.model().dataChanged.connect(lambda *args: model_changes.append(1))
    panel_before, status_before = window.faces.text_changes, window.status_fields.changes
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < 2.0:
        index += 1
        wobble = 0.55 + 0.4 * ((index * 7) % 10) / 10
        runner.on_result(fake_result([person(1, 60, "happy", wobble), person(2, 500, "sad", wobble)], index))
        qtbot.wait(16)
    elapsed = time.monotonic() - started
    assert window.session.results_received >= 30  # however loaded the machine, a real stream
    panel_rate = (window.faces.text_changes - panel_before) / elapsed
    # Two people: 2 rows at <= 2 updates/s, their 2 x 7 detail rows at <= 1 update/s.
    assert panel_rate <= 2 * 2 * 1.5 + 14 * 1.5, panel_rate
    assert len(model_changes) / elapsed <= 40, len(model_changes) / elapsed
    assert (window.status_fields.changes - status_before) / elapsed <= 4
    window.close()


def test_with_the_camera_facing_me_panel_order_matches_speech_order(qtbot, window):
    """The order bug: speech said "left: sad. right: happy" while the panel listed happy first."""
    from ferdesk.speech.policy import describe_faces
    from ferdesk.vision.analyze import Face
    from ferdesk.vision.tracking import FaceTracker

    tracker = FaceTracker(user_facing_camera=True)
    detections = [
        Face(Box(60, 100, 80, 80), 0.9, "happy", 0.9, {"happy": 0.9, "sad": 0.1}),  # image left
        Face(Box(500, 100, 80, 80), 0.9, "sad", 0.9, {"happy": 0.1, "sad": 0.9}),  # image right
    ]
    faces = tracker.update(detections, 640, 480)
    spoken = describe_faces(faces)
    assert spoken == "two people. left: appears sad. right: appears happy"
    window.faces.set_faces(faces)
    assert window.faces.face_texts() == [
        "Person 1, left: appears sad, 90 %",
        "Person 2, right: appears happy, 90 %",
    ]
    window.faces.set_faces(list(reversed(faces)))  # whatever order the faces arrive in
    assert window.faces.face_texts()[0].startswith("Person 1, left: appears sad")


def test_face_labels_do_not_cover_each_other_with_large_text_in_a_small_view(qtbot, window):
    from ferdesk.ui.video_view import VideoView

    view = VideoView()
    qtbot.addWidget(view)
    big = view.font()
    big.setPointSizeF(big.pointSizeF() * 2.5)
    view.setFont(big)
    view.resize(320, 240)
    view.show()
    faces = [person(1, 200, "happy"), person(2, 290, "surprise"), person(3, 380, "neutral", 0.3)]
    view.set_result(fake_result(faces), {1: 1, 2: 2, 3: 3})
    view.grab()  # paint
    rects = view.label_rects
    assert len(rects) == 3
    for i, first in enumerate(rects):
        for second in rects[i + 1 :]:
            assert not first.intersects(second), (first, second)
