"""benchmarks/bench_accuracy.py --source ferplus: FER+ majority-vote scoring on a tiny layout the test writes.

The votes are chosen so each rule is visible in the figures: unknown/NF majorities are dropped, ties
go to the first column in label.csv order (also a tie between an emotion and unknown), a row whose
image is missing is counted apart, and Microsoft's strict-majority subset differs from the full set.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks import bench_accuracy as bench
from ferdesk.predict import main as predict_main
from ferdesk.vision.emotions import EMOTIONS, FERPLUS_EMOTIONS

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "ferdesk_emotion.tflite"

#: name -> votes in label.csv order: neutral, happiness, surprise, sadness, anger, disgust, fear,
#: contempt, unknown, NF. The comment says the majority label (or why the row is dropped) and
#: whether Microsoft's reader (single votes dropped, then more than half) keeps it.
VOTES: dict[str, list[int]] = {
    "fer0000000.png": [0, 10, 0, 0, 0, 0, 0, 0, 0, 0],  # happy, strict
    "fer0000001.png": [6, 0, 0, 2, 0, 0, 0, 0, 2, 0],  # neutral, strict (6 of 10)
    "fer0000002.png": [4, 0, 0, 4, 2, 0, 0, 0, 0, 0],  # tie neutral/sad -> neutral, not strict
    "fer0000003.png": [2, 0, 0, 0, 1, 1, 0, 6, 0, 0],  # contempt, strict (6 of 8 after single votes)
    "fer0000004.png": [4, 0, 0, 0, 0, 0, 0, 0, 6, 0],  # dropped: majority unknown
    "fer0000005.png": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # dropped: majority NF
    "fer0000006.png": [0, 0, 7, 0, 0, 0, 3, 0, 0, 0],  # surprise, strict
    "fer0000007.png": [0, 0, 0, 0, 5, 5, 0, 0, 0, 0],  # tie anger/disgust -> angry, not strict
    "fer0000008.png": [0, 0, 3, 0, 0, 0, 4, 0, 3, 0],  # fear, not strict (4 of 10)
    "fer0000009.png": [1, 0, 0, 8, 0, 0, 0, 0, 0, 1],  # sad, strict
    "fer0000010.png": [0, 0, 0, 0, 4, 6, 0, 0, 0, 0],  # disgust, strict
    "fer0000011.png": [5, 0, 0, 0, 0, 0, 0, 0, 5, 0],  # tie neutral/unknown -> neutral kept, not strict
    "fer0000012.png": [0, 3, 0, 0, 0, 0, 0, 0, 3, 4],  # dropped: majority NF
}
#: A label.csv row whose PNG is not there: dropped as "other".
MISSING_IMAGE = "fer0000013.png"
SCORED = [name for name in VOTES if name not in ("fer0000004.png", "fer0000005.png", "fer0000012.png")]
MAJORITY = {
    "fer0000000.png": "happy",
    "fer0000001.png": "neutral",
    "fer0000002.png": "neutral",
    "fer0000003.png": "contempt",
    "fer0000006.png": "surprise",
    "fer0000007.png": "angry",
    "fer0000008.png": "fear",
    "fer0000009.png": "sad",
    "fer0000010.png": "disgust",
    "fer0000011.png": "neutral",
}
STRICT = {f"fer00000{number:02d}.png" for number in (0, 1, 3, 6, 9, 10)}


def _face_images(astronaut_rgb: np.ndarray, count: int) -> list[np.ndarray]:
    """48x48 grayscale faces that differ: the astronaut's face, shifted, mirrored, darkened."""
    gray = cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2GRAY)
    images = []
    for index in range(count):
        shift = (index % 4) * 6
        crop = gray[40 + shift : 210 + shift, 150 : 300 + shift]
        face = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
        if index % 2:
            face = face[:, ::-1]
        images.append(np.clip(face.astype(np.int32) - index * 8, 0, 255).astype(np.uint8))
    return images


