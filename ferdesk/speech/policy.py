"""What ferdesk says about the faces in view, and when — the rules a blind listener can rely on.

The live pipeline produces a result for every frame; speaking per frame would bury the user in
noise. This module turns the stream of :class:`~ferdesk.vision.results.TrackedFace` lists into a
few spoken sentences, following findings collected in ``shared/notes/accessibility.md``:

* Speak on change, never per frame. A person's expression (and whether a person is there at all)
  must hold for ``hold_seconds`` before it is spoken, and two announcements are at least
  ``min_gap_seconds`` apart. A label that flickers never holds, so it is never spoken.
* Admit doubt in words: "appears happy", never "is happy"; below ``confidence_threshold`` say
  "expression unclear" instead of a guess.
* Count first, then position, then expression, left to right from the user's side — the one
  order and the one reading of :mod:`ferdesk.vision.reading`, which the faces panel and the video
  overlay use too: "two people. left: appears happy. right: appears neutral".
* Status and aiming help: "no face in view", "face at the left edge, partly out of frame",
  "a face far away, too small to read".
* Never describe age, gender, ethnicity or identity; ``track_id`` is only used to follow the same
  face from frame to frame, never spoken.

Change announcements (documented choice): when the same people are still in view and only their
expression or framing changed, brief mode names just the people who changed — "now appears
surprised" with one person in view, "right: now appears surprised" with several. Full mode always
re-describes the whole scene, marking the changed people with "now" and adding confidence words.
When people enter or leave, both modes describe the whole scene (the count comes first, so the
listener hears "two people…" when someone joined).

Everything here is pure and driven by the ``now`` passed in (seconds, e.g. ``time.monotonic()``),
so tests run with a fake clock and no sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from ferdesk.vision.reading import (
    TOO_SMALL,
    UNCLEAR,
    emotion_word,
    normal_position,
    order_key,
    place_label,
    place_phrase,
    read_face,
)
from ferdesk.vision.results import TrackedFace

VERBOSITY_LEVELS = ("brief", "full")
POSITION_STYLES = ("sides", "clock")
ANNOUNCEMENT_KINDS = ("scene", "status", "repeat", "describe")

# UNCLEAR and TOO_SMALL come from ferdesk.vision.reading: speech, panel and overlay read alike.
NO_FACE = "no face in view"

# Internal category names of a face's expression besides the emotion labels themselves.
_UNCLEAR_KEY = "?unclear"
_TOO_SMALL_KEY = "?far"

#: A face counts as gone after being unseen for LEAVE_FACTOR x hold_seconds. Departures are
#: confirmed a little more slowly than arrivals (hold_seconds), so a tracker that loses a face and
#: re-finds it under a new id within hold/2 is not heard as "no face in view" in between.
LEAVE_FACTOR = 1.5


_SMALL_NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_to_words(n: int) -> str:
    """English words for a count ("two", "twenty-one"); digits from 100 on, which no scene reaches."""
    if n < 0:
        raise ValueError(f"number_to_words expects a count >= 0, got {n}.")
    if n < 20:
        return _SMALL_NUMBERS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        word = _TENS[tens - 2]
        return word if ones == 0 else f"{word}-{_SMALL_NUMBERS[ones]}"
    return str(n)


@dataclass
class PolicyConfig:
    """User-facing announcement settings. Mutable: a changed value applies from the next call.

    Every assignment is validated, so a bad value from a settings dialog fails at once with a
    message naming the field, not later inside the live loop.
    """

    hold_seconds: float = 1.0  # an expression must hold this long before it is spoken
    min_gap_seconds: float = 3.0  # minimum gap between two announcements (except status/explicit requests)
    confidence_threshold: float = 0.5  # below → "expression unclear" (never a guess)
    verbosity: str = "brief"  # "brief" | "full" (full adds confidence words)
    position_style: str = "sides"  # "sides" (left / centre / right) | "clock" (10 / 12 / 2 o'clock)
    announce_no_face: bool = True  # "no face in view" once faces have left (held like an expression)
    announce_edges: bool = True  # aiming help: "face at the left edge, partly out of frame"

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, _validate_config_field(name, value))


def _validate_config_field(name: str, value: Any) -> Any:
    if name in ("hold_seconds", "min_gap_seconds"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeError(f"PolicyConfig.{name} must be a number of seconds, got {value!r}.")
        if value < 0:
            raise ValueError(f"PolicyConfig.{name} == {value}, must be >= 0 seconds.")
        return float(value)
    if name == "confidence_threshold":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeError(f"PolicyConfig.confidence_threshold must be a number in [0, 1], got {value!r}.")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"PolicyConfig.confidence_threshold == {value}, must be between 0 and 1.")
        return float(value)
    if name == "verbosity" and value not in VERBOSITY_LEVELS:
        raise ValueError(f"PolicyConfig.verbosity must be one of {VERBOSITY_LEVELS}, got {value!r}.")
    if name == "position_style" and value not in POSITION_STYLES:
        raise ValueError(f"PolicyConfig.position_style must be one of {POSITION_STYLES}, got {value!r}.")
    if name in ("announce_no_face", "announce_edges") and not isinstance(value, bool):
        raise TypeError(f"PolicyConfig.{name} must be True or False, got {value!r}.")
    return value


@dataclass(frozen=True)
class Announcement:
    """One thing to say. ``urgent`` asks the speaker to interrupt stale speech (and a screen
    reader to be assertive); it is set for status messages and for the user's own requests."""

    text: str
    urgent: bool
    time: float
    kind: str  # "scene" | "status" | "repeat" | "describe"


