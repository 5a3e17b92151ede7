"""The session: one source, one set of view flags, one announcement path, the user's commands.

Everything the window used to decide lives here, without Qt: which source runs and in what state
(:mod:`ferdesk.session.state`), the view flags (mirror, camera facing the user, large text,
verbosity, mute, output), where announcements go (:mod:`ferdesk.session.routing`), and the
commands behind the keys (start/stop, repeat, describe, status, mute, verbosity, ...). The window
shows what the session reports and forwards key presses; tests drive the session directly.

Threads: the live runner calls :meth:`Session._on_result` and the status callback on its own
threads. The policy update runs there, under a lock (the UI thread also asks the policy to repeat
or describe); frame listeners run there too. Everything else is handed to the UI thread through
``call_soon`` (the window passes a Qt queued call; tests pass an immediate or a queued plain call)
and runs there: announcements, status, the newest result to draw (latest wins: at most one
"result ready" call is ever pending, however fast frames arrive).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ferdesk.capture import CameraInfo, CaptureError, list_cameras, open_source
from ferdesk.session.people import PersonNumbers
from ferdesk.session.routing import SCREEN_READER, SPEECH, OutputRouter, ScreenReaderRoute
from ferdesk.session.settings import SNAPSHOT_SUFFIXES, AppSettings
from ferdesk.session.state import SourceChange, SourceMachine, SourceState
from ferdesk.speech.policy import Announcement, AnnouncementPolicy, PolicyConfig
from ferdesk.vision.model_files import ModelError
from ferdesk.vision.paths import emotion_model_path
from ferdesk.vision.reading import user_order
from ferdesk.vision.results import FrameResult, TrackedFace

if TYPE_CHECKING:
    from ferdesk.vision.analyze import FaceAnalyzer

log = logging.getLogger(__name__)

T = TypeVar("T")

STOP_TIMEOUT_S = 5.0
#: Exit status of a scripted run whose model or detector failed to load (as for a usage error).
EXIT_STARTUP_FAILED = 2


# ---------------------------------------------------------------------------------------------
# Seams: what the session needs from the runner, the speech engine and the log
# ---------------------------------------------------------------------------------------------


class Runner(Protocol):
    """What the session uses of :class:`ferdesk.live.LiveRunner`."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def is_running(self) -> bool: ...

    def set_mirror(self, mirror: bool) -> None: ...


class Speech(Protocol):
    """What the session uses of :class:`ferdesk.speech.engine.SpeechEngine`."""

    def say(self, text: str, interrupt: bool = False) -> None: ...

    def set_rate(self, wpm: int) -> None: ...

    def set_volume(self, v: float) -> None: ...

    def set_voice(self, voice_id: str) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


class Log(Protocol):
    def append(self, text: str) -> None: ...


RunnerFactory = Callable[..., Runner]
SpeechFactory = Callable[[AppSettings, Callable[[str], None]], Speech]
CallSoon = Callable[[Callable[[], None]], None]


def _immediately(fn: Callable[[], None]) -> None:
    fn()


def _default_runner_factory(*args: Any, **kwargs: Any) -> Runner:
    from ferdesk.live import LiveRunner

    return LiveRunner(*args, **kwargs)


def _default_analyzer(model_path: Path | None, detector: str, accurate: bool = False) -> FaceAnalyzer:
    from ferdesk.vision.analyze import FaceAnalyzer

    if accurate and model_path is None:
        return FaceAnalyzer(detector=detector, accurate=True)
    # --model names one model for this run: it wins over the accurate-mode setting.
    return FaceAnalyzer(model_path, detector=detector)


@dataclass(frozen=True)
class ModelChoice:
    """The classifier a source is analysed with: what ``--model``, the emotion-model setting and
    accurate mode add up to (:func:`choose_model`).

    ``model_path`` None is the shipped default model. ``accurate`` is only ever True with the
    default: the accurate-mode ensemble averages FER2013 networks (models/ferdesk_accurate.json),
    so next to another model, say an 8-class FER+ one, it would answer a different question.
    ``origin`` says which of the three decided: "command line", "setting" or "default".
    """

    model_path: Path | None
    accurate: bool
    origin: str


