"""``summary.csv``: per input and per person (track), how long they were seen and what they showed.

Columns::

    input,name,track_id,seconds_seen,frames,dominant_emotion,mean_confidence,share_<label>...

``seconds_seen`` is the number of analysed frames the track appears in times the time each stands
for (``every / fps``). ``share_<label>`` is the fraction of those frames in which ``<label>`` was
the track's (smoothed) emotion; frames where the face was too small to classify count in none, so
the shares then sum to less than 1. ``dominant_emotion`` is the label with the largest share
(empty if the face was never classified) and ``mean_confidence`` the mean of the classified frames'
confidence.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ferdesk.analysis.records import DECIMALS, AnalysisRecord

SUMMARY_FILE = "summary.csv"
SUMMARY_BASE_COLUMNS = (
    "input",
    "name",
    "track_id",
    "seconds_seen",
    "frames",
    "dominant_emotion",
    "mean_confidence",
)


@dataclass(frozen=True)
class SummarySource:
    """One analysed input, as the summary needs it."""

    input: str
    name: str
    labels: tuple[str, ...]
    sample_period_s: float
    records: Sequence[AnalysisRecord]


def summary_rows(source: SummarySource) -> list[dict[str, object]]:
    """One row per track of one input, in track order."""
    tracks: dict[int, list[AnalysisRecord]] = {}
    for record in source.records:
        tracks.setdefault(record.track_id, []).append(record)
    rows = []
    for track_id in sorted(tracks):
        records = tracks[track_id]
        classified = [r for r in records if r.emotion is not None]
        emotions = [r.emotion for r in classified if r.emotion is not None]
        counts = {label: 0 for label in source.labels}
        for emotion in emotions:
            counts[emotion] = counts.get(emotion, 0) + 1
        frames = len(records)
        shares = {label: counts.get(label, 0) / frames for label in source.labels}
        dominant = max(source.labels, key=lambda label: counts.get(label, 0)) if classified else ""
        confidences = [r.confidence for r in classified if not math.isnan(r.confidence)]
        row: dict[str, object] = {
            "input": source.input,
            "name": source.name,
            "track_id": track_id,
            "seconds_seen": frames * source.sample_period_s,
            "frames": frames,
            "dominant_emotion": dominant,
            "mean_confidence": sum(confidences) / len(confidences) if confidences else math.nan,
        }
        row.update({f"share_{label}": shares[label] for label in source.labels})
        rows.append(row)
    return rows


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{DECIMALS}f}"
    return str(value)


def summary_text(sources: Sequence[SummarySource]) -> str:
    """The whole ``summary.csv``; the share columns follow the first input's labels (all share them
    when one model analysed them; another input's extra labels are appended)."""
    labels: list[str] = []
    for source in sources:
        labels += [label for label in source.labels if label not in labels]
    header = [*SUMMARY_BASE_COLUMNS, *(f"share_{label}" for label in labels)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for source in sources:
        for row in summary_rows(source):
            writer.writerow([_cell(row.get(name, math.nan)) for name in header])
    return buffer.getvalue()


def is_our_summary(text_start: str) -> bool:
    """Whether an existing file's first line is a ferdesk summary header (safe to rewrite)."""
    first = text_start.splitlines()[0] if text_start else ""
    return first.split(",")[: len(SUMMARY_BASE_COLUMNS)] == list(SUMMARY_BASE_COLUMNS)
