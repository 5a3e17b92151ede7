"""Small, reused numbers for the people in view ("Person 1", "Person 2"), stable across re-tracking.

The tracker's ids only ever grow (a face lost for a moment comes back as a new id), so rows
named after them drift ("Person 54" → "Person 69" in half a minute) and a screen reader user
moving through the list lands on rows that no longer exist. Here each person in view holds the
smallest number free when they arrived; a number is kept for ``grace_s`` after its face was last
seen, and a face that appears near where a recently lost one was takes that number back — so the
same person keeps "Person 1" through a tracker's re-numbering. When everyone in view is new (the
scene changed), the numbers of the people who left are free at once: one new person is "Person 1".
Plain Python (no Qt).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ferdesk.vision.results import TrackedFace

#: A number stays reserved this long after its face was last seen.
GRACE_S = 2.0


@dataclass
class _Holder:
    track_id: int
    centre: tuple[float, float]
    size: float
    last_seen: float


class PersonNumbers:
    """Assigns each tracked face a small number; call :meth:`update` once per shown frame."""

    def __init__(self, grace_s: float = GRACE_S) -> None:
        if grace_s < 0:
            raise ValueError(f"grace_s == {grace_s}, must be >= 0 seconds.")
        self.grace_s = grace_s
        self._holders: dict[int, _Holder] = {}  # number -> who holds it
        self._by_track: dict[int, int] = {}  # track id -> number

    def update(self, faces: Sequence[TrackedFace], now: float) -> dict[int, int]:
        """Numbers for this frame's faces (track id -> number)."""
        for number, holder in list(self._holders.items()):
            if now - holder.last_seen > self.grace_s:
                del self._holders[number]
                self._by_track.pop(holder.track_id, None)
        present = {face.track_id for face in faces}
        # Everyone in view is new (the scene changed, or all faces were re-found at once): numbers
        # of people no longer in view may be given out again at once, so they stay small.
        fresh_scene = bool(faces) and not any(face.track_id in self._by_track for face in faces)
        for face in faces:
            held = self._by_track.get(face.track_id)
            if held is None:
                number = self._inherit(face, present) or self._smallest_free(present if fresh_scene else None)
                old = self._holders.get(number)
                if old is not None:
                    self._by_track.pop(old.track_id, None)
                self._by_track[face.track_id] = number
            else:
                number = held
            self._holders[number] = _Holder(
                face.track_id, face.box.center, float(max(face.box.w, face.box.h, 1)), now
            )
        return {face.track_id: self._by_track[face.track_id] for face in faces}

    def number(self, track_id: int) -> int | None:
        return self._by_track.get(track_id)

    def reset(self) -> None:
        """A new source: numbering starts again at 1."""
        self._holders.clear()
        self._by_track.clear()

    def _smallest_free(self, present: set[int] | None = None) -> int:
        """The smallest number nobody holds (with ``present``: nobody in view holds)."""
        number = 1
        while number in self._holders and (present is None or self._holders[number].track_id in present):
            number += 1
        return number

    def _inherit(self, face: TrackedFace, present: set[int]) -> int | None:
        """The number of a face no longer in view whose last place was near this new face."""
        best: tuple[float, int] | None = None
        cx, cy = face.box.center
        for number, holder in self._holders.items():
            if holder.track_id in present:
                continue
            distance = math.hypot(cx - holder.centre[0], cy - holder.centre[1]) / holder.size
            if distance <= 1.0 and (best is None or distance < best[0]):
                best = (distance, number)
        return None if best is None else best[1]


class UpdateGate:
    """At most one update per ``interval_s`` unless what matters changed: a bound on the rate of
    accessibility events (every changed row or label is an event a screen reader must process)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last_at: float | None = None
        self._last_key: object = object()

    def due(self, now: float, key: object = None, interval_s: float | None = None) -> bool:
        """True (and remembered) when ``interval_s`` passed since the last update or ``key`` changed."""
        interval = self.interval_s if interval_s is None else interval_s
        if key != self._last_key or self._last_at is None or now - self._last_at >= interval:
            self._last_at, self._last_key = now, key
            return True
        return False

    def reset(self) -> None:
        self._last_at, self._last_key = None, object()
