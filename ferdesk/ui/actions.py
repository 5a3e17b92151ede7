"""Every command of the window as data: its key, text, shortcuts, help and where it sits in the menus.

The window turns each :class:`ActionSpec` into one ``QAction`` (added to the window, so its shortcut
works wherever the focus is) and builds the menus from :data:`MENUS`; F1 lists the same table. A
new command is one row here and one method on the window — nothing else to keep in step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget


@dataclass(frozen=True)
class ActionSpec:
    """One command. ``slot`` names the window's method, or ``session.<method>`` for a session command
    the window only forwards (default: the window method named like ``key``)."""

    key: str  # object name
    text: str
    shortcuts: tuple[str, ...]
    description: str
    slot: str = ""
    checkable: bool = False

    @property
    def slot_name(self) -> str:
        return self.slot or self.key


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_file", "&Open file…", ("Ctrl+O",), "Show a video or image file instead of the camera."),
    ActionSpec(
        "open_folder",
        "Open &folder of images…",
        ("Ctrl+Shift+O",),
        "Show the images of a folder one after another.",
    ),
    ActionSpec(
        "demo", "Use &demo", ("Ctrl+D",), "Play the built-in demo clip; no camera needed.", "use_demo"
    ),
    ActionSpec(
        "refresh_cameras",
        "&Refresh camera list",
        ("Ctrl+Shift+R",),
        "Look again for connected cameras.",
        "session.refresh_cameras",
    ),
    ActionSpec(
        "snapshot",
        "&Save snapshot…",
        ("Ctrl+S",),
        "Save the picture now on screen to a file you choose. Nothing is saved otherwise.",
        "save_snapshot",
    ),
    ActionSpec(
        "settings",
        "Se&ttings…",
        ("Ctrl+,",),
        "Speech, announcement, video and display settings.",
        "open_settings",
    ),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "Stop the video and close ferdesk.", "close"),
    ActionSpec(
        "start_stop",
        "&Start",
        ("Ctrl+P", "Space"),
        "Start or stop the video and the announcements.",
        "toggle_running",
    ),
    ActionSpec(
        "mirror",
        "&Mirror image",
        ("Ctrl+Shift+M",),
        "Flip the picture left to right, like a mirror.",
        "session.set_mirror",
        True,
    ),
    ActionSpec(
        "camera_faces_user",
        "Camera &looks at me",
        ("Ctrl+Shift+L",),
        "Tick for a camera that faces you: left and right are then announced from your side.",
        "session.set_camera_faces_user",
        True,
    ),
    ActionSpec(
        "repeat",
        "&Repeat last announcement",
        ("R", "F5"),
        "Say the last announcement again.",
        "session.repeat_last",
    ),
    ActionSpec(
        "describe",
        "&Describe scene now",
        ("D",),
        "Describe the faces in view right now.",
        "session.describe_now",
    ),
    ActionSpec(
        "explain",
        "&Explain selected face",
        ("E",),
        "Show which part of the selected face the model looked at, and say it.",
        "explain_face",
    ),
    ActionSpec(
        "say_status",
        "Say s&tatus",
        ("Ctrl+I",),
        "Say what is running: source, frame rate, model, and how many faces are in view.",
        "session.say_status",
    ),
    ActionSpec(
        "mute",
        "&Mute",
        ("M",),
        "Silence announcements; they are still listed and logged.",
        "session.set_muted",
        True,
    ),
    ActionSpec(
        "verbosity",
        "&Full descriptions",
        ("V",),
        "Switch between brief and full announcements (full adds how sure the model is).",
        "session.set_full_verbosity",
        True,
    ),
    ActionSpec("focus_video", "Go to &video", ("Alt+1",), "Move the keyboard focus to the video."),
    ActionSpec("focus_faces", "Go to &faces", ("Alt+2",), "Move the keyboard focus to the list of faces."),
    ActionSpec(
        "focus_timeline",
        "Go to &announcements",
        ("Alt+3",),
        "Move the keyboard focus to the announcement timeline.",
    ),
    ActionSpec(
        "next_pane",
        "&Next pane",
        ("F6",),
        "Move the focus to the next part of the window.",
        "focus_next_pane",
    ),
    ActionSpec(
        "previous_pane",
        "&Previous pane",
        ("Shift+F6",),
        "Move the focus to the previous part of the window.",
        "focus_previous_pane",
    ),
    ActionSpec(
        "large_text",
        "&Large text",
        ("Ctrl+L",),
        "Make all text one and a half times larger.",
        "session.set_large_text",
        True,
    ),
    ActionSpec(
        "shortcuts", "&Keyboard shortcuts", ("F1",), "List every command and its key.", "show_shortcuts"
    ),
    ActionSpec("about", "&About ferdesk", (), "Version, model and privacy information.", "show_about"),
)

#: Menu title -> entries: an action key, "-" for a separator, "@cameras" for the camera submenu.
MENUS: dict[str, tuple[str, ...]] = {
    "&File": ("open_file", "open_folder", "demo", "@cameras", "-", "snapshot", "-", "settings", "-", "quit"),
    "&Live": ("start_stop", "-", "mirror", "camera_faces_user"),
    "S&peech": ("repeat", "describe", "explain", "say_status", "-", "mute", "verbosity"),
    "&View": (
        "focus_video",
        "focus_faces",
        "focus_timeline",
        "next_pane",
        "previous_pane",
        "-",
        "large_text",
    ),
    "&Help": ("shortcuts", "about"),
}


def _call_without_state(slot: Callable[[], object], _checked: bool = False) -> None:
    slot()


def build_actions(window: QWidget, targets: dict[str, object]) -> dict[str, QAction]:
    """One QAction per row, added to ``window`` so its shortcut works wherever the focus is.

    ``targets`` maps a slot prefix ("session") to the object holding it; no prefix: ``window``.
    """
    commands: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        action.setObjectName(spec.key)
        action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        for setter in (action.setStatusTip, action.setToolTip, action.setWhatsThis):
            setter(spec.description)
        action.setCheckable(spec.checkable)
        target, _, name = spec.slot_name.rpartition(".")
        slot = getattr(targets[target] if target else window, name)
        # triggered, not toggled: setChecked() from code (e.g. when settings load) runs no slot.
        # Only a checkable command is told its new state; the others are called with nothing.
        action.triggered.connect(slot if spec.checkable else functools.partial(_call_without_state, slot))
        window.addAction(action)
        commands[spec.key] = action
    return commands


def build_menus(bar: QMenuBar, commands: dict[str, QAction], camera_menu: QMenu) -> list[QMenu]:
    """The menu bar from :data:`MENUS`; every menu shows tool tips and has an accessible name."""
    menus = [camera_menu]
    for title, entries in MENUS.items():
        menu = bar.addMenu(title)
        menus.append(menu)
        for entry in entries:
            if entry == "-":
                menu.addSeparator()
            elif entry == "@cameras":
                menu.addMenu(camera_menu)
            else:
                menu.addAction(commands[entry])
    for menu in menus:
        menu.setToolTipsVisible(True)
        menu.setAccessibleName(menu.title().replace("&", ""))
    return menus


class CameraMenu(QMenu):
    """File → Cameras: the cameras found, the one in use ticked, then refresh and mirror."""

    def __init__(self, parent: QObject, extra: Sequence[QAction]) -> None:
        super().__init__("&Cameras", parent if isinstance(parent, QWidget) else None)
        self.setObjectName("cameraMenu")
        self._extra = list(extra)
        self._group = QActionGroup(self)
        self._group.setExclusive(True)

    def rebuild(self, entries: Sequence[tuple[int, str, bool]], open_camera: Callable[[str], object]) -> None:
        for action in self._group.actions():
            self._group.removeAction(action)
        self.clear()
        for index, name, in_use in entries:
            action = QAction(name, self)
            action.setObjectName(f"camera_{index}")
            action.setCheckable(True)
            action.setChecked(in_use)
            action.setStatusTip(f"Show {name}.")
            action.setToolTip(f"Show {name}.")
            action.triggered.connect(functools.partial(open_camera, str(index)))
            self._group.addAction(action)
            self.addAction(action)
        if not entries:
            self.addAction("No camera found").setEnabled(False)
        self.addSeparator()
        for action in self._extra:
            self.addAction(action)


def shortcut_lines(commands: dict[str, QAction]) -> list[str]:
    """ "Open file: Ctrl+O" for every command with a key (F1 lists them)."""
    lines = []
    for action in commands.values():
        keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            lines.append(f"{action.text().replace('&', '').rstrip('…')}: {keys}")
    return lines
