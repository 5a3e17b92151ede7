"""FaceTracker: identities across frames, missed frames, smoothing, sides and edges."""

from __future__ import annotations

import pytest

from ferdesk.vision.analyze import Face
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.geometry import Box
from ferdesk.vision.tracking import FaceTracker, touches_edge, user_side

WIDTH, HEIGHT = 640, 480


def probs(top: str, p: float = 0.9) -> dict[str, float]:
    rest = (1.0 - p) / (len(EMOTIONS) - 1)
    return {label: (p if label == top else rest) for label in EMOTIONS}


def face(x: int, y: int = 150, size: int = 80, emotion: str = "happy", p: float = 0.9) -> Face:
    return Face(Box(x, y, size, size), 0.9, emotion, p, probs(emotion, p))


def ids(tracked) -> list[int]:
    return [t.track_id for t in tracked]


def test_moving_faces_keep_their_ids():
    tracker = FaceTracker()
    first = ids(tracker.update([face(60), face(280), face(500)], WIDTH, HEIGHT))
    assert len(set(first)) == 3
    for step in range(1, 15):  # all three drift right and down, 6 px a frame
        tracked = tracker.update(
            [face(60 + 6 * step, 150 + step), face(280 + 6 * step), face(480 - 6 * step)], WIDTH, HEIGHT
        )
        assert ids(tracked) == first
    assert [t.frames_seen for t in tracked] == [15, 15, 15]


def test_a_fast_move_without_overlap_keeps_the_id_by_centre_distance():
    tracker = FaceTracker()
    (start,) = tracker.update([face(100)], WIDTH, HEIGHT)
    (moved,) = tracker.update([face(160)], WIDTH, HEIGHT)  # 60 px on an 80 px face: IoU 0.14
    assert Box(100, 150, 80, 80).iou(Box(160, 150, 80, 80)) < tracker.iou_threshold
    assert moved.track_id == start.track_id
    (far,) = tracker.update([face(400)], WIDTH, HEIGHT)  # 3 face widths away: someone else
    assert far.track_id != start.track_id


def test_new_faces_get_new_ids_and_ids_are_never_reused():
    tracker = FaceTracker()
    before = set(ids(tracker.update([face(60), face(280)], WIDTH, HEIGHT)))
    after = tracker.update([face(60), face(280), face(500)], WIDTH, HEIGHT)
    assert set(ids(after)) > before and len(set(ids(after))) == 3
    tracker.reset()
    fresh = tracker.update([face(60)], WIDTH, HEIGHT)
    assert fresh[0].track_id not in set(ids(after))


def test_a_track_survives_a_one_or_two_frame_miss():
    tracker = FaceTracker(max_missing=2)
    (start,) = tracker.update([face(200)], WIDTH, HEIGHT)
    for gap in (1, 2):
        for _ in range(gap):
            assert tracker.update([], WIDTH, HEIGHT) == []
        (back,) = tracker.update([face(210)], WIDTH, HEIGHT)
        assert back.track_id == start.track_id
    for _ in range(3):  # longer than max_missing: the track is gone
        tracker.update([], WIDTH, HEIGHT)
    assert tracker.active_tracks == 0
    (new,) = tracker.update([face(210)], WIDTH, HEIGHT)
    assert new.track_id != start.track_id


def test_smoothing_suppresses_a_one_frame_flicker_but_follows_a_real_change():
    tracker = FaceTracker(alpha=0.3)
    for _ in range(10):
        (steady,) = tracker.update([face(200, emotion="happy")], WIDTH, HEIGHT)
    assert steady.emotion == "happy" and steady.confidence == pytest.approx(0.9)
    (flicker,) = tracker.update([face(200, emotion="sad")], WIDTH, HEIGHT)
    assert flicker.emotion == "happy"
    assert sum(flicker.probabilities.values()) == pytest.approx(1.0)
    for _ in range(4):
        (changed,) = tracker.update([face(200, emotion="sad")], WIDTH, HEIGHT)
    assert changed.emotion == "sad"
    # Without smoothing the single odd frame would have come through.
    raw = FaceTracker(alpha=1.0)
    for emotion in ("happy", "happy", "sad"):
        (last,) = raw.update([face(200, emotion=emotion)], WIDTH, HEIGHT)
    assert last.emotion == "sad"


def test_smoothing_is_per_face():
    tracker = FaceTracker(alpha=0.3)
    for _ in range(5):
        left, right = tracker.update(
            [face(60, emotion="happy"), face(500, emotion="surprise")], WIDTH, HEIGHT
        )
    assert (left.emotion, right.emotion) == ("happy", "surprise")


@pytest.mark.parametrize(
    ("user_facing_camera", "mirrored", "image_left_is"),
    [
        (False, False, "left"),  # camera looks where the user looks: a photograph of the scene
        (True, False, "right"),  # laptop camera looking at the user: its left is the user's right
        (True, True, "left"),  # ... shown mirrored (selfie view): like a mirror, left is left
        (False, True, "right"),  # an outward camera shown mirrored: sides swapped
    ],
)
def test_positions_are_from_the_users_point_of_view(user_facing_camera, mirrored, image_left_is):
    tracker = FaceTracker(user_facing_camera=user_facing_camera, frames_mirrored=mirrored)
    tracked = tracker.update([face(500), face(60), face(280)], WIDTH, HEIGHT)
    by_x = sorted(tracked, key=lambda t: t.box.x)
    other = {"left": "right", "right": "left"}[image_left_is]
    assert [t.position for t in by_x] == [image_left_is, "centre", other]
    # Listed from the user's left to the user's right, whatever the image says.
    assert [t.position for t in tracked] == ["left", "centre", "right"]