def _write_split(root: Path, folder: str, astronaut_rgb: np.ndarray) -> Path:
    split = root / "ferplus" / folder
    split.mkdir(parents=True)
    for name, image in zip(VOTES, _face_images(astronaut_rgb, len(VOTES)), strict=True):
        Image.fromarray(image).save(split / name)
    rows = [f'{name},"(0, 0, 48, 48)",{",".join(map(str, votes))}' for name, votes in VOTES.items()]
    rows.append(f'{MISSING_IMAGE},"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0')
    (split / "label.csv").write_text("\n".join(rows) + "\n")
    return split


@pytest.fixture
def tiny_ferplus(tmp_path, astronaut_rgb) -> Path:
    """A data root holding ferplus/FER2013Test (the default split) like the shared data's."""
    _write_split(tmp_path, "FER2013Test", astronaut_rgb)
    return tmp_path


def test_votes_follow_the_majority_rule_of_read_ferplus(tiny_ferplus):
    votes = bench.read_ferplus_votes(tiny_ferplus, "test")
    names = [path.name for path in votes.paths]
    assert names == SCORED
    assert [FERPLUS_EMOTIONS[i] for i in votes.majority] == [MAJORITY[name] for name in names]
    assert votes.dropped == {"unknown": 1, "NF": 2, "other": 1}
    assert {name for name, strict in zip(names, votes.strict, strict=True) if strict} == STRICT
    assert votes.shares.shape == (len(SCORED), 8)
    np.testing.assert_allclose(votes.shares.sum(axis=1), 1.0, rtol=1e-6)
    assert all(path.is_absolute() for path in votes.paths)


def test_microsoft_reader_subset_rule():
    keeps = bench.microsoft_reader_keeps
    assert keeps(np.array([6, 0, 0, 4, 0, 0, 0, 0, 0, 0], float))  # 6 of 10
    assert not keeps(np.array([5, 0, 0, 5, 0, 0, 0, 0, 0, 0], float))  # half is not more than half
    assert keeps(np.array([3, 1, 1, 1, 1, 1, 1, 1, 0, 0], float))  # single votes are outliers: 3 of 3
    assert not keeps(np.array([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], float))  # unknown majority
    assert not keeps(np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], float))  # nothing left after outliers


def test_score_ferplus_figures(tiny_ferplus):
    votes = bench.read_ferplus_votes(tiny_ferplus, "test")
    folder = tiny_ferplus / "ferplus" / "FER2013Test"
    answers = {
        "fer0000000.png": "happy",  # right
        "fer0000001.png": "neutral",  # right
        "fer0000002.png": "sad",  # wrong, but sad tied for most votes: plurality right
        "fer0000003.png": "neutral",  # wrong (contempt)
        "fer0000006.png": "surprise",  # right
        "fer0000007.png": "disgust",  # wrong, tied for most votes: plurality right
        "fer0000008.png": "fear",  # right
        "fer0000009.png": "sadness",  # right, FER+'s own name accepted
        "fer0000010.png": "angry",  # wrong
        "fer0000011.png": "neutral",  # right
    }
    predictions = {(folder / name).resolve(): label for name, label in answers.items()}
    predictions[(folder / "fer0000004.png").resolve()] = "happy"  # dropped face: ignored
    scores = bench.score_ferplus(predictions, votes)
    assert scores["count"] == 10
    assert scores["majority_vote_accuracy"] == pytest.approx(6 / 10)
    assert scores["plurality_agreement"] == pytest.approx(8 / 10)
    assert scores["strict_majority_count"] == 6
    assert scores["strict_majority_accuracy"] == pytest.approx(4 / 6)
    # F1 per class: happy 1, neutral 2/3, sad 2/3, surprise 1, fear 1, angry 0, disgust 0, contempt 0.
    assert scores["macro_f1"] == pytest.approx(13 / 24)
    assert scores["per_class_recall"] == pytest.approx(
        {
            "angry": 0.0,
            "disgust": 0.0,
            "fear": 1.0,
            "happy": 1.0,
            "sad": 1.0,
            "surprise": 1.0,
            "neutral": 2 / 3,
            "contempt": 0.0,
        }
    )
    assert list(scores["per_class_recall"]) == list(FERPLUS_EMOTIONS)
    assert scores["per_class_support"]["neutral"] == 3 and scores["per_class_support"]["contempt"] == 1


