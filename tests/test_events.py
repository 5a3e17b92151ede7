"""The ``--events`` JSON-lines writer: its lines parse and follow the contract; failures stay contained."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime

import numpy as np

from ferdesk.events import EventWriter, announcement_event, frame_event
from ferdesk.vision.geometry import Box
from ferdesk.vision.results import Frame, FrameResult, TrackedFace


def a_result(index: int = 7) -> FrameResult:
    rgb = np.zeros((4, 4, 3), np.uint8)
    faces = [
        TrackedFace(
            1, Box(10, 20, 30, 40), "happy", 0.9123456789, {"happy": 0.9123456789, "sad": 0.0876543211}
        ),
        TrackedFace(2, Box(50, 20, 8, 8), None, 0.0, {}, too_small=True),
    ]
    return FrameResult(Frame(index, 0.0, rgb), faces)


def test_frame_and_announcement_lines_follow_the_schema(tmp_path):
    path = tmp_path / "sub" / "events.jsonl"
    when = datetime(2026, 12, 1, 14, 5, 9, 123456).astimezone()
    with EventWriter(path) as writer:
        writer.frame(a_result(), when)
        writer.announcement("Person on the left\tappears happy.\n", when)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    frame, announcement = (json.loads(line) for line in lines)
    assert frame == {
        "time": when.isoformat(timespec="milliseconds"),
        "frame": 7,
        "faces": [
            {
                "track_id": 1,
                "box": [10, 20, 30, 40],
                "emotion": "happy",
                "confidence": 0.912346,
                "probabilities": {"happy": 0.912346, "sad": 0.087654},
            },
            {"track_id": 2, "box": [50, 20, 8, 8], "emotion": None, "confidence": None, "probabilities": {}},
        ],
    }
    assert announcement == {
        "time": when.isoformat(timespec="milliseconds"),
        "announcement": "Person on the left appears happy.",
    }
    assert datetime.fromisoformat(frame["time"]).utcoffset() is not None


def test_announcement_text_is_cleaned_like_the_speech_log(tmp_path):
    from ferdesk.speech.log import SpeechLog

    text = "Two people:\n left  appears\tsurprised."
    when = datetime.now().astimezone()
    with SpeechLog(tmp_path / "speech.log") as log:
        log.append(text, when)
    logged_time, logged_text = (tmp_path / "speech.log").read_text().rstrip("\n").split("\t", 1)
    event = announcement_event(text, when)
    assert (event["time"], event["announcement"]) == (logged_time, logged_text)


def test_many_threads_write_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)

    def write_some(number: int) -> None:
        for index in range(200):
            if index % 2:
                writer.frame(a_result(index))
            else:
                writer.announcement(f"thread {number} line {index}")

    threads = [threading.Thread(target=write_some, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 800 == writer.lines_written
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_a_broken_stream_is_reported_once_and_never_raises():
    errors: list[str] = []
    stream = io.StringIO()
    writer = EventWriter(stream, on_error=errors.append)
    writer.announcement("first")
    stream.close()
    writer.announcement("second")
    writer.frame(a_result())
    assert len(errors) == 1 and "event stream" in errors[0] and "goes on without it" in errors[0]
    writer.close()
    writer.announcement("after close")  # dropped, silently


def test_dash_means_standard_output(capsys):
    writer = EventWriter("-")
    writer.announcement("hello")
    writer.close()
    assert json.loads(capsys.readouterr().out)["announcement"] == "hello"


def test_a_folder_is_refused_with_advice(tmp_path):
    import pytest

    with pytest.raises(IsADirectoryError, match=r"events\.jsonl"):
        EventWriter(tmp_path)


def test_frame_event_uses_the_source_frame_number():
    assert frame_event(a_result(42))["frame"] == 42


# --------------------------------------------------------------------------- the app, headless


def run_app(tmp_path, *args: str):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ferdesk.ui.app import main; sys.exit(main(sys.argv[1:]))",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_app_streams_frames_and_the_speech_logs_announcements(tmp_path):
    import pytest

    pytest.importorskip("PySide6")
    from tests.analysis_clips import astronaut_faces, write_swap_clip

    smile, hidden = astronaut_faces()
    clip = write_swap_clip(tmp_path / "two.mp4", smile, hidden, frames=60, swap_at=30, side=256)
    events, speech = tmp_path / "events.jsonl", tmp_path / "speech.log"
    done = run_app(
        tmp_path,
        "--source",
        str(clip),
        "--quit-after",
        "6",
        "--no-speech",
        "--speech-log",
        str(speech),
        "--events",
        str(events),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    frames = [line for line in lines if "frame" in line]
    said = [line["announcement"] for line in lines if "announcement" in line]
    assert all(set(line) in ({"time", "frame", "faces"}, {"time", "announcement"}) for line in lines)
    assert len(frames) > 10
    assert [f["frame"] for f in frames] == sorted(f["frame"] for f in frames)
    faces = [face for f in frames for face in f["faces"]]
    assert faces and {face["emotion"] for face in faces} >= {"happy"}
    for face in faces:
        assert set(face) == {"track_id", "box", "emotion", "confidence", "probabilities"}
        assert len(face["box"]) == 4
    logged = [line.split("\t", 1)[1] for line in speech.read_text(encoding="utf-8").splitlines()]
    assert said and said == logged
    for line in lines:
        datetime.fromisoformat(line["time"])


def test_events_to_standard_output(tmp_path):
    import pytest

    pytest.importorskip("PySide6")
    done = run_app(tmp_path, "--source", "demo", "--quit-after", "3", "--no-speech", "--events", "-")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert any("frame" in line for line in lines) and any("announcement" in line for line in lines)


def test_an_events_folder_is_a_start_up_error(tmp_path):
    import pytest

    pytest.importorskip("PySide6")
    done = run_app(
        tmp_path, "--source", "demo", "--quit-after", "1", "--no-speech", "--events", str(tmp_path)
    )
    assert done.returncode == 2
    assert "event stream cannot be opened" in done.stderr and "Traceback" not in done.stderr