@dataclass(frozen=True)
class _FaceView:
    """What the wording needs about one face: already reduced to a settled (or instant) reading."""

    sort_key: tuple[int, float]
    position: str
    category: str  # an emotion label, _UNCLEAR_KEY or _TOO_SMALL_KEY
    confidence: float
    edge: str | None  # "left" | "right" | "top" | "bottom" | None
    changed: bool = False


# ---------------------------------------------------------------------------------------------
# Wording (pure)
# ---------------------------------------------------------------------------------------------


def _expression_category(face: TrackedFace, threshold: float) -> str:
    """The policy's comparable category for a face, from the one shared reading."""
    reading = read_face(face, threshold)
    if reading.kind == "too_small":
        return _TOO_SMALL_KEY
    if reading.kind == "unclear" or reading.emotion is None:
        return _UNCLEAR_KEY
    return reading.emotion


def _edge_of(face: TrackedFace) -> str | None:
    """Which frame edge a partly visible face touches, for aiming help.

    TrackedFace gives the horizontal third but not the frame size, so a face in the centre third
    that is partly out must touch the top (box at y <= 0) or otherwise the bottom edge.
    """
    if not face.partly_out:
        return None
    if face.position in ("left", "right"):
        return face.position
    return "top" if face.box.y <= 0 else "bottom"


def _sort_key(face: TrackedFace) -> tuple[int, float]:
    # The one left-to-right order (ferdesk.vision.reading): the panel and overlay use the same.
    return order_key(face)


def _view_of(face: TrackedFace, config: PolicyConfig) -> _FaceView:
    return _FaceView(
        sort_key=_sort_key(face),
        position=normal_position(face.position),
        category=_expression_category(face, config.confidence_threshold),
        confidence=float(face.confidence),
        edge=_edge_of(face) if config.announce_edges else None,
    )


def _confidence_words(confidence: float) -> str:
    # Words, not tone of voice, carry doubt (Akter et al., W4A 2024); nothing claims certainty.
    if confidence >= 0.85:
        return "quite sure"
    if confidence >= 0.7:
        return "fairly sure"
    return "not very sure"


def _expression_phrase(view: _FaceView, config: PolicyConfig) -> str:
    if view.category == _TOO_SMALL_KEY:
        return TOO_SMALL
    if view.category == _UNCLEAR_KEY:
        return UNCLEAR
    phrase = f"appears {emotion_word(view.category)}"
    if config.verbosity == "full":
        phrase += f", {_confidence_words(view.confidence)}"
    return phrase


def _edge_phrase(edge: str) -> str:
    return f"at the {edge} edge, partly out of frame"


def _place_label(position: str, config: PolicyConfig) -> str:
    """Short place label used in a list of several faces: "left" or "at 10 o'clock"."""
    return place_label(position, config.position_style)


