"""The real speech engine: pyttsx3 + espeak-ng writing real WAV files, in its own thread.

Needs the system packages espeak-ng (synthesis) and, to try playing, alsa-utils (aplay). Without
a sound card playing fails; that must be reported once and never crash or hang. The SpeechLog
(the ``--speech-log`` scripting contract) is tested at the end.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import re
import sys
import threading
import time
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from ferdesk.speech import SpeechEngine, SpeechLog, SpeechUnavailableError, VoiceInfo

HAVE_ESPEAK = (
    ctypes.util.find_library("espeak-ng") is not None or ctypes.util.find_library("espeak") is not None
)
needs_espeak = pytest.mark.skipif(
    not HAVE_ESPEAK,
    reason="espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng alsa-utils)",
)

PHRASE = "two people. left: appears happy. right: appears neutral"


def wav_info(path: Path) -> tuple[float, np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return params.nframes / params.framerate, samples, params


@pytest.fixture(scope="module")
def engine():
    errors: list[str] = []
    eng = SpeechEngine(on_error=errors.append)
    eng.test_errors = errors  # type: ignore[attr-defined]
    if not HAVE_ESPEAK:
        eng.close()
        pytest.skip("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng alsa-utils)")
    # espeak-ng is installed: an unavailable engine is then a bug, not a reason to skip.
    assert eng.available, eng.last_error
    yield eng
    eng.close()


def sleeping_player(seconds: float) -> list[str]:
    """A stand-in audio player that "plays" for ``seconds``: a real child process to interrupt."""
    return [sys.executable, "-c", f"import time; time.sleep({seconds})"]


# -- writing WAV files ---------------------------------------------------------------------------


@needs_espeak
def test_save_to_file_writes_a_real_wav_with_speech_in_it(engine, tmp_path) -> None:
    path = engine.save_to_file(PHRASE, tmp_path / "scene.wav")
    assert path == tmp_path / "scene.wav"
    duration, samples, params = wav_info(path)
    assert params.nchannels == 1 and params.sampwidth == 2 and params.framerate > 8000
    assert 1.0 < duration < 10.0
    assert np.abs(samples).max() > 3000  # not silence
    assert engine.driver_name == "espeak"


@needs_espeak
def test_two_consecutive_saves_both_work_and_differ(engine, tmp_path) -> None:
    short = engine.save_to_file("no face in view", tmp_path / "a.wav")
    long = engine.save_to_file(PHRASE + ". " + PHRASE, tmp_path / "b.wav")
    third = engine.save_to_file("camera disconnected", tmp_path / "nested" / "dir" / "c.wav")
    durations = [wav_info(p)[0] for p in (short, long, third)]
    assert all(d > 0.3 for d in durations)
    assert durations[1] > 2 * durations[0]  # each file holds its own text
    assert third.parent.is_dir()


@needs_espeak
def test_speaking_after_saving_does_not_overwrite_the_saved_file(engine, tmp_path) -> None:
    """pyttsx3 2.99 alone would write the next say() into the last saved file (pyttsx3 #170)."""
    saved = engine.save_to_file("one person, in the centre: appears happy", tmp_path / "keep.wav")
    digest = hashlib.sha256(saved.read_bytes()).hexdigest()
    engine.say("something else entirely, which must not end up in that file")
    assert engine.wait_idle(20)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest


@needs_espeak
def test_faster_rate_gives_shorter_speech_and_volume_is_applied(tmp_path) -> None:
    with SpeechEngine(rate=120) as eng:
        slow, _slow_samples, _ = wav_info(eng.save_to_file(PHRASE, tmp_path / "slow.wav"))
        eng.set_rate(400)
        fast, fast_samples, _ = wav_info(eng.save_to_file(PHRASE, tmp_path / "fast.wav"))
        eng.set_volume(0.2)
        _, quiet_samples, _ = wav_info(eng.save_to_file(PHRASE, tmp_path / "quiet.wav"))
    assert fast < slow * 0.6, (slow, fast)
    loud_rms = np.sqrt(np.mean(fast_samples.astype(float) ** 2))
    quiet_rms = np.sqrt(np.mean(quiet_samples.astype(float) ** 2))
    assert quiet_rms < loud_rms * 0.5


@needs_espeak
def test_every_rate_change_is_honoured(tmp_path) -> None:
    """pyttsx3 2.99 + espeak-ng lost a changed rate in ~40 % of utterances (espeak_Cancel
    restoring old parameters); alternate the rate many times and check each utterance."""
    with SpeechEngine() as eng:
        durations = {150: [], 450: []}
        for i in range(12):
            rate = (150, 450)[i % 2]
            eng.set_rate(rate)
            durations[rate].append(wav_info(eng.save_to_file(PHRASE, tmp_path / f"{i}.wav"))[0])
    assert max(durations[450]) < 0.6 * min(durations[150]), durations


@needs_espeak
def test_saving_keeps_stdout_clean(engine, tmp_path, capsys) -> None:
    """stdout may carry machine-readable output; pyttsx3 prints "Audio saved to ..." there."""
    engine.save_to_file("appears happy", tmp_path / "quiet.wav")
    engine.say("appears happy")
    assert engine.wait_idle(20)
    assert "Audio saved" not in capsys.readouterr().out


@needs_espeak
def test_two_engines_at_once_each_get_their_own_audio(tmp_path) -> None:
    """espeak-ng is one synthesiser per process; two SpeechEngines must still both work."""
    with SpeechEngine(rate=150) as first, SpeechEngine(rate=450) as second:
        a = first.save_to_file(PHRASE, tmp_path / "first.wav")
        b = second.save_to_file(PHRASE, tmp_path / "second.wav")
        c = first.save_to_file(PHRASE, tmp_path / "first_again.wav")
    da, db, dc = (wav_info(p)[0] for p in (a, b, c))
    assert db < da * 0.6  # each engine's own rate was used
    assert dc == pytest.approx(da, rel=0.05)


# -- speaking --------------------------------------------------------------------------------------


@needs_espeak
def test_say_and_wait_idle_neither_hang_nor_crash_without_a_sound_card(engine) -> None:
    before = engine.utterances_started
    started = time.monotonic()
    for text in ("one person, in the centre: appears happy", "now appears surprised", "no face in view"):
        engine.say(text)
    assert engine.wait_idle(30), "speech did not finish within 30 s"
    assert engine.utterances_started == before + 3
    assert engine.speaking_started_at is not None and engine.speaking_started_at >= started
    # Without a sound card the player fails: said once, not once per utterance.
    playback_errors = [e for e in engine.test_errors if "Could not play speech" in e]
    assert len(playback_errors) <= 1
    engine.say("still speaking after that")
    assert engine.wait_idle(30)
    assert engine.available


def speech_threads() -> int:
    return sum(t.name == "ferdesk-speech" and t.is_alive() for t in threading.enumerate())


def copying_player(folder: Path, fail_from: int | None = None) -> list[str]:
    """A real player program that keeps a copy of each WAV it is given ("plays" it), and from
    the ``fail_from``-th call on fails as aplay does when the sound device is gone."""
    script = (
        "import shutil, sys, pathlib\n"
        f"folder = pathlib.Path({str(folder)!r})\n"
        "n = len(list(folder.glob('*.wav')))\n"
        f"fail_from = {fail_from!r}\n"
        "if fail_from is not None and n >= fail_from:\n"
        "    print('aplay: main:831: audio open error: No such device', file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "shutil.copy(sys.argv[-1], folder / f'{n:03d}.wav')\n"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-c", script]


@needs_espeak
def test_the_player_gets_the_speech_of_each_text_in_order(engine, tmp_path) -> None:
    texts = ["one person, in the centre: appears happy", "camera 0 disconnected", PHRASE]
    played = tmp_path / "played"
    with SpeechEngine(rate=300, player=copying_player(played)) as speaker:
        for text in texts:
            speaker.say(text)
        assert speaker.wait_idle(60)
    copies = sorted(played.glob("*.wav"))
    assert len(copies) == 3
    # The same text at the same rate, written by the engine itself: the played audio is that text.
    with SpeechEngine(rate=300) as writer:
        references = [writer.save_to_file(text, tmp_path / f"ref{i}.wav") for i, text in enumerate(texts)]
    ref_seconds = [wav_info(reference)[0] for reference in references]
    for index, (copy, text) in enumerate(zip(copies, texts, strict=True)):
        seconds = wav_info(copy)[0]
        nearest = min(range(len(texts)), key=lambda k: abs(ref_seconds[k] - seconds))
        assert nearest == index, (
            f"played #{index} ({seconds:.2f} s) sounds like {texts[nearest]!r}, not {text!r}"
        )
        assert abs(seconds - ref_seconds[index]) < 0.1, (
            f"{text!r}: {seconds:.2f} s, expected {ref_seconds[index]:.2f}"
        )


@needs_espeak
def test_a_player_that_fails_mid_run_is_reported_once_and_speech_goes_on_trying(tmp_path) -> None:
    errors: list[str] = []
    played = tmp_path / "played"
    threads_before = speech_threads()
    with SpeechEngine(
        rate=450, on_error=errors.append, player=copying_player(played, fail_from=2)
    ) as speaker:
        for i in range(6):
            speaker.say(f"announcement number {i}")
            assert speaker.wait_idle(30), "speech hung after the player failed"
        assert speaker.available  # the engine itself is fine; only the sound device went away
        assert speaker.utterances_started == 6
    assert len(list(played.glob("*.wav"))) == 2
    assert len(errors) == 1, errors  # once, not once per utterance
    assert "No such device" in errors[0]  # aplay's own reason, passed on
    assert speech_threads() == threads_before  # closed: its thread is gone


@needs_espeak
def test_interrupt_drops_queued_speech_and_cuts_the_current_utterance() -> None:
    with SpeechEngine(player=sleeping_player(30)) as eng:
        for i in range(4):
            eng.say(f"stale announcement number {i}")
        deadline = time.monotonic() + 10
        while eng.utterances_started < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert eng.utterances_started == 1
        asked = time.monotonic()
        eng.say("camera disconnected", interrupt=True)
        while eng.utterances_started < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert eng.utterances_started == 2, "the urgent utterance did not start"
        assert eng.speaking_started_at - asked < 2.0  # the 30 s "playback" was cut short
        eng.stop()
        assert eng.wait_idle(5)
        assert eng.utterances_started == 2  # the three queued stale ones were dropped


@needs_espeak
def test_voices_are_listed_and_can_be_chosen(engine) -> None:
    voices = engine.voices()
    assert voices and all(isinstance(v, VoiceInfo) and v.id and v.name for v in voices)
    assert not any(hasattr(v, "gender") or hasattr(v, "age") for v in voices)
    english = next(v for v in voices if any(lang.startswith("en") for lang in v.languages))
    engine.set_voice(english.id)
    with pytest.raises(ValueError, match="Unknown voice 'no-such-voice'"):
        engine.set_voice("no-such-voice")


@needs_espeak
def test_bad_settings_are_refused_with_a_clear_message(engine) -> None:
    with pytest.raises(ValueError, match="between 80 and 900 words per minute"):
        engine.set_rate(5)
    with pytest.raises(ValueError, match=r"between 0\.0 \(silent\) and 1\.0"):
        engine.set_volume(3)
    with pytest.raises(TypeError, match="words per minute"):
        engine.set_rate("fast")
    with pytest.raises(ValueError, match="empty string"):
        engine.save_to_file("   ", "/tmp/unused.wav")


@needs_espeak
def test_close_joins_the_thread_and_later_calls_are_harmless(tmp_path) -> None:
    eng = SpeechEngine()
    assert eng.available
    eng.say("goodbye")
    eng.close(timeout=10)
    assert not eng._thread.is_alive()
    assert not any(t.name == "ferdesk-speech" and t is eng._thread for t in threading.enumerate())
    eng.say("after close")  # ignored, no error
    assert eng.wait_idle(1)
    with pytest.raises(RuntimeError, match="closed"):
        eng.save_to_file("after close", tmp_path / "x.wav")
    eng.close()  # twice is fine


def test_no_engine_means_no_speech_but_no_crash(tmp_path) -> None:
    errors: list[str] = []
    eng = SpeechEngine(driver="no_such_driver", on_error=errors.append)
    assert not eng.available
    assert len(errors) == 1 and "Unknown speech driver 'no_such_driver'" in errors[0]
    assert "keeps running without built-in speech" in errors[0]
    assert "screen reader" not in errors[0]  # where announcements go is the session's to say
    assert eng.last_error == errors[0]
    eng.say("nobody hears this")
    assert eng.wait_idle(1)
    assert eng.voices() == []
    with pytest.raises(SpeechUnavailableError, match="Unknown speech driver"):
        eng.save_to_file("hello", tmp_path / "x.wav")
    eng.close()
    assert not eng._thread.is_alive()


def test_a_missing_player_is_reported_once(tmp_path) -> None:
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng is not installed")
    errors: list[str] = []
    with SpeechEngine(player=[str(tmp_path / "no-such-player")], on_error=errors.append) as eng:
        eng.say("one")
        eng.say("two")
        assert eng.wait_idle(20)
        # Files can still be written without any audio output.
        assert wav_info(eng.save_to_file("three", tmp_path / "three.wav"))[0] > 0.2
    assert len(errors) == 1 and "Could not start the audio player" in errors[0]


# -- the speech log --------------------------------------------------------------------------------

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)\t([^\t\n]*)$")


