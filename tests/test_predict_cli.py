"""`ferdesk predict`: the stable contract scripts rely on (JSON lines, exit codes, folders)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from ferdesk.predict import main


def _write_images(folder, astronaut_rgb):
    folder.mkdir()
    (folder / "nested").mkdir()
    Image.fromarray(astronaut_rgb).save(folder / "astronaut.jpg")
    Image.fromarray(np.full((64, 64, 3), 180, np.uint8)).save(folder / "nested" / "blank.png")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")


def test_json_lines_for_a_folder(tmp_path, astronaut_rgb, capsys):
    _write_images(tmp_path / "photos", astronaut_rgb)
    assert main(["--json", "--no-progress", str(tmp_path / "photos")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"].split("/")[-1] for r in records] == ["astronaut.jpg", "blank.png"]
    astronaut, blank = records
    assert astronaut["error"] is None and blank["error"] is None and blank["faces"] == []
    (face,) = astronaut["faces"]
    assert set(face) == {"box", "emotion", "confidence", "probabilities"}
    assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
    assert face["emotion"] == "happy"
    assert abs(sum(face["probabilities"].values()) - 1.0) < 1e-2


def test_failures_are_reported_and_the_rest_still_printed(tmp_path, astronaut_rgb, capsys):
    _write_images(tmp_path / "photos", astronaut_rgb)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code = main(
        ["--json", "--no-progress", str(broken), str(tmp_path / "missing.png"), str(tmp_path / "photos")]
    )
    assert code == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 4
    assert "corrupt" in records[0]["error"] or "not a readable image" in records[0]["error"]
    assert records[1]["error"] == "file not found."
    assert records[2]["faces"] and records[2]["error"] is None


def test_whole_mode_and_table_output(tmp_path, astronaut_rgb, capsys):
    crop = tmp_path / "crop.png"
    Image.fromarray(astronaut_rgb[40:210, 150:300]).save(crop)
    assert main(["--faces", "whole", "--no-progress", str(crop)]) == 0
    out = capsys.readouterr().out
    assert "crop.png: 1 face" in out and "box (0, 0, 150x170)" in out and "%" in out


def test_bad_model_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"nope")
    result = subprocess.run(
        [sys.executable, "-m", "ferdesk", "predict", "--model", str(bad), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "model.json" in result.stderr  # names the missing sidecar
