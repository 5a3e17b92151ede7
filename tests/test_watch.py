"""``ferdesk.watch`` and ``ferdesk.analyze_video``: the same records as the CSV, threads closed."""

from __future__ import annotations

import gc
import threading
import time

import pytest

import ferdesk
from ferdesk.analysis.records import AnalysisRecord
from tests.analysis_clips import write_corrupt_video, write_one_face_clip, write_truncated_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_one_face_clip(tmp_path_factory.mktemp("watch") / "one.mp4", frames=20)


def new_threads(before: set[threading.Thread], timeout: float = 5.0) -> list[str]:
    """Threads alive now that were not before, once they have had ``timeout`` s to end."""
    deadline = time.monotonic() + timeout
    while True:
        extra = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


def test_watch_yields_the_csv_rows(clip, tmp_path):
    pandas = pytest.importorskip("pandas")
    from ferdesk.analysis.cli import main as analyze

    records = list(ferdesk.watch(clip))
    assert records and all(isinstance(r, AnalysisRecord) for r in records)
    assert [r.frame for r in records] == sorted(r.frame for r in records)
    table = ferdesk.analyze_video(clip)
    assert isinstance(table, pandas.DataFrame)
    from_watch = pandas.DataFrame([r.as_row() for r in records]).astype(table.dtypes)
    pandas.testing.assert_frame_equal(from_watch, table)
    assert analyze(["--no-progress", "--out", str(tmp_path), str(clip)]) == 0
    pandas.testing.assert_frame_equal(
        table, pandas.read_csv(tmp_path / "one.csv", dtype={"emotion": "string"})
    )


def test_analyze_video_in_accurate_mode_matches_the_command(clip, tmp_path):
    pandas = pytest.importorskip("pandas")
    from ferdesk.analysis.cli import main as analyze

    table = ferdesk.analyze_video(clip, accurate=True)
    assert analyze(["--no-progress", "--accurate", "--out", str(tmp_path), str(clip)]) == 0
    pandas.testing.assert_frame_equal(
        table, pandas.read_csv(tmp_path / "one.csv", dtype={"emotion": "string"})
    )
    watched = [r.as_row() for r in ferdesk.watch(clip, accurate=True)]
    pandas.testing.assert_frame_equal(pandas.DataFrame(watched).astype(table.dtypes), table)
    single = ferdesk.analyze_video(clip)
    assert len(single) == len(table) > 0
    assert not single["happy"].equals(table["happy"]), "accurate mode gave the single model's rows"


def test_every_n_and_a_frame_source(clip):
    from ferdesk.capture import open_source

    source = open_source(str(clip), loop=False, realtime=False)
    frames = [r.frame for r in ferdesk.watch(source, every=4)]
    assert frames and set(frames) <= {0, 4, 8, 12, 16}
    assert not source.is_open


def test_breaking_out_closes_the_source_and_the_threads(clip):
    gc.collect()
    baseline = set(threading.enumerate())
    iterator = ferdesk.watch(clip, loop=True)  # endless: only the break ends it
    for count, _record in enumerate(iterator, start=1):
        assert "ferdesk-analysis-reader" in new_threads(baseline, timeout=0)  # it runs meanwhile
        if count == 5:
            break
    del iterator
    assert new_threads(baseline) == []
    for _record in ferdesk.watch(clip):
        pass
    assert new_threads(baseline) == []


def test_an_exception_in_the_loop_body_closes_them_too(clip):
    baseline = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="user code"):
        for _record in ferdesk.watch(clip, loop=True):
            raise RuntimeError("user code")
    assert new_threads(baseline) == []


def test_bad_inputs_raise_the_one_line_reason(tmp_path):
    from ferdesk.capture import CaptureError

    with pytest.raises(CaptureError, match="could not be opened as a video"):
        list(ferdesk.watch(write_corrupt_video(tmp_path / "bad.mp4")))
    with pytest.raises(CaptureError, match="truncated"):
        ferdesk.analyze_video(write_truncated_video(tmp_path / "cut.avi"))
    with pytest.raises(CaptureError, match="no such file"):
        list(ferdesk.watch(tmp_path / "missing.mp4"))
