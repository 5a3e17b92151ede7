"""``ferdesk`` (without ``predict``): the desktop app's command line and start-up.

Start-up checks the emotion model and the face detector before the window opens, so a missing or
damaged model gives one clear message (a dialog, or a line on stderr in scripted mode) and exit
status 2 — never a traceback. ``--quit-after`` makes a run scripted: no modal dialog ever opens,
problems are also printed on stderr, and the window closes itself after the given time (saving
``--screenshot`` first), which is how the app is tested headless::

    QT_QPA_PLATFORM=offscreen ferdesk --source demo --quit-after 5 --screenshot out.png \\
        --speech-log log.txt --no-speech

Exit status: 0 normal; 1 the run went wrong (the video would not stop, the screenshot could not be
written); 2 usage, model or start-up error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_RUN_FAILED, EXIT_STARTUP = 0, 1, 2

log = logging.getLogger("ferdesk")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--quit-after == {text}, must be > 0 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferdesk",
        description=(
            "Watch a camera (or a video, image or folder) and announce aloud the expression each "
            "face appears to show. 'ferdesk predict --help' analyses image files instead."
        ),
        epilog="Every command of the window has a keyboard shortcut; press F1 in the window to list them.",
    )
    parser.add_argument(
        "--source",
        metavar="SPEC",
        help="camera number (0, 1), /dev/videoN, a video or image file, a folder of images, or 'demo' "
        "(default: the 'start with' setting, first run: camera 0)",
    )
    parser.add_argument(
        "--model", type=Path, metavar="PATH", help="emotion model .tflite (default: the shipped one)"
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
        "--no-speech",
        action="store_true",
        help="no built-in voice (announcements still go to the screen reader if chosen, and to the log)",
    )
    parser.add_argument(
        "--mirror", action="store_true", default=None, help="mirror the picture (selfie view)"
    )
    parser.add_argument("--reset-settings", action="store_true", help="forget all saved settings first")
    return parser


def check_model(model_path: Path | None, detector: str) -> str:
    """Load the emotion model and check the detector file; returns the model's name.

    Raises ``ModelError``/``DetectorError`` with a message for the user. The detector itself is
    created by the live runner's thread (MediaPipe's import alone can take seconds, and the window
    should be on screen by then); if that fails the window reports it.
    """
    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.detector import DetectorError, detector_path

    classifier = EmotionClassifier(model_path)
    path = detector_path(detector)
    if not path.is_file():
        raise DetectorError(
            f"Face detector model not found: {path}. Reinstall ferdesk, or pass --detector short or full."
        )
    return classifier.info.name


def _startup_errors() -> tuple[type[BaseException], ...]:
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.detector import DetectorError

    return (ModelError, DetectorError, OSError, ValueError, RuntimeError, ImportError)


def _report_startup_error(title: str, message: str, scripted: bool) -> None:
    print(f"ferdesk: {message}", file=sys.stderr, flush=True)
    if scripted:
        return
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Critical, title, message)
    box.setAccessibleName(title)
    box.setAccessibleDescription(message)
    box.exec()


def _make_speech_engine(settings: Any, on_error: Any) -> Any:
    from ferdesk.speech.engine import SpeechEngine

    return SpeechEngine(
        rate=settings.speech_rate,
        volume=settings.volume,
        voice_id=settings.voice_id or None,
        on_error=on_error,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the desktop app; returns the exit status (see the module notes)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return int(exit_.code or 0)
    scripted = args.quit_after is not None

    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("ferdesk")
    QCoreApplication.setApplicationName("ferdesk")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ferdesk"])
    app.setApplicationDisplayName("ferdesk")

    from ferdesk.ui.main_window import LaunchOptions, MainWindow
    from ferdesk.ui.settings import SettingsStore

    store = SettingsStore()
    if args.reset_settings:
        store.reset()
    settings = store.load()
    detector = args.detector or settings.detector

    try:
        model_name = check_model(args.model, detector)
    except _startup_errors() as error:
        _report_startup_error(
            "ferdesk cannot start", f"The face or emotion model could not be loaded. {error}", scripted
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

    options = LaunchOptions(
        source=args.source,
        model_path=args.model,
        detector=args.detector,
        mirror=args.mirror,
        speech_enabled=not args.no_speech,
        scripted=scripted,
        screenshot=args.screenshot,
        model_name=model_name,
    )
    window = MainWindow(store, options, speech_factory=_make_speech_engine, speech_log=speech_log)

    def on_unexpected(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        # A bug in a slot must not kill the app or dump a traceback in a dialog: one clear line
        # for the user (window and stderr), the details for a bug report on stderr.
        details = "".join(traceback.format_exception(kind, error, tb))
        print(f"ferdesk: internal error: {error}\n{details}", file=sys.stderr, flush=True)
        window.statusBar().showMessage(
            f"Internal error: {error}. Details were written to the terminal.", 20000
        )

    previous_hook = sys.excepthook
    sys.excepthook = on_unexpected
    try:
        window.show()
        QTimer.singleShot(0, window.start)
        if scripted:
            QTimer.singleShot(round(args.quit_after * 1000), window.close)
        app.exec()
    finally:
        sys.excepthook = previous_hook
        if speech_log is not None:
            speech_log.close()
    return window.exit_code


if __name__ == "__main__":
    sys.exit(main())