def _place_phrase(position: str, config: PolicyConfig) -> str:
    """Place phrase for a single face: "on the left" or "at 10 o'clock"."""
    return place_phrase(position, config.position_style)


def _labels_left_to_right(views: Sequence[_FaceView], config: PolicyConfig) -> list[str]:
    """Place labels in left-to-right order; a repeated place becomes "also left"."""
    labels = []
    seen: set[str] = set()
    for view in views:
        label = _place_label(view.position, config)
        labels.append(f"also {label}" if view.position in seen else label)
        seen.add(view.position)
    return labels


def _now(view: _FaceView) -> str:
    return "now " if view.changed else ""


def _describe_views(views: Sequence[_FaceView], config: PolicyConfig) -> str:
    """The whole scene: count first, then place, then expression, left to right."""
    if not views:
        return NO_FACE
    views = sorted(views, key=lambda v: v.sort_key)
    if len(views) == 1:
        view = views[0]
        place = _place_phrase(view.position, config)
        if view.category == _TOO_SMALL_KEY:
            text = f"{_now(view)}{TOO_SMALL}, {place}"
        else:
            text = f"one person, {place}: {_now(view)}{_expression_phrase(view, config)}"
        if view.edge:
            text += f". face {_edge_phrase(view.edge)}"
        return text
    parts = [f"{number_to_words(len(views))} people"]
    for label, view in zip(_labels_left_to_right(views, config), views, strict=True):
        part = f"{label}: {_now(view)}{_expression_phrase(view, config)}"
        if view.edge:
            part += f", {_edge_phrase(view.edge)}"
        parts.append(part)
    return ". ".join(parts)


def _describe_changes(
    views: Sequence[_FaceView],
    previous: dict[int, tuple[str, str | None]],
    ids: Sequence[int],
    config: PolicyConfig,
) -> str:
    """Brief change wording: only the people whose reading changed, by place when several."""
    order = sorted(range(len(views)), key=lambda i: views[i].sort_key)
    views_sorted = [views[i] for i in order]
    ids_sorted = [ids[i] for i in order]
    labels = _labels_left_to_right(views_sorted, config)
    parts = []
    for label, view, track_id in zip(labels, views_sorted, ids_sorted, strict=True):
        old_category, old_edge = previous[track_id]
        if (view.category, view.edge) == (old_category, old_edge):
            continue
        bits = []
        if view.category != old_category:
            bits.append(f"now {_expression_phrase(view, config)}")
        if view.edge != old_edge:
            bits.append(_edge_phrase(view.edge) if view.edge else "back in frame")
        phrase = ", ".join(bits)
        if len(views) == 1:
            # One person in view: the place is known already, say only what changed.
            return f"face {phrase}" if view.category == old_category else phrase
        parts.append(f"{label}: {phrase}")
    return ". ".join(parts)


def describe_faces(faces: Sequence[TrackedFace], config: PolicyConfig | None = None) -> str:
    """Words for the faces as they are in this one frame (no holding): the wording function.

    >>> describe_faces([])
    'no face in view'
    """
    config = config or PolicyConfig()
    return _describe_views([_view_of(face, config) for face in faces], config)


# ---------------------------------------------------------------------------------------------
# Timing: holding, gaps, identities
# ---------------------------------------------------------------------------------------------


_NEVER = object()  # "has not held yet" (None is a real value for the edge: fully in frame)
V = TypeVar("V")


@dataclass
class _Settling(Generic[V]):
    """One value that must stay the same for ``hold`` seconds before it counts."""

    candidate: V
    since: float
    held: V | object = _NEVER

    def observe(self, value: V, now: float, hold: float) -> None:
        if value != self.candidate:
            self.candidate = value
            self.since = now
        if now - self.since >= hold:
            self.held = value

    def settled(self, fallback: V) -> V:
        return fallback if self.held is _NEVER else cast(V, self.held)


