"""The session layer without Qt: source states, "said once", routing, commands, hooks, person numbers.

Most tests drive a :class:`Session` with a runner the test controls (it calls the same callbacks
the live runner calls, from the test's thread) and a ``call_soon`` queue the test drains — what the
Qt window does with its event loop. One test runs the real live runner on the demo clip with the
real detector and model and checks the two hooks other parts rely on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from ferdesk.session import (
    AppSettings,
    LaunchOptions,
    OutputRouter,
    PersonNumbers,
    Session,
    SourceMachine,
    SourceState,
    UpdateGate,
    without_route_claims,
)
from ferdesk.session.settings import SPECS, load_settings, with_changes
from ferdesk.vision.geometry import Box
from ferdesk.vision.results import Frame, FrameResult, TrackedFace

# -- helpers ---------------------------------------------------------------------------------------


class Calls:
    """A ``call_soon`` queue: what the window's event loop does, drained by the test."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, fn: Callable[[], None]) -> None:
        self.pending.append(fn)

    def drain(self) -> int:
        ran = 0
        while self.pending:
            self.pending.pop(0)()
            ran += 1
        return ran


class ControlledRunner:
    """Stands in for LiveRunner; the test calls ``result``/``status`` as its threads would."""

    made: ClassVar[list[ControlledRunner]] = []

    def __init__(self, spec, analyzer_factory, *, on_result, on_status, mirror=False, **kwargs):
        self.spec, self.on_result, self.on_status = spec, on_result, on_status
        self.mirror = mirror
        self.user_facing_camera = kwargs.get("user_facing_camera", False)
        self.running = False
        self.source_name = None
        self.stats = None
        ControlledRunner.made.append(self)

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running

    def set_mirror(self, mirror: bool) -> None:
        self.mirror = mirror

    def set_user_facing_camera(self, value: bool) -> None:
        self.user_facing_camera = value

    def result(self, faces: list[TrackedFace], index: int = 0) -> None:
        rgb = np.zeros((480, 640, 3), np.uint8)
        self.on_result(FrameResult(Frame(index, time.monotonic(), rgb), faces, model_name="test-model"))


class RecordingReader:
    """A screen-reader route that records what it was given; ``listening`` says if one runs."""

    def __init__(self, listening: bool = False) -> None:
        self.listening = listening
        self.said: list[tuple[str, bool]] = []

    def announce(self, text: str, assertive: bool = False) -> bool:
        self.said.append((text, assertive))
        return self.listening

    def running(self) -> bool:
        return self.listening


class RecordingSpeech:
    """A speech route that records; ``fail`` makes it report the engine's own failure message."""

    def __init__(self, settings, on_error) -> None:
        self.on_error = on_error
        self.available = True
        self.said: list[str] = []
        self.closed = False

    def say(self, text: str, interrupt: bool = False) -> None:
        self.said.append(text)

    def set_rate(self, wpm: int) -> None:
        pass

    def set_volume(self, v: float) -> None:
        pass

    def set_voice(self, voice_id: str) -> None:
        pass

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True


def face(track_id: int, x: int, emotion: str | None = "happy", confidence: float = 0.9, **kw) -> TrackedFace:
    position = "left" if x < 213 else "right" if x > 426 else "centre"
    return TrackedFace(
        track_id,
        Box(x, 100, 80, 80),
        emotion,
        confidence,
        {emotion: confidence} if emotion else {},
        position,
        **kw,
    )


def make_session(**kwargs) -> tuple[Session, Calls, RecordingReader]:
    calls = Calls()
    reader = kwargs.pop("reader", RecordingReader())
    settings = kwargs.pop("settings", AppSettings(output="screen_reader"))
    session = Session(
        settings,
        kwargs.pop("options", LaunchOptions()),
        screen_reader=reader,
        runner_factory=ControlledRunner,
        call_soon=calls,
        **kwargs,
    )
    HEARD[id(session)] = []
    session.announcements.add(lambda announcement: HEARD[id(session)].append(announcement.text))
    return session, calls, reader


