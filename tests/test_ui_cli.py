"""``ferdesk`` run as a program, headless: scripted runs write their files; bad input exits cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferdesk.capture.synthetic import write_video

REPO = Path(__file__).resolve().parent.parent
RUN_APP = "import sys; from ferdesk.ui.app import main; sys.exit(main(sys.argv[1:]))"


def run_app(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # never the user's own settings
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-c", RUN_APP, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    write_video(path, [np.ascontiguousarray(data.astronaut())] * 20, fps=15.0, fourcc="mp4v")
    return path


def test_scripted_run_writes_a_screenshot_and_a_speech_log(tmp_path, astronaut_video):
    screenshot, log = tmp_path / "out" / "window.png", tmp_path / "speech.log"
    done = run_app(
        tmp_path,
        "--source", str(astronaut_video),
        "--quit-after", "3",
        "--screenshot", str(screenshot),
        "--speech-log", str(log),
        "--no-speech",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines, "nothing was announced"
    assert all(re.match(r"^\S+\t.+$", line) for line in lines), lines
    assert lines[0].endswith("\tOpening video astronaut.mp4.")

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(screenshot) as image:
        assert image.format == "PNG" and image.width >= 640 and image.height >= 400
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10, "the screenshot is blank"
    # Settings went to the temporary config folder, and no frame was written anywhere here.
    assert (tmp_path / "config" / "ferdesk" / "ferdesk.conf").is_file()
    written = {p.name for p in tmp_path.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")}
    assert written == {"window.png"}


def test_a_missing_model_is_one_clear_line_and_exit_status_2(tmp_path):
    missing = tmp_path / "nowhere.tflite"
    done = run_app(tmp_path, "--source", "demo", "--model", str(missing), "--quit-after", "1", "--no-speech")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(missing) in done.stderr and "not found" in done.stderr


def test_a_corrupt_model_is_reported_not_raised(tmp_path):
    from ferdesk.vision.paths import default_emotion_model

    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(os.urandom(2048))
    corrupt.with_suffix(".json").write_text(default_emotion_model().with_suffix(".json").read_text())
    done = run_app(tmp_path, "--source", "demo", "--model", str(corrupt), "--quit-after", "1", "--no-speech")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "corrupt.tflite" in done.stderr


def test_a_missing_source_file_in_a_scripted_run_exits_with_status_2(tmp_path):
    done = run_app(tmp_path, "--source", str(tmp_path / "gone.mp4"), "--quit-after", "1", "--no-speech")
    assert done.returncode == 2
    assert "gone.mp4" in done.stderr and "no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_errors_and_help(tmp_path):
    from ferdesk.ui.app import main

    assert main(["--help"]) == 0
    assert main(["--quit-after", "-1"]) == 2
    assert main(["--detector", "medium"]) == 2