def test_user_side_matches_horizontal_thirds():
    assert user_side(Box(0, 0, 100, 100), 640) == "left"
    assert user_side(Box(270, 0, 100, 100), 640) == "centre"
    assert user_side(Box(0, 0, 100, 100), 640, user_facing_camera=True) == "right"


def test_partly_out_when_the_face_touches_the_frame_edge():
    tracker = FaceTracker()
    edge_left, middle, edge_bottom = tracker.update(
        [face(0, 200), Face(Box(280, 200, 80, 80), 0.9, "happy", 0.9, probs("happy")), face(560, 400)],
        WIDTH,
        HEIGHT,
    )
    assert edge_left.partly_out and edge_left.position == "left"
    assert not middle.partly_out
    assert edge_bottom.partly_out  # y + h == 480
    assert touches_edge(Box(1, 100, 50, 50), WIDTH, HEIGHT)
    assert not touches_edge(Box(10, 100, 50, 50), WIDTH, HEIGHT)


def test_a_face_too_small_to_classify_keeps_its_id_but_has_no_emotion():
    tracker = FaceTracker()
    (big,) = tracker.update([face(200, size=80)], WIDTH, HEIGHT)
    small = Face(Box(215, 165, 50, 50), 0.8, None, 0.0, {}, too_small=True)
    (tracked,) = tracker.update([small], WIDTH, HEIGHT)
    assert tracked.track_id == big.track_id
    assert tracked.emotion is None and tracked.too_small and tracked.probabilities == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, r"alpha == 0.0, must be in \(0, 1\]"),
        ({"iou_threshold": 1.5}, "iou_threshold == 1.5"),
        ({"max_missing": -1}, "max_missing == -1"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FaceTracker(**kwargs)


# -- one reading, one order (ferdesk.vision.reading) --------------------------------------------------


@pytest.mark.parametrize("user_facing_camera", [False, True])
def test_two_faces_in_one_third_are_ordered_from_the_users_side_everywhere(user_facing_camera):
    """Speech, panel and overlay share one order; inside one third it follows the user's side too."""
    from ferdesk.speech.policy import describe_faces
    from ferdesk.vision.reading import row_text, user_order

    tracker = FaceTracker(user_facing_camera=user_facing_camera)
    # Both in the image's left third: happy further left in the image than sad.
    tracked = tracker.update([face(10, emotion="happy"), face(110, emotion="sad")], WIDTH, HEIGHT)
    users_left_first = ["sad", "happy"] if user_facing_camera else ["happy", "sad"]
    assert [t.emotion for t in tracked] == users_left_first
    assert [t.emotion for t in user_order(reversed(tracked))] == users_left_first
    side = "right" if user_facing_camera else "left"
    spoken = describe_faces(tracked)
    assert (
        spoken
        == f"two people. {side}: appears {users_left_first[0]}. also {side}: appears {users_left_first[1]}"
    )
    rows = [row_text(n, t, 0.5, "sides") for n, t in enumerate(user_order(tracked), start=1)]
    assert [row.split(": appears ")[1].split(",")[0] for row in rows] == users_left_first
    # user_x counts from the user's left edge of the picture.
    assert all(t.user_x is not None for t in tracked)
    assert tracked[0].user_x < tracked[1].user_x


def test_the_one_reading_decides_unclear_and_too_small_for_every_view():
    from ferdesk.speech.policy import describe_faces
    from ferdesk.vision.reading import overlay_label, read_face, row_text
    from ferdesk.vision.results import TrackedFace

    sure = TrackedFace(1, Box(60, 100, 80, 80), "happy", 0.82, {"happy": 0.82}, "left")
    doubtful = TrackedFace(2, Box(300, 100, 80, 80), "sad", 0.3, {"sad": 0.3}, "centre")
    never_read = TrackedFace(3, Box(300, 100, 80, 80), None, 0.0, {}, "centre")
    tiny = TrackedFace(4, Box(500, 100, 10, 10), None, 0.0, {}, "right", too_small=True)
    assert [read_face(f, 0.5).kind for f in (sure, doubtful, never_read, tiny)] == [
        "emotion",
        "unclear",
        "unclear",
        "too_small",
    ]
    assert [overlay_label(n, f, 0.5) for n, f in enumerate((sure, doubtful, never_read, tiny), 1)] == [
        "1: happy 82 %",
        "2: unclear",
        "3: unclear",
        "4: too small",
    ]
    assert row_text(2, doubtful, 0.5, "clock") == "Person 2, at 12 o'clock: expression unclear"
    assert row_text(4, tiny, 0.5, "sides") == "Person 4, right: far away, too small to read"
    assert describe_faces([never_read]) == "one person, in the centre: expression unclear"
    assert describe_faces([tiny]) == "a face far away, too small to read, on the right"