HEARD: dict[int, list[str]] = {}


def said(session: Session) -> list[str]:
    """Every announcement the session delivered, oldest first (recorded by its announcement hook)."""
    return HEARD[id(session)]


# -- the source state machine ----------------------------------------------------------------------


def test_a_lost_camera_is_said_once_then_reconnecting_is_quiet_and_connected_is_said():
    machine = SourceMachine()
    machine.opening("0", "Camera 0", is_camera=True)
    change = machine.status("disconnected", "Camera 0 disconnected. Trying to reconnect…", now=5.0)
    assert change.state == SourceState.LOST and machine.lost and machine.lost_at == 5.0
    assert change.speak and change.notice[0] == "warning" and "Ctrl+O" in change.notice[1]
    again = machine.status("disconnected", "Camera 0 disconnected. Trying to reconnect…", now=6.0)
    assert again.speak is None and again.notice is not None  # shown, not said again
    back = machine.status("connected", "Camera 0 connected.", now=9.0)
    assert back.state == SourceState.OPEN and back.hide_notice and back.speak == "Camera 0 connected."
    assert not machine.lost
    lost_again = machine.status("disconnected", "Camera 0 disconnected. Trying to reconnect…", now=12.0)
    assert lost_again.speak  # a new loss after a reconnect is news again


def test_after_a_failed_camera_the_video_no_longer_claims_to_show_it():
    machine = SourceMachine()
    opening = machine.opening("0", "Camera 0", is_camera=True)
    assert opening.video_description.startswith("Video from Camera 0.")
    failed = machine.status("error", "No camera found: Camera 0 could not be opened.", now=1.0)
    assert failed.state == SourceState.FAILED
    assert "Video from Camera 0" not in failed.video_description
    assert failed.video_description.startswith("No picture: No camera found")


def test_an_analysis_failure_is_fatal_and_said_once():
    machine = SourceMachine()
    machine.opening("demo", "demo", is_camera=False)
    change = machine.status("error", "Face analysis could not start: broken.", now=1.0, analysis_failed=True)
    assert change.fatal and change.notice == ("error", "Face analysis could not start: broken.", False)
    assert machine.status("error", "Face analysis could not start: broken.", 2.0, True).speak is None


# -- routing ---------------------------------------------------------------------------------------


def test_routes_follow_the_mode_mute_and_what_works():
    reader = RecordingReader(listening=True)
    speech = RecordingSpeech(None, None)
    router = OutputRouter("both", speech=speech, screen_reader=reader)
    assert router.routes() == ("speech", "screen_reader")
    router.mode = "speech"
    assert router.routes() == ("speech",)
    router.mode = "screen_reader"
    assert router.routes() == ("screen_reader",)
    reader.listening = False  # no screen reader runs: keep built-in speech, not silence
    assert router.routes() == ("speech", "screen_reader")
    router.speech = None  # and with no voice at all, the reader route is all there is
    assert router.routes() == ("screen_reader",)
    router.speech = speech
    router.mode = "off"
    assert router.routes() == () and router.routes(force=True) == ()
    router.mode = "speech"
    router.muted = True
    assert router.routes() == () and router.routes(force=True) == ("speech",)


def test_screen_reader_output_without_a_screen_reader_says_so_and_keeps_the_voice():
    made: list[RecordingSpeech] = []

    def factory(settings, on_error):
        made.append(RecordingSpeech(settings, on_error))
        return made[-1]

    session, _, reader = make_session(speech_factory=factory, reader=RecordingReader(listening=False))
    session.start()
    notice = "No screen reader is running. Announcements are spoken by ferdesk's own voice."
    assert said(session)[0] == notice and made[0].said[0] == notice
    reader.listening = True
    session.apply_settings(AppSettings(output="speech"))
    session.apply_settings(AppSettings(output="screen_reader"))  # one runs now: nothing to say
    assert said(session).count(notice) == 1
    session.close()


