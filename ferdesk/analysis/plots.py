"""``<name>_timeline.png``: each person's emotion probabilities over time, one panel per track.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state, no display), so
it is safe from any thread and in any process. At most :data:`MAX_PANELS` tracks are drawn — the
longest-seen ones; the title says how many were left out (a crowd in the background can give
dozens of short tracks, and a picture of 60 panels helps no one).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from ferdesk.analysis.records import AnalysisRecord

MAX_PANELS = 12

#: One fixed colour per FER2013 label, so every timeline reads the same; others cycle.
LABEL_COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#ff7f0e",
    "sad": "#1f77b4",
    "surprise": "#e377c2",
    "neutral": "#7f7f7f",
    "contempt": "#bcbd22",
}


def timeline_png(records: Sequence[AnalysisRecord], labels: Sequence[str], title: str) -> bytes:
    """The timeline picture as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tracks: dict[int, list[AnalysisRecord]] = {}
    for record in records:
        tracks.setdefault(record.track_id, []).append(record)
    shown = sorted(sorted(tracks, key=lambda t: -len(tracks[t]))[:MAX_PANELS])
    panels = max(1, len(shown))
    figure = Figure(figsize=(10, 1.0 + 1.8 * panels), dpi=100)
    FigureCanvasAgg(figure)
    left_out = len(tracks) - len(shown)
    heading = title if not left_out else f"{title} ({left_out} short tracks not shown)"
    figure.suptitle(heading, fontsize=11)
    axes_list = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    end = max((r.time_s for r in records), default=1.0) or 1.0
    if not shown:
        axes = axes_list[0]
        axes.text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes.transAxes)
        axes.set_yticks([])
    for axes, track_id in zip(axes_list, shown, strict=False):
        rows = tracks[track_id]
        times = [r.time_s for r in rows]
        for number, label in enumerate(labels):
            values = [r.probabilities.get(label, math.nan) for r in rows]
            colour = LABEL_COLOURS.get(label, f"C{number % 10}")
            axes.plot(
                times, values, label=label, color=colour, linewidth=1.2, marker="." if len(rows) < 3 else None
            )
        axes.set_ylim(0.0, 1.0)
        axes.set_xlim(0.0, end)
        axes.set_ylabel(f"person {track_id}\nprobability", fontsize=8)
        axes.grid(True, alpha=0.3)
    axes_list[-1].set_xlabel("time in the video (s)")
    if shown:  # beside the first panel, outside the plot: it must never hide a curve
        axes_list[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
