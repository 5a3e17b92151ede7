"""Speech output through pyttsx3, confined to one dedicated thread and fed by a queue.

Why it is built this way (pyttsx3 2.99, see ``shared/notes/accessibility.md``):

* pyttsx3 raises "run loop already started" or hangs in ``runAndWait`` when it is driven from
  several threads (pyttsx3 #126, #193, #262). Here one thread creates the engine and is the only
  one to call it; every public method just puts a request on a queue.
* On Linux 2.99's espeak driver returns from ``runAndWait`` before synthesis is done: espeak-ng
  synthesises on its own thread and calls back later (pyttsx3 #219). We wait for the driver's
  ``finished-utterance`` notification instead.
* After one ``save_to_file`` the driver keeps the file name, so its next ``say`` overwrites that
  file instead of speaking (pyttsx3 #170); it also plays through ``os.system("aplay ...")``, which
  cannot be interrupted. So on the espeak driver every utterance is synthesised with
  ``save_to_file`` into a private temporary WAV, and played by a player process this class starts
  and can terminate (``aplay`` from alsa-utils, or ``paplay``/``pw-play``/``afplay``). That is
  what pyttsx3 itself does on Linux, minus the part that cannot be stopped.
* pyttsx3 ends each ``runAndWait`` with ``espeak_Cancel()`` when espeak-ng is still busy, which
  silently restores the previous rate and volume; that call is disabled on the espeak path.
* espeak-ng is one synthesiser per process (one callback, one set of parameters). Synthesis is
  serialised by a process-wide lock, and rate, volume, voice and callback are re-applied before
  each utterance, so two SpeechEngine objects (e.g. in tests) cannot steal each other's audio.
* With no sound card the player fails; that is reported once through ``on_error`` and the app
  goes on (the session decides where announcements go instead).

Other pyttsx3 drivers (sapi5, nsss, dummy) speak through the driver's own ``say``; interruption
there is best effort: an interrupt flag checked in the ``started-word`` callback calls ``stop()``.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("ferdesk.speech")

#: Accepted speech rates, words per minute. espeak-ng's floor is 80; screen-reader users often
#: listen at 300 and more (Bragg et al., TACCESS 2021), espeak-ng speeds up well beyond 450.
MIN_RATE, MAX_RATE = 80, 900

#: How long one utterance may take to synthesise before the engine is declared stuck.
SYNTHESIS_TIMEOUT_S = 20.0

#: espeak-ng is a single synthesiser per process: one utterance at a time, whoever asks.
_ESPEAK_LOCK = threading.RLock()
#: Which pyttsx3 espeak driver currently receives espeak-ng's audio callback (by id).
_espeak_callback_owner: int | None = None
#: Callback thunks replaced in espeak-ng, kept alive on purpose: espeak's thread may still be
#: returning through the old one when it is replaced, and freeing it then could crash the process.
_retired_callbacks: list[Any] = []


def _retire_espeak_callback() -> None:
    """Keep the currently registered espeak callback alive before pyttsx3 replaces it."""
    module = sys.modules.get("pyttsx3.drivers._espeak")
    callback = getattr(module, "SynthCallback", None)
    if callback is not None:
        _retired_callbacks.append(callback)


def _claim_espeak_callback(engine: Any) -> None:
    """Route espeak-ng's audio to ``engine``'s driver (another SpeechEngine may have taken it)."""
    global _espeak_callback_owner
    driver = getattr(getattr(engine, "proxy", None), "_driver", None)
    on_synth = getattr(driver, "_onSynth", None)
    if on_synth is None or _espeak_callback_owner == id(driver):
        return
    from pyttsx3.drivers import _espeak

    _retire_espeak_callback()
    _espeak.SetSynthCallback(on_synth)
    _espeak_callback_owner = id(driver)


class SpeechUnavailableError(RuntimeError):
    """No speech engine could be started (e.g. espeak-ng missing); the message says how to fix it."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice the engine offers. Deliberately no gender or age: ferdesk never labels people."""

    id: str
    name: str
    languages: list[str]


@dataclass
class _Say:
    text: str
    generation: int


@dataclass
class _Save:
    text: str
    path: Path
    result: Future


@dataclass
class _Voices:
    result: Future


class _Stop:
    pass


def _default_player() -> list[str] | None:
    """A command line that plays a WAV file given as its last argument, or None."""
    if sys.platform == "darwin":
        candidates = [["afplay"]]
    else:
        candidates = [["aplay", "-q"], ["paplay"], ["pw-play"]]
    for command in candidates:
        executable = shutil.which(command[0])
        if executable:
            return [executable, *command[1:]]
    return None


