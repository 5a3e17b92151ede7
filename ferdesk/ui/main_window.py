"""ferdesk's main window: video with face boxes, a faces panel, the announcement timeline, menus.

The window shows and forwards; it decides nothing. The :class:`~ferdesk.session.Session` owns
the source, the view flags, the announcement routing and the commands; its events reach the
window as Qt signals carrying their payload (:mod:`ferdesk.ui.worker`). Every command is a row of
:data:`ferdesk.ui.actions.ACTIONS` — a :class:`QAction` with a shortcut and a menu entry — so the
whole app works from the keyboard.

Privacy: frames live in memory only. The one way a frame reaches the disk is "Save snapshot",
after the user picks a file name.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ferdesk.capture import CameraInfo
from ferdesk.session import EXIT_STARTUP_FAILED, LaunchOptions, Session, SourceChange, UpdateGate, ViewFlags
from ferdesk.session.session import Log, RunnerFactory, SpeechFactory
from ferdesk.session.settings import AppSettings
from ferdesk.speech.policy import Announcement, AnnouncementPolicy
from ferdesk.ui import dialogs
from ferdesk.ui.actions import CameraMenu, build_actions, build_menus, shortcut_lines
from ferdesk.ui.faces_panel import FacesPanel
from ferdesk.ui.notice_bar import NoticeBar
from ferdesk.ui.screen_reader import ScreenReaderBridge
from ferdesk.ui.settings import SettingsStore
from ferdesk.ui.status_fields import StatusFields
from ferdesk.ui.timeline import TimelineView
from ferdesk.ui.video_view import VideoView, wrap_rgb
from ferdesk.ui.worker import SessionSignals, UiThreadCalls, WindowScreenReader
from ferdesk.vision.results import FrameResult

__all__ = ["EXIT_STARTUP_FAILED", "LaunchOptions", "MainWindow"]

#: The faces panel changes at most this often (readable, not flickering, few accessibility events);
#: a change in the number of faces shows at once.
PANEL_INTERVAL_S = 0.5
FOCUSED_PANEL_INTERVAL_S = 2.0
#: The probability rows under each person change at most this often.
PANEL_DETAIL_INTERVAL_S = 1.0
STATUS_INTERVAL_MS = 1000
#: How long the E key's heatmap stays over the face.
EXPLANATION_SHOWN_MS = 4000
LARGE_TEXT_SCALE = 1.5

CameraLister = Callable[[], list[CameraInfo]]


class MainWindow(QMainWindow):
    """The application window. Collaborators are injected so tests can run it headless and fast.

    ``speech_factory(settings, on_error)`` makes a speech engine when built-in speech is wanted
    (None: never); ``runner_factory`` replaces :class:`ferdesk.live.LiveRunner`; ``camera_lister``
    replaces :func:`ferdesk.capture.list_cameras`.
    """

    def __init__(
        self,
        store: SettingsStore,
        options: LaunchOptions | None = None,
        *,
        speech_factory: SpeechFactory | None = None,
        runner_factory: RunnerFactory | None = None,
        camera_lister: CameraLister | None = None,
        speech_log: Log | None = None,
        screen_reader: ScreenReaderBridge | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.store = store
        self.calls = UiThreadCalls(self)
        self.screen_reader = screen_reader or ScreenReaderBridge(on_problem=self._screen_reader_problem)
        self.session = Session(
            store.load(),
            options,
            save_settings=store.save,
            screen_reader=WindowScreenReader(self.screen_reader, self),
            speech_factory=speech_factory,
            speech_log=speech_log,
            runner_factory=runner_factory,
            camera_lister=camera_lister,
            call_soon=self.calls,
        )
        self.options = self.session.options
        self.signals = SessionSignals(self.session, self)
        self._closed = False
        self._panel_gate = UpdateGate(PANEL_INTERVAL_S)
        self._detail_gate = UpdateGate(PANEL_DETAIL_INTERVAL_S)
        app = QApplication.instance()
        self._base_font = QFont(app.font()) if isinstance(app, QApplication) else QFont()

        self.setWindowTitle("ferdesk")
        self.setAccessibleName("ferdesk")
        self.setAccessibleDescription(
            "Shows the faces in front of the camera and announces the expression each one appears to show."
        )
        self._build_widgets()
        self.commands = build_actions(self, {"session": self.session})
        self.camera_menu = CameraMenu(self, [self.commands["refresh_cameras"], self.commands["mirror"]])
        build_menus(self.menuBar(), self.commands, self.camera_menu)
        self._rebuild_camera_menu()

        self.signals.resultReady.connect(self._show_result)
        self.signals.sourceChanged.connect(self._show_source_change)
        self.signals.announced.connect(self._on_announced)
        self.signals.problem.connect(self._show_problem)
        self.calls.failed.connect(self._show_problem)
        self.signals.camerasFound.connect(self._on_cameras_found)
        self.signals.flagsChanged.connect(self._on_flags_changed)
        self.signals.closeRequested.connect(lambda _code: QTimer.singleShot(0, self.close))
        self.faces.rowEntered.connect(self._speak_focused_row)

        self._apply_flags(None, self.session.flags)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start()
        geometry = store.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 700)
        for problem in store.problems:
            self.statusBar().showMessage(f"Setting ignored: {problem}", 15000)
        self._refresh_status()
        self.video.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- what other code reads --------------------------------------------------------------------
    @property
    def settings(self) -> AppSettings:
        return self.session.settings

    @property
    def policy(self) -> AnnouncementPolicy:
        return self.session.policy

    @property
    def current_result(self) -> FrameResult | None:
        return self.session.current_result

    @property
    def exit_code(self) -> int:
        return self.session.exit_code

    @exit_code.setter
    def exit_code(self, value: int) -> None:
        self.session.exit_code = value

    # =========================================================================================
    # building
    # =========================================================================================
    def _build_widgets(self) -> None:
        self.notice = NoticeBar()
        self.notice.openFileRequested.connect(self.open_file)
        self.notice.demoRequested.connect(self.use_demo)
        self.notice.retryRequested.connect(self.session.retry)
        self.video = VideoView()
        self.video.setAccessibleDescription(self.session.source.describe_video("No video yet."))
        self.faces = FacesPanel()
        self.timeline = TimelineView()

        video_area = QWidget()
        video_layout = QVBoxLayout(video_area)
        video_layout.setContentsMargins(0, 0, 0, 0)
        video_layout.addWidget(self.notice)
        video_layout.addWidget(self.video, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        for text, widget, stretch in (("Faces in view", self.faces, 3), ("Announcements", self.timeline, 2)):
            label = QLabel(text)
            label.setBuddy(widget)
            side_layout.addWidget(label)
            side_layout.addWidget(widget, stretch)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(video_area)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 400])
        self.setCentralWidget(self.splitter)

        self.status_fields = StatusFields(self.statusBar())
        labels = self.status_fields.labels
        self.source_label, self.model_label = labels["source"], labels["model"]
        self.fps_label, self.latency_label = labels["fps"], labels["latency"]
        order = [self.notice.message, self.notice.open_file, self.notice.use_demo, self.notice.retry]
        order += [self.notice.dismiss, self.video, self.faces, self.timeline]
        for first, second in itertools.pairwise(order):
            self.setTabOrder(first, second)

    def _rebuild_camera_menu(self) -> None:
        self.camera_menu.rebuild(self.session.camera_menu_entries(), self.open_source_spec)

    # =========================================================================================
    # showing what the session reports
    # =========================================================================================
    def _apply_flags(self, old: ViewFlags | None, new: ViewFlags) -> None:
        self.video.confidence_threshold = new.confidence_threshold
        self.faces.confidence_threshold = new.confidence_threshold
        self.faces.position_style = new.position_style
        if (old is None and new.large_text) or (old is not None and old.large_text != new.large_text):
            self._apply_large_text(new.large_text)
        checks = {
            "mirror": new.mirror,
            "camera_faces_user": new.camera_faces_user,
            "verbosity": new.verbosity == "full",
            "large_text": new.large_text,
            "mute": new.muted,
        }
        for key, checked in checks.items():
            self.commands[key].setChecked(checked)
        self._panel_gate.reset()
        self.video.update()

    def _on_flags_changed(self, change: tuple[ViewFlags, ViewFlags]) -> None:
        self._apply_flags(*change)

    def _apply_large_text(self, on: bool) -> None:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        font = QFont(self._base_font)
        if on and font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * LARGE_TEXT_SCALE)
        elif on and font.pixelSize() > 0:
            font.setPixelSize(round(font.pixelSize() * LARGE_TEXT_SCALE))
        app.setFont(font)

    def _show_result(self, result: FrameResult | None) -> None:
        numbers = {face.track_id: number for number, face in self.session.scene()}
        self.video.set_result(result, numbers)
        if result is None:
            return
        # While the user reads the faces panel its rows change slowly: a screen reader re-reads a
        # focused row whenever its text changes. A new number of faces shows at once.
        now = self.session.clock()
        interval = FOCUSED_PANEL_INTERVAL_S if self.faces.hasFocus() else PANEL_INTERVAL_S
        if self._panel_gate.due(now, len(result.faces), interval):
            self.faces.set_scene(self.session.scene(), update_children=self._detail_gate.due(now))

    def _show_source_change(self, change: SourceChange) -> None:
        description = change.video_description
        if description is not None and description != self.video.accessibleDescription():
            self.video.setAccessibleDescription(description)
        if change.hide_notice:
            self.notice.hide()
        if change.notice is not None:
            severity, text, offer = change.notice
            self.notice.show_message(severity, text, offer_alternatives=offer)
        if change.placeholder is not None:
            self.video.set_placeholder(change.placeholder)
        if change.panel_message is not None:
            self.faces.show_message(change.panel_message)
        if change.status_bar is not None:
            self.statusBar().showMessage(change.status_bar, 10000)
        self._rebuild_camera_menu()
        self._refresh_status()

    def _screen_reader_problem(self, message: str) -> None:
        self.calls(lambda: self._show_problem(message))  # may come from the dispatcher's thread

    def _show_problem(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.notice.show_message("warning", message, offer_alternatives=False)

    def _on_announced(self, announcement: Announcement) -> None:
        self.timeline.add_entry(str(announcement.text))

    def _on_cameras_found(self, cameras: list[CameraInfo]) -> None:
        self._rebuild_camera_menu()
        count = len(cameras)
        self.statusBar().showMessage(
            "No camera found." if count == 0 else f"{count} camera{'s' if count != 1 else ''} found.", 10000
        )

    def _speak_focused_row(self, text: str) -> None:
        # The screen reader reads the focused row itself; built-in speech says it too.
        if self.session.router.speech_trusted() and "speech" in self.session.router.routes():
            speech = self.session.speech
            if speech is not None:
                speech.say(text, interrupt=True)

    def _sync_start_action(self) -> None:
        running = self.session.is_running()
        action = self.commands["start_stop"]
        text = "&Stop" if running else "&Start"
        if action.text() != text:
            action.setText(text)
            action.setStatusTip("Stop the video and the announcements." if running else "Start the video.")

    def _refresh_status(self) -> None:
        self.status_fields.show(self.session.status_figures(), self.video.last_latency_ms)
        self._sync_start_action()

    # =========================================================================================
    # commands (the slots named in ACTIONS)
    # =========================================================================================
    def start(self) -> None:
        self.session.start()

    def open_source_spec(self, spec: str) -> bool:
        return self.session.open_source(spec)

    def use_demo(self) -> None:
        self.open_source_spec("demo")

    def retry_source(self) -> None:
        self.session.retry()

    def open_file(self) -> None:
        if path := dialogs.ask_source_file(self):
            self.open_source_spec(path)

    def open_folder(self) -> None:
        if path := dialogs.ask_source_folder(self):
            self.open_source_spec(path)

    def toggle_running(self) -> None:
        self.session.toggle_running()
        self._sync_start_action()

    def apply_settings(self, new: AppSettings) -> None:
        self.session.apply_settings(new)

    def save_snapshot(self) -> None:
        """Ask for a file name, then save the frame on screen (without the overlay)."""
        result = self.current_result
        if result is None:
            self.session.status("There is no picture to save yet.", force=True)
        elif (path := dialogs.ask_snapshot_path(self)) is not None:
            self.save_frame(result, path)

    def save_frame(self, result: FrameResult, path: Path) -> bool:
        path = self.session.snapshot_path(path)
        image, pixels = wrap_rgb(result.frame.rgb)
        ok = image.save(str(path))
        del pixels  # kept alive until the save is done
        self.session.snapshot_saved(path, ok)
        return ok

    def open_settings(self) -> None:
        dialogs.edit_settings(self, self.session)

    # -- focus ------------------------------------------------------------------------------------
    def _panes(self) -> list[QWidget]:
        panes: list[QWidget] = [self.notice.message] if self.notice.isVisible() else []
        return [*panes, self.video, self.faces, self.timeline]

    def focus_video(self) -> None:
        self.video.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_faces(self) -> None:
        self.faces.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_timeline(self) -> None:
        self.timeline.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_pane(self, step: int) -> None:
        panes = self._panes()
        focused = QApplication.focusWidget()
        current = next(
            (i for i, pane in enumerate(panes) if pane is focused or pane.isAncestorOf(focused)), -1
        )
        panes[(current + step) % len(panes)].setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_next_pane(self) -> None:
        self._focus_pane(1)

    def focus_previous_pane(self) -> None:
        self._focus_pane(-1)

    # -- help -------------------------------------------------------------------------------------
    def shortcut_lines(self) -> list[str]:
        return shortcut_lines(self.commands)

    def show_shortcuts(self) -> None:
        dialogs.show_shortcuts(self, self.shortcut_lines())

    def show_about(self) -> None:
        dialogs.show_about(self, self.session.model_text())

    # -- E: why did it say that? (ferdesk.vision.explain does the work, off the UI thread) -------
    def explain_face(self) -> None:
        """E: an occlusion heatmap over the selected face (else the first), and which part mattered, aloud."""
        if getattr(self, "_explain", None) is None:
            from ferdesk.vision.explain import ExplainCommand

            self._explain = ExplainCommand(
                self.session, show=self._show_explanation, model_path=self.options.model_path
            )
        from ferdesk.ui.faces_panel import TRACK_ROLE  # the row's person number

        current = self.faces.currentItem()
        number = current.data(0, TRACK_ROLE) if current is not None else None
        self._explain(number if isinstance(number, int) and number > 0 else None)

    def _show_explanation(self, explanation) -> None:
        """The heatmap drawn over the face for a few seconds (a label on top of the video)."""
        from PySide6.QtGui import QPixmap
        from PySide6.QtWidgets import QLabel

        label = getattr(self, "_explanation_label", None)
        if label is None:
            label = self._explanation_label = QLabel(self.video)
            label.setObjectName("explanationOverlay")
            label.setAccessibleName("Explanation heatmap")
            label.setScaledContents(True)
            self._explanation_timer = QTimer(self)
            self._explanation_timer.setSingleShot(True)
            self._explanation_timer.timeout.connect(label.hide)
        image, _pixels = wrap_rgb(explanation.overlay)
        label.setPixmap(QPixmap.fromImage(image.copy()))
        label.setAccessibleDescription(explanation.sentence)
        label.setGeometry(self.video.map_box(explanation.crop_box).toRect())
        label.show()
        label.raise_()
        self._explanation_timer.start(EXPLANATION_SHOWN_MS)

    # =========================================================================================
    # closing
    # =========================================================================================
    def save_screenshot(self, path: Path) -> bool:
        """Save a picture of the whole window (``--screenshot``)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ok = self.grab().save(str(path), "PNG")
        except OSError:
            ok = False
        if not ok:
            message = f"The screenshot could not be written to {path} (folder missing or read-only?)."
            print(f"ferdesk: {message}", file=sys.stderr, flush=True)
            self.exit_code = self.exit_code or 1
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        self._closed = True
        if self.options.screenshot is not None:
            self.save_screenshot(self.options.screenshot)
        self._status_timer.stop()
        if getattr(self, "_explain", None) is not None:
            self._explain.close()
        if not self.session.close():
            self.exit_code = self.exit_code or 1
        self.screen_reader.close()
        self.store.save_window_geometry(self.saveGeometry())
        app = QApplication.instance()
        if isinstance(app, QApplication) and self.settings.large_text:
            app.setFont(self._base_font)
        event.accept()