def test_speech_log_writes_iso_time_tab_text_lines(tmp_path) -> None:
    path = tmp_path / "logs" / "deeper" / "speech.log"
    log = SpeechLog(path)
    log.append("one person, in the centre: appears happy")
    # Line-buffered: a reader sees the line before close.
    assert path.read_text(encoding="utf-8").endswith("appears happy\n")
    when = datetime(2025, 1, 31, 14, 5, 9, 123456, tzinfo=timezone(timedelta(hours=1)))
    log.append("two\tpeople\nleft: appears happy", when=when)
    log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        assert LINE.match(line), line
    assert lines[1] == "2025-01-31T14:05:09.123+01:00\ttwo people left: appears happy"
    parsed = datetime.fromisoformat(LINE.match(lines[0]).group(1))
    assert abs((datetime.now().astimezone() - parsed).total_seconds()) < 60


def test_speech_log_appends_and_is_thread_safe(tmp_path) -> None:
    path = tmp_path / "speech.log"
    with SpeechLog(path) as log:
        log.append("first run")
    with SpeechLog(path) as log:

        def writer(n: int) -> None:
            for i in range(200):
                log.append(f"thread {n} line {i} " + "x" * 50)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith("\tfirst run")
    assert len(lines) == 1 + 4 * 200
    assert all(LINE.match(line) for line in lines)


def test_speech_log_after_close_and_bad_paths(tmp_path) -> None:
    log = SpeechLog(tmp_path / "s.log")
    log.close()
    assert log.closed
    log.append("too late")  # a shutdown race must not crash the app
    assert (tmp_path / "s.log").read_text(encoding="utf-8") == ""
    with pytest.raises(IsADirectoryError, match="expects a file name"):
        SpeechLog(tmp_path)