def _no_op() -> None:
    pass


def _quiet_driver_print(*args: Any, **_kwargs: Any) -> None:
    # pyttsx3's espeak driver prints "Audio saved to ..." on stdout for every file; ferdesk's
    # stdout may carry machine-readable output, so these go to the debug log instead.
    logger.debug("pyttsx3: %s", " ".join(str(a) for a in args))


class SpeechEngine:
    """Speaks announcements aloud without ever blocking the caller.

    ``say`` returns at once; speech happens in the "ferdesk-speech" thread. ``on_error`` is called
    from that thread with a message meant for the user (Qt code must forward it to the GUI thread
    with a signal). When no engine can start, ``available`` is False, ``say`` does nothing,
    ``save_to_file`` raises :class:`SpeechUnavailableError`, and the app keeps running.

    ``player`` (added) is the command that plays a WAV file, the file path appended; by default
    ``aplay -q`` (or ``paplay``, ``pw-play``, ``afplay``).
    """

    def __init__(
        self,
        rate: int = 200,
        volume: float = 1.0,
        voice_id: str | None = None,
        driver: str | None = None,
        on_error: Callable[[str], None] | None = None,
        *,
        player: Sequence[str] | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self._rate = _check_rate(rate)
        self._volume = _check_volume(volume)
        self._voice_id = voice_id
        self._driver_requested = driver
        self._on_error = on_error
        self._player = list(player) if player is not None else _default_player()

        self.available = False
        self.last_error: str | None = None
        self.speaking_started_at: float | None = None
        #: Utterances handed to the audio output so far (played, or tried to).
        self.utterances_started = 0
        self.driver_name: str | None = None

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._commands: deque[Any] = deque()
        self._pending = 0  # queued + in progress, for wait_idle
        self._generation = 0  # bumped by interrupt: older speech is dropped or stopped
        self._closing = False
        self._reported: set[str] = set()
        self._voices_cache: list[VoiceInfo] | None = None
        self._ready = threading.Event()
        self._gave_up = False
        self._finished = threading.Event()  # set by the driver's finished-utterance notification
        self._engine_ref: Any = None
        self._current_generation: int | None = None
        self._tempdir = Path(tempfile.mkdtemp(prefix="ferdesk-speech-"))
        # Removed on close(), or at interpreter exit if the engine was never closed.
        self._remove_tempdir = weakref.finalize(self, shutil.rmtree, str(self._tempdir), True)

        self._thread = threading.Thread(target=self._run, name="ferdesk-speech", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout):
            with self._lock:
                self._gave_up = True
                self._closing = True
                self._commands.append(_Stop())
                self._wake.notify_all()
            self._fail(
                f"The speech engine did not start within {start_timeout:g} s; ferdesk continues "
                "without built-in speech."
            )

    # -- public API --------------------------------------------------------------------------

    def say(self, text: str, interrupt: bool = False) -> None:
        """Queue ``text`` for speaking. ``interrupt=True`` drops queued speech and cuts the
        current utterance short, so the newest announcement is heard without waiting."""
        text = " ".join(str(text).split())
        with self._lock:
            if self._closing or not self.available:
                logger.debug("speech not spoken (engine %s): %s", "closed" if self._closing else "off", text)
                return
            if interrupt:
                self._interrupt_locked()
            if not text:
                return
            self._commands.append(_Say(text, self._generation))
            self._pending += 1
            self._wake.notify_all()

    def stop(self) -> None:
        """Silence now: drop queued speech and stop the current utterance (added)."""
        with self._lock:
            self._interrupt_locked()

    def set_rate(self, wpm: int) -> None:
        """Speech rate in words per minute; applies from the next utterance."""
        self._rate = _check_rate(wpm)

    def set_volume(self, v: float) -> None:
        """Volume from 0.0 (silent) to 1.0; applies from the next utterance."""
        self._volume = _check_volume(v)

    def set_voice(self, voice_id: str) -> None:
        """Choose a voice by ``VoiceInfo.id`` (see :meth:`voices`); applies from the next utterance."""
        known = self.voices()
        ids = [v.id for v in known]
        if known and voice_id not in ids:
            by_name = [v.id for v in known if v.name.lower() == str(voice_id).lower()]
            if by_name:
                voice_id = by_name[0]
            else:
                close = difflib.get_close_matches(str(voice_id), ids + [v.name for v in known], n=5)
                hint = f" Did you mean one of {close}?" if close else " See SpeechEngine.voices()."
                raise ValueError(f"Unknown voice {voice_id!r}: this engine has {len(ids)} voices.{hint}")
        self._voice_id = voice_id

    def voices(self) -> list[VoiceInfo]:
        """The voices the engine offers ([] without an engine). Asked once, then cached."""
        if self._voices_cache is not None:
            return list(self._voices_cache)
        if not self.available:
            return []
        future: Future = Future()
        self._submit(_Voices(future))
        try:
            voices = future.result(timeout=10.0)
        except FutureTimeout:
            self._report("The speech engine did not list its voices within 10 s.")
            return []
        self._voices_cache = voices
        return list(voices)

    def save_to_file(self, text: str, path: str | Path, timeout: float = 30.0) -> Path:
        """Write ``text`` as speech to the WAV file ``path``; blocks until it is written.

        Runs in the speech thread after speech queued before it. Parent folders are created.
        """
        if not str(text).strip():
            raise ValueError("save_to_file needs some text to speak, got an empty string.")
        if not self.available:
            raise SpeechUnavailableError(self.last_error or "No speech engine is available.")
        path = Path(path)
        future: Future = Future()
        self._submit(_Save(" ".join(str(text).split()), path, future))
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise TimeoutError(
                f"The speech engine did not write {path} within {timeout:g} s "
                "(still busy with earlier speech, or stuck). Try a longer timeout."
            ) from None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued has been spoken; False if ``timeout`` passed first."""
        with self._lock:
            return self._wake.wait_for(lambda: self._pending == 0, timeout=timeout)

    @property
    def is_speaking(self) -> bool:
        """True while speech is queued or being synthesised or played (added)."""
        with self._lock:
            return self._pending > 0

    def close(self, timeout: float = 5.0) -> None:
        """Stop speaking, end the speech thread and wait for it (up to ``timeout`` seconds).

        Queued speech is dropped; call :meth:`wait_idle` first to let it finish.
        """
        with self._lock:
            if not self._closing:
                self._closing = True
                self._interrupt_locked()
                for command in self._commands:
                    if isinstance(command, _Save | _Voices):
                        command.result.set_exception(RuntimeError("The speech engine was closed."))
                self._pending -= len(self._commands)
                self._commands.clear()
                self._commands.append(_Stop())
                self._wake.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self.last_error = f"The speech thread did not stop within {timeout:g} s."
            logger.warning(self.last_error)
        else:
            self._remove_tempdir()

    def __enter__(self) -> SpeechEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- caller-side helpers ---------------------------------------------------------------------

    def _submit(self, command: Any) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("The speech engine is closed; create a new SpeechEngine.")
            self._commands.append(command)
            self._pending += 1
            self._wake.notify_all()

    def _interrupt_locked(self) -> None:
        self._generation += 1
        kept = deque(c for c in self._commands if not isinstance(c, _Say))
        self._pending -= len(self._commands) - len(kept)
        self._commands = kept
        self._wake.notify_all()

    def _report(self, message: str) -> None:
        """Tell the user once per distinct problem (a missing sound card must not repeat forever)."""
        self.last_error = message
        if message in self._reported:
            logger.debug("%s (repeated)", message)
            return
        self._reported.add(message)
        logger.warning("%s", message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                logger.exception("on_error callback failed for: %s", message)

    def _fail(self, message: str) -> None:
        with self._lock:
            self.available = False
            self._pending -= len(self._commands)
            self._commands.clear()
            self._wake.notify_all()
        self._report(message)

    # -- the speech thread ---------------------------------------------------------------------

    def _run(self) -> None:
        engine = None
        try:
            engine = self._create_engine()
        except Exception as exc:  # any failure here means "no speech", never a crash
            self._fail(_explain_start_failure(self._driver_requested, exc))
            self._ready.set()
            return
        with self._lock:
            self.available = not self._gave_up
        self._ready.set()
        try:
            self._serve(engine)
        finally:
            self._release_engine(engine)

    def _release_engine(self, engine: Any) -> None:
        global _espeak_callback_owner
        with _ESPEAK_LOCK:
            # Dropping the engine destroys its driver, which unregisters espeak's callback: do it
            # under the lock (no other engine mid-utterance) and keep the old thunk alive.
            _retire_espeak_callback()
            driver = getattr(getattr(engine, "proxy", None), "_driver", None)
            if _espeak_callback_owner == id(driver):
                _espeak_callback_owner = None
            self._engine_ref = None
            del engine, driver

    def _create_engine(self) -> Any:
        from pyttsx3.engine import Engine  # imported here: a missing espeak-ng raises on import

        global _espeak_callback_owner
        with _ESPEAK_LOCK:
            # pyttsx3.init() would hand back a shared cached engine; each SpeechEngine owns its own.
            _retire_espeak_callback()
            engine = Engine(self._driver_requested)
            if engine.driver_name == "espeak":
                # The espeak driver registers its callback while being built.
                _espeak_callback_owner = id(getattr(engine.proxy, "_driver", None))
        self.driver_name = str(engine.driver_name)
        engine.connect("finished-utterance", lambda name=None, completed=True: self._finished.set())
        engine.connect("started-word", self._on_started_word)
        engine.connect("error", self._on_driver_error)
        self._engine_ref = engine
        if self.driver_name == "espeak":
            driver_module = sys.modules.get("pyttsx3.drivers.espeak")
            if driver_module is not None:
                driver_module.print = _quiet_driver_print  # type: ignore[attr-defined]
            driver = getattr(engine.proxy, "_driver", None)
            if driver is not None:
                # Every runAndWait() ends its loop through driver.stop(), which calls espeak_Cancel()
                # whenever espeak-ng's queue is still busy; Cancel restores the previous rate and
                # volume and can cancel the utterance being started (measured: a changed rate was
                # lost in 39 of 100 utterances). On this path interruption kills our own player
                # process instead, so pyttsx3's stop is not needed: make it a no-op.
                driver.stop = _no_op
            if self._player is None:
                self._report(
                    "No audio player found (looked for aplay, paplay, pw-play). Install alsa-utils "
                    "to hear speech."
                )
        if self._voice_id is not None:
            self._voices_cache = self._list_voices(engine)
            known = {v.id for v in self._voices_cache}
            if known and self._voice_id not in known:
                self._report(f"Voice {self._voice_id!r} not found; using the default voice instead.")
                self._voice_id = None
        return engine

    def _serve(self, engine: Any) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: bool(self._commands))
                command = self._commands.popleft()
            if isinstance(command, _Stop):
                return
            try:
                if isinstance(command, _Say):
                    self._speak(engine, command)
                elif isinstance(command, _Save):
                    if command.result.set_running_or_notify_cancel():
                        command.result.set_result(self._save(engine, command.text, command.path))
                elif isinstance(command, _Voices):
                    command.result.set_result(self._list_voices(engine))
            except Exception as exc:
                if isinstance(command, _Save | _Voices) and not command.result.done():
                    command.result.set_exception(exc)
                else:
                    self._report(f"Speech failed: {exc}")
            finally:
                with self._lock:
                    self._pending -= 1
                    self._wake.notify_all()

    def _is_current(self, generation: int) -> bool:
        return generation == self._generation and not self._closing

    def _speak(self, engine: Any, command: _Say) -> None:
        if not self._is_current(command.generation):
            return
        if self.driver_name != "espeak":
            self._speak_natively(engine, command)
            return
        if self._player is None:
            return  # reported once at start; nothing can make sound
        wav = self._tempdir / f"utterance-{command.generation}-{time.monotonic_ns()}.wav"
        try:
            self._synthesize(engine, command.text, wav)
            if self._is_current(command.generation):
                self._play(wav, command.generation)
        finally:
            with contextlib.suppress(OSError):
                wav.unlink()

    def _synthesize(self, engine: Any, text: str, wav: Path) -> None:
        with _ESPEAK_LOCK:
            self._apply_settings(engine)
            if self.driver_name == "espeak":
                _claim_espeak_callback(engine)
            self._finished.clear()
            engine.save_to_file(text, str(wav))
            engine.runAndWait()
            if not self._finished.wait(SYNTHESIS_TIMEOUT_S):
                raise RuntimeError(f"espeak-ng did not finish synthesising within {SYNTHESIS_TIMEOUT_S:g} s")
        if not wav.is_file() or wav.stat().st_size <= 44:
            raise RuntimeError(f"the speech engine wrote no audio for {text!r}")

    def _play(self, wav: Path, generation: int) -> None:
        assert self._player is not None
        command = [*self._player, str(wav)]
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            self._report(f"Could not start the audio player {command[0]!r}: {exc}.")
            return
        self.speaking_started_at = time.monotonic()
        self.utterances_started += 1
        interrupted = False
        while True:
            try:
                process.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                if not self._is_current(generation):
                    interrupted = True
                    process.terminate()
                    try:
                        process.wait(timeout=2.0)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                    break
        stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        if process.returncode != 0 and not interrupted:
            detail = [line for line in stderr.splitlines() if line.strip() and "ALSA lib" not in line]
            reason = detail[-1].strip() if detail else f"exit status {process.returncode}"
            self._report(
                f"Could not play speech through {Path(command[0]).name}: {reason}. Is a sound card or "
                "audio server available?"
            )

    def _speak_natively(self, engine: Any, command: _Say) -> None:
        self._apply_settings(engine)
        self._current_generation = command.generation
        self._finished.clear()
        self.speaking_started_at = time.monotonic()
        self.utterances_started += 1
        engine.say(command.text)
        engine.runAndWait()

    def _on_started_word(self, name: Any = None, location: int = 0, length: int = 0) -> None:
        # Best effort for drivers that play by themselves: stop at the next word boundary.
        generation = self._current_generation
        if self.driver_name != "espeak" and generation is not None and not self._is_current(generation):
            with contextlib.suppress(Exception):
                self._engine_ref.stop()

    def _on_driver_error(self, name: Any = None, exception: BaseException | None = None) -> None:
        self._report(f"The speech engine reported an error: {exception}")

    def _apply_settings(self, engine: Any) -> None:
        engine.setProperty("rate", self._rate)
        engine.setProperty("volume", self._volume)
        if self._voice_id is not None:
            engine.setProperty("voice", self._voice_id)

    def _save(self, engine: Any, text: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        wav = self._tempdir / f"save-{time.monotonic_ns()}.wav"
        if self.driver_name != "espeak" and not hasattr(engine.proxy._driver, "save_to_file"):
            raise RuntimeError(f"The {self.driver_name!r} speech driver cannot write audio files.")
        try:
            if self.driver_name == "espeak":
                self._synthesize(engine, text, wav)
            else:
                self._apply_settings(engine)
                engine.save_to_file(text, str(wav))
                engine.runAndWait()
                if not wav.is_file():
                    raise RuntimeError(f"The {self.driver_name!r} speech driver wrote no file for {text!r}.")
            shutil.move(str(wav), path)
        finally:
            with contextlib.suppress(OSError):
                wav.unlink()
        return path

    def _list_voices(self, engine: Any) -> list[VoiceInfo]:
        voices = []
        for voice in engine.getProperty("voices") or []:
            languages = [
                lang.decode("utf-8", "replace") if isinstance(lang, bytes) else str(lang)
                for lang in (getattr(voice, "languages", None) or [])
            ]
            voices.append(VoiceInfo(id=str(voice.id), name=str(voice.name or voice.id), languages=languages))
        return voices


def _check_rate(wpm: Any) -> int:
    if isinstance(wpm, bool) or not isinstance(wpm, int | float) or not math.isfinite(wpm):
        raise TypeError(f"Speech rate must be a number of words per minute, got {wpm!r}.")
    if not MIN_RATE <= wpm <= MAX_RATE:
        raise ValueError(f"Speech rate == {wpm}, must be between {MIN_RATE} and {MAX_RATE} words per minute.")
    return round(wpm)


def _check_volume(volume: Any) -> float:
    if isinstance(volume, bool) or not isinstance(volume, int | float) or not math.isfinite(volume):
        raise TypeError(f"Speech volume must be a number from 0.0 to 1.0, got {volume!r}.")
    if not 0.0 <= volume <= 1.0:
        raise ValueError(f"Speech volume == {volume}, must be between 0.0 (silent) and 1.0 (full).")
    return float(volume)


def _explain_start_failure(driver: str | None, exc: BaseException) -> str:
    """A message for the user about why there is no speech, with what to do about it."""
    # No claim about where announcements go instead: that depends on what else works (a screen
    # reader may not run), and the session's router says it (ferdesk.session.routing).
    tail = " ferdesk keeps running without built-in speech."
    if isinstance(exc, ModuleNotFoundError) and "pyttsx3.drivers" in str(exc):
        return f"Unknown speech driver {driver!r} ({exc}); leave it unset to use the system default." + tail
    if isinstance(exc, ModuleNotFoundError):
        return f"Speech needs the Python package pyttsx3 ({exc}); install it with pip." + tail
    text = str(exc)
    if "espeak" in text.lower() or (driver in (None, "espeak") and sys.platform.startswith("linux")):
        return (
            f"No speech engine: espeak-ng could not be loaded ({text}). Install it "
            "(Debian/Ubuntu: sudo apt install espeak-ng alsa-utils) and restart ferdesk." + tail
        )
    return f"The speech engine could not start: {type(exc).__name__}: {text}." + tail


__all__ = ["MAX_RATE", "MIN_RATE", "SpeechEngine", "SpeechUnavailableError", "VoiceInfo"]
