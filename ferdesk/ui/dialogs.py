"""The window's modal moments: choosing a file or folder, saving a snapshot, settings, help.

Each is a function of the window, so ``main_window`` stays a thin shell. None of them opens in a
scripted run (``--quit-after``): scripted runs never show a modal dialog.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ferdesk import __version__
from ferdesk.session import Session
from ferdesk.session.settings import OPENABLE_SUFFIXES
from ferdesk.ui.settings_dialog import SettingsDialog


def ask_source_file(parent: QWidget) -> str:
    """A video or image file chosen by the user ("" when cancelled)."""
    patterns = " ".join(f"*{suffix}" for suffix in OPENABLE_SUFFIXES)
    path, _ = QFileDialog.getOpenFileName(
        parent, "Open a video or image", QDir.homePath(), f"Videos and images ({patterns});;All files (*)"
    )
    return path


def ask_source_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Open a folder of images", QDir.homePath())


def ask_snapshot_path(parent: QWidget) -> Path | None:
    suggested = Path(QDir.homePath()) / f"ferdesk-snapshot-{datetime.now():%Y%m%d-%H%M%S}.png"
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save snapshot", str(suggested), "PNG image (*.png);;JPEG image (*.jpg *.jpeg)"
    )
    return Path(path) if path else None


def edit_settings(parent: QWidget, session: Session) -> None:
    """The settings dialog; OK applies and saves, Cancel undoes what "Try voice" changed."""
    dialog = SettingsDialog(
        session.settings,
        voices=session.voices(),
        camera_choices=[(str(c.index), str(c.name)) for c in session.cameras],
        preview=session.preview_voice if session.speech is not None else None,
        model_override=session.options.model_path,  # --model: the dialog says it overrides the choice
        parent=parent,
    )
    try:
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            session.apply_settings(dialog.settings())
            session.status("Settings saved.")
        else:
            session.apply_voice(session.settings)
    finally:
        dialog.deleteLater()


def show_shortcuts(parent: QWidget, lines: Sequence[str]) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setIcon(QMessageBox.Icon.Information)
    box.setText("Every command and its key. Menus open with Alt and the underlined letter.")
    box.setInformativeText("\n".join(lines))
    box.exec()


def show_about(parent: QWidget, model: str) -> None:
    QMessageBox.about(
        parent,
        "About ferdesk",
        f"ferdesk {__version__}\n\nModel: {model}\n\n"
        "Pictures are analysed on this computer and never stored or sent anywhere; only "
        "'Save snapshot' writes a picture, to the file you choose. Expressions are guesses by a "
        "model and are announced as such ('appears happy').",
    )
