"""The per-input analysis: a video or image sequence through the live app's own pipeline.

Every frame (or every ``every``-th) goes through :class:`ferdesk.pipeline.LivePipeline` — detect,
classify, track, smooth — exactly as in the app, so a recording analysed offline gives what the
live app would have shown. The difference is the clock: files are read at full speed, and each
frame is stamped with its time *in the video* (``index / fps``), so the tracker's gap rule and the
results never depend on how fast this machine happens to be. That is also why the local and the
Ray engine give byte-for-byte the same rows.

:class:`VideoAnalyzer` loads the models once and analyses one input after another;
:func:`analyze_input` returns an :class:`InputOutcome` (records or a one-line reason), never raises
for a bad input.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

from ferdesk.analysis.records import AnalysisRecord

#: Frames may come up short of what a container claims by this much before we call it truncated
#: (some containers only estimate their frame count from the duration).
TRUNCATION_TOLERANCE = (2, 0.01)  # frames, fraction


@dataclass(frozen=True)
class AnalysisOptions:
    """What changes the rows: recorded in each output's manifest; a change means a fresh analysis."""

    every: int = 1
    detector: str = "full"
    model: str | None = None  # None: the shipped model
    accurate: bool = False  # the accurate-mode ensemble of the shipped manifest instead of one model

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every == {self.every}, must be >= 1 (1 analyses every frame).")
        if self.accurate and self.model:
            raise ValueError("accurate=True runs the accurate-mode manifest's models; leave model unset.")

    def model_path(self) -> Path:
        """The one model file, or the accurate-mode manifest."""
        from ferdesk.vision.paths import default_emotion_model

        if self.accurate:
            from ferdesk.vision.ensemble import default_manifest

            return default_manifest()
        return Path(self.model) if self.model else default_emotion_model()

    def identity(self) -> dict:
        """The options as the manifest stores them; the model by content (SHA-256), not by path,
        so a checkout and an installed copy of the same model count as the same. In accurate mode
        each member counts too: a new network under an unchanged manifest is a new analysis."""
        identity = {
            "every": self.every,
            "detector": str(self.detector),
            "model": _content_of(self.model_path()),
        }
        if self.accurate:
            from ferdesk.vision.classifier import ModelError
            from ferdesk.vision.ensemble import read_manifest

            try:
                members = read_manifest(self.model_path()).members
            except ModelError:
                members = ()
            identity["accurate"] = [
                {**_content_of(member.model), "views": member.views} for member in members
            ]
        return identity


