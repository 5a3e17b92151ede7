"""Scripted runs (``ferdesk --source X --quit-after N``) on sources that cannot work, run for real.

A script must be able to tell "the run went fine" from "there was nothing to watch": a source that
never opened exits with status 2 and says why on stderr, in one line, never a traceback. A
damaged video plays what it can and is summarised in one line, not in FFmpeg's thousands.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ferdesk.capture import DemoSource
from ferdesk.capture.synthetic import write_video

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent
#: However damaged the video, this many stderr lines at most (FFmpeg alone printed 32,878 in 8 s).
MAX_STDERR_LINES = 20


def run_app(
    tmp_path: Path, *args: str, timeout: float = 120, **env_extra: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "FERDESK_NATIVE"))}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"), **env_extra)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "ferdesk", *args, "--no-speech"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def zero_frame_video(path: Path) -> Path:
    """A real MP4 container holding no frame (a writer opened and closed at once)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (64, 48))
    writer.release()
    assert path.stat().st_size > 0
    return path


def truncated_video(path: Path) -> Path:
    """The first third of a good clip: the index (moov) at the end is cut off."""
    clip = path.with_name("whole.mp4")
    write_video(clip, [np.full((48, 64, 3), v, np.uint8) for v in range(0, 200, 10)], fps=10.0)
    data = clip.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_one_clear_failure(done: subprocess.CompletedProcess, *expected: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ferdesk: the source never opened: "), done.stderr
    for text in expected:
        assert text in last, (text, last)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (truncated_video, "could not be opened as a video"),
        (
            lambda p: p.write_text("This is a shopping list, not a video.\n") and p,
            "could not be opened as a video",
        ),
        (zero_frame_video, "could not be opened as a video"),
    ],
    ids=["truncated", "text-named-mp4", "zero-frames"],
)
def test_a_video_that_cannot_be_opened_exits_2_with_the_message_and_at_once(tmp_path, make, expected):
    path = make(tmp_path / "clip.mp4")
    start = time.monotonic()
    done = run_app(tmp_path, "--source", str(path), "--quit-after", "60")
    took = time.monotonic() - start
    assert_one_clear_failure(done, str(path), expected, "try converting it")
    assert took < 45, f"a file that cannot be opened must end a scripted run early (took {took:.0f} s)"


def test_a_camera_that_is_not_there_exits_2_after_trying(tmp_path):
    number = next(n for n in range(7, 64) if not Path(f"/dev/video{n}").exists())
    done = run_app(tmp_path, "--source", str(number), "--quit-after", "2")
    assert_one_clear_failure(done, f"Camera {number} could not be opened (busy or not connected).")


def test_a_network_camera_nobody_serves_exits_2(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/video.mjpg"
    done = run_app(tmp_path, "--source", url, "--quit-after", "3")
    assert_one_clear_failure(done, "could not be opened: nothing answered at " + url)


def test_quitting_while_a_network_camera_is_still_opening_waits_for_its_verdict(tmp_path):
    """--quit-after comes before the source has answered (once a loaded machine's start-up took
    longer than the run): the exit status must still say the source never opened, not 0."""
    with socket.socket() as server:  # accepts the connection, never says a word
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/video.mjpg"
        started = time.monotonic()
        done = run_app(tmp_path, "--source", url, "--quit-after", "0.01")
        took = time.monotonic() - started
    assert_one_clear_failure(done, "Network camera 127.0.0.1")
    assert took < 60, f"the run took {took:.0f} s"


def test_a_named_pipe_is_reported_as_a_pipe_not_as_missing(tmp_path):
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    done = run_app(tmp_path, "--source", str(fifo), "--quit-after", "5", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "named pipe (FIFO)" in done.stderr and "missing" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_damaged_video_plays_and_is_summarised_in_a_few_lines(tmp_path):
    data = bytearray(DemoSource().path.read_bytes())
    rng = np.random.default_rng(1)
    for position in rng.integers(len(data) // 10, len(data) - len(data) // 10, 3000):
        data[position] = rng.integers(0, 256)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    log = tmp_path / "speech.log"
    done = run_app(tmp_path, "--source", str(damaged), "--quit-after", "8", "--speech-log", str(log))
    lines = done.stderr.splitlines()
    print(f"\n{len(lines)} stderr lines from an 8 s run of a damaged video:\n" + "\n".join(lines))
    assert done.returncode == 0, done.stderr  # it opened, and played what it could
    assert len(lines) <= MAX_STDERR_LINES, lines
    assert not any("@ 0x" in line for line in lines), "FFmpeg's own lines must not be streamed"
    summary = [line for line in lines if "damaged.mp4: frame" in line]
    assert len(summary) == 1 and "is damaged and was skipped" in summary[0], lines
    assert "FERDESK_NATIVE_LOGS=1" in summary[0]
    assert log.read_text(encoding="utf-8").count("\t") >= 2, "the video played: something was announced"
