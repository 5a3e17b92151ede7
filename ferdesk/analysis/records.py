"""One face in one analysed frame: the row of ``ferdesk analyze``'s table, and what ``watch()`` yields.

The columns are a stable contract (``docs/analyze.md``)::

    frame,time_s,track_id,x,y,w,h,emotion,confidence,<one probability column per label>

in the model's label order. Floats are rounded once, here, to :data:`DECIMALS` places, so the CSV,
the Parquet file, the DataFrame of :func:`ferdesk.analyze_video` and the records of
:func:`ferdesk.watch` hold the very same numbers, whichever engine produced them. A face that was
detected but is too small to classify has no emotion: ``emotion`` is None (an empty CSV cell) and
``confidence`` and the probabilities are NaN (empty cells).

Plain Python: no numpy, no OpenCV, so the readers and writers of these rows stay cheap to import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The columns every table starts with, before the per-label probability columns.
BASE_COLUMNS: tuple[str, ...] = ("frame", "time_s", "track_id", "x", "y", "w", "h", "emotion", "confidence")

#: Integer-valued columns (all others after ``emotion`` are floats).
INT_COLUMNS: frozenset[str] = frozenset({"frame", "track_id", "x", "y", "w", "h"})

#: Decimal places kept for probabilities, confidences and times.
DECIMALS = 6


def columns(labels: Sequence[str]) -> list[str]:
    """The table's columns for a model with these labels (in the model's order)."""
    clashes = sorted(set(labels) & set(BASE_COLUMNS))
    if clashes:
        raise ValueError(
            f"model labels {clashes} clash with the table's own columns {list(BASE_COLUMNS)}; "
            "rename the classes in the model's sidecar."
        )
    return [*BASE_COLUMNS, *labels]


def rounded(value: float | None) -> float:
    """``value`` rounded to :data:`DECIMALS` places the way the CSV writes it; None becomes NaN."""
    if value is None or math.isnan(value):
        return math.nan
    return float(f"{value:.{DECIMALS}f}")


def format_float(value: float) -> str:
    """The CSV cell of a float: fixed decimals, empty for NaN (a missing value)."""
    return "" if math.isnan(value) else f"{value:.{DECIMALS}f}"


@dataclass(frozen=True)
class AnalysisRecord:
    """One face in one analysed frame.

    ``frame`` is the source's frame number (0-based; with ``--every N`` only multiples of N occur),
    ``time_s`` its time in the video (``frame / fps``; for a camera, seconds since the first frame).
    ``track_id`` is the same number for the same person across frames. ``emotion``,
    ``confidence`` and ``probabilities`` are the tracker's smoothed values: what the live app would
    have shown and said at that moment. ``probabilities`` maps every label, in the model's order.
    """

    frame: int
    time_s: float
    track_id: int
    x: int
    y: int
    w: int
    h: int
    emotion: str | None
    confidence: float
    probabilities: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_tracked_face(cls, frame: int, time_s: float, face, labels: Sequence[str]) -> AnalysisRecord:
        """From a :class:`ferdesk.vision.results.TrackedFace`, rounded as the CSV writes it."""
        probabilities = face.probabilities or {}
        classified = face.emotion is not None and bool(probabilities)
        return cls(
            frame=int(frame),
            time_s=rounded(time_s),
            track_id=int(face.track_id),
            x=int(face.box.x),
            y=int(face.box.y),
            w=int(face.box.w),
            h=int(face.box.h),
            emotion=face.emotion if classified else None,
            confidence=rounded(face.confidence) if classified else math.nan,
            probabilities={
                label: rounded(probabilities.get(label)) if classified else math.nan for label in labels
            },
        )

    def as_row(self) -> dict[str, object]:
        """The flat row: the table's columns in order, probabilities as one column per label."""
        row: dict[str, object] = {
            "frame": self.frame,
            "time_s": self.time_s,
            "track_id": self.track_id,
            "x": self.x,
            "y": self.y,
            "w": self.w,
            "h": self.h,
            "emotion": self.emotion,
            "confidence": self.confidence,
        }
        row.update(self.probabilities)
        return row

    def csv_cells(self, labels: Sequence[str]) -> list[str]:
        """The row as CSV text cells, in :func:`columns` order."""
        return [
            str(self.frame),
            format_float(self.time_s),
            str(self.track_id),
            str(self.x),
            str(self.y),
            str(self.w),
            str(self.h),
            self.emotion or "",
            format_float(self.confidence),
            *(format_float(self.probabilities.get(label, math.nan)) for label in labels),
        ]

    @classmethod
    def from_cells(cls, header: Sequence[str], cells: Sequence[str]) -> AnalysisRecord:
        """Parse one CSV row back (the inverse of :meth:`csv_cells`)."""
        values = dict(zip(header, cells, strict=True))
        labels = list(header[len(BASE_COLUMNS) :])

        def number(text: str) -> float:
            return float(text) if text != "" else math.nan

        return cls(
            frame=int(values["frame"]),
            time_s=number(values["time_s"]),
            track_id=int(values["track_id"]),
            x=int(values["x"]),
            y=int(values["y"]),
            w=int(values["w"]),
            h=int(values["h"]),
            emotion=values["emotion"] or None,
            confidence=number(values["confidence"]),
            probabilities={label: number(values[label]) for label in labels},
        )
