"""`ferdesk predict`: the stable contract scripts rely on (JSON lines, exit codes, folders)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

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


# --------------------------------------------------------------------------- every image, every path


def _records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _predict_process(*args, stdout=subprocess.PIPE, env=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "ferdesk", "predict", "--no-progress", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        timeout=timeout,
    )


def test_extreme_aspect_images_give_a_no_face_line(tmp_path, astronaut_rgb, capsys):
    # 5000x1 made the detector resize the short side to 0 pixels: cv2.error ended the whole run.
    Image.new("RGB", (5000, 1), (90, 90, 90)).save(tmp_path / "a_wide.png")
    Image.new("RGB", (1, 5000), (90, 90, 90)).save(tmp_path / "b_tall.png")
    Image.new("RGB", (9000, 8), (90, 90, 90)).save(tmp_path / "c_strip.png")
    Image.fromarray(astronaut_rgb).save(tmp_path / "d_face.jpg")
    assert main(["--json", "--no-progress", str(tmp_path)]) == 0
    records = _records(capsys)
    names = ["a_wide.png", "b_tall.png", "c_strip.png", "d_face.jpg"]
    assert [Path(r["path"]).name for r in records] == names
    assert all(r["error"] is None for r in records)
    assert [len(r["faces"]) for r in records] == [0, 0, 0, 1]
    assert main(["--no-progress", str(tmp_path / "a_wide.png"), str(tmp_path / "b_tall.png")]) == 0
    assert capsys.readouterr().out.count("no face found") == 2
    assert main(["--faces", "whole", "--json", "--no-progress", str(tmp_path / "a_wide.png")]) == 0
    assert _records(capsys)[0]["faces"][0]["box"] == [0, 0, 5000, 1]


def test_links_loops_and_pipes_each_get_their_line(tmp_path, astronaut_rgb, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(astronaut_rgb).save(folder / "face.jpg")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "back_up").symlink_to(folder)  # a folder link back up: walked once, not forever
    os.mkfifo(folder / "pipe.png")
    assert main(["--json", "--no-progress", str(folder)]) == 1
    by_name = {Path(r["path"]).name: r for r in _records(capsys)}
    assert sorted(by_name) == ["dangling.png", "face.jpg", "loop.png", "pipe.png"]
    assert "broken symbolic link" in by_name["dangling.png"]["error"]
    assert "symbolic link loop" in by_name["loop.png"]["error"]
    assert "not a regular file" in by_name["pipe.png"]["error"]
    assert by_name["face.jpg"]["faces"]


def _make_deep(root: Path, levels: int, name: str, images_at: dict[int, np.ndarray]) -> None:
    """``levels`` nested folders, made by relative steps (absolute paths grow past PATH_MAX)."""
    here = os.getcwd()
    try:
        os.chdir(root)
        for level in range(1, levels + 1):
            os.mkdir(name)
            os.chdir(name)
            if level in images_at:
                Image.fromarray(images_at[level]).save(f"level{level}.png")
    finally:
        os.chdir(here)


def _remove_deep(root: Path, name: str) -> None:
    """Iterative removal: shutil.rmtree recurses and fails on trees this deep."""
    here = os.getcwd()
    try:
        os.chdir(root)
        depth = 0
        while os.path.isdir(name):
            os.chdir(name)
            depth += 1
        for _ in range(depth):
            for leftover in os.listdir("."):
                os.unlink(leftover)
            os.chdir("..")
            os.rmdir(name)
    finally:
        os.chdir(here)


def test_a_folder_thousands_deep_and_paths_over_the_limit(tmp_path, astronaut_rgb, capsys):
    # rglob recursed: a folder ~985 levels deep ended the run with RecursionError.
    face = np.ascontiguousarray(astronaut_rgb[20:220, 130:330])
    _make_deep(tmp_path, 1500, "dd", {1100: face, 1500: face})
    try:
        assert main(["--json", "--no-progress", str(tmp_path)]) == 1
        records = _records(capsys)
    finally:
        _remove_deep(tmp_path, "dd")
    too_long, deep = records  # "dd" sorts before "level1100.png": the deeper folder comes first
    assert deep["path"].endswith("/level1100.png") and deep["path"].count("/dd") == 1100
    assert len(deep["path"]) < 4096 and deep["error"] is None and len(deep["faces"]) == 1
    assert len(too_long["path"]) >= 4090 and "too long" in too_long["error"]
    assert main(["--json", "--no-progress", "x/" * 2100 + "photo.png"]) == 1
    assert "too long" in _records(capsys)[0]["error"]


def test_names_that_are_not_utf8_in_json_and_in_the_table(tmp_path, astronaut_rgb):
    folder = os.path.join(os.fsencode(tmp_path), b"photos")
    os.mkdir(folder)
    raw_name = os.path.join(folder, b"caf\xe9 \xff.jpg")
    Image.fromarray(astronaut_rgb).save(os.fsdecode(raw_name))
    result = _predict_process("--json", os.fsdecode(folder))
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("utf-8")  # strict: the output is valid UTF-8 text
    (record,) = [json.loads(line) for line in text.splitlines()]
    assert record["path"].endswith("caf\ufffd \ufffd.jpg")
    assert base64.b64decode(record["path_bytes_b64"]) == raw_name  # maps back exactly
    assert record["faces"]

    result = _predict_process(os.fsdecode(folder))
    assert result.returncode == 0 and b"Traceback" not in result.stderr
    assert result.stdout.decode("ascii").splitlines()[0].endswith("caf\\xe9 \\xff.jpg: 1 face")


def test_a_full_disk_and_a_closed_pipe_are_one_line_and_exit_2(tmp_path, astronaut_rgb):
    Image.fromarray(astronaut_rgb).save(tmp_path / "face.jpg")
    with open("/dev/full", "w") as full:
        result = _predict_process("--json", tmp_path / "face.jpg", stdout=full)
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert stderr.strip().count("\n") == 0 and "Traceback" not in stderr
    assert "disk is full" in stderr

    reader = subprocess.Popen(
        [sys.executable, "-m", "ferdesk", "predict", "--no-progress", str(tmp_path / "face.jpg")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()  # the reading end is gone before the first result is written
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=180) == 2
    assert "broken pipe" in stderr and "Traceback" not in stderr and stderr.strip().count("\n") == 0


def test_an_internal_error_exits_3_with_one_line_and_the_run_goes_on(
    tmp_path, astronaut_rgb, capsys, monkeypatch
):
    from ferdesk.vision.analyze import FaceAnalyzer

    monkeypatch.setenv("FERDESK_LOG_DIR", str(tmp_path / "logs"))
    Image.fromarray(astronaut_rgb).save(tmp_path / "a.jpg")
    Image.fromarray(astronaut_rgb).save(tmp_path / "b.jpg")
    real_analyze = FaceAnalyzer.analyze

    def analyze_failing_on_a(self, rgb, faces="auto"):
        if analyze_failing_on_a.calls == 0:
            analyze_failing_on_a.calls += 1
            raise KeyError("a bug")
        return real_analyze(self, rgb, faces)

    analyze_failing_on_a.calls = 0
    monkeypatch.setattr(FaceAnalyzer, "analyze", analyze_failing_on_a)
    assert main(["--json", "--no-progress", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]) == 3
    captured = capsys.readouterr()
    first, second = [json.loads(line) for line in captured.out.splitlines()]
    assert "internal error (KeyError" in first["error"] and second["faces"]  # the run went on
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    log = tmp_path / "logs" / "predict-errors.log"
    assert str(log) in captured.err and "KeyError: 'a bug'" in log.read_text()


def test_the_top_level_guard_turns_any_crash_into_exit_3(tmp_path, capsys, monkeypatch):
    import ferdesk.predict as predict

    monkeypatch.setenv("FERDESK_LOG_DIR", str(tmp_path / "logs"))

    def crash(paths):
        raise ZeroDivisionError("a bug outside any one file")

    monkeypatch.setattr(predict, "iter_inputs", crash)
    assert main(["--no-progress", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (ZeroDivisionError" in err and "Traceback" not in err
    logged = (tmp_path / "logs" / "predict-errors.log").read_text()
    assert "ZeroDivisionError: a bug outside any one file" in logged
    assert main(["--debug", "--no-progress", str(tmp_path)]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err  # --debug shows it


def test_decoding_stays_a_bounded_window_ahead(tmp_path):
    from ferdesk.predict import Entry, iter_loaded

    for number in range(40):
        Image.new("RGB", (32, 32)).save(tmp_path / f"{number:02d}.png")
    pulled = 0

    def entries():
        nonlocal pulled
        for path in sorted(tmp_path.iterdir()):
            pulled += 1
            yield Entry(str(path))

    order = []
    for loaded in iter_loaded(entries(), workers=2, window=4):
        assert pulled - len(order) <= 4 + 1  # the window decoded ahead, and one path read next
        order.append(Path(loaded.path).name)
    assert order == sorted(order) and len(order) == 40
    # A pixel budget smaller than one image: one at a time, still in order.
    pulled, order = 0, []
    for loaded in iter_loaded(entries(), workers=2, window=4, pixel_budget=500):
        assert pulled - len(order) <= 1 + 1
        order.append(Path(loaded.path).name)
    assert len(order) == 40


def test_help_documents_exit_codes_and_the_non_utf8_form():
    from ferdesk.predict import build_parser

    text = build_parser().format_help()
    for needle in ("exit status", "path_bytes_b64", "internal error", "disk full", "--debug"):
        assert needle in text
