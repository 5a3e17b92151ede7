"""LivePipeline with the real BlazeFace detector and the shipped emotion model."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ferdesk.capture import open_source
from ferdesk.capture.synthetic import ASTRONAUT_FACE, compose_faces, face_crop
from ferdesk.pipeline import LivePipeline
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.results import Frame
from ferdesk.vision.tracking import FaceTracker


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer() as shared:
        yield shared


@pytest.fixture(scope="module")
def three_face_frame(astronaut_rgb) -> np.ndarray:
    """Three astronaut face crops side by side on a 640x480 canvas."""
    crop = face_crop(astronaut_rgb, ASTRONAUT_FACE)
    return compose_faces([crop, crop, crop], size=(640, 480))


def frames_of(rgb: np.ndarray, count: int, fps: float = 30.0) -> list[Frame]:
    start = time.monotonic()
    return [Frame(index, start + index / fps, rgb) for index in range(count)]


def test_one_face_on_the_astronaut_photo(analyzer, astronaut_rgb):
    pipeline = LivePipeline(analyzer)
    result = pipeline.process(Frame(0, time.monotonic(), astronaut_rgb))
    assert len(result.faces) == 1
    (found,) = result.faces
    assert found.box.iou(ASTRONAUT_FACE) > 0.6, f"box {found.box} is not over the face"
    assert found.emotion in EMOTIONS
    assert set(found.probabilities) == set(EMOTIONS)
    assert sum(found.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert found.confidence == pytest.approx(max(found.probabilities.values()))
    assert found.position == "centre" and not found.partly_out and not found.too_small
    assert set(result.timings_ms) == {"detect", "classify", "track", "total"}
    assert result.timings_ms["total"] >= result.timings_ms["detect"] > 0
    assert result.model_name == analyzer.classifier.info.name
    assert result.frame.index == 0


def test_the_smiling_astronaut_reads_happy(analyzer, astronaut_rgb):
    """Accuracy-dependent: needs the trained model (the provisional one is untrained)."""
    result = LivePipeline(analyzer).process(Frame(0, time.monotonic(), astronaut_rgb))
    assert [f.emotion for f in result.faces] == ["happy"]


def test_demo_shows_one_face_then_three_with_stable_ids(analyzer):
    pipeline = LivePipeline(analyzer)
    with open_source("demo", loop=False, realtime=False) as demo:
        results = []
        while (frame := demo.read()) is not None:
            # Stamp at the demo's own rate: realtime=False reads faster than the clip would play.
            results.append(pipeline.process(Frame(frame.index, frame.index / 15.0, frame.rgb)))
    single, group = results[:55], results[65:]
    assert all(len(r.faces) == 1 for r in single)
    assert len({r.faces[0].track_id for r in single}) == 1
    assert all(len(r.faces) == 3 for r in group)
    assert {tuple(f.position for f in r.faces) for r in group} == {("left", "centre", "right")}
    assert len({tuple(f.track_id for f in r.faces) for r in group}) == 1


def test_three_faces_are_tracked_left_centre_right(analyzer, three_face_frame):
    pipeline = LivePipeline(analyzer)
    results = [pipeline.process(frame) for frame in frames_of(three_face_frame, 5)]
    for result in results:
        assert [f.position for f in result.faces] == ["left", "centre", "right"]
        xs = [f.box.center[0] for f in result.faces]
        assert xs == sorted(xs)
    assert len({tuple(f.track_id for f in r.faces) for r in results}) == 1
    assert len(set(f.track_id for f in results[0].faces)) == 3
    assert [f.frames_seen for f in results[-1].faces] == [5, 5, 5]


def test_a_camera_facing_the_user_swaps_the_sides(analyzer, three_face_frame):
    pipeline = LivePipeline(analyzer, FaceTracker(user_facing_camera=True))
    result = pipeline.process(frames_of(three_face_frame, 1)[0])
    leftmost_in_image = min(result.faces, key=lambda f: f.box.x)
    assert leftmost_in_image.position == "right"
    assert [f.position for f in result.faces] == ["left", "centre", "right"]


def test_reset_and_long_gaps_start_tracking_afresh(analyzer, three_face_frame):
    pipeline = LivePipeline(analyzer, max_gap_s=1.0)
    frames = frames_of(three_face_frame, 2)
    first = {f.track_id for f in pipeline.process(frames[0]).faces}
    assert {f.track_id for f in pipeline.process(frames[1]).faces} == first
    pipeline.reset()
    after_reset = {f.track_id for f in pipeline.process(frames[1]).faces}
    assert after_reset.isdisjoint(first)
    late = Frame(2, frames[1].timestamp + 3.0, three_face_frame)
    assert {f.track_id for f in pipeline.process(late).faces}.isdisjoint(after_reset)


def test_three_faces_fast_enough_for_live_video(analyzer, three_face_frame):
    """Target: >= 30 fps for detect + classify with three faces (CPU, one thread each)."""
    pipeline = LivePipeline(analyzer)
    totals = [pipeline.process(frame).timings_ms["total"] for frame in frames_of(three_face_frame, 40)]
    median = float(np.median(totals[5:]))
    print(f"three faces: median {median:.1f} ms per frame ({1000 / median:.0f} fps)")
    # Generous bound: the test machine is shared with a training run; the target is 33 ms.
    assert median < 100, f"{median:.1f} ms per frame is far from live speed"


def test_live_alternates_the_flip_views_and_smoothing_averages_them(analyzer, astronaut_rgb):
    """One pass a face a frame instead of two, and after a few frames the smoothed answer is
    the flip-TTA answer: the views alternate (never the same view twice in a row)."""
    assert analyzer.classifier.flip_tta, "the shipped model asks for flip TTA"
    views: list[str | None] = []
    classify = analyzer.classifier.classify_crops

    def spy(crops, *, view=None):
        views.append(view)
        return classify(crops, view=view)

    analyzer.classifier.classify_crops = spy
    try:
        live = LivePipeline(analyzer)
        results = [live.process(frame) for frame in frames_of(astronaut_rgb, 12)]
        full = LivePipeline(analyzer, alternate_flip=False).process(frames_of(astronaut_rgb, 1)[0])
    finally:
        del analyzer.classifier.classify_crops
    assert views[:12] == ["plain", "mirror"] * 6 and views[12] is None
    smoothed = np.array([results[-1].faces[0].probabilities[e] for e in EMOTIONS])
    both_views = np.array([full.faces[0].probabilities[e] for e in EMOTIONS])
    np.testing.assert_allclose(smoothed, both_views, atol=0.03)
    assert results[-1].faces[0].emotion == full.faces[0].emotion