def test_no_speech_from_the_command_line_means_no_audio_at_all():
    """--no-speech: nothing is sent to a screen reader behind the user's back either."""
    reader = RecordingReader(listening=True)
    router = OutputRouter("speech", speech=None, screen_reader=reader)
    assert router.routes() == () and router.routes(force=True) == ()
    assert router.where_announcements_go().startswith("Built-in speech is off")
    router.mode = "both"
    assert router.routes() == ("screen_reader",)  # the screen reader, when chosen, still gets it


def test_failed_speech_hands_over_to_the_screen_reader_and_says_so_truly():
    reader = RecordingReader(listening=True)
    router = OutputRouter("speech", speech=RecordingSpeech(None, None), screen_reader=reader)
    engine_message = (
        "No audio player found (looked for aplay, paplay, pw-play). Install alsa-utils "
        "to hear speech; announcements stay on screen and go to the screen reader."
    )
    warning = router.speech_failed(engine_message)
    assert router.routes() == ("speech", "screen_reader")  # the voice may come back; the reader is sure
    assert warning.startswith("Built-in speech failed: No audio player found")
    assert "Install alsa-utils to hear speech." in warning
    assert warning.endswith("Announcements now go to your screen reader.")

    reader.listening = False  # ... and with no screen reader, it must not claim one
    warning = OutputRouter("speech", speech=RecordingSpeech(None, None), screen_reader=reader).speech_failed(
        engine_message
    )
    assert "go to the screen reader" not in warning and "go to your screen reader" not in warning
    assert "No screen reader is running either" in warning


@pytest.mark.parametrize(
    "message",
    [
        "The speech engine did not start within 15 s; ferdesk continues without speech (announcements "
        "stay on screen and go to the screen reader).",
        "Could not play speech through aplay: no card. Is a sound card or audio server available? "
        "Announcements stay on screen and go to the screen reader.",
        "Unknown speech driver 'x' (no module); leave it unset to use the system default. ferdesk keeps "
        "running: announcements stay on screen and go to the screen reader.",
    ],
)
def test_the_engines_own_route_claims_are_removed(message):
    cleaned = without_route_claims(message)
    assert "screen reader" not in cleaned and "stay on screen" not in cleaned
    assert cleaned.endswith((".", "?")) and len(cleaned) > 20


def test_when_speech_fails_mid_run_the_warning_is_spoken_by_the_route_that_works():
    speech_made: list[RecordingSpeech] = []

    def factory(settings, on_error):
        speech_made.append(RecordingSpeech(settings, on_error))
        return speech_made[-1]

    reader = RecordingReader(listening=True)
    session, calls, _ = make_session(
        settings=AppSettings(output="speech"), speech_factory=factory, reader=reader
    )
    session.configure_speech()
    session.status("Opening demo.")
    assert speech_made[0].said == ["Opening demo."] and reader.said == []
    # The engine reports its failure from its own thread: handed to the UI thread, then said.
    speech_made[0].on_error("Could not play speech through aplay: no card. Announcements stay on screen.")
    assert calls.drain() == 1
    warning = said(session)[-1]
    assert warning.startswith("Built-in speech failed: Could not play speech through aplay: no card.")
    assert reader.said[-1][0] == warning  # spoken through the screen reader, which works
    assert warning.endswith("Announcements now go to your screen reader.")
    session.status("Camera 0 connected.")  # from now on the screen reader gets everything too
    assert reader.said[-1][0] == "Camera 0 connected." and speech_made[0].said[-1] == "Camera 0 connected."


# -- commands --------------------------------------------------------------------------------------


