"""One live frame in, faces with identities and smoothed emotions out: detect → classify → track.

:class:`LivePipeline` is the per-frame step of the live app, timed stage by stage so a slow
machine shows where the time goes. It holds no thread and no Qt: ``ferdesk.live.LiveRunner``
calls it from its processing thread, a test calls it directly.
"""

from __future__ import annotations

import time

from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.results import Frame, FrameResult
from ferdesk.vision.tracking import FaceTracker


class LivePipeline:
    """Detector + classifier (a :class:`FaceAnalyzer`) followed by a :class:`FaceTracker`.

    The analyzer is borrowed, not owned: whoever created it closes it. ``timings_ms`` of each
    result has "detect", "classify", "track" and "total" in milliseconds.

    Flip test-time augmentation costs two passes a face. Live, with ``alternate_flip`` (the
    default), a model that asks for it runs one pass a face instead, on the plain view one frame
    and the mirrored view the next: the tracker's smoothing of each face's probabilities over
    frames averages the two views, so the app keeps the augmentation's accuracy at half its cost
    (``tests/test_pipeline.py`` checks the smoothed result against both views of every frame).
    File analysis passes False, so each frame's figures are the model's full answer.

    Frames more than ``max_gap_s`` seconds apart (by ``Frame.timestamp``: a stall, a long
    analysis start-up) start the tracking afresh: the tracker counts missed frames, not seconds,
    and a face from seconds ago must not lend its identity to whoever is in view now.
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        tracker: FaceTracker | None = None,
        *,
        max_gap_s: float = 1.0,
        alternate_flip: bool = True,
    ):
        if max_gap_s <= 0:
            raise ValueError(f"max_gap_s == {max_gap_s}, must be > 0 seconds.")
        self.analyzer = analyzer
        self.tracker = tracker if tracker is not None else FaceTracker()
        self.max_gap_s = max_gap_s
        self._last_timestamp: float | None = None
        classifier = analyzer.classifier
        self._alternate = bool(alternate_flip and getattr(classifier, "flip_tta", False))
        self._mirror_next = False

    @property
    def model_name(self) -> str:
        return self.analyzer.classifier.info.name

    def process(self, frame: Frame) -> FrameResult:
        rgb = frame.rgb
        if self._last_timestamp is not None and abs(frame.timestamp - self._last_timestamp) > self.max_gap_s:
            self.tracker.reset()
        self._last_timestamp = frame.timestamp
        start = time.perf_counter()
        detections = self.analyzer.detector.detect(rgb)
        detected = time.perf_counter()
        if self._alternate:
            view = "mirror" if self._mirror_next else "plain"
            self._mirror_next = not self._mirror_next
            faces = self.analyzer.classify_boxes(rgb, detections, view=view)
        else:
            faces = self.analyzer.classify_boxes(rgb, detections)
        classified = time.perf_counter()
        tracked = self.tracker.update(faces, frame.width, frame.height)
        done = time.perf_counter()
        timings = {
            "detect": (detected - start) * 1000.0,
            "classify": (classified - detected) * 1000.0,
            "track": (done - classified) * 1000.0,
            "total": (done - start) * 1000.0,
        }
        return FrameResult(frame=frame, faces=tracked, timings_ms=timings, model_name=self.model_name)

    def reset(self) -> None:
        """Forget the faces seen so far (a new source, a reconnected camera, a mirrored view)."""
        self.tracker.reset()
        self._last_timestamp = None
