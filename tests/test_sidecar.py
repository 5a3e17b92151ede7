"""Every sidecar field is checked (type and range) and the model's SHA-256 guards its bytes.

Bad values once ended ``ferdesk predict`` with a traceback or, worse, were accepted and made the
app lie (``box_scale`` 0: every face "too small"; ``temperature`` 1e308: every face "unclear").
Each must now be refused with a message naming the file and the field: by the classifier, by
``ferdesk predict`` (exit 2) and by the app's start-up (exit 2), never with a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ferdesk.vision.classifier import EmotionClassifier, ModelError, read_sidecar, write_sidecar
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.model_files import file_sha256, validate_sidecar
from ferdesk.vision.paths import default_emotion_model

REPO = Path(__file__).resolve().parent.parent

#: (what to change, the message it must give). A key "a.b" changes field b inside a.
BAD_VALUES = [
    (
        {"preprocess.input_size": "abc"},
        r'"preprocess.input_size" == "abc", must be a whole number in \[8, 512\]',
    ),
    ({"preprocess.input_size": None}, r'"preprocess.input_size" == null, must be a whole number'),
    ({"preprocess.input_size": True}, r'"preprocess.input_size" == true, must be a whole number'),
    ({"preprocess.input_size": 48.5}, r'"preprocess.input_size" == 48.5, must be a whole number'),
    ({"preprocess.input_size": 10**9}, r'"preprocess.input_size" == 1000000000, must be a whole number'),
    ({"temperature": None}, r'"temperature" == null, must be a finite number in \[0.05, 10\]'),
    ({"temperature": "hot"}, r'"temperature" == "hot", must be a finite number'),
    ({"temperature": 1e308}, r'"temperature" == 1e\+308, must be a finite number in \[0.05, 10\]'),
    ({"temperature": float("nan")}, r'"temperature" == nan, must be a finite number'),
    ({"temperature": 0}, r'"temperature" == 0, must be a finite number'),
    ({"temperature": -1.0}, r'"temperature" == -1.0, must be a finite number'),
    (
        {"preprocess.box_scale": "big"},
        r'"preprocess.box_scale" == "big", must be a finite number in \[0.5, 4\]',
    ),
    ({"preprocess.box_scale": 0}, r'"preprocess.box_scale" == 0, must be a finite number in \[0.5, 4\]'),
    ({"preprocess.box_scale": 1e9}, r'"preprocess.box_scale" == 1000000000.0, must be a finite number'),
    ({"preprocess": "gray 48"}, r'"preprocess" == "gray 48", must be a JSON object'),
    ({"preprocess.color": "rgb"}, r'"preprocess.color" == "rgb", must be \'gray\''),
    ({"preprocess.scale": "0-255"}, r'"preprocess.scale" == "0-255", must be \'0-1\''),
    ({"metrics": "excellent"}, r'"metrics" == "excellent", must be a JSON object'),
    (
        {"metrics.privatetest_accuracy": 66.3},
        r'"metrics.privatetest_accuracy" == 66.3, must be a finite number in \[0, 1\]',
    ),
    ({"metrics.file_bytes": "4 MB"}, r'"metrics.file_bytes" == "4 MB", must be a whole number'),
    ({"training": [1, 2]}, r'"training" == \[1, 2\], must be a JSON object'),
    ({"labels": [*EMOTIONS[:6], "happy"]}, r'"labels\[6\]" == "happy", repeats an earlier label'),
    ({"labels": ["happy", 3, *EMOTIONS[2:]]}, r'"labels\[1\]" == 3, must be a non-empty string'),
    ({"labels": ["", *EMOTIONS[1:]]}, r'"labels\[0\]" == "", must be a non-empty string'),
    ({"labels": "happy,sad"}, r'"labels" == "happy,sad", must be a list of 2 to 64 class names'),
    ({"labels": []}, r'"labels" == \[\], must be a list of 2 to 64 class names'),
    ({"flip_tta": "yes"}, r'"flip_tta" == "yes", must be true or false'),
    ({"name": 42}, r'"name" == 42, must be a non-empty string'),
    ({"sha256": "abc"}, r'"sha256" == "abc", must be the model file\'s SHA-256'),
    ({"version": "1"}, r"sidecar version '1' is not supported"),
    ({"version": True}, r"sidecar version True is not supported"),
    ({"format": None}, r'not a ferdesk model sidecar \(expected "format"'),
    ({"labels": KeyError}, r'"labels" is missing'),
    ({"preprocess.input_size": KeyError}, r'"preprocess.input_size" is missing'),
]


def _set(data: dict, dotted: str, value) -> None:
    *parents, key = dotted.split(".")
    for parent in parents:
        data = data[parent]
    if value is KeyError:
        del data[key]
    else:
        data[key] = value


def _model_with(folder: Path, changes: dict) -> Path:
    source = default_emotion_model()
    target = folder / "ferdesk_emotion.tflite"
    shutil.copy(source, target)
    data = json.loads(source.with_suffix(".json").read_text())
    for dotted, value in changes.items():
        _set(data, dotted, value)
    target.with_suffix(".json").write_text(json.dumps(data))
    return target


def test_the_shipped_sidecar_passes_and_records_the_models_digest():
    model = default_emotion_model()
    info = read_sidecar(model)
    assert info.sha256 == file_sha256(model)
    assert info.labels == EMOTIONS and info.preprocess.input_size == 48
    assert 0.05 <= info.temperature <= 10 and 0.5 <= info.box_scale <= 4


@pytest.mark.parametrize(("changes", "message"), BAD_VALUES, ids=[str(c) for c, _ in BAD_VALUES])
def test_each_bad_value_is_refused_naming_the_file_and_the_field(tmp_path, changes, message):
    model = _model_with(tmp_path, changes)
    with pytest.raises(ModelError, match=message) as info:
        EmotionClassifier(model)
    assert str(info.value).startswith(f"{model.with_suffix('.json')}: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("changes", "message"), BAD_VALUES, ids=[str(c) for c, _ in BAD_VALUES])
def test_predict_and_the_app_exit_2_with_the_message(tmp_path, changes, message, astronaut_rgb, capsys):
    import re

    import cv2

    from ferdesk.predict import main as predict_main
    from ferdesk.ui.app import main as app_main

    model = _model_with(tmp_path, changes)
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), astronaut_rgb[:, :, ::-1])
    assert predict_main(["--model", str(model), "--no-progress", str(photo)]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert app_main(["--model", str(model), "--quit-after", "5", "--no-speech", "--source", "demo"]) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("command", ["predict", "app"])
def test_no_traceback_from_the_real_commands(tmp_path, command, astronaut_rgb):
    import cv2

    model = _model_with(tmp_path, {"temperature": "hot"})
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), astronaut_rgb[:, :, ::-1])
    arguments = (
        ["predict", "--model", str(model), str(photo)]
        if command == "predict"
        else ["--model", str(model), "--quit-after", "5", "--no-speech", "--source", "demo"]
    )
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "ferdesk", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            **__import__("os").environ,
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PYTHONPATH": str(REPO),
        },
    )
    assert result.returncode == 2, result.stderr
    assert '"temperature" == "hot", must be a finite number' in result.stderr
    assert "Traceback" not in result.stderr


def test_sidecar_files_that_are_not_sidecars(tmp_path):
    model = _model_with(tmp_path, {})
    sidecar = model.with_suffix(".json")
    sidecar.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="not valid JSON"):
        EmotionClassifier(model)
    sidecar.write_text('["a list"]')
    with pytest.raises(ModelError, match="a JSON object was expected, got list"):
        EmotionClassifier(model)
    sidecar.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ModelError, match="not valid JSON"):
        EmotionClassifier(model)
    sidecar.unlink()
    sidecar.mkdir()
    with pytest.raises(ModelError, match="sidecar file is missing"):
        EmotionClassifier(model)


def test_export_writes_a_sidecar_that_validates_and_refuses_bad_values(tmp_path):
    model = tmp_path / "exported.tflite"
    shutil.copy(default_emotion_model(), model)
    write_sidecar(model, "exported", EMOTIONS, temperature=1.3, metrics={"file_bytes": model.stat().st_size})
    info = read_sidecar(model)
    assert info.sha256 == file_sha256(model) and info.temperature == 1.3
    EmotionClassifier(model)  # loads: the digest matches
    with pytest.raises(ModelError, match=r'"temperature" == 1e\+308'):
        write_sidecar(model, "exported", EMOTIONS, temperature=1e308)
    with pytest.raises(ModelError, match=r'"preprocess.box_scale" == 0'):
        validate_sidecar({**info.raw, "preprocess": {**info.raw["preprocess"], "box_scale": 0}}, "x.json")


def test_bit_flipped_models_never_load_silently():
    """Seeded single-bit flips anywhere in the shipped model: each one is refused as damaged."""
    original = default_emotion_model().read_bytes()
    rng = np.random.default_rng(2026)
    faces = rng.random((4, 48, 48, 1), dtype=np.float32)
    reference = EmotionClassifier().predict(faces)
    work = Path(__import__("tempfile").mkdtemp())
    try:
        target = work / "ferdesk_emotion.tflite"
        shutil.copy(default_emotion_model().with_suffix(".json"), target.with_suffix(".json"))
        for _ in range(40):
            damaged = bytearray(original)
            position = int(rng.integers(len(damaged)))
            damaged[position] ^= 1 << int(rng.integers(8))
            target.write_bytes(bytes(damaged))
            try:
                classifier = EmotionClassifier(target)
            except ModelError as error:
                assert "damaged or was changed" in str(error)
                continue
            assert np.allclose(classifier.predict(faces), reference), f"byte {position} loaded silently"
            raise AssertionError(f"a flip at byte {position} loaded without a word")
    finally:
        shutil.rmtree(work)


def test_a_model_changed_on_purpose_loads_when_trusted(tmp_path, monkeypatch, astronaut_rgb, capsys):
    import cv2

    from ferdesk.predict import main as predict_main

    model = _model_with(tmp_path, {})
    model.write_bytes(model.read_bytes() + b"\0" * 64)  # still a valid model, other bytes
    with pytest.raises(ModelError, match=r"--trust-model \(or FERDESK_TRUST_MODEL=1\)"):
        EmotionClassifier(model)
    assert EmotionClassifier(model, trust_model=True).labels == EMOTIONS
    monkeypatch.setenv("FERDESK_TRUST_MODEL", "1")
    assert EmotionClassifier(model).labels == EMOTIONS
    monkeypatch.delenv("FERDESK_TRUST_MODEL")
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), astronaut_rgb[:, :, ::-1])
    assert predict_main(["--model", str(model), "--no-progress", str(photo)]) == 2
    assert "damaged or was changed" in capsys.readouterr().err
    assert predict_main(["--model", str(model), "--no-progress", "--trust-model", str(photo)]) == 0
    assert "1 face" in capsys.readouterr().out
    monkeypatch.delenv("FERDESK_TRUST_MODEL", raising=False)