def choose_model(settings: AppSettings, command_line_model: Path | None = None) -> ModelChoice:
    """``--model PATH`` wins over the model setting, which wins over accurate mode."""
    if command_line_model is not None:
        return ModelChoice(Path(command_line_model), False, "command line")
    if not settings.uses_default_model:
        return ModelChoice(emotion_model_path(settings.emotion_model), False, "setting")
    return ModelChoice(None, settings.accurate_mode, "default")


def _model_words(choice: ModelChoice) -> str:
    """The status words for a chosen model or accurate mode (reads a sidecar or the manifest)."""
    from ferdesk.vision.model_files import ModelError, read_sidecar

    if choice.accurate:
        from ferdesk.vision.ensemble import read_manifest

        try:
            networks = len({member.model for member in read_manifest().members})
        except ModelError:
            return "accurate mode"  # the analyzer fails to load too, and says why
        return f"accurate mode ({networks} network{'s' if networks != 1 else ''})"
    assert choice.model_path is not None
    from ferdesk.vision.paths import emotion_model_summary

    try:
        summary = emotion_model_summary(read_sidecar(choice.model_path))
    except ModelError:
        return choice.model_path.stem
    return f"{choice.model_path.stem} ({summary})"


class Listeners(Generic[T]):
    """Plain-Python hooks: ``add(fn)``; each call is isolated so one failing listener stops nothing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[T], None]] = []

    def add(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Register ``listener``; returns a function that removes it again."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, value: T) -> list[BaseException]:
        errors: list[BaseException] = []
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception as error:  # a listener's bug must not stop the stream
                log.exception("%s listener failed", self.name)
                errors.append(error)
        return errors

    def __len__(self) -> int:
        return len(self._listeners)


# ---------------------------------------------------------------------------------------------
# Options and flags
# ---------------------------------------------------------------------------------------------


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
    #: --output: where announcements go for this run only (None: the saved setting).
    output: str | None = None


@dataclass(frozen=True)
class ViewFlags:
    """The one set of flags every view and the runner follow (derived; never stored twice)."""

    mirror: bool
    camera_faces_user: bool
    large_text: bool
    verbosity: str
    muted: bool
    output: str
    position_style: str
    confidence_threshold: float
    detector: str


@dataclass(frozen=True)
class StatusFigures:
    """The status bar's values: what runs, how fast; words and numbers both (for accessible names)."""

    running: bool
    source: str
    model: str
    fps: float
    faces: int | None
    extras: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The session
# ---------------------------------------------------------------------------------------------


