"""``ferdesk`` (without ``predict``): the desktop app's command line and start-up.

Start-up checks the emotion model and the face detector before the window opens, so a missing or
damaged model gives one clear message (a dialog, or a line on stderr in scripted mode) and exit
status 2 — never a traceback. ``--quit-after`` makes a run scripted: no modal dialog ever opens,
problems are also printed on stderr, and the window closes itself after the given time (saving
``--screenshot`` first), which is how the app is tested headless::

    QT_QPA_PLATFORM=offscreen ferdesk --source demo --quit-after 5 --screenshot out.png \\
        --speech-log log.txt --no-speech

Exit status: 0 normal; 1 the run went wrong (the video would not stop, the screenshot could not be
written); 2 usage, model or start-up error, or (scripted) a source that never opened: a damaged or
empty video, a camera that is not there (the message is on stderr; a file that cannot be opened
ends the run at once, a camera is retried until ``--quit-after``). Interactive runs keep the
window open and offer the demo or a file instead. 3: internal error, a bug in ferdesk: one line on
stderr naming the log file that holds the traceback (``ferdesk.logs``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_RUN_FAILED, EXIT_STARTUP = 0, 1, 2
EXIT_INTERNAL_ERROR = 3

log = logging.getLogger("ferdesk")


#: ``--output`` values (hyphenated, as typed) and the output setting each stands for.
OUTPUT_CHOICES: dict[str, str] = {
    "speech": "speech",
    "screen-reader": "screen_reader",
    "both": "both",
    "off": "off",
}


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--quit-after == {text}, must be > 0 seconds")
    return value


def _help_epilog() -> str:
    from ferdesk.logs import log_file, settings_location

    return (
        "Every command of the window has a keyboard shortcut; press F1 in the window to list them. "
        f"Settings are kept in {settings_location()} (--reset-settings forgets them). The log file, "
        f"with the details of any error or crash, is {log_file()}."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferdesk",
        description=(
            "Watch a camera (or a video, image or folder) and announce aloud the expression each "
            "face appears to show. 'ferdesk predict --help' analyses image files instead."
        ),
        epilog=_help_epilog(),
    )
    parser.add_argument(
        "--source",
        metavar="SPEC",
        help="camera number (0, 1), /dev/videoN, a network camera (http://..., rtsp://...), a video or "
        "image file, a folder of images, or 'demo' "
        "(default: the 'start with' setting, first run: camera 0)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="emotion model .tflite for this run; wins over the emotion model and accurate mode "
        "settings (default: the emotion model setting, first run: the shipped one)",
    )
    parser.add_argument(
        "--detector", choices=("short", "full"), help="face detector (default: the setting, first run: full)"
    )
    parser.add_argument(
        "--quit-after",
        type=_positive_seconds,
        metavar="SECONDS",
        help="close after this many seconds; scripted mode: no dialogs, problems also on stderr",
    )
    parser.add_argument(
        "--screenshot", type=Path, metavar="PNG", help="save a picture of the window when it closes"
    )
    parser.add_argument(
        "--speech-log", type=Path, metavar="FILE", help="append each announcement as '<ISO time>\\t<text>'"
    )
    parser.add_argument(
        "--events",
        metavar="FILE|-",
        help="write JSON lines: one per processed frame, one per announcement (- = standard output)",
    )
    parser.add_argument(
        "--no-speech",
        action="store_true",
        help="no built-in voice (announcements still go to the screen reader if chosen, and to the log)",
    )
    parser.add_argument(
        "--output",
        choices=tuple(OUTPUT_CHOICES),
        help="where announcements go for this run: ferdesk's own voice (speech), the running screen "
        "reader (screen-reader; ferdesk's voice if none runs), both, or off (list and log only); "
        "default: the setting",
    )
    parser.add_argument(
        "--mirror", action="store_true", default=None, help="mirror the picture (selfie view)"
    )
    parser.add_argument("--reset-settings", action="store_true", help="forget all saved settings first")
    parser.add_argument(
        "--trust-model",
        action="store_true",
        help="load a model file whose SHA-256 differs from the one recorded for it (changed on purpose)",
    )
    return parser


def check_model(model_path: Path | None, detector: str) -> str:
    """Load the emotion model and check the detector file; returns the model's name.

    Raises ``ModelError``/``DetectorError`` with a message for the user. The detector itself is
    created by the live runner's thread (MediaPipe's import alone can take seconds, and the window
    should be on screen by then); if that fails the window reports it.
    """
    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.detector import DetectorError, check_shipped_detector, detector_path, resolve_backend

    classifier = EmotionClassifier(model_path)
    resolve_backend()  # a misspelt $FERDESK_DETECTOR_BACKEND stops start-up, not the first frame
    path = detector_path(detector)
    if not path.is_file():
        raise DetectorError(
            f"Face detector model not found: {path}. Reinstall ferdesk, or pass --detector short or full."
        )
    check_shipped_detector(detector, path)
    return classifier.info.name


def _startup_errors() -> tuple[type[BaseException], ...]:
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.detector import DetectorError

    return (ModelError, DetectorError, OSError, ValueError, RuntimeError, ImportError)


def _report_startup_error(title: str, message: str, scripted: bool) -> None:
    from ferdesk.logs import active_log_path

    close_starting_notice()
    log.error("start-up stopped: %s", message)
    log_path = active_log_path()
    if log_path is not None:  # before the message: scripts read the last line for the reason
        print(f"ferdesk: the log file is {log_path}", file=sys.stderr, flush=True)
    print(f"ferdesk: {message}", file=sys.stderr, flush=True)
    if scripted:
        return
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Critical, title, message)
    box.setAccessibleName(title)
    box.setAccessibleDescription(message)
    box.exec()


#: Said while the models load (a few seconds on a slow laptop), so nobody waits in silence.
STARTING_TEXT = "ferdesk is starting, loading the models…"
_starting_notice: Any = None


def show_starting_notice() -> Any:
    """A small window saying that ferdesk is starting; its title is what a screen reader announces.

    Closed by :func:`close_starting_notice` once the main window is up (or start-up failed).
    """
    global _starting_notice
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel

    notice = QLabel(STARTING_TEXT)
    notice.setWindowTitle(STARTING_TEXT)
    notice.setAccessibleName("ferdesk is starting")
    notice.setAccessibleDescription(STARTING_TEXT)
    notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
    notice.setMargin(24)
    notice.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    notice.show()
    QApplication.processEvents()  # paint it now: the imports and model loading that follow block
    _starting_notice = notice
    return notice


def close_starting_notice() -> None:
    global _starting_notice
    if _starting_notice is not None:
        _starting_notice.close()
        _starting_notice = None


def _make_speech_engine(settings: Any, on_error: Any) -> Any:
    from ferdesk.speech.engine import SpeechEngine

    return SpeechEngine(
        rate=settings.speech_rate,
        volume=settings.volume,
        voice_id=settings.voice_id or None,
        on_error=on_error,
    )


#: A scripted run whose file cannot be opened closes this long after the runner said so: time for
#: the window to show and print the runner's message, queued from the runner's thread.
SCRIPTED_FAILURE_CLOSE_MS = 500

#: When ``--quit-after`` comes while the source is still opening (a network camera on a loaded
#: machine), the run waits at most this long for the verdict, so its exit status says whether the
#: source opened instead of guessing.
SCRIPTED_OPEN_VERDICT_GRACE_S = 10.0


def _status_relay(window: Any) -> Any:
    """A signal, safe to emit from any thread (a worker's crash), that shows a status-bar message."""
    from PySide6.QtCore import QObject, Qt, Signal, Slot

    class StatusRelay(QObject):
        message = Signal(str)

        @Slot(str)
        def show(self, text: str) -> None:
            window.statusBar().showMessage(text, 20000)

    relay = StatusRelay(window)  # lives in the GUI thread: queued calls run there
    relay.message.connect(relay.show, Qt.ConnectionType.QueuedConnection)
    return relay


def _scripted_end(window: Any) -> Any:
    """A signal, safe to emit from any thread, that closes ``window`` soon after, on its thread."""
    from PySide6.QtCore import QObject, Qt, QTimer, Signal

    class ScriptedEnd(QObject):
        end = Signal()

    ender = ScriptedEnd(window)
    ender.end.connect(
        lambda: QTimer.singleShot(SCRIPTED_FAILURE_CLOSE_MS, window.close), Qt.ConnectionType.QueuedConnection
    )
    return ender


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the exit status (see the module notes)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return int(exit_.code or 0)
    scripted = args.quit_after is not None
    # The log file (user log folder) gets every uncaught error, any thread, and fatal signals
    # (faulthandler); the user is told its path (ferdesk.logs).
    from ferdesk.logs import CrashLog

    crash_log = CrashLog().start(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args, scripted, crash_log)
    except Exception:  # a bug outside any slot (e.g. building the window): logged, one line said
        crash_log.report(*sys.exc_info())
        return EXIT_INTERNAL_ERROR
    finally:
        crash_log.stop()


def _run(args: argparse.Namespace, scripted: bool, crash_log: Any) -> int:
    """Everything after the command line is parsed; ``main`` keeps the log file open around it."""
    if args.trust_model:  # read by every EmotionClassifier, the worker thread's too
        import os

        os.environ["FERDESK_TRUST_MODEL"] = "1"

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("ferdesk")
    QCoreApplication.setApplicationName("ferdesk")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ferdesk"])
    app.setApplicationDisplayName("ferdesk")
    from PySide6.QtGui import QIcon

    from ferdesk.vision.paths import icon_path

    app.setWindowIcon(QIcon(str(icon_path())))
    show_starting_notice()

    from ferdesk.ui.main_window import LaunchOptions, MainWindow
    from ferdesk.ui.settings import SettingsStore

    store = SettingsStore()
    if args.reset_settings:
        store.reset()
    settings = store.load()
    detector = args.detector or settings.detector
    from ferdesk.session.session import choose_model

    choice = choose_model(settings, args.model)  # --model, else the model setting, else the default

    try:
        model_name = check_model(choice.model_path, detector)
    except _startup_errors() as error:
        chosen = " It is the model chosen in the settings; --reset-settings or --model PATH uses another."
        _report_startup_error(
            "ferdesk cannot start",
            f"The face or emotion model could not be loaded. {error}"
            + (chosen if choice.origin == "setting" else ""),
            scripted,
        )
        return EXIT_STARTUP

    if scripted and args.source is not None:
        from ferdesk.capture import CaptureError, open_source

        try:
            open_source(args.source)  # checks the spec and that the file exists; opens nothing
        except CaptureError as error:
            _report_startup_error("ferdesk cannot start", str(error), scripted)
            return EXIT_STARTUP

    speech_log = None
    if args.speech_log is not None:
        from ferdesk.speech.log import SpeechLog

        try:
            speech_log = SpeechLog(args.speech_log)
        except OSError as error:
            _report_startup_error(
                "ferdesk cannot start", f"The speech log cannot be opened: {error}", scripted
            )
            return EXIT_STARTUP

    events = None
    if args.events is not None:
        from ferdesk.events import EventWriter

        try:
            events = EventWriter(
                args.events, on_error=lambda message: print(f"ferdesk: {message}", file=sys.stderr)
            )
        except OSError as error:
            _report_startup_error(
                "ferdesk cannot start", f"The event stream cannot be opened: {error}", scripted
            )
            return EXIT_STARTUP

    options = LaunchOptions(
        source=args.source,
        model_path=args.model,
        detector=args.detector,
        mirror=args.mirror,
        speech_enabled=not args.no_speech,
        scripted=scripted,
        screenshot=args.screenshot,
        model_name=model_name,
        output=OUTPUT_CHOICES[args.output] if args.output else None,
    )
    window = MainWindow(store, options, speech_factory=_make_speech_engine, speech_log=speech_log)
    if events is not None:  # the session's hooks: every processed frame, every delivered announcement
        window.session.frames.add(events.frame)
        window.session.announcements.add(lambda announcement: events.announcement(announcement.text))

    # A bug in a slot or a thread must not kill the app or dump a traceback in a dialog: the
    # crash log writes the details to the log file and says one line naming it (stderr and here).
    crash_log.listeners.append(_status_relay(window).message.emit)  # any thread → the GUI thread
    crash_notice = crash_log.crash_notice()
    if crash_notice:
        print(f"ferdesk: {crash_notice}", file=sys.stderr, flush=True)
        QTimer.singleShot(0, lambda: window.statusBar().showMessage(crash_notice, 20000))

    # Scripted runs: did the source open? The live runner reports it (ferdesk.live.OpenReport).
    from ferdesk.live import add_open_listener

    open_reports: list[Any] = []  # appended on the runner's capture thread
    ender = _scripted_end(window) if scripted else None

    def on_open_report(report: Any) -> None:
        open_reports.append(report)
        if ender is not None and not report.opened and report.final:
            ender.end.emit()  # a file that cannot be opened ends a scripted run early

    def close_once_the_source_answered(waited_s: float) -> None:
        if open_reports or waited_s >= SCRIPTED_OPEN_VERDICT_GRACE_S:
            window.close()
        else:
            QTimer.singleShot(100, lambda: close_once_the_source_answered(waited_s + 0.1))

    remove_open_listener = add_open_listener(on_open_report)
    try:
        window.show()
        close_starting_notice()
        QTimer.singleShot(0, window.start)
        if scripted:
            QTimer.singleShot(round(args.quit_after * 1000), lambda: close_once_the_source_answered(0.0))
        app.exec()
    finally:
        remove_open_listener()
        if speech_log is not None:
            speech_log.close()
        if events is not None:
            events.close()
    if scripted and window.exit_code == EXIT_OK and not open_reports:
        waited = args.quit_after + SCRIPTED_OPEN_VERDICT_GRACE_S
        print(f"ferdesk: the source did not open within {waited:g} s.", file=sys.stderr, flush=True)
        return EXIT_STARTUP
    if scripted and window.exit_code == EXIT_OK and not open_reports[-1].opened:
        # The last line a script sees says why the status is 2 (the window printed it as it happened).
        print(f"ferdesk: the source never opened: {open_reports[-1].message}", file=sys.stderr, flush=True)
        return EXIT_STARTUP
    return window.exit_code


if __name__ == "__main__":
    sys.exit(main())