def _content_of(path: Path) -> dict:
    try:
        stat = path.stat()
        digest = _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        digest = None
    return {"file": path.name, "sha256": digest}


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, remembered while its size and mtime stay the same."""
    import hashlib

    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@dataclass(frozen=True)
class AnalysisInput:
    """One thing to analyse: a video file or a folder of images read as a sequence."""

    path: str
    kind: str  # "video" or "images"

    @property
    def name(self) -> str:
        path = Path(self.path)
        return path.stem if self.kind == "video" else (path.name or "images")


@dataclass
class InputOutcome:
    """The result of analysing one input: its records, or the reason it failed (one line)."""

    input: AnalysisInput
    records: list[AnalysisRecord] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    fps: float = 0.0
    frames_read: int = 0
    frames_analysed: int = 0
    skipped_frames: int = 0
    warnings: list[str] = field(default_factory=list)
    every: int = 1
    error: str | None = None
    worker: str = ""  # which process analysed it ("pid 1234")
    model_loads: int = 0  # how many times that process had loaded models (Ray: 1 per worker)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def sample_period_s(self) -> float:
        """Seconds each analysed frame stands for (``every / fps``)."""
        return self.every / self.fps if self.fps else 0.0


def expected_frames(item: AnalysisInput) -> int | None:
    """How many frames the input claims to hold (container header; image count), None if unknown."""
    if item.kind == "images":
        from ferdesk.capture.sources import list_images

        try:
            return len(list_images(item.path))
        except OSError:
            return None
    import cv2

    capture = cv2.VideoCapture(str(item.path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            return None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return count if count > 0 else None
    finally:
        capture.release()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class VideoAnalyzer:
    """The models, loaded once, and the per-input loop; close it (or use ``with``) when done.

    ``num_threads`` is the classifier's interpreter threads (1, as in the app: the reader thread
    and a second analysis process use the other core).
    """

    def __init__(self, options: AnalysisOptions | None = None, *, num_threads: int = 1) -> None:
        from ferdesk.vision.analyze import FaceAnalyzer

        self.options = options or AnalysisOptions()
        self.face_analyzer = FaceAnalyzer(
            self.options.model,
            detector=self.options.detector,
            num_threads=num_threads,
            accurate=self.options.accurate,
        )
        _ = self.face_analyzer.detector  # load it now: a model error belongs to start-up, not to an input

    @property
    def labels(self) -> tuple[str, ...]:
        return self.face_analyzer.labels

    def iter_records(
        self,
        source,
        *,
        on_frame: Callable[[int], None] | None = None,
        state: dict | None = None,
    ) -> Generator[AnalysisRecord, None, None]:
        """Records of every analysed frame of ``source`` (a :class:`FrameSource`, not yet opened).

        ``on_frame(frames_read_so_far)`` is called after each analysed frame (progress bars).
        ``state`` (a dict, optional) receives "fps", "frames_read", "frames_analysed", "skipped",
        "warnings" (the skipped frames' messages) and "error" (None, or the one-line reason the
        stream broke off) when the stream ends.
        The source and the reader thread are closed when the iteration ends or is abandoned.
        """
        from ferdesk.analysis.frames import FrameReader
        from ferdesk.pipeline import LivePipeline
        from ferdesk.vision.results import Frame

        every = self.options.every
        reader = FrameReader(source, every=every)
        state = state if state is not None else {}
        state.update(fps=0.0, frames_read=0, frames_analysed=0, skipped=0, warnings=[], error=None)
        reader.start()
        try:
            live = bool(source.is_live)
            fps = float(source.fps or 0.0) or 25.0
            state["fps"] = fps
            # The gap rule is for stalls of a live camera; a file has none, however sparse --every is.
            # Every analysed frame gets the model's full answer (both flip views), not live's
            # alternating one: a researcher's per-frame figures must not depend on frame parity.
            pipeline = LivePipeline(
                self.face_analyzer,
                max_gap_s=1.0 if live else max(1.0, 3.0 * every / fps),
                alternate_flip=False,
            )
            labels = self.labels
            first_timestamp: float | None = None
            for analysed, frame in enumerate(reader, start=1):
                if live:
                    first_timestamp = frame.timestamp if first_timestamp is None else first_timestamp
                    time_s = frame.timestamp - first_timestamp
                else:
                    time_s = frame.index / fps
                result = pipeline.process(Frame(index=frame.index, timestamp=time_s, rgb=frame.rgb))
                state["frames_analysed"] = analysed
                faces = sorted(result.faces, key=lambda face: face.track_id)
                for face in faces:
                    yield AnalysisRecord.from_tracked_face(frame.index, time_s, face, labels)
                if on_frame is not None:
                    on_frame(reader.frames_read)
        finally:
            reader.close()
            state.update(
                frames_read=reader.frames_read,
                skipped=reader.skipped,
                warnings=reader.warnings,
                error=reader.error,
            )

    def analyze_input(
        self, item: AnalysisInput, on_frame: Callable[[int], None] | None = None
    ) -> InputOutcome:
        """Analyse one input; a bad input gives ``error`` (one line), never an exception."""
        from ferdesk.capture.sources import CaptureError, open_source

        outcome = InputOutcome(
            input=item, labels=self.labels, every=self.options.every, worker=f"pid {os.getpid()}"
        )
        expected = expected_frames(item)
        try:
            source = open_source(item.path, loop=False, realtime=False)
        except CaptureError as error:
            outcome.error = _one_line(str(error))
            return outcome
        state: dict = {}
        try:
            outcome.records = list(self.iter_records(source, on_frame=on_frame, state=state))
        except CaptureError as error:  # open() failed: unreadable, empty, no frames
            outcome.error = _one_line(str(error))
            outcome.records = []
            return outcome
        except Exception as error:  # the analysis itself failed: say so, keep going with the rest
            outcome.error = _one_line(f"analysis failed ({type(error).__name__}: {error}).")
            outcome.records = []
            return outcome
        outcome.fps = state["fps"]
        outcome.frames_read = state["frames_read"]
        outcome.frames_analysed = state["frames_analysed"]
        outcome.skipped_frames = state["skipped"]
        outcome.warnings = list(state["warnings"])
        if state["error"]:
            outcome.error = _one_line(
                f"{state['error']} (stopped after {outcome.frames_read} frames; nothing was written for it)"
            )
            outcome.records = []
            return outcome
        if item.kind == "video" and expected is not None:
            allowed = max(TRUNCATION_TOLERANCE[0], round(expected * TRUNCATION_TOLERANCE[1]))
            if outcome.frames_read + allowed < expected:
                outcome.error = (
                    f"{item.path}: the video is truncated or damaged: its header promises {expected} "
                    f"frames but only {outcome.frames_read} could be decoded. Re-export or re-copy the file."
                )
                outcome.records = []
        return outcome

    def close(self) -> None:
        self.face_analyzer.close()

    def __enter__(self) -> VideoAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