@dataclass
class _Track:
    """What the policy remembers about one tracked face between frames.

    Expression and framing settle separately, so a face hovering at the frame edge does not keep
    its (steady) expression from being announced, and vice versa.
    """

    track_id: int
    first_seen: float
    last_seen: float
    face: TrackedFace
    category: _Settling[str]
    edge: _Settling[str | None]
    held_confidence: float = 0.0

    @classmethod
    def start(cls, face: TrackedFace, category: str, edge: str | None, now: float) -> _Track:
        return cls(face.track_id, now, now, face, _Settling(category, now), _Settling(edge, now))

    def observe(self, face: TrackedFace, category: str, edge: str | None, now: float, hold: float) -> None:
        self.face = face
        self.last_seen = now
        self.category.observe(category, now, hold)
        self.edge.observe(edge, now, hold)
        if category == self.category.held:
            self.held_confidence = float(face.confidence)

    def is_established(self, hold: float) -> bool:
        """Seen over a span of at least ``hold`` seconds (short detection drop-outs allowed)."""
        return self.last_seen - self.first_seen >= hold

    def settled(self) -> tuple[str, str | None]:
        # A face that is there but whose reading never held is, honestly, "expression unclear".
        return self.category.settled(_UNCLEAR_KEY), self.edge.settled(None)


