"""ferdesk's main window: video with face boxes, a faces panel, the announcement timeline, menus.

Threads: capture and analysis run in the live runner's own threads (see :mod:`ferdesk.ui.worker`);
this window only draws. A display timer takes the newest result at screen rate; a slower timer
refreshes the status bar. Everything the window can do is a :class:`QAction` with a shortcut and a
menu entry, so the whole app works from the keyboard, and every announcement goes through one
:class:`~ferdesk.ui.announcer.Announcer` to speech, screen reader, speech log and timeline.

Privacy: frames live in memory only. The one way a frame reaches the disk is "Save snapshot",
after the user picks a file name.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDir, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QFont, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ferdesk import __version__
from ferdesk.capture import CaptureError, open_source
from ferdesk.speech.policy import AnnouncementPolicy, PolicyConfig
from ferdesk.ui.announcer import Announcer
from ferdesk.ui.faces_panel import FacesPanel
from ferdesk.ui.notice_bar import NoticeBar
from ferdesk.ui.screen_reader import ScreenReaderBridge
from ferdesk.ui.settings import AppSettings, SettingsStore
from ferdesk.ui.settings_dialog import SettingsDialog
from ferdesk.ui.timeline import TimelineView
from ferdesk.ui.video_view import VideoView, wrap_rgb
from ferdesk.ui.worker import LiveWorker, RunnerFactory
from ferdesk.vision.results import FrameResult

log = logging.getLogger(__name__)

#: The display timer's period: about 30 pictures a second, more than any webcam analysis reaches.
DISPLAY_INTERVAL_MS = 33
#: The faces panel and the video's description change at most this often (readable, not flickering).
PANEL_INTERVAL_S = 0.25
FOCUSED_PANEL_INTERVAL_S = 2.0
STATUS_INTERVAL_MS = 500
STOP_TIMEOUT_S = 5.0
#: Exit status of a scripted run whose model or detector failed to load (as for a usage error).
EXIT_STARTUP_FAILED = 2
LARGE_TEXT_SCALE = 1.5

ALTERNATIVES = "You can open a video or image file (Ctrl+O) or use the demo (Ctrl+D) instead."

SpeechFactory = Callable[[AppSettings, Callable[[str], None]], Any]
CameraLister = Callable[[], list]


@dataclass
class LaunchOptions:
    """What the command line asked for; ``None`` means "use the saved setting"."""

    source: str | None = None
    model_path: Path | None = None
    detector: str | None = None
    mirror: bool | None = None
    #: False with --no-speech: no audio at all; the screen reader and the log still get everything.
    speech_enabled: bool = True
    #: True with --quit-after: never open a modal dialog, report problems on stderr too.
    scripted: bool = False
    screenshot: Path | None = None
    model_name: str = ""


def _default_analyzer_factory(model_path: Path | None, detector: str) -> Any:
    from ferdesk.vision.analyze import FaceAnalyzer

    return FaceAnalyzer(model_path, detector=detector)


class MainWindow(QMainWindow):
    """The application window. Collaborators are injected so tests can run it headless and fast.

    ``speech_factory(settings, on_error)`` makes a speech engine when built-in speech is wanted
    (None: never); ``runner_factory`` replaces :class:`ferdesk.live.LiveRunner`; ``camera_lister``
    replaces :func:`ferdesk.capture.list_cameras`.
    """

    _speechProblem = Signal(str)
    _camerasListed = Signal(object)

    def __init__(
        self,
        store: SettingsStore,
        options: LaunchOptions | None = None,
        *,
        speech_factory: SpeechFactory | None = None,
        runner_factory: RunnerFactory | None = None,
        camera_lister: CameraLister | None = None,
        speech_log: Any | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.store = store
        self.options = options or LaunchOptions()
        self.settings: AppSettings = store.load()
        self._speech_factory = speech_factory if self.options.speech_enabled else None
        self._runner_factory = runner_factory
        self._camera_lister = camera_lister
        self.exit_code = 0
        self.worker: LiveWorker | None = None
        self.current_result: FrameResult | None = None
        self.speech: Any | None = None
        self._source_spec: str | None = None
        self._source_label = ""
        self._source_is_camera = False
        self._lost = False
        self._lost_at = 0.0  # time.monotonic() of the last loss: older frames are not shown
        self._applied_mirror = False  # what the running worker was told
        self._last_spoken_status: tuple[str, str] | None = None
        self._panel_updated_at = 0.0
        self._panel_face_count = -1
        self._latency_ms: float | None = None
        self._cameras: list = []
        self._camera_thread: threading.Thread | None = None
        self._closed = False
        app = QApplication.instance()
        self._base_font = QFont(app.font()) if app is not None else QFont()

        self.setWindowTitle("ferdesk")
        self.setAccessibleName("ferdesk")
        self.setAccessibleDescription(
            "Shows the faces in front of the camera and announces the expression each one appears to show."
        )

        # -- announcements ----------------------------------------------------------------------
        self.screen_reader = ScreenReaderBridge()
        self.policy = AnnouncementPolicy(self._policy_config(self.settings))
        self.announcer = Announcer(
            self.policy,
            self.screen_reader,
            self,
            speech_log=speech_log,
            output=self.settings.output,
            parent=self,
        )
        self.announcer.announced.connect(self._on_announced)
        self.announcer.outputProblem.connect(self._on_output_problem)
        self._speechProblem.connect(self._on_output_problem)
        self._camerasListed.connect(self._on_cameras_listed)

        # -- widgets ----------------------------------------------------------------------------
        self.notice = NoticeBar()
        self.notice.openFileRequested.connect(self.open_file)
        self.notice.demoRequested.connect(self.use_demo)
        self.notice.retryRequested.connect(self.retry_source)
        self.video = VideoView()
        self._describe_video("No video yet.")
        self.faces = FacesPanel()
        self.timeline = TimelineView()
        self._apply_view_settings()

        video_area = QWidget()
        video_layout = QVBoxLayout(video_area)
        video_layout.setContentsMargins(0, 0, 0, 0)
        video_layout.addWidget(self.notice)
        video_layout.addWidget(self.video, 1)

        faces_label = QLabel("Faces in view")
        faces_label.setBuddy(self.faces)
        timeline_label = QLabel("Announcements")
        timeline_label.setBuddy(self.timeline)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(faces_label)
        side_layout.addWidget(self.faces, 3)
        side_layout.addWidget(timeline_label)
        side_layout.addWidget(self.timeline, 2)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(video_area)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 400])
        self.setCentralWidget(self.splitter)

        self.fps_label = self._status_label("fpsLabel", "Frames per second", "Faces analysed per second.")
        self.latency_label = self._status_label(
            "latencyLabel", "Latency", "Time from capturing a picture to showing it, in milliseconds."
        )
        self.model_label = self._status_label("modelLabel", "Model", "The emotion model in use.")
        self.source_label = self._status_label("sourceLabel", "Source", "The camera or file being shown.")
        for label in (self.source_label, self.model_label, self.fps_label, self.latency_label):
            self.statusBar().addPermanentWidget(label)

        self.setTabOrder(self.notice.message, self.notice.open_file)
        self.setTabOrder(self.notice.open_file, self.notice.use_demo)
        self.setTabOrder(self.notice.use_demo, self.notice.retry)
        self.setTabOrder(self.notice.retry, self.notice.dismiss)
        self.setTabOrder(self.notice.dismiss, self.video)
        self.setTabOrder(self.video, self.faces)
        self.setTabOrder(self.faces, self.timeline)

        # -- actions and menus ------------------------------------------------------------------
        self.commands: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus()
        self._sync_action_states()

        # -- timers -----------------------------------------------------------------------------
        self._display_timer = QTimer(self)
        self._display_timer.setInterval(DISPLAY_INTERVAL_MS)
        self._display_timer.timeout.connect(self._pull_result)
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

    # =========================================================================================
    # building
    # =========================================================================================
    def _describe_video(self, state: str) -> None:
        # Deliberately not the live scene: a screen reader re-reads the description of the focused
        # widget whenever it changes, which would talk over ferdesk's own, debounced announcements.
        self.video.setAccessibleDescription(
            f"{state} Press D to hear the faces in view, R to repeat the last announcement, F1 for all keys."
        )

    def _status_label(self, object_name: str, name: str, description: str) -> QLabel:
        label = QLabel()
        label.setObjectName(object_name)
        label.setAccessibleName(name)
        label.setAccessibleDescription(description)
        label.setToolTip(description)
        return label

    def _action(
        self,
        key: str,
        text: str,
        shortcuts: list[str | QKeySequence],
        description: str,
        slot: Callable[..., Any],
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(key)
        action.setShortcuts([s if isinstance(s, QKeySequence) else QKeySequence(s) for s in shortcuts])
        action.setStatusTip(description)
        action.setToolTip(description)
        action.setWhatsThis(description)
        action.setCheckable(checkable)
        # triggered, not toggled: setChecked() from code (e.g. when settings load) runs no slot.
        action.triggered.connect(slot)
        self.addAction(action)  # the shortcut works wherever focus is in the window
        self.commands[key] = action
        return action

    def _build_actions(self) -> None:
        a = self._action
        a(
            "open_file",
            "&Open file…",
            ["Ctrl+O"],
            "Show a video or image file instead of the camera.",
            self.open_file,
        )
        a(
            "open_folder",
            "Open &folder of images…",
            ["Ctrl+Shift+O"],
            "Show the images of a folder one after another.",
            self.open_folder,
        )
        a("demo", "Use &demo", ["Ctrl+D"], "Play the built-in demo clip; no camera needed.", self.use_demo)
        a(
            "refresh_cameras",
            "&Refresh camera list",
            ["Ctrl+Shift+R"],
            "Look again for connected cameras.",
            self.refresh_cameras,
        )
        a(
            "snapshot",
            "&Save snapshot…",
            ["Ctrl+S"],
            "Save the picture now on screen to a file you choose. Nothing is saved otherwise.",
            self.save_snapshot,
        )
        a(
            "settings",
            "Se&ttings…",
            ["Ctrl+,"],
            "Speech, announcement, video and display settings.",
            self.open_settings,
        )
        a("quit", "&Quit", ["Ctrl+Q"], "Stop the video and close ferdesk.", self.close)
        a(
            "start_stop",
            "&Start",
            ["Ctrl+P", "Space"],
            "Start or stop the video and the announcements.",
            self.toggle_running,
        )
        a(
            "mirror",
            "&Mirror image",
            ["Ctrl+Shift+M"],
            "Flip the picture left to right, like a mirror.",
            self.set_mirror,
            checkable=True,
        )
        a(
            "camera_faces_user",
            "Camera &looks at me",
            ["Ctrl+Shift+L"],
            "Tick for a camera that faces you: left and right are then announced from your side.",
            self.set_camera_faces_user,
            checkable=True,
        )
        a(
            "repeat",
            "&Repeat last announcement",
            ["R", "F5"],
            "Say the last announcement again.",
            self.repeat_last,
        )
        a(
            "describe",
            "&Describe scene now",
            ["D"],
            "Describe the faces in view right now.",
            self.describe_now,
        )
        a(
            "say_status",
            "Say s&tatus",
            ["Ctrl+I"],
            "Say what is running: source, frame rate, model, and how many faces are in view.",
            self.say_status,
        )
        a(
            "mute",
            "&Mute",
            ["M"],
            "Silence announcements; they are still listed and logged.",
            self.set_muted,
            True,
        )
        a(
            "verbosity",
            "&Full descriptions",
            ["V"],
            "Switch between brief and full announcements (full adds how sure the model is).",
            self.set_full_verbosity,
            checkable=True,
        )
        a(
            "focus_video",
            "Go to &video",
            ["Alt+1"],
            "Move the keyboard focus to the video.",
            self._focus_video,
        )
        a(
            "focus_faces",
            "Go to &faces",
            ["Alt+2"],
            "Move the keyboard focus to the list of faces.",
            self._focus_faces,
        )
        a(
            "focus_timeline",
            "Go to &announcements",
            ["Alt+3"],
            "Move the keyboard focus to the announcement timeline.",
            self._focus_timeline,
        )
        a(
            "next_pane",
            "&Next pane",
            ["F6"],
            "Move the focus to the next part of the window.",
            self.focus_next_pane,
        )
        a(
            "previous_pane",
            "&Previous pane",
            ["Shift+F6"],
            "Move the focus to the previous part of the window.",
            self.focus_previous_pane,
        )
        a(
            "large_text",
            "&Large text",
            ["Ctrl+L"],
            "Make all text one and a half times larger.",
            self.set_large_text,
            checkable=True,
        )
        a("shortcuts", "&Keyboard shortcuts", ["F1"], "List every command and its key.", self.show_shortcuts)
        a("about", "&About ferdesk", [], "Version, model and privacy information.", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for key in ("open_file", "open_folder", "demo"):
            file_menu.addAction(self.commands[key])
        self.camera_menu = QMenu("&Cameras", self)
        self.camera_menu.setObjectName("cameraMenu")
        self.camera_menu.setToolTipsVisible(True)
        self._camera_group = QActionGroup(self)
        self._camera_group.setExclusive(True)
        file_menu.addMenu(self.camera_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.commands["snapshot"])
        file_menu.addSeparator()
        file_menu.addAction(self.commands["settings"])
        file_menu.addSeparator()
        file_menu.addAction(self.commands["quit"])
        self._rebuild_camera_menu()

        live_menu = bar.addMenu("&Live")
        live_menu.addAction(self.commands["start_stop"])
        live_menu.addSeparator()
        live_menu.addAction(self.commands["mirror"])
        live_menu.addAction(self.commands["camera_faces_user"])

        speech_menu = bar.addMenu("S&peech")
        for key in ("repeat", "describe", "say_status"):
            speech_menu.addAction(self.commands[key])
        speech_menu.addSeparator()
        speech_menu.addAction(self.commands["mute"])
        speech_menu.addAction(self.commands["verbosity"])

        view_menu = bar.addMenu("&View")
        for key in ("focus_video", "focus_faces", "focus_timeline", "next_pane", "previous_pane"):
            view_menu.addAction(self.commands[key])
        view_menu.addSeparator()
        view_menu.addAction(self.commands["large_text"])

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.commands["shortcuts"])
        help_menu.addAction(self.commands["about"])
        for menu in (file_menu, live_menu, speech_menu, view_menu, help_menu, self.camera_menu):
            menu.setToolTipsVisible(True)
            menu.setAccessibleName(menu.title().replace("&", ""))

    def _rebuild_camera_menu(self) -> None:
        """Camera entries from the last camera search, plus the camera in use (which a search cannot open)."""
        for action in self._camera_group.actions():
            self._camera_group.removeAction(action)
        self.camera_menu.clear()
        cameras = [(int(c.index), str(c.name)) for c in self._cameras]
        current_index = (
            int(self._source_spec) if self._source_is_camera and (self._source_spec or "").isdigit() else None
        )
        if current_index is not None and all(index != current_index for index, _ in cameras):
            cameras.append((current_index, f"Camera {current_index} (in use)"))
        for index, name in sorted(cameras):
            action = QAction(name, self)
            action.setObjectName(f"camera_{index}")
            action.setCheckable(True)
            action.setChecked(index == current_index)
            action.setStatusTip(f"Show {name}.")
            action.setToolTip(f"Show {name}.")
            action.triggered.connect(functools.partial(self.open_source_spec, str(index)))
            self._camera_group.addAction(action)
            self.camera_menu.addAction(action)
        if not cameras:
            none = self.camera_menu.addAction("No camera found")
            none.setEnabled(False)
        self.camera_menu.addSeparator()
        self.camera_menu.addAction(self.commands["refresh_cameras"])
        self.camera_menu.addAction(self.commands["mirror"])

    # =========================================================================================
    # settings
    # =========================================================================================
    @staticmethod
    def _policy_config(settings: AppSettings) -> PolicyConfig:
        return PolicyConfig(
            hold_seconds=settings.hold_seconds,
            min_gap_seconds=settings.min_gap_seconds,
            confidence_threshold=settings.confidence_threshold,
            verbosity=settings.verbosity,
            position_style=settings.position_style,
        )

    def _detector(self) -> str:
        return self.options.detector or self.settings.detector

    def _mirror(self) -> bool:
        """--mirror applies to this run only; the saved setting is used otherwise."""
        return self.options.mirror if self.options.mirror is not None else self.settings.mirror

    def _apply_view_settings(self) -> None:
        self.video.confidence_threshold = self.settings.confidence_threshold
        self.faces.confidence_threshold = self.settings.confidence_threshold
        self.faces.position_style = self.settings.position_style
        if self.settings.large_text:  # otherwise the system's font is left alone (and followed)
            self._apply_large_text(True)

    def _apply_large_text(self, on: bool) -> None:
        app = QApplication.instance()
        if app is None:
            return
        font = QFont(self._base_font)
        if on:
            if font.pointSizeF() > 0:
                font.setPointSizeF(font.pointSizeF() * LARGE_TEXT_SCALE)
            elif font.pixelSize() > 0:
                font.setPixelSize(round(font.pixelSize() * LARGE_TEXT_SCALE))
        app.setFont(font)

    def _sync_action_states(self) -> None:
        self.commands["mirror"].setChecked(self._mirror())
        self.commands["camera_faces_user"].setChecked(self.settings.camera_faces_user)
        self.commands["verbosity"].setChecked(self.settings.verbosity == "full")
        self.commands["large_text"].setChecked(self.settings.large_text)
        self.commands["mute"].setChecked(self.announcer.muted)
        self._sync_start_action()

    def _sync_start_action(self) -> None:
        running = self.worker is not None and self.worker.is_running()
        action = self.commands["start_stop"]
        text = "&Stop" if running else "&Start"
        if action.text() != text:
            action.setText(text)
            action.setStatusTip("Stop the video and the announcements." if running else "Start the video.")
        if not running and self._display_timer_active():
            # The runner ended on its own (a file that does not loop, a fatal error).
            self._pull_result()
            self._display_timer.stop()

    def _display_timer_active(self) -> bool:
        return hasattr(self, "_display_timer") and self._display_timer.isActive()

    def apply_settings(self, new: AppSettings) -> None:
        """Use ``new`` from now on and save it; restarts the video only when the detector changed."""
        old, self.settings = self.settings, new
        if new.mirror != old.mirror:
            self.options.mirror = None  # the user's choice now overrides --mirror
        self.store.save(new)
        self.announcer.configure(
            hold_seconds=new.hold_seconds,
            min_gap_seconds=new.min_gap_seconds,
            confidence_threshold=new.confidence_threshold,
            verbosity=new.verbosity,
            position_style=new.position_style,
        )
        self.announcer.output = new.output
        self._configure_speech()
        self.video.confidence_threshold = new.confidence_threshold
        self.faces.confidence_threshold = new.confidence_threshold
        self.faces.position_style = new.position_style
        if new.large_text != old.large_text:
            self._apply_large_text(new.large_text)
        if self.worker is not None:
            if self._mirror() != self._applied_mirror:
                self._applied_mirror = self._mirror()
                self.worker.set_mirror(self._applied_mirror)
            if new.camera_faces_user != old.camera_faces_user:
                self.worker.set_user_facing_camera(new.camera_faces_user)
        self._sync_action_states()
        if new.detector != old.detector:
            self.options.detector = None  # the user's choice now overrides --detector
            if self.worker is not None and self.worker.is_running() and self._source_spec:
                self.open_source_spec(self._source_spec)
        self.video.update()

    def _configure_speech(self) -> None:
        """Create the speech engine when built-in speech is wanted, and give it the current settings."""
        wanted = self.settings.output in ("speech", "both") and self._speech_factory is not None
        if wanted and self.speech is None:
            try:
                self.speech = self._speech_factory(self.settings, self._speechProblem.emit)
            except Exception as error:  # no speech is a degraded mode, not a crash
                log.exception("speech engine failed")
                self._on_output_problem(f"Built-in speech could not start: {error}")
                self.speech = None
        if self.speech is not None:
            self._apply_voice(self.settings)
        self.announcer.speech = self.speech

    def _apply_voice(self, settings: AppSettings) -> None:
        speech = self.speech
        if speech is None:
            return
        try:
            speech.set_rate(settings.speech_rate)
            speech.set_volume(settings.volume)
            if settings.voice_id:
                speech.set_voice(settings.voice_id)
        except (TypeError, ValueError) as error:
            self._on_output_problem(f"Speech setting not applied: {error}")

    # =========================================================================================
    # sources and the worker
    # =========================================================================================
    def start(self) -> None:
        """Open the source from the command line, or the saved "start with" source."""
        self._configure_speech()
        if self._source_spec is None:
            spec = self.options.source or self.settings.start_source
            self.open_source_spec(spec)
            if not self._source_is_camera:
                self.refresh_cameras()

    def open_source_spec(self, spec: str) -> bool:
        """Switch to the source ``spec`` ("0", "/dev/video1", a file or folder, "demo")."""
        spec = str(spec).strip()
        try:
            source = open_source(spec)  # checks the spec and the file; opens nothing
        except CaptureError as error:
            self._show_source_problem("error", str(error))
            return False
        self._stop_worker()
        self._source_spec = spec
        self._source_label = source.label
        self._source_is_camera = bool(source.is_live)
        self._lost = False
        self._lost_at = 0.0
        self._last_spoken_status = None
        self.current_result = None
        self._describe_video(f"Video from {source.label}.")
        self.notice.hide()
        self.video.set_result(None)
        self.video.set_placeholder(f"Starting {source.label}…")
        self.faces.show_message(f"Starting {source.label}…")
        self.announcer.reset_scene()
        self._rebuild_camera_menu()
        self._applied_mirror = self._mirror()
        worker = LiveWorker(
            spec,
            functools.partial(_default_analyzer_factory, self.options.model_path, self._detector()),
            mirror=self._applied_mirror,
            user_facing_camera=self.settings.camera_faces_user,
            on_result=self.announcer.on_result,
            runner_factory=self._runner_factory,
            parent=self,
        )
        worker.statusChanged.connect(self._on_worker_status)
        self.worker = worker
        started = worker.start()
        if started:
            self._display_timer.start()
            # Said at once, so a key press is never met with silence; a camera then reports
            # "connected" or "no camera found" when it has tried.
            self.announcer.status(f"Opening {source.label}.")
        self._refresh_status()
        return started

    def retry_source(self) -> None:
        if self._source_spec is not None:
            self.open_source_spec(self._source_spec)

    def use_demo(self) -> None:
        self.open_source_spec("demo")

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a video or image",
            QDir.homePath(),
            "Videos and images (*.mp4 *.m4v *.avi *.mkv *.mov *.webm *.mpg *.mpeg *.wmv "
            "*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)",
        )
        if path:
            self.open_source_spec(path)

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images", QDir.homePath())
        if path:
            self.open_source_spec(path)

    def toggle_running(self) -> None:
        if self.worker is not None and self.worker.is_running():
            self._stop_worker()
            self.video.set_placeholder("Stopped. Press Ctrl+P or Space to start again.")
            self.faces.show_message("Stopped.")
            self.announcer.status("Stopped.")
        elif self._source_spec is not None:
            self.open_source_spec(self._source_spec)
        else:
            self.start()
        self._sync_start_action()

    def _stop_worker(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        worker, self.worker = self.worker, None
        self._display_timer.stop()
        if worker is None:
            return True
        worker.statusChanged.disconnect(self._on_worker_status)
        stopped = worker.stop(timeout)
        if not stopped:
            self._on_output_problem(f"The video did not stop within {timeout:g} s.")
        worker.deleteLater()
        return stopped

    def _pull_result(self) -> None:
        """Display timer: show the newest result, if a new one arrived since the last tick."""
        if self.worker is None:
            return
        result = self.worker.take_latest()
        if result is None or result.frame.timestamp <= self._lost_at:
            return  # nothing new, or analysed just before the camera was lost
        self.current_result = result
        self.video.set_result(result)
        now = time.monotonic()
        # While the user reads the faces panel, its rows change slowly: a screen reader re-reads a
        # focused row whenever its text changes.
        interval = FOCUSED_PANEL_INTERVAL_S if self.faces.hasFocus() else PANEL_INTERVAL_S
        if now - self._panel_updated_at >= interval or len(result.faces) != self._panel_face_count:
            self._panel_updated_at = now
            self._panel_face_count = len(result.faces)
            self.faces.set_faces(result.faces)

    def _on_worker_status(self, kind: str, message: str) -> None:
        if self.sender() is not None and self.sender() is not self.worker:
            return  # a late message from a source that was already replaced
        if kind == "connected":
            self._lost = False
            self._last_spoken_status = None
            self.notice.hide()
            self.statusBar().showMessage(message, 10000)
            self.announcer.status(message)
        elif kind == "error" and self.worker is not None and self.worker.analysis_error is not None:
            self._on_analysis_failed(message)
        elif kind in ("disconnected", "error"):
            self._lost = True
            self._lost_at = time.monotonic()
            self.current_result = None
            self.video.set_result(None)
            self.video.set_placeholder(message)
            self.faces.show_message(message)
            self._show_source_problem("warning" if kind == "disconnected" else "error", message)
        elif kind == "ended":
            self.notice.show_message("info", f"{message} {ALTERNATIVES}")
            self._speak_status_once(kind, message)
            self.faces.show_message(message)
        else:  # info, warning
            self.statusBar().showMessage(message, 10000)
            self._to_console(kind, message)
        self._sync_start_action()

    def _on_analysis_failed(self, message: str) -> None:
        """The model or detector failed to load in the runner: nothing can work until it is fixed."""
        self.video.set_result(None)
        self.video.set_placeholder(message)
        self.faces.show_message(message)
        self.notice.show_message("error", message, offer_alternatives=False)
        self._speak_status_once("error", message)
        if self.options.scripted:
            self.exit_code = EXIT_STARTUP_FAILED
            QTimer.singleShot(0, self.close)

    def _show_source_problem(self, severity: str, message: str) -> None:
        text = message if "Ctrl+O" in message or "File menu" in message else f"{message} {ALTERNATIVES}"
        self.notice.show_message(severity, text)
        self._speak_status_once(severity, message)

    def _speak_status_once(self, kind: str, message: str) -> None:
        """Speak a source problem once, not every time the runner retries."""
        if self._last_spoken_status == (kind, message):
            return
        self._last_spoken_status = (kind, message)
        self.announcer.status(message)
        self._to_console(kind, message)

    def _to_console(self, kind: str, message: str) -> None:
        if self.options.scripted:
            print(f"ferdesk: {kind}: {message}", file=sys.stderr, flush=True)

    # -- cameras --------------------------------------------------------------------------------
    def refresh_cameras(self) -> None:
        """Look for cameras in a helper thread (opening a camera can take seconds)."""
        if self._camera_thread is not None and self._camera_thread.is_alive():
            return
        lister = self._camera_lister
        if lister is None:
            from ferdesk.capture import list_cameras as lister

        def search() -> None:
            try:
                found = lister()
            except Exception as error:  # a failed search means "none found", said aloud
                log.exception("camera search failed")
                found = error
            with contextlib.suppress(RuntimeError):  # the window was deleted while searching
                self._camerasListed.emit(found)

        self._camera_thread = threading.Thread(target=search, name="ferdesk-list-cameras", daemon=True)
        self._camera_thread.start()

    def _on_cameras_listed(self, found: Any) -> None:
        if isinstance(found, Exception):
            self.statusBar().showMessage(f"Camera search failed: {found}", 10000)
            found = []
        self._cameras = list(found)
        self._rebuild_camera_menu()
        count = len(self._cameras)
        self.statusBar().showMessage(
            "No camera found." if count == 0 else f"{count} camera{'s' if count != 1 else ''} found.", 10000
        )

    # =========================================================================================
    # announcements and commands
    # =========================================================================================
    def _on_announced(self, announcement: Any) -> None:
        self.timeline.add_entry(str(announcement.text))

    def _on_output_problem(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.notice.show_message("warning", message, offer_alternatives=False)
        self._to_console("warning", message)

    def repeat_last(self) -> None:
        self.announcer.repeat_last()

    def describe_now(self) -> None:
        if self.worker is None or not self.worker.is_running():
            self.announcer.status("The video is stopped. Press Control P to start it.", force=True)
            return
        if self._lost and self._last_spoken_status is not None:
            # No pictures: "no face in view" would be wrong; say why there are none.
            self.announcer.status(self._last_spoken_status[1], force=True)
            return
        faces = self.current_result.faces if self.current_result is not None else []
        self.announcer.describe_now(faces)

    def say_status(self) -> None:
        running = self.worker is not None and self.worker.is_running()
        parts = [f"{'Showing' if running else 'Stopped'}: {self._source_text()}."]
        if running:
            stats = self.worker.stats
            fps = getattr(stats, "processing_fps", 0.0) if stats is not None else 0.0
            parts.append(f"{fps:.0f} pictures analysed per second.")
        parts.append(f"Model: {self._model_text()}.")
        if self.current_result is not None:
            count = len(self.current_result.faces)
            parts.append(
                "No face in view." if count == 0 else f"{count} face{'s' if count != 1 else ''} in view."
            )
        if self.announcer.muted:
            parts.append("Announcements are muted.")
        self.announcer.status(" ".join(parts), force=True)

    def set_muted(self, muted: bool) -> None:
        self.announcer.muted = bool(muted)
        self.commands["mute"].setChecked(bool(muted))
        self.announcer.status(
            "Muted. Press M to hear announcements again." if muted else "Sound on.", force=True
        )

    def set_full_verbosity(self, full: bool) -> None:
        self.apply_settings(replace(self.settings, verbosity="full" if full else "brief"))
        self.announcer.status("Full descriptions." if full else "Brief descriptions.")

    def set_mirror(self, mirror: bool) -> None:
        self.options.mirror = None  # the user's choice now overrides --mirror
        self.apply_settings(replace(self.settings, mirror=bool(mirror)))
        self.announcer.status("Mirrored picture." if mirror else "Picture not mirrored.")

    def set_camera_faces_user(self, faces_user: bool) -> None:
        self.apply_settings(replace(self.settings, camera_faces_user=bool(faces_user)))
        self.announcer.status(
            "Camera looks at you: left and right are from your side."
            if faces_user
            else "Camera looks where you look."
        )

    def set_large_text(self, large: bool) -> None:
        self.apply_settings(replace(self.settings, large_text=bool(large)))

    def save_snapshot(self) -> None:
        """Ask for a file name, then save the frame on screen (without the overlay)."""
        result = self.current_result
        if result is None:
            self.announcer.status("There is no picture to save yet.", force=True)
            return
        suggested = Path(QDir.homePath()) / f"ferdesk-snapshot-{datetime.now():%Y%m%d-%H%M%S}.png"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save snapshot", str(suggested), "PNG image (*.png);;JPEG image (*.jpg *.jpeg)"
        )
        if path:
            self.save_frame(result, Path(path))

    def save_frame(self, result: FrameResult, path: Path) -> bool:
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            path = path.with_name(path.name + ".png")
        image, pixels = wrap_rgb(result.frame.rgb)
        ok = image.save(str(path))
        del pixels  # kept alive until the save is done
        if ok:
            self.announcer.status(f"Snapshot saved as {path.name}.", force=True)
        else:
            self._on_output_problem(
                f"The snapshot could not be saved to {path} (folder missing or read-only?)."
            )
        return ok

    def open_settings(self) -> None:
        voices = []
        if self.speech is not None and getattr(self.speech, "available", False):
            voices = self.speech.voices()
        cameras = [(str(c.index), str(c.name)) for c in self._cameras]
        dialog = SettingsDialog(
            self.settings,
            voices=voices,
            camera_choices=cameras,
            preview=self._preview_voice if self.speech is not None else None,
            parent=self,
        )
        accepted = dialog.exec() == SettingsDialog.DialogCode.Accepted
        if accepted:
            self.apply_settings(dialog.settings())
            self.announcer.status("Settings saved.")
        else:
            self._apply_voice(self.settings)  # undo what "Try voice" changed

    def _preview_voice(self, text: str, settings: AppSettings) -> None:
        if self.speech is None:
            return
        self._apply_voice(settings)
        self.speech.say(text, interrupt=True)

    # -- focus ------------------------------------------------------------------------------------
    def _panes(self) -> list[QWidget]:
        panes: list[QWidget] = [self.notice.message] if self.notice.isVisible() else []
        return [*panes, self.video, self.faces, self.timeline]

    def _focus_video(self) -> None:
        self.video.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_faces(self) -> None:
        self.faces.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_timeline(self) -> None:
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

    # -- help --------------------------------------------------------------------------------------
    def shortcut_lines(self) -> list[str]:
        lines = []
        for action in self.commands.values():
            keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                lines.append(f"{action.text().replace('&', '').rstrip('…')}: {keys}")
        return lines

    def show_shortcuts(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText("Every command and its key. Menus open with Alt and the underlined letter.")
        box.setInformativeText("\n".join(self.shortcut_lines()))
        box.exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About ferdesk",
            f"ferdesk {__version__}\n\nModel: {self._model_text()}\n\n"
            "Pictures are analysed on this computer and never stored or sent anywhere; only "
            "'Save snapshot' writes a picture, to the file you choose. Expressions are guesses by a "
            "model and are announced as such ('appears happy').",
        )

    # =========================================================================================
    # status bar and closing
    # =========================================================================================
    def _source_text(self) -> str:
        name = self.worker.source_name if self.worker is not None else None
        return name or self._source_label or "none"

    def _model_text(self) -> str:
        if self.current_result is not None and self.current_result.model_name:
            return self.current_result.model_name
        return self.options.model_name or "default"

    def _refresh_status(self) -> None:
        running = self.worker is not None and self.worker.is_running()
        stats = self.worker.stats if self.worker is not None else None
        fps = float(getattr(stats, "processing_fps", 0.0) or 0.0) if running else 0.0
        latency = self.video.last_latency_ms
        if latency is not None:
            self._latency_ms = latency if self._latency_ms is None else 0.7 * self._latency_ms + 0.3 * latency
        self.fps_label.setText(f"{fps:.1f} fps")
        self.latency_label.setText(
            "latency –" if self._latency_ms is None else f"latency {self._latency_ms:.0f} ms"
        )
        self.model_label.setText(f"model: {self._model_text()}")
        self.source_label.setText(f"source: {self._source_text()}")
        self._sync_start_action()

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
        if not self._stop_worker():
            self.exit_code = self.exit_code or 1
        self.store.save_window_geometry(self.saveGeometry())
        if self.speech is not None:
            self.speech.close()
            self.announcer.speech = self.speech = None
        if self._camera_thread is not None:
            self._camera_thread.join(1.0)
        app = QApplication.instance()
        if app is not None and self.settings.large_text:
            app.setFont(self._base_font)
        event.accept()