def test_score_ferplus_refuses_missing_predictions_and_foreign_labels(tiny_ferplus):
    votes = bench.read_ferplus_votes(tiny_ferplus, "test")
    everything = dict.fromkeys(votes.paths, "neutral")
    with pytest.raises(ValueError, match="no prediction"):
        bench.score_ferplus({p: v for p, v in everything.items() if p != votes.paths[3]}, votes)
    with pytest.raises(ValueError, match="not a FER\\+ emotion"):
        bench.score_ferplus({**everything, votes.paths[0]: "bored"}, votes)
    assert bench.score_ferplus(everything, votes)["majority_vote_accuracy"] == pytest.approx(3 / 10)


def _run_main(monkeypatch, *arguments: str) -> str:
    monkeypatch.setattr(sys, "argv", ["bench_accuracy.py", *arguments])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    return str(exit_info.value.code)


def test_clear_errors_for_a_missing_folder_or_label_file(tiny_ferplus, monkeypatch, capsys):
    message = _run_main(monkeypatch, "--source", "ferplus", "--split", "valid", "--data", str(tiny_ferplus))
    assert "FER2013Valid" in message and "not found" in message and "--data" in message
    (tiny_ferplus / "ferplus" / "FER2013Test" / "label.csv").unlink()
    message = _run_main(monkeypatch, "--source", "ferplus", "--data", str(tiny_ferplus))
    assert "label.csv" in message and "not found" in message
    assert _run_main(monkeypatch, "--accurate", "--model", "x.tflite") == "2"
    assert "leave out --model and --flip-tta" in capsys.readouterr().err
    assert _run_main(monkeypatch, "--source", "ferplus", "--accurate") == "2"
    assert "--source fer2013" in capsys.readouterr().err


def test_script_scores_the_shipped_seven_class_model_end_to_end(tiny_ferplus, capsys):
    folder = tiny_ferplus / "ferplus" / "FER2013Test"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_accuracy.py"),
            "--source",
            "ferplus",
            "--data",
            str(tiny_ferplus),
            "--model",
            str(SHIPPED_MODEL),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    figures = json.loads(lines[-1])
    assert "scored split: FER+ FER2013Test" in done.stdout
    assert "contempt can never be predicted" in done.stdout
    assert figures["source"] == "ferplus" and figures["split"] == "test"
    assert figures["split_folder"] == "FER2013Test"
    assert figures["count"] == len(SCORED)
    assert figures["dropped"] == {"unknown": 1, "NF": 2, "other": 1}
    assert figures["model_labels"] == list(EMOTIONS)
    assert figures["contempt_predictable"] is False
    assert figures["per_class_recall"]["contempt"] == 0.0
    assert figures["per_class_support"]["contempt"] == 1

    # The same model's answers, got in this process, scored here: the script's figures must match.
    paths = [str((folder / name).resolve()) for name in SCORED]
    command = ["--faces", "whole", "--json", "--no-progress", "--model", str(SHIPPED_MODEL), *paths]
    assert predict_main(command) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    predictions = {Path(r["path"]): r["faces"][0]["emotion"] for r in records}
    expected = bench.score_ferplus(predictions, bench.read_ferplus_votes(tiny_ferplus, "test"))
    for key in ("majority_vote_accuracy", "macro_f1", "plurality_agreement", "strict_majority_accuracy"):
        assert figures[key] == round(expected[key], 4), key
    assert figures["per_class_recall"] == {k: round(v, 4) for k, v in expected["per_class_recall"].items()}