class AnnouncementPolicy:
    """Decides, frame by frame, whether something is worth saying — and says it in plain words.

    Call :meth:`update` once per processed frame with that frame's faces and its timestamp; it
    returns an :class:`Announcement` only when the settled scene differs from what the user last
    heard and the minimum gap has passed. :meth:`describe_now`, :meth:`repeat_last` and
    :meth:`status` answer the user or report a problem at once, ignoring hold and gap.
    """

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config if config is not None else PolicyConfig()
        self.last: Announcement | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the scene (e.g. after switching cameras) so it is announced afresh.

        ``last`` is kept on purpose: "repeat" should still work right after a camera change.
        """
        self._tracks: dict[int, _Track] = {}
        self._started_at: float | None = None
        self._latest_now: float | None = None
        self._announced: tuple[tuple[str, str | None], ...] | None = None
        self._announced_tracks: dict[int, tuple[str, str | None]] = {}
        self._last_spoken_at: float | None = None

    # -- the per-frame rule ---------------------------------------------------------------------

    def update(self, faces: Sequence[TrackedFace], now: float) -> Announcement | None:
        """Feed one frame's faces; returns what to say now, or None (the usual case)."""
        now = self._monotonic(now)
        config = self.config
        hold = config.hold_seconds
        if self._started_at is None:
            self._started_at = now

        self._observe(faces, now, hold)
        established = [t for t in self._tracks.values() if t.is_established(hold)]
        if not established and now - self._started_at < hold:
            return None  # an empty view at start-up must hold too
        signature, views, ids = self._scene(established)
        if signature == self._announced:
            return None
        if self._last_spoken_at is not None and now - self._last_spoken_at < config.min_gap_seconds:
            return None  # something changed, but the user heard something moments ago

        if not views and not config.announce_no_face:
            # Remember silently that the scene emptied, so a returning person is announced.
            self._remember(signature, views, ids)
            return None

        same_people = bool(views) and set(ids) == set(self._announced_tracks)
        if same_people and config.verbosity == "brief":
            text = _describe_changes(views, self._announced_tracks, ids, config)
            if not text:
                # The same people with the same readings only swapped places: nothing new to say.
                self._remember(signature, views, ids)
                return None
        else:
            if same_people:
                views = [
                    _replace_changed(view, self._announced_tracks[track_id])
                    for view, track_id in zip(views, ids, strict=True)
                ]
            text = _describe_views(views, config)
        self._remember(signature, views, ids)
        return self._speak(text, urgent=False, now=now, kind="scene")

    # -- explicit requests and status -------------------------------------------------------------

    def describe_now(self, faces: Sequence[TrackedFace], now: float) -> Announcement:
        """The user asked "what is in front of me?": describe this frame now, no hold, no gap."""
        now = self._monotonic(now)
        text = describe_faces(faces, self.config)
        # The user now knows the scene: don't repeat the settled state unless it changes later.
        established = [t for t in self._tracks.values() if t.is_established(self.config.hold_seconds)]
        signature, views, ids = self._scene(established)
        self._remember(signature, views, ids)
        return self._speak(text, urgent=True, now=now, kind="describe")

    def repeat_last(self, now: float) -> Announcement | None:
        """The last thing said, again (None when nothing has been said yet)."""
        if self.last is None:
            return None
        now = self._monotonic(now)
        return self._speak(self.last.text, urgent=True, now=now, kind="repeat")

    def status(self, message: str, now: float) -> Announcement:
        """A problem or state change the user must hear ("camera disconnected"): always spoken."""
        if not isinstance(message, str) or not message.strip():
            raise ValueError(f"status() needs a non-empty message to speak, got {message!r}.")
        now = self._monotonic(now)
        return self._speak(" ".join(message.split()), urgent=True, now=now, kind="status")

    # -- internals -----------------------------------------------------------------------------------

    def _monotonic(self, now: float) -> float:
        # A clock that steps back (or a caller mixing clocks) must not un-hold or re-announce.
        if not isinstance(now, int | float) or not math.isfinite(now):
            raise TypeError(f"now must be a finite time in seconds (e.g. time.monotonic()), got {now!r}.")
        now = float(now)
        if self._latest_now is not None and now < self._latest_now:
            now = self._latest_now
        self._latest_now = now
        return now

    def _observe(self, faces: Sequence[TrackedFace], now: float, hold: float) -> None:
        threshold = self.config.confidence_threshold
        edges = self.config.announce_edges
        present = set()
        for face in faces:
            category = _expression_category(face, threshold)
            edge = _edge_of(face) if edges else None
            track = self._tracks.get(face.track_id)
            if track is None:
                track = self._tracks[face.track_id] = _Track.start(face, category, edge, now)
            track.observe(face, category, edge, now, hold)
            present.add(face.track_id)
        leave_after = hold * LEAVE_FACTOR
        for track_id in [tid for tid, t in self._tracks.items() if tid not in present]:
            # A face counts as gone only after being unseen for a while (detector drop-outs).
            if now - self._tracks[track_id].last_seen >= leave_after:
                del self._tracks[track_id]
        self._drop_renumbered(present, hold)

    def _drop_renumbered(self, present: set[int], hold: float) -> None:
        """Forget a vanished face as soon as a face first seen after it vanished is established.

        Trackers lose a face and find it again under a new id. Such a newcomer was established
        after being seen for ``hold`` seconds, all of them after the old face's last sighting, so
        the old face has been unseen for at least ``hold`` too: it is gone (or it is this very
        face, re-numbered). Either way it must not be counted beside the newcomer — that would be
        a transient "two people" — nor dropped before the newcomer counts ("no face in view").
        """
        for newcomer in [self._tracks[tid] for tid in present]:
            if not newcomer.is_established(hold):
                continue
            for old in list(self._tracks.values()):
                if old.track_id not in present and old.last_seen <= newcomer.first_seen:
                    del self._tracks[old.track_id]

    def _scene(self, established: Sequence[_Track]) -> tuple[tuple, list[_FaceView], list[int]]:
        """The settled scene: what would be said, as a comparable signature, views and ids."""
        views, ids = [], []
        for track in sorted(established, key=lambda t: _sort_key(t.face)):
            category, edge = track.settled()
            views.append(
                _FaceView(
                    sort_key=_sort_key(track.face),
                    position=normal_position(track.face.position),
                    category=category,
                    confidence=track.held_confidence,
                    edge=edge,
                )
            )
            ids.append(track.track_id)
        # Compared without ids: a tracker that re-numbers the same person says nothing new.
        signature = tuple((v.category, v.edge) for v in views)
        return signature, views, ids

    def _remember(self, signature: tuple, views: Sequence[_FaceView], ids: Sequence[int]) -> None:
        self._announced = signature
        self._announced_tracks = {
            track_id: (view.category, view.edge) for view, track_id in zip(views, ids, strict=True)
        }

    def _speak(self, text: str, urgent: bool, now: float, kind: str) -> Announcement:
        announcement = Announcement(text=text, urgent=urgent, time=now, kind=kind)
        self.last = announcement
        self._last_spoken_at = now
        return announcement


def _replace_changed(view: _FaceView, previous: tuple[str, str | None]) -> _FaceView:
    changed = view.category != previous[0]
    return _FaceView(view.sort_key, view.position, view.category, view.confidence, view.edge, changed)


__all__ = [
    "NO_FACE",
    "TOO_SMALL",
    "UNCLEAR",
    "Announcement",
    "AnnouncementPolicy",
    "PolicyConfig",
    "describe_faces",
    "number_to_words",
]
