"""The announcement rules a blind listener relies on, driven by a fake clock (no sleeping).

Each test feeds hand-made TrackedFace lists frame by frame at a given rate and checks what would
be spoken and when.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence

import pytest

from ferdesk.speech import (
    NO_FACE,
    Announcement,
    AnnouncementPolicy,
    PolicyConfig,
    describe_faces,
    number_to_words,
)
from ferdesk.vision.geometry import Box
from ferdesk.vision.results import TrackedFace

FPS = 30
_X = {"left": 60, "centre": 290, "right": 520}


def face(
    track_id: int = 1,
    emotion: str | None = "happy",
    confidence: float = 0.9,
    position: str = "centre",
    *,
    x: int | None = None,
    y: int = 100,
    too_small: bool = False,
    partly_out: bool = False,
) -> TrackedFace:
    box = Box(_X[position] if x is None else x, y, 80, 80)
    probabilities = {emotion: confidence} if emotion else {}
    return TrackedFace(track_id, box, emotion, confidence, probabilities, position, too_small, partly_out)


Scene = Callable[[float], Sequence[TrackedFace]]


def run(
    policy: AnnouncementPolicy, scene: Scene, start: float, end: float, fps: float = FPS
) -> list[Announcement]:
    """Feed ``scene(t)`` every frame from ``start`` to ``end`` (exclusive); return what was said."""
    said = []
    frame = 0
    while True:
        t = start + frame / fps
        if t >= end - 1e-9:
            return said
        announcement = policy.update(scene(t), t)
        if announcement is not None:
            said.append(announcement)
        frame += 1


def texts(announcements: Sequence[Announcement]) -> list[str]:
    return [a.text for a in announcements]


def assert_gaps(announcements: Sequence[Announcement], gap: float = 3.0) -> None:
    times = [a.time for a in announcements]
    for earlier, later in itertools.pairwise(times):
        assert later - earlier >= gap - 1e-9, f"announcements at {earlier:.2f} and {later:.2f} s"


# -- holding ---------------------------------------------------------------------------------------


def test_a_new_face_is_announced_only_after_it_held_for_hold_seconds() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face()], 0.0, 0.99)
    assert said == []
    said = run(policy, lambda t: [face()], 0.99, 3.0)
    assert texts(said) == ["one person, in the centre: appears happy"]
    assert said[0].time == pytest.approx(1.0, abs=1 / FPS)
    assert said[0].kind == "scene" and not said[0].urgent


def test_a_changed_expression_is_announced_once_after_it_held_and_says_now() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face()], 0.0, 5.0)
    said = run(policy, lambda t: [face(emotion="surprise")], 5.0, 12.0)
    assert texts(said) == ["now appears surprised"]
    assert 6.0 - 1e-9 <= said[0].time < 6.0 + 2 / FPS


def test_an_expression_shorter_than_the_hold_is_never_spoken() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face()], 0.0, 5.0)
    # 0.9 s of anger, then happy again: nothing new to say.
    said = run(policy, lambda t: [face(emotion="angry" if t < 5.9 else "happy")], 5.0, 15.0)
    assert said == []


def test_hold_seconds_is_configurable_and_applies_immediately() -> None:
    config = PolicyConfig(hold_seconds=2.0)
    policy = AnnouncementPolicy(config)
    assert run(policy, lambda t: [face()], 0.0, 1.9) == []
    config.hold_seconds = 0.5  # the user shortens it mid-session
    said = run(policy, lambda t: [face()], 1.9, 2.0)
    assert texts(said) == ["one person, in the centre: appears happy"]


def test_hold_zero_and_gap_zero_speak_on_the_first_frame_of_a_change() -> None:
    policy = AnnouncementPolicy(PolicyConfig(hold_seconds=0.0, min_gap_seconds=0.0))
    assert policy.update([face()], 0.0).text == "one person, in the centre: appears happy"
    assert policy.update([face(emotion="sad")], 0.1).text == "now appears sad"
    assert policy.update([face(emotion="sad")], 0.2) is None


# -- minimum gap -----------------------------------------------------------------------------------


def test_changes_wait_for_the_minimum_gap_and_stale_ones_are_dropped() -> None:
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        if t < 1.5:
            return [face()]
        if t < 5.0:
            return [face(emotion="surprise")]  # held from 2.5 s, but the gap ends at 4.0 s
        return [face()]

    said = run(policy, scene, 0.0, 20.0)
    assert texts(said) == [
        "one person, in the centre: appears happy",
        "now appears surprised",
        "now appears happy",
    ]
    assert said[1].time == pytest.approx(4.0, abs=1 / FPS)
    assert said[2].time == pytest.approx(7.0, abs=1 / FPS)  # held at 6.0, gap until 7.0
    assert_gaps(said)

    # A change that held but reverted (and re-held) before the gap was over is never spoken:
    # sad holds at 2.2 s, happy again holds at 3.8 s, the gap ends at 4.0 s.
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(emotion="sad" if 1.2 <= t < 2.8 else "happy")], 0.0, 15.0)
    assert texts(said) == ["one person, in the centre: appears happy"]


def test_min_gap_is_configurable() -> None:
    policy = AnnouncementPolicy(PolicyConfig(min_gap_seconds=6.0))
    said = run(policy, lambda t: [face(emotion="happy" if t < 2.0 else "sad")], 0.0, 10.0)
    assert [round(a.time, 1) for a in said] == [1.0, 7.0]


# -- flicker ---------------------------------------------------------------------------------------


def _at_most_one_per_window(said: Sequence[Announcement], window: float = 3.0) -> None:
    for a in said:
        inside = [b for b in said if a.time <= b.time < a.time + window]
        assert len(inside) == 1, texts(inside)


def test_labels_alternating_every_frame_are_never_spoken() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(emotion="happy" if round(t * FPS) % 2 else "sad")], 0.0, 30.0)
    _at_most_one_per_window(said)
    assert texts(said) == ["one person, in the centre: expression unclear"]
    assert not any("happy" in s or "sad" in s for s in texts(said))


def test_labels_alternating_every_0_3_s_are_never_spoken() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(emotion=("happy", "sad", "angry")[int(t / 0.3) % 3])], 0.0, 30.0)
    _at_most_one_per_window(said)
    assert len(said) <= 1
    assert all("appears" not in s for s in texts(said))


def test_flicker_after_a_settled_label_keeps_quiet() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face()], 0.0, 3.0)
    assert texts(said) == ["one person, in the centre: appears happy"]
    said = run(policy, lambda t: [face(emotion="happy" if round(t * FPS) % 2 else "fear")], 3.0, 20.0)
    assert said == []


def _reference_held(stream: Sequence[str], hold_frames: int) -> list[str | None]:
    """Independent model of the rule: the last label that ran unchanged for ``hold_frames``."""
    held: list[str | None] = []
    run_start = 0
    current: str | None = None
    for i, label in enumerate(stream):
        if i and label != stream[i - 1]:
            run_start = i
        if i - run_start >= hold_frames:
            current = label
        held.append(current)
    return held


def test_random_label_streams_respect_gap_and_hold() -> None:
    """Property check: whatever the input, gaps are kept and every spoken label had held
    (for a full second, with nothing else holding since)."""
    labels = ("happy", "sad", "neutral", "surprise")
    words = {"happy": "happy", "sad": "sad", "neutral": "neutral", "surprise": "surprised"}
    spoken_labels = 0
    for seed in range(12):
        rng = random.Random(seed)
        # Runs of random length (a frame to 3 s) of random labels.
        stream: list[str] = []
        while len(stream) < 60 * FPS:
            stream += [rng.choice(labels)] * rng.randint(1, 3 * FPS)
        held = _reference_held(stream, hold_frames=FPS)
        policy = AnnouncementPolicy()
        said = run(policy, lambda t, s=stream: [face(emotion=s[round(t * FPS)])], 0.0, 60.0)
        assert_gaps(said)
        for a in said:
            match = re.search(r"appears (\w+)", a.text)
            reference = held[round(a.time * FPS)]
            if match is None:
                assert reference is None, (seed, a)  # "expression unclear" only before anything held
                continue
            spoken_labels += 1
            assert reference is not None and words[reference] == match.group(1), (seed, a)
    assert spoken_labels > 50  # the check above really ran


# -- confidence ------------------------------------------------------------------------------------


def test_low_confidence_is_expression_unclear_never_a_guess() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(emotion="sad", confidence=0.42)], 0.0, 3.0)
    assert texts(said) == ["one person, in the centre: expression unclear"]
    unknown = face(emotion=None, confidence=0.0)
    assert describe_faces([unknown]) == "one person, in the centre: expression unclear"


def test_confidence_threshold_applies_immediately_when_changed() -> None:
    config = PolicyConfig()
    policy = AnnouncementPolicy(config)
    run(policy, lambda t: [face(emotion="sad", confidence=0.6)], 0.0, 3.0)
    assert policy.last.text == "one person, in the centre: appears sad"
    config.confidence_threshold = 0.7
    said = run(policy, lambda t: [face(emotion="sad", confidence=0.6)], 3.0, 8.0)
    assert texts(said) == ["now expression unclear"]


def test_wording_says_appears_never_is() -> None:
    text = describe_faces([face(emotion=e) for e in ["happy"]])
    assert "appears happy" in text and " is " not in f" {text} "


# -- several faces ---------------------------------------------------------------------------------


def test_two_people_count_first_then_place_then_expression_left_to_right() -> None:
    policy = AnnouncementPolicy()
    # Deliberately listed right-to-left: the order spoken must still be left to right.
    scene = [face(2, "neutral", position="right"), face(1, "happy", position="left")]
    said = run(policy, lambda t: scene, 0.0, 2.0)
    assert texts(said) == ["two people. left: appears happy. right: appears neutral"]


def test_three_people_and_numbers_as_words() -> None:
    faces = [
        face(1, "sad", position="right"),
        face(2, "happy", position="left"),
        face(3, "surprise", position="centre"),
    ]
    assert describe_faces(faces) == (
        "three people. left: appears happy. centre: appears surprised. right: appears sad"
    )
    five = [face(i, "neutral", position="centre", x=200 + 20 * i) for i in range(5)]
    assert describe_faces(five).startswith("five people. centre: appears neutral. also centre:")
    assert [number_to_words(n) for n in (0, 1, 2, 3, 12, 21, 40)] == [
        "zero",
        "one",
        "two",
        "three",
        "twelve",
        "twenty-one",
        "forty",
    ]


def test_two_faces_on_the_same_side_are_told_apart_in_order() -> None:
    faces = [face(1, "sad", position="left", x=150), face(2, "happy", position="left", x=20)]
    assert describe_faces(faces) == "two people. left: appears happy. also left: appears sad"


def test_one_face_says_where_it_is() -> None:
    assert describe_faces([face(position="left")]) == "one person, on the left: appears happy"
    assert describe_faces([face(position="centre")]) == "one person, in the centre: appears happy"
    assert describe_faces([face(position="right")]) == "one person, on the right: appears happy"


def test_a_change_of_one_of_two_people_names_just_that_person_in_brief_mode() -> None:
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        right = "surprise" if t >= 5.0 else "neutral"
        return [face(1, "happy", position="left"), face(2, right, position="right")]

    said = run(policy, scene, 0.0, 10.0)
    assert texts(said) == [
        "two people. left: appears happy. right: appears neutral",
        "right: now appears surprised",
    ]


def test_full_mode_redescribes_the_scene_and_marks_who_changed() -> None:
    policy = AnnouncementPolicy(PolicyConfig(verbosity="full"))

    def scene(t: float) -> list[TrackedFace]:
        right = "surprise" if t >= 5.0 else "neutral"
        return [face(1, "happy", 0.9, "left"), face(2, right, 0.75, "right")]

    said = run(policy, scene, 0.0, 10.0)
    assert texts(said) == [
        "two people. left: appears happy, quite sure. right: appears neutral, fairly sure",
        "two people. left: appears happy, quite sure. right: now appears surprised, fairly sure",
    ]


def test_identity_follows_the_track_not_the_position() -> None:
    """Two people cross over: nobody changed expression, so nothing is said about them."""
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        if t < 5.0:
            return [face(1, "happy", position="left"), face(2, "happy", position="right")]
        return [face(1, "happy", position="right"), face(2, "happy", position="left")]

    said = run(policy, scene, 0.0, 12.0)
    assert texts(said) == ["two people. left: appears happy. right: appears happy"]


def test_people_swapping_places_with_different_expressions_is_not_an_empty_announcement() -> None:
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        if t < 5.0:
            return [face(1, "happy", position="left"), face(2, "sad", position="right")]
        return [face(1, "happy", position="right"), face(2, "sad", position="left")]

    said = run(policy, scene, 0.0, 12.0)
    assert len(said) == 1
    assert all(a.text.strip() for a in said)


def test_a_tracker_renumbering_the_same_person_says_nothing_new() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(track_id=1 if t < 5.0 else 7)], 0.0, 12.0)
    assert texts(said) == ["one person, in the centre: appears happy"]
    # Lost for 0.4 s before being found again under a new id, among two people.
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        right = [face(2, "neutral", position="right")]
        if t < 5.0:
            return [face(1, position="left"), *right]
        if t < 5.4:
            return right
        return [face(8, position="left", x=_X["left"] + 20), *right]

    said = run(policy, scene, 0.0, 14.0)
    assert texts(said) == ["two people. left: appears happy. right: appears neutral"]


def test_someone_leaving_as_another_arrives_elsewhere_is_still_told() -> None:
    policy = AnnouncementPolicy()
    left, right = face(1, position="left"), face(2, "sad", position="right")
    said = run(policy, lambda t: [left] if t < 5.0 else [right], 0.0, 14.0)
    # Never a transient "two people": they were not in view together.
    assert texts(said) == ["one person, on the left: appears happy", "one person, on the right: appears sad"]
    assert said[1].time == pytest.approx(6.0, abs=1 / FPS)


# -- entering and leaving ----------------------------------------------------------------------------


def test_people_entering_and_leaving_and_no_face_after_holding() -> None:
    policy = AnnouncementPolicy()

    def scene(t: float) -> list[TrackedFace]:
        if t < 5.0:
            return [face(1, "happy", position="left")]
        if t < 10.0:
            return [face(1, "happy", position="left"), face(2, "neutral", position="right")]
        if t < 15.0:
            return [face(2, "neutral", position="right")]
        return []

    said = run(policy, scene, 0.0, 25.0)
    assert texts(said) == [
        "one person, on the left: appears happy",
        "two people. left: appears happy. right: appears neutral",
        "one person, on the right: appears neutral",
        NO_FACE,
    ]
    # Arrivals are confirmed after hold_seconds, departures after 1.5 x hold_seconds.
    assert [round(a.time, 1) for a in said] == [1.0, 6.0, 11.5, 16.5]


def test_a_short_detection_dropout_is_not_a_person_leaving() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [] if 4.0 <= t < 4.6 else [face()], 0.0, 12.0)
    assert texts(said) == ["one person, in the centre: appears happy"]


def test_a_brief_false_detection_is_never_announced() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face(1, position="left")], 0.0, 5.0)
    flash = run(
        policy,
        lambda t: [face(1, position="left")] + ([face(9, "angry", position="right")] if t < 5.5 else []),
        5.0,
        12.0,
    )
    assert flash == []


def test_no_face_in_view_at_start_after_holding() -> None:
    policy = AnnouncementPolicy()
    assert run(policy, lambda t: [], 0.0, 0.99) == []
    said = run(policy, lambda t: [], 0.99, 10.0)
    assert texts(said) == [NO_FACE]


def test_announce_no_face_off_keeps_quiet_but_a_returning_person_is_announced() -> None:
    policy = AnnouncementPolicy(PolicyConfig(announce_no_face=False))
    said = run(policy, lambda t: [face()] if t < 5.0 or t >= 10.0 else [], 0.0, 15.0)
    assert texts(said) == ["one person, in the centre: appears happy"] * 2


# -- far faces and aiming help -----------------------------------------------------------------------


def test_too_small_faces_are_reported_not_read() -> None:
    far = face(emotion=None, confidence=0.0, position="left", too_small=True)
    assert describe_faces([far]) == "a face far away, too small to read, on the left"
    pair = [face(1, "happy", position="left"), face(2, None, 0.0, "right", too_small=True)]
    assert describe_faces(pair) == (
        "two people. left: appears happy. right: a face far away, too small to read"
    )
    # A too-small face is never read even if a label slipped through.
    assert "happy" not in describe_faces([face(emotion="happy", too_small=True)])


def test_a_face_partly_out_of_frame_gets_aiming_help() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(position="left", partly_out=t >= 5.0)], 0.0, 12.0)
    assert texts(said) == [
        "one person, on the left: appears happy",
        "face at the left edge, partly out of frame",
    ]
    centre_top = face(position="centre", y=0, partly_out=True)
    assert describe_faces([centre_top]).endswith("face at the top edge, partly out of frame")
    pair = [face(1, position="left", partly_out=True), face(2, "sad", position="right")]
    assert describe_faces(pair) == (
        "two people. left: appears happy, at the left edge, partly out of frame. right: appears sad"
    )
    assert "edge" not in describe_faces(pair, PolicyConfig(announce_edges=False))


def test_coming_back_into_frame_is_told() -> None:
    policy = AnnouncementPolicy()
    said = run(policy, lambda t: [face(position="right", partly_out=t < 5.0)], 0.0, 12.0)
    assert texts(said) == [
        "one person, on the right: appears happy. face at the right edge, partly out of frame",
        "face back in frame",
    ]


# -- styles and verbosity ----------------------------------------------------------------------------


def test_clock_positions() -> None:
    config = PolicyConfig(position_style="clock")
    assert describe_faces([face(position="centre")], config) == "one person, at 12 o'clock: appears happy"
    pair = [face(1, "happy", position="left"), face(2, "neutral", position="right")]
    assert describe_faces(pair, config) == (
        "two people. at 10 o'clock: appears happy. at 2 o'clock: appears neutral"
    )


def test_full_verbosity_adds_confidence_words() -> None:
    config = PolicyConfig(verbosity="full")
    assert describe_faces([face(confidence=0.75)], config) == (
        "one person, in the centre: appears happy, fairly sure"
    )
    assert describe_faces([face(confidence=0.95)], config).endswith("appears happy, quite sure")
    assert describe_faces([face(confidence=0.55)], config).endswith("appears happy, not very sure")
    # Brief mode never adds them; unclear never gets them.
    assert describe_faces([face(confidence=0.75)]) == "one person, in the centre: appears happy"
    assert describe_faces([face(confidence=0.3)], config).endswith("expression unclear")


def test_descriptions_never_mention_age_gender_or_identity() -> None:
    forbidden = re.compile(
        r"\b(man|woman|men|women|boy|girl|male|female|he|she|his|her|age|old|young|years|child|adult|"
        r"person number|id|track|white|black|asian)\b"
    )
    rng = random.Random(0)
    emotions = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", None]
    for _ in range(300):
        n = rng.randint(0, 6)
        faces = [
            face(
                1000 + i,
                rng.choice(emotions),
                rng.random(),
                rng.choice(["left", "centre", "right"]),
                x=rng.randint(0, 600),
                too_small=rng.random() < 0.2,
                partly_out=rng.random() < 0.2,
            )
            for i in range(n)
        ]
        config = PolicyConfig(
            verbosity=rng.choice(["brief", "full"]), position_style=rng.choice(["sides", "clock"])
        )
        text = describe_faces(faces, config)
        assert not forbidden.search(text), text
        assert "1000" not in text  # track ids are never spoken


# -- explicit requests and status ---------------------------------------------------------------------


def test_repeat_last_says_the_last_text_again() -> None:
    policy = AnnouncementPolicy()
    assert policy.repeat_last(0.0) is None
    run(policy, lambda t: [face()], 0.0, 2.0)
    again = policy.repeat_last(2.5)
    assert again is not None
    assert again.text == "one person, in the centre: appears happy"
    assert again.kind == "repeat" and again.urgent and again.time == 2.5
    assert policy.repeat_last(2.6).text == again.text


def test_describe_now_ignores_hold_and_gap_and_is_not_repeated_by_update() -> None:
    policy = AnnouncementPolicy()
    policy.update([face(emotion="sad")], 0.0)
    now = policy.describe_now([face(emotion="sad")], 0.1)  # long before the hold
    assert now.text == "one person, in the centre: appears sad"
    assert now.kind == "describe" and now.urgent
    # Right after a scene announcement, within the gap, it still answers.
    said = run(policy, lambda t: [face(emotion="sad")], 0.1, 1.2)
    assert texts(said) == []  # the user was just told; nothing new
    again = policy.describe_now([face(emotion="sad"), face(2, "happy", position="left")], 1.3)
    assert again.text == "two people. left: appears happy. centre: appears sad"
    assert policy.describe_now([], 1.4).text == NO_FACE


def test_status_is_urgent_and_always_spoken_even_inside_the_gap() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face()], 0.0, 1.1)
    status = policy.status("camera disconnected", 1.2)
    assert status == Announcement("camera disconnected", True, 1.2, "status")
    assert policy.last == status
    assert policy.repeat_last(1.3).text == "camera disconnected"
    with pytest.raises(ValueError, match="non-empty message"):
        policy.status("  ", 2.0)


def test_reset_announces_the_scene_afresh_and_keeps_last_for_repeat() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face()], 0.0, 2.0)
    policy.reset()
    assert policy.repeat_last(2.0).text == "one person, in the centre: appears happy"
    said = run(policy, lambda t: [face()], 10.0, 12.0)
    assert texts(said) == ["one person, in the centre: appears happy"]


def test_a_clock_that_steps_back_does_not_re_announce_or_crash() -> None:
    policy = AnnouncementPolicy()
    run(policy, lambda t: [face()], 0.0, 2.0)
    assert policy.update([face()], 0.5) is None
    assert policy.update([face()], 2.1) is None
    with pytest.raises(TypeError, match="finite time"):
        policy.update([face()], float("nan"))


# -- configuration errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("verbosity", "chatty", ValueError, "verbosity must be one of"),
        ("position_style", "compass", ValueError, "position_style must be one of"),
        ("hold_seconds", -1, ValueError, "must be >= 0"),
        ("min_gap_seconds", "3", TypeError, "number of seconds"),
        ("confidence_threshold", 1.5, ValueError, "between 0 and 1"),
        ("announce_edges", "yes", TypeError, "True or False"),
    ],
)
def test_bad_settings_fail_at_once_with_a_clear_message(field, value, error, message) -> None:
    with pytest.raises(error, match=message):
        PolicyConfig(**{field: value})
    config = PolicyConfig()
    with pytest.raises(error, match=message):
        setattr(config, field, value)