def test_open_announce_lose_describe_and_stop():
    session, calls, reader = make_session()
    assert session.open_source("7")
    runner = ControlledRunner.made[-1]
    assert (runner.spec, session.source.state) == ("7", SourceState.OPENING)
    assert said(session) == ["Opening Camera 7."]
    runner.on_status("connected", "Camera 7 connected.")
    calls.drain()
    assert said(session)[-1] == "Camera 7 connected." and session.source.state == SourceState.OPEN

    runner.on_status("disconnected", "Camera 7 disconnected. Trying to reconnect…")
    runner.on_status("disconnected", "Camera 7 disconnected. Trying to reconnect…")
    calls.drain()
    assert said(session).count("Camera 7 disconnected. Trying to reconnect…") == 1
    assert session.describe_now().text == "Camera 7 disconnected. Trying to reconnect…"

    session.toggle_running()
    assert not session.is_running() and said(session)[-1] == "Stopped."
    assert session.describe_now().text == "The video is stopped. Press Control P to start it."
    assert reader.said[-1] == ("The video is stopped. Press Control P to start it.", True)


def test_a_late_message_from_a_replaced_source_is_ignored():
    session, calls, _ = make_session()
    session.open_source("7")
    old = ControlledRunner.made[-1]
    session.open_source("demo")
    old.on_status("disconnected", "Camera 7 disconnected.")
    old.result([face(1, 60)])
    calls.drain()
    assert not any("Camera 7 disconnected" in text for text in said(session))
    assert session.current_result is None


def test_switches_say_what_they_did_and_change_the_one_set_of_flags():
    saved: list[AppSettings] = []
    session, _, reader = make_session(save_settings=saved.append, options=LaunchOptions(mirror=True))
    assert session.flags.mirror  # --mirror for this run ...
    session.open_source("7")
    runner = ControlledRunner.made[-1]
    assert runner.mirror
    assert session.set_large_text(True).text == "Large text on."  # Ctrl+L is heard
    assert session.flags.large_text and saved[-1].large_text and saved[-1].mirror is False  # ... not saved
    assert session.set_mirror(False).text == "Picture not mirrored."
    assert runner.mirror is False and session.flags.mirror is False
    assert session.set_camera_faces_user(True).text.startswith("Camera looks at you")
    assert runner.user_facing_camera
    assert session.set_full_verbosity(True).text == "Full descriptions."
    assert session.policy.config.verbosity == "full"
    session.set_muted(True)
    assert session.flags.muted and reader.said[-1][0].startswith("Muted")
    count = len(reader.said)
    session.status("Something happened.")
    assert len(reader.said) == count and said(session)[-1] == "Something happened."  # listed, not sent
    assert session.repeat_last().text == "Something happened." and len(reader.said) == count + 1


def test_say_status_names_source_model_faces_and_mute():
    session, calls, _ = make_session()
    session.open_source("demo")
    runner = ControlledRunner.made[-1]
    runner.result([face(1, 60), face(2, 500, "sad")])
    calls.drain()
    text = session.say_status().text
    assert text.startswith("Showing: demo.") and "Model: test-model." in text and "2 faces in view." in text


def test_scene_announcements_and_hooks_run_on_their_threads():
    session, calls, _ = make_session(
        settings=AppSettings(output="off", hold_seconds=0.0, min_gap_seconds=0.0)
    )
    frames: list[int] = []
    session.frames.add(lambda result: frames.append(result.frame.index))
    session.open_source("demo")
    runner = ControlledRunner.made[-1]
    for index in range(5):
        runner.result([face(1, 60)], index)
    assert frames == [0, 1, 2, 3, 4]  # at once, on the runner's thread
    assert said(session) == ["Opening demo."]  # the announcement waits for the UI thread
    calls.drain()
    assert said(session)[-1] == "one person, on the left: appears happy"
    assert session.current_result.frame.index == 4  # latest wins


def test_a_camera_that_comes_back_says_the_unchanged_scene_again():
    session, calls, _ = make_session(
        settings=AppSettings(output="off", hold_seconds=0.0, min_gap_seconds=0.0)
    )
    session.open_source("7")
    runner = ControlledRunner.made[-1]
    runner.on_status("connected", "Camera 7 connected.")
    runner.result([face(1, 60)], 0)
    calls.drain()
    scene = "one person, on the left: appears happy"
    assert said(session).count(scene) == 1
    runner.result([face(1, 60)], 1)  # same scene: nothing new to say
    calls.drain()
    assert said(session).count(scene) == 1

    runner.on_status("disconnected", "Camera 7 disconnected. Trying to reconnect…")
    calls.drain()
    runner.on_status("connected", "Camera 7 connected.")
    calls.drain()
    runner.result([face(1, 60)], 2)
    calls.drain()
    assert said(session).count(scene) == 2
    assert said(session)[-1] == scene