class Session:
    """One run of ferdesk: source, flags, announcements and commands (see the module notes).

    Hooks (plain Python, see :mod:`ferdesk.session`): :attr:`frames` (every processed
    :class:`FrameResult`, on the processing thread), :attr:`announcements` (every delivered
    :class:`Announcement`, on the UI thread), :attr:`displays` (the newest result to draw),
    :attr:`source_changes` (:class:`SourceChange`), :attr:`problems` (output warnings),
    :attr:`cameras_found` and :attr:`flags_changed` (old and new :class:`ViewFlags`).
    """

    def __init__(
        self,
        settings: AppSettings,
        options: LaunchOptions | None = None,
        *,
        save_settings: Callable[[AppSettings], None] | None = None,
        screen_reader: ScreenReaderRoute | None = None,
        speech_factory: SpeechFactory | None = None,
        speech_log: Log | None = None,
        runner_factory: RunnerFactory | None = None,
        analyzer_factory: Callable[[Path | None, str, bool], FaceAnalyzer] | None = None,
        camera_lister: Callable[[], Sequence[CameraInfo]] | None = None,
        call_soon: CallSoon | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options or LaunchOptions()
        self.settings = settings
        self._save_settings = save_settings or (lambda _settings: None)
        self._speech_factory = speech_factory if self.options.speech_enabled else None
        self._runner_factory = runner_factory or _default_runner_factory
        self._analyzer_factory = analyzer_factory or _default_analyzer
        self._camera_lister = camera_lister
        self.call_soon: CallSoon = call_soon or _immediately
        self.clock = clock
        self.speech_log = speech_log
        self._log_failed = False

        self.policy = AnnouncementPolicy(self._policy_config(settings))
        self._policy_lock = threading.Lock()
        self.router = OutputRouter(self._output_mode(), screen_reader=screen_reader)
        self.speech: Speech | None = None
        self.source = SourceMachine()
        self.people = PersonNumbers()

        self.frames: Listeners[FrameResult] = Listeners("frame")
        self.announcements: Listeners[Announcement] = Listeners("announcement")
        self.displays: Listeners[FrameResult | None] = Listeners("display")
        self.source_changes: Listeners[SourceChange] = Listeners("source change")
        self.problems: Listeners[str] = Listeners("problem")
        self.cameras_found: Listeners[list[CameraInfo]] = Listeners("cameras")
        self.flags_changed: Listeners[tuple[ViewFlags, ViewFlags]] = Listeners("flags")
        self.close_requested: Listeners[int] = Listeners("close")

        self.runner: Runner | None = None
        self._generation = 0
        self._analysis_error: BaseException | None = None
        self._slot_lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._display_pending = False
        self._frame_failed = False
        self.results_received = 0
        self.current_result: FrameResult | None = None
        self.cameras: list[CameraInfo] = []
        self._camera_thread: threading.Thread | None = None
        self.exit_code = 0
        self._closed = False
        # What the start-up check loaded (options.model_name names its model) and what the
        # running source was opened with (its results name theirs); see model_text().
        self._startup_choice = self.model_choice()
        self._opened_choice: ModelChoice | None = None
        #: The generation whose analyzer fell back from accurate mode to the default model.
        self._accurate_failed: int | None = None
        self._model_words: dict[ModelChoice, str] = {}

    # =========================================================================================
    # flags and settings
    # =========================================================================================
    @property
    def flags(self) -> ViewFlags:
        s = self.settings
        return ViewFlags(
            mirror=self.options.mirror if self.options.mirror is not None else s.mirror,
            camera_faces_user=s.camera_faces_user,
            large_text=s.large_text,
            verbosity=s.verbosity,
            muted=self.router.muted,
            output=self._output_mode(),
            position_style=s.position_style,
            confidence_threshold=s.confidence_threshold,
            detector=self.options.detector or s.detector,
        )

    @property
    def muted(self) -> bool:
        return self.router.muted

    def _output_mode(self) -> str:
        return self.options.output or self.settings.output

    @staticmethod
    def _policy_config(settings: AppSettings) -> PolicyConfig:
        return PolicyConfig(
            hold_seconds=settings.hold_seconds,
            min_gap_seconds=settings.min_gap_seconds,
            confidence_threshold=settings.confidence_threshold,
            verbosity=settings.verbosity,
            position_style=settings.position_style,
        )

    def model_choice(self) -> ModelChoice:
        """The classifier the next source opens with (:func:`choose_model`)."""
        return choose_model(self.settings, self.options.model_path)

    def apply_settings(self, new: AppSettings, before: ViewFlags | None = None) -> None:
        """Use ``new`` from now on and save it; restarts the video only when the detector or the
        classifier changed (the emotion model, or accurate mode where it applies: both are built
        into the analyzer when the source opens; ``--model`` keeps the classifier as it is).

        ``before`` is the flags as the runner and views last saw them (default: now).
        """
        before = before or self.flags
        old, self.settings = self.settings, new
        if new.mirror != old.mirror:
            self.options.mirror = None  # the user's choice now overrides --mirror
        if new.output != old.output:
            self.options.output = None  # ... and over --output
        if new.detector != old.detector:
            self.options.detector = None
        self._save_settings(new)
        config = self._policy_config(new)
        with self._policy_lock:
            for name in (
                "hold_seconds",
                "min_gap_seconds",
                "confidence_threshold",
                "verbosity",
                "position_style",
            ):
                setattr(self.policy.config, name, getattr(config, name))
        self.router.mode = self._output_mode()
        self.configure_speech()
        if before.output != self._output_mode():
            self.check_screen_reader()
        after = self.flags
        runner = self.runner
        if runner is not None:
            if after.mirror != before.mirror:
                runner.set_mirror(after.mirror)
            if after.camera_faces_user != before.camera_faces_user:
                set_facing = getattr(runner, "set_user_facing_camera", None)
                if set_facing is not None:
                    set_facing(after.camera_faces_user)
        if after != before:
            self.flags_changed.emit((before, after))
        command_line_model = self.options.model_path
        model_changed = choose_model(new, command_line_model) != choose_model(old, command_line_model)
        restart = after.detector != before.detector or model_changed
        if restart and self.is_running() and self.source.spec:
            self.open_source(self.source.spec)

    def _change(self, before: ViewFlags | None = None, **changes: Any) -> None:
        self.apply_settings(replace(self.settings, **changes), before)

    # -- speech -----------------------------------------------------------------------------------
    def configure_speech(self) -> None:
        """Create the speech engine when built-in speech may be needed, and give it the settings."""
        wanted = self._speech_factory is not None and self._output_mode() != "off"
        if wanted and self.speech is None and self.router.speech_failure is None:
            assert self._speech_factory is not None
            try:
                self.speech = self._speech_factory(self.settings, self._speech_error_from_any_thread)
            except Exception as error:  # no speech is a degraded mode, not a crash
                log.exception("speech engine failed")
                self.speech = None
                self._speech_failed(f"Built-in speech could not start: {error}")
        if self.speech is not None:
            self.apply_voice(self.settings)
            if getattr(self.speech, "available", True) is False and self.router.speech_failure is None:
                reason = getattr(self.speech, "last_error", None) or "no speech engine is available."
                self.router.speech = self.speech
                self._speech_failed(str(reason))
        self.router.speech = self.speech

    def apply_voice(self, settings: AppSettings) -> None:
        speech = self.speech
        if speech is None:
            return
        try:
            speech.set_rate(settings.speech_rate)
            speech.set_volume(settings.volume)
            if settings.voice_id:
                speech.set_voice(settings.voice_id)
        except (TypeError, ValueError) as error:
            self._problem(f"Speech setting not applied: {error}")

    def preview_voice(self, text: str, settings: AppSettings) -> None:
        if self.speech is None:
            return
        self.apply_voice(settings)
        self.speech.say(text, interrupt=True)

    def voices(self) -> list[object]:
        speech = self.speech
        if speech is None or not getattr(speech, "available", False):
            return []
        return list(getattr(speech, "voices", list)())

    def _speech_error_from_any_thread(self, message: str) -> None:
        self.call_soon(functools.partial(self._speech_failed, message))

    def _speech_failed(self, reason: str) -> None:
        """Built-in speech failed: say so through the route that still works, and say it truly."""
        if self.router.speech_failure is not None:
            return  # one warning per failure; the engine itself reports each distinct problem once
        warning = self.router.speech_failed(reason)
        self._problem(warning)
        self.status(warning)

    # =========================================================================================
    # announcements
    # =========================================================================================
    def deliver(self, announcement: Announcement, force: bool = False) -> None:
        """Log, speak and/or send to the screen reader as the router decides; then tell listeners."""
        text = str(announcement.text)
        if self.speech_log is not None and not self._log_failed:
            try:
                self.speech_log.append(text)
            except OSError as error:
                # Said once, then the log is left alone: a full disk must not flood the user.
                self._log_failed = True
                self._problem(f"The speech log cannot be written ({error}); logging stopped.")
        for route in self.router.routes(force=force):
            try:
                if route == SPEECH and self.speech is not None:
                    self.speech.say(text, interrupt=announcement.urgent)
                elif route == SCREEN_READER and self.router.screen_reader is not None:
                    self.router.screen_reader.announce(text, announcement.urgent)
            except Exception as error:  # a route that breaks is reported; the others still get it
                log.exception("announcement route %s failed", route)
                self._problem(f"Announcement not sent to {route.replace('_', ' ')}: {error}")
        self.announcements.emit(announcement)

    def status(self, message: str, force: bool = False) -> Announcement:
        """Announce a status line ("Camera disconnected"); ``force`` speaks it even when muted."""
        with self._policy_lock:
            announcement = self.policy.status(message, self.clock())
        self.deliver(announcement, force=force)
        return announcement

    def repeat_last(self) -> Announcement:
        with self._policy_lock:
            announcement = self.policy.repeat_last(self.clock())
        if announcement is None:
            return self.status("Nothing has been announced yet.", force=True)
        self.deliver(announcement, force=True)
        return announcement

    def describe_now(self, faces: Sequence[TrackedFace] | None = None) -> Announcement:
        """D: the faces in view now; or why there are none (stopped, camera lost)."""
        if faces is None:
            if not self.is_running():
                return self.status("The video is stopped. Press Control P to start it.", force=True)
            if self.source.lost and self.source.problem is not None:
                # No pictures: "no face in view" would be wrong; say why there are none.
                return self.status(self.source.problem, force=True)
            faces = self.current_result.faces if self.current_result is not None else []
        with self._policy_lock:
            announcement = self.policy.describe_now(list(faces), self.clock())
        self.deliver(announcement, force=True)
        return announcement

    def status_figures(self) -> StatusFigures:
        running = self.is_running()
        stats = getattr(self.runner, "stats", None) if running else None
        fps = float(getattr(stats, "processing_fps", 0.0) or 0.0)
        faces = len(self.current_result.faces) if self.current_result is not None else None
        return StatusFigures(running, self.source_text(), self.model_text(), fps, faces)

    def say_status(self) -> Announcement:
        figures = self.status_figures()
        parts = [f"{'Showing' if figures.running else 'Stopped'}: {figures.source}."]
        if figures.running:
            parts.append(f"{figures.fps:.0f} pictures analysed per second.")
        parts.append(f"Model: {figures.model}.")
        if figures.faces is not None:
            count = figures.faces
            parts.append(
                "No face in view." if count == 0 else f"{count} face{'s' if count != 1 else ''} in view."
            )
        if self.router.muted:
            parts.append("Announcements are muted.")
        if not self.router.speech_trusted() or self._output_mode() != "speech":
            parts.append(self.router.where_announcements_go())
        return self.status(" ".join(parts), force=True)

    # -- the user's switches ----------------------------------------------------------------------
    def set_muted(self, muted: bool) -> Announcement:
        before = self.flags
        self.router.muted = bool(muted)
        self.flags_changed.emit((before, self.flags))
        return self.status(
            "Muted. Press M to hear announcements again." if muted else "Sound on.", force=True
        )

    def set_full_verbosity(self, full: bool) -> Announcement:
        self._change(verbosity="full" if full else "brief")
        return self.status("Full descriptions." if full else "Brief descriptions.")

    def set_mirror(self, mirror: bool) -> Announcement:
        before = self.flags
        self.options.mirror = None  # the user's choice now overrides --mirror
        self._change(before, mirror=bool(mirror))
        return self.status("Mirrored picture." if mirror else "Picture not mirrored.")

    def set_camera_faces_user(self, faces_user: bool) -> Announcement:
        self._change(camera_faces_user=bool(faces_user))
        return self.status(
            "Camera looks at you: left and right are from your side."
            if faces_user
            else "Camera looks where you look."
        )

    def set_large_text(self, large: bool) -> Announcement:
        self._change(large_text=bool(large))
        return self.status("Large text on." if large else "Large text off.")

    # =========================================================================================
    # the source and the runner
    # =========================================================================================
    def is_running(self) -> bool:
        runner = self.runner
        return runner is not None and bool(runner.is_running())

    def check_screen_reader(self) -> Announcement | None:
        """With "screen reader" output and no screen reader running, say so (and what happens)."""
        if self._output_mode() != "screen_reader" or self.router.screen_reader is None:
            return None
        if self.router.screen_reader_running():
            return None
        return self.status(f"No screen reader is running. {self.router.where_announcements_go()}")

    def start(self) -> None:
        """Open the source from the command line, or the saved "start with" source."""
        self.configure_speech()
        self.check_screen_reader()
        if self.source.spec is None:
            self.open_source(self.options.source or self.settings.start_source)
            if not self.source.is_camera:
                self.refresh_cameras()

    def open_source(self, spec: str) -> bool:
        """Switch to the source ``spec`` ("0", "/dev/video1", a file or folder, "demo")."""
        spec = str(spec).strip()
        try:
            source = open_source(spec)  # checks the spec and the file; opens nothing
        except CaptureError as error:
            self._source_changed(self.source.invalid(str(error)))
            return False
        self.stop()
        self._source_changed(self.source.opening(spec, source.label, bool(source.is_live)))
        self._set_current(None)
        self.people.reset()
        with self._policy_lock:
            self.policy.reset()
        self._generation += 1
        generation = self._generation
        self._analysis_error = None
        self._frame_failed = False
        flags = self.flags
        choice = self._opened_choice = self.model_choice()
        try:
            runner = self._runner_factory(
                spec,
                functools.partial(
                    self._make_analyzer, generation, flags.detector, choice.model_path, choice.accurate
                ),
                on_result=functools.partial(self._on_result, generation),
                on_status=functools.partial(self._on_status, generation),
                mirror=flags.mirror,
                user_facing_camera=flags.camera_faces_user,
                loop=self.settings.loop_videos,
            )
            self.runner = runner
            runner.start()
        except Exception as error:  # reported to the user, never a traceback
            log.exception("live runner failed to start")
            self.runner = None
            self._handle_status(generation, "error", f"Could not start {spec!r}: {error}")
            return False
        # Said at once, so a key press is never met with silence; a camera then reports
        # "connected" or "no camera found" when it has tried.
        self.status(f"Opening {source.label}.")
        return True

    def retry(self) -> None:
        if self.source.spec is not None:
            self.open_source(self.source.spec)

    def toggle_running(self) -> None:
        if self.is_running():
            self.stop()
            change = self.source.stopped()
            self._source_changed(change)
        elif self.source.spec is not None:
            self.open_source(self.source.spec)
        else:
            self.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop the runner, waiting up to ``timeout`` seconds; False (and said) if it did not stop."""
        runner, self.runner = self.runner, None
        self._generation += 1  # late messages and results from that runner are ignored
        with self._slot_lock:
            self._latest = None
        if runner is None:
            return True
        try:
            runner.stop(timeout=timeout)
        except RuntimeError as error:  # a thread is stuck in a camera read or an analysis step
            log.error("%s", error)
        stopped = not runner.is_running()
        if not stopped:
            self._problem(f"The video did not stop within {timeout:g} s.")
        return stopped

    def source_text(self) -> str:
        name = getattr(self.runner, "source_name", None) if self.runner is not None else None
        return str(name or self.source.label or "none")

    def model_text(self) -> str:
        """The model in use, for the status bar, the spoken status (Ctrl+I) and About.

        "accurate mode (2 networks)" when the ensemble runs; a chosen model by its file and what it
        tells apart, "ferdesk_ferplus (FER+, 8 expressions with contempt)"; the default by the name
        its results (or the start-up check) report, else "default".
        """
        choice = self.model_choice()
        if choice.accurate and self._accurate_failed == self._generation and self._opened_choice == choice:
            return "default (accurate mode could not start)"
        if choice.accurate or choice.model_path is not None:
            if choice not in self._model_words:
                self._model_words[choice] = _model_words(choice)
            return self._model_words[choice]
        result = self.current_result
        if result is not None and result.model_name and self._opened_choice == choice:
            return result.model_name
        if choice == self._startup_choice and self.options.model_name:
            return self.options.model_name
        return "default"

    def scene(self) -> list[tuple[int, TrackedFace]]:
        """The current result's faces in the one left-to-right order, with their person numbers."""
        if self.current_result is None:
            return []
        faces = user_order(self.current_result.faces)
        return [(self.people.number(face.track_id) or 0, face) for face in faces]

    # -- runner callbacks (its threads) ------------------------------------------------------------
    def _make_analyzer(
        self, generation: int, detector: str, model_path: Path | None = None, accurate: bool = False
    ) -> FaceAnalyzer:
        try:
            try:
                return self._analyzer_factory(model_path, detector, accurate)
            except ModelError as error:
                if not accurate:
                    raise
                # Accurate mode is an extra: a damaged manifest or member must not leave the user
                # with no picture when the default model works. Said, and the default runs.
                analyzer = self._analyzer_factory(model_path, detector, False)
                self._accurate_failed = generation
                message = f"Accurate mode could not start, so the default model is used. {error}"
                self.call_soon(functools.partial(self._report_accurate_fallback, generation, message))
                return analyzer
        except Exception as error:
            if generation == self._generation:
                self._analysis_error = error  # read with the "error" status that follows
            raise

    def _report_accurate_fallback(self, generation: int, message: str) -> None:
        if generation == self._generation and not self._closed:
            self._problem(message)
            self.status(message)

    def _on_result(self, generation: int, result: FrameResult) -> None:
        """Every processed frame, on the processing thread: policy, frame hooks, the display slot."""
        if generation != self._generation:
            return
        failure: BaseException | None = None
        try:
            with self._policy_lock:
                announcement = self.policy.update(result.faces, self.clock())
        except Exception as error:  # one bad frame must not stop the stream
            log.exception("announcement policy failed")
            announcement, failure = None, error
        errors = self.frames.emit(result)
        failure = failure or (errors[0] if errors else None)
        if failure is not None and not self._frame_failed:
            self._frame_failed = True
            message = f"Announcements failed for a frame: {failure}"
            self.call_soon(functools.partial(self._handle_status, generation, "warning", message))
        if announcement is not None:
            self.call_soon(functools.partial(self._deliver_scene, generation, announcement))
        with self._slot_lock:
            self._latest = result
            self.results_received += 1
            post = not self._display_pending
            self._display_pending = True
        if post:
            self.call_soon(functools.partial(self._publish_latest, generation))

    def _on_status(self, generation: int, kind: str, message: str) -> None:
        self.call_soon(
            functools.partial(self._handle_status, generation, str(kind), str(message), self.clock())
        )

    # -- on the UI thread --------------------------------------------------------------------------
    def _deliver_scene(self, generation: int, announcement: Announcement) -> None:
        if generation == self._generation and not self._closed:
            self.deliver(announcement)

    def take_latest(self) -> FrameResult | None:
        """The newest result not yet shown (results in between were simply overwritten)."""
        with self._slot_lock:
            result, self._latest = self._latest, None
            self._display_pending = False
        return result

    def _publish_latest(self, generation: int) -> None:
        result = self.take_latest()
        if result is None or generation != self._generation or self._closed:
            return
        if result.frame.timestamp <= self.source.lost_at:
            return  # analysed just before the camera was lost
        if self.source.state == SourceState.OPENING:
            self.source.state = SourceState.OPEN
        self._set_current(result)

    def _set_current(self, result: FrameResult | None) -> None:
        self.current_result = result
        if result is not None:
            self.people.update(result.faces, self.clock())
        self.displays.emit(result)

    def _handle_status(self, generation: int, kind: str, message: str, at: float | None = None) -> None:
        if generation != self._generation or self._closed:
            return  # a late message from a source that was already replaced
        analysis_failed = kind == "error" and self._analysis_error is not None
        if kind == "connected" and self.source.state == SourceState.LOST:
            # A camera that comes back is a new scene for the listener, even if nothing in it
            # changed: "one person, in the centre: appears happy" is said again.
            self.people.reset()
            with self._policy_lock:
                self.policy.reset()
        change = self.source.status(kind, message, self.clock() if at is None else at, analysis_failed)
        if change.placeholder is not None and change.state != SourceState.OPEN:
            self._set_current(None)
        self._source_changed(change)
        if change.fatal and self.options.scripted:
            self.exit_code = EXIT_STARTUP_FAILED
            self.close_requested.emit(self.exit_code)

    def _source_changed(self, change: SourceChange) -> None:
        if change.console is not None:
            self._to_console(*change.console)
        self.source_changes.emit(change)
        if change.speak:
            self.status(change.speak)

    def _problem(self, message: str) -> None:
        self._to_console("warning", message)
        self.problems.emit(message)

    def _to_console(self, kind: str, message: str) -> None:
        if self.options.scripted:
            print(f"ferdesk: {kind}: {message}", file=sys.stderr, flush=True)

    # -- cameras ----------------------------------------------------------------------------------
    def refresh_cameras(self) -> None:
        """Look for cameras in a helper thread (opening a camera can take seconds)."""
        if self._camera_thread is not None and self._camera_thread.is_alive():
            return
        lister = self._camera_lister or list_cameras

        def search() -> None:
            try:
                found: list[CameraInfo] | Exception = list(lister())
            except Exception as error:  # a failed search means "none found", said aloud
                log.exception("camera search failed")
                found = error
            with contextlib.suppress(RuntimeError):  # the UI went away while searching
                self.call_soon(functools.partial(self._cameras_listed, found))

        self._camera_thread = threading.Thread(target=search, name="ferdesk-list-cameras", daemon=True)
        self._camera_thread.start()

    def _cameras_listed(self, found: list[CameraInfo] | Exception) -> None:
        if self._closed:
            return
        self.cameras = [] if isinstance(found, Exception) else list(found)
        self.cameras_found.emit(self.cameras)

    def camera_menu_entries(self) -> list[tuple[int, str, bool]]:
        """(index, name, in use) for the camera menu: the last search plus the camera in use."""
        cameras = [(int(c.index), str(c.name)) for c in self.cameras]
        spec = self.source.spec or ""
        current = int(spec) if self.source.is_camera and spec.isdigit() else None
        if current is not None and all(index != current for index, _ in cameras):
            cameras.append((current, f"Camera {current} (in use)"))
        return [(index, name, index == current) for index, name in sorted(cameras)]

    # -- snapshots --------------------------------------------------------------------------------
    @staticmethod
    def snapshot_path(path: Path) -> Path:
        """``path`` with a suffix ferdesk writes (".png" appended to anything else)."""
        return path if path.suffix.lower() in SNAPSHOT_SUFFIXES else path.with_name(path.name + ".png")

    def snapshot_saved(self, path: Path, ok: bool) -> None:
        if ok:
            self.status(f"Snapshot saved as {path.name}.", force=True)
        else:
            self._problem(f"The snapshot could not be saved to {path} (folder missing or read-only?).")

    # -- closing ----------------------------------------------------------------------------------
    def close(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop everything this session started; False when the runner did not stop in time."""
        if self._closed:
            return True
        stopped = self.stop(timeout)
        self._closed = True
        if self.speech is not None:
            self.speech.close()
            self.speech = self.router.speech = None
        if self._camera_thread is not None:
            self._camera_thread.join(1.0)
        return stopped
