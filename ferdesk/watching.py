"""The Python API of the analysis: ``ferdesk.watch()`` (an iterator) and ``ferdesk.analyze_video()``.

(Named ``watching``, not ``watch``: a submodule ``ferdesk.watch`` would shadow the function
``ferdesk.watch`` as soon as it was imported.)

::

    import ferdesk

    for record in ferdesk.watch("clip.mp4", every=1):      # or "0" for a camera, "demo", a folder
        print(record.frame, record.track_id, record.emotion, record.confidence)
        if record.emotion == "surprise":
            break                                          # the source and the reader thread close

    table = ferdesk.analyze_video("clip.mp4")             # a pandas DataFrame of the CSV's rows

Both run the same pipeline as ``ferdesk analyze`` and the live app (detect → classify → track →
smooth) and give the same records: :class:`ferdesk.analysis.records.AnalysisRecord`, one per face
per analysed frame, whose ``as_row()`` is the CSV row.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ferdesk.analysis.records import AnalysisRecord

if TYPE_CHECKING:  # annotations only: the capture layer (and OpenCV) load when watching starts
    from ferdesk.capture.sources import FrameSource


def _source(source: str | os.PathLike | FrameSource, *, loop: bool) -> FrameSource:
    from ferdesk.capture.sources import FrameSource, open_source

    if isinstance(source, FrameSource):
        return source
    return open_source(os.fspath(source), loop=loop, realtime=False)


def watch(
    source: str | os.PathLike | FrameSource,
    every: int = 1,
    *,
    model: str | os.PathLike | None = None,
    detector: str = "full",
    loop: bool = False,
    accurate: bool = False,
) -> Iterator[AnalysisRecord]:
    """Yield an :class:`AnalysisRecord` per face per analysed frame of ``source``, as they come.

    ``source`` is what the app opens (a video or image file, a folder of images, a camera number
    such as ``"0"``, ``"demo"``) or a :class:`ferdesk.capture.FrameSource`. Files are read at full
    speed, every ``every``-th frame analysed; a camera runs until the loop stops. ``loop=True``
    replays a file forever. ``accurate=True`` classifies with accurate mode's ensemble (slower per
    face). Models load when the iteration starts; the source, the reader thread
    and the models are released when the loop ends, breaks, or the iterator is closed.

    Raises :class:`ferdesk.capture.CaptureError` when the source cannot be opened or stops with an
    error, and ``ModelError``/``DetectorError`` for a model that does not load.
    """
    from ferdesk.analysis.analyzer import AnalysisOptions, VideoAnalyzer
    from ferdesk.capture.sources import CaptureError

    options = AnalysisOptions(
        every=every, detector=detector, model=os.fspath(model) if model else None, accurate=accurate
    )
    frame_source = _source(source, loop=loop)
    state: dict = {}
    try:
        with VideoAnalyzer(options) as analyzer:
            records = analyzer.iter_records(frame_source, state=state)
            with contextlib.closing(records):
                yield from records
    finally:
        with contextlib.suppress(Exception):
            frame_source.close()
    if state.get("error"):
        raise CaptureError(state["error"])


def analyze_video(
    path: str | os.PathLike,
    every: int = 1,
    *,
    model: str | os.PathLike | None = None,
    detector: str = "full",
    accurate: bool = False,
):
    """The analysis table of one video or image folder as a pandas DataFrame (needs pandas).

    ``accurate=True`` analyses with accurate mode's ensemble (as ``ferdesk analyze --accurate``).

    The same rows, columns and values as the CSV ``ferdesk analyze`` writes (it is parsed from
    that very text). Raises :class:`ferdesk.capture.CaptureError` for an unreadable, damaged or
    truncated input, with the one-line reason the command line prints.
    """
    import io

    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "ferdesk.analyze_video returns a pandas DataFrame; install pandas: "
            "pip install 'ferdesk[analysis]'."
        ) from None
    from ferdesk.analysis.analyzer import AnalysisOptions, VideoAnalyzer
    from ferdesk.analysis.inputs import expand
    from ferdesk.analysis.writers import csv_text
    from ferdesk.capture.sources import CaptureError

    inputs, bad = expand([os.fspath(path)])
    if bad or len(inputs) != 1:
        reason = bad[0].reason if bad else f"{path}: holds {len(inputs)} inputs; analyze_video takes one."
        raise CaptureError(reason)
    options = AnalysisOptions(
        every=every, detector=detector, model=os.fspath(model) if model else None, accurate=accurate
    )
    with VideoAnalyzer(options) as analyzer:
        outcome = analyzer.analyze_input(inputs[0])
    if not outcome.ok:
        raise CaptureError(outcome.error)
    text = csv_text(outcome.records, outcome.labels)
    return pd.read_csv(io.StringIO(text), dtype={"emotion": "string"})
