"""benchmarks/bench_accuracy.py on FER2013: the selection split (PublicTest) and accurate mode, end to
end through the real `ferdesk predict`, on a tiny Kaggle layout the test writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ferdesk.predict import main as predict_main
from ferdesk.vision.emotions import EMOTIONS
from training.evaluate import evaluate_probabilities
from training.synthetic import write_tiny_fer2013

REPO = Path(__file__).resolve().parent.parent
PUBLIC_PER_CLASS = 2


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """Tiny FER2013 whose PublicTest holds one exact copy of a Training face (as FER2013 does)."""
    root = tmp_path / "data"
    write_tiny_fer2013(root / "fer2013", public_per_class=PUBLIC_PER_CLASS)
    training_face = sorted((root / "fer2013" / "train" / "happy").iterdir())[0]
    shutil.copy(training_face, root / "fer2013" / "test" / "happy" / "PublicTest_99999.png")
    return root


def bench(data: Path, cache: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_accuracy.py"), "--data", str(data), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
        env={**os.environ, "FERDESK_CACHE": str(cache)},
    )


def test_public_test_is_scored_for_choosing_with_its_training_copies_apart(tiny_data, tmp_path, capsys):
    done = bench(tiny_data, tmp_path / "cache", "--split", "valid")

    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    public = sorted((tiny_data / "fer2013" / "test").glob("*/PublicTest_*"))
    assert "scored split: FER2013 PublicTest" in done.stdout
    assert "choose models and tune on it; quote PrivateTest as the final figure" in done.stdout
    assert figures["split"] == "PublicTest" and figures["crops"] == len(public) == 7 * PUBLIC_PER_CLASS + 1
    assert figures["publictest_unseen_count"] == len(public) - 1  # the copy of a Training face is apart
    assert "privatetest_accuracy" not in figures

    # The same answers, got in this process and scored here.
    assert predict_main(["--faces", "whole", "--json", "--no-progress", *map(str, public)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    labels = np.array([EMOTIONS.index(Path(r["path"]).parent.name) for r in records])
    probabilities = np.array([[r["faces"][0]["probabilities"][e] for e in EMOTIONS] for r in records])
    expected = evaluate_probabilities(labels, probabilities, EMOTIONS)
    assert figures["publictest_accuracy"] == round(expected["accuracy"], 4)


def test_accurate_mode_is_scored_through_predict_accurate(tiny_data, tmp_path) -> None:
    done = bench(tiny_data, tmp_path / "cache", "--accurate")

    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["model"] == "accurate mode" and figures["split"] == "PrivateTest"
    assert figures["crops"] == 7 and 0.0 <= figures["privatetest_accuracy"] <= 1.0