# -- people, order, gates, settings ----------------------------------------------------------------


def test_people_get_small_numbers_that_are_reused_and_survive_renumbering():
    numbers = PersonNumbers(grace_s=1.0)
    assert numbers.update([face(54, 60), face(55, 500)], now=0.0) == {54: 1, 55: 2}
    # The tracker loses the left face and finds it again as 69, a little to the right.
    assert numbers.update([face(55, 500)], now=0.1) == {55: 2}
    assert numbers.update([face(69, 70), face(55, 500)], now=0.3) == {69: 1, 55: 2}
    # Someone new elsewhere, while both are in view, gets the next free number.
    assert numbers.update([face(69, 70), face(55, 500), face(80, 290)], now=0.4)[80] == 3
    # After everyone left for longer than the grace, numbering starts again at 1.
    numbers.update([], now=0.5)
    assert numbers.update([face(200, 290)], now=3.0) == {200: 1}
    # A new scene at once (three people replaced by one elsewhere): that one is Person 1 too.
    numbers.update([face(300, 60), face(301, 290), face(302, 500)], now=4.0)
    assert numbers.update([face(400, 380, emotion="sad")], now=4.05) == {400: 1}


def test_update_gate_bounds_the_rate_but_lets_a_change_through():
    gate = UpdateGate(0.5)
    times = [i / 30 for i in range(90)]  # 3 s at 30 fps, same key
    assert sum(gate.due(t, key=1) for t in times) == 6
    assert gate.due(3.01, key=2)  # a new number of faces shows at once


def test_settings_are_declared_once_and_parsed_from_stored_strings():
    stored = {"speech_rate": "320", "output": "telepathy", "mirror": "true", "confidence_threshold": "0.7"}
    settings, problems = load_settings(lambda name: (name in stored, stored.get(name)))
    assert (settings.speech_rate, settings.mirror, settings.confidence_threshold) == (320, True, 0.7)
    assert settings.output == "speech" and len(problems) == 1 and "output" in problems[0]
    assert SPECS["speech_rate"].value_range == (80, 900)
    assert set(SPECS["output"].choices) == {"speech", "screen_reader", "both", "off"}
    with pytest.raises(ValueError, match=r"outside 0\.0\.\.10\.0"):
        with_changes(AppSettings(), hold_seconds=11)
    with pytest.raises(ValueError, match=r"is not a setting"):
        with_changes(AppSettings(), colour="red")


def test_output_from_the_command_line_applies_to_this_run_only():
    saved: list[AppSettings] = []
    session, _, _ = make_session(
        settings=AppSettings(output="speech"), save_settings=saved.append, options=LaunchOptions(output="off")
    )
    assert session.flags.output == "off" and session.router.routes(force=True) == ()
    session.set_full_verbosity(True)
    assert saved[-1].output == "speech"  # saving another setting does not save --output


# -- the real runner --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_real_demo_feeds_the_frame_and_announcement_hooks(tmp_path: Path):
    """Real LiveRunner, detector and model on the demo clip: both documented hooks fire."""
    calls = Calls()
    session = Session(AppSettings(output="off", hold_seconds=0.3), call_soon=calls)
    frames: list[FrameResult] = []
    announcements: list[str] = []
    session.frames.add(frames.append)
    session.announcements.add(lambda a: announcements.append(a.text))
    assert session.open_source("demo")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any("person" in t or "people" in t for t in announcements):
        calls.drain()
        time.sleep(0.05)
    session.close()
    calls.drain()
    assert announcements[0] == "Opening demo."
    assert any("person" in text or "people" in text for text in announcements), announcements
    assert frames and any(result.faces for result in frames)
    assert all(face.user_x is not None for result in frames for face in result.faces)
