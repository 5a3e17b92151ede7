"""Distillation (training/distill.py) with the shipped models as teachers, on tiny synthetic faces:
the targets are the app's own ensemble output mixed with the label, cached per run folder, and a
wrong or missing teacher is a clear error before any epoch runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ferdesk.vision.classifier import EmotionClassifier
from ferdesk.vision.ensemble import EnsembleClassifier
from training import distill
from training.synthetic import write_tiny_fer2013
from training.train import TrainConfig, train

MODELS = Path(__file__).resolve().parent.parent / "models"
MANIFEST = MODELS / "ferdesk_accurate.json"
SINGLE = MODELS / "ferdesk_emotion.tflite"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("distill")
    previous = os.environ.get("FERDESK_CACHE")
    os.environ["FERDESK_CACHE"] = str(root / "cache")
    yield write_tiny_fer2013(root / "fer2013", train_per_class=3, public_per_class=2, private_per_class=1)
    if previous is None:
        os.environ.pop("FERDESK_CACHE", None)
    else:
        os.environ["FERDESK_CACHE"] = previous


def test_a_run_trains_towards_the_ensembles_own_probabilities_and_caches_them(
    tiny_data, tmp_path, monkeypatch
) -> None:
    import training.train as train_module

    seen: dict[str, np.ndarray] = {}
    real_balance = train_module.balance

    def spying_balance(images, targets, labels, method, seed):
        seen.update(images=images, targets=targets, labels=labels)
        return real_balance(images, targets, labels, method, seed)

    monkeypatch.setattr(train_module, "balance", spying_balance)
    config = TrainConfig(
        data=str(tiny_data), model="tiny_cnn", epochs=1, batch_size=8, warmup_epochs=0, clean=False
    )
    config.teacher, config.teacher_weight = "models/ferdesk_accurate.json", 0.25  # relative to the repo
    run = tmp_path / "run"
    state = train(config, run, verbose=0)
    assert state["epoch"] == 1 and (run / distill.TEACHER_CACHE).is_file()
    expected_teacher = EnsembleClassifier.from_manifest(MANIFEST).predict(seen["images"])
    one_hot = np.eye(7, dtype=np.float32)[seen["labels"]]
    np.testing.assert_allclose(seen["targets"], 0.75 * one_hot + 0.25 * expected_teacher, atol=1e-5)
    np.testing.assert_allclose(seen["targets"].sum(axis=1), 1.0, atol=1e-5)

    # A second run in the same folder (a resume, or a restart) reads the cache: no teacher is loaded.
    def no_teacher(*args, **kwargs):
        raise AssertionError("the cached teacher targets should have been used")

    monkeypatch.setattr(distill, "load_teacher", no_teacher)
    train(config, run, restart=True, verbose=0)
    np.testing.assert_allclose(seen["targets"], 0.75 * one_hot + 0.25 * expected_teacher, atol=1e-5)


def test_the_cache_is_recomputed_for_another_teacher_or_other_faces(tmp_path) -> None:
    rng = np.random.default_rng(3)
    faces = rng.random((5, 48, 48, 1), dtype=np.float32)
    sources = [f"/data/fer2013/train/happy/im{i}.png" for i in range(5)]
    labels = EmotionClassifier(SINGLE).labels
    first = distill.teacher_probabilities(SINGLE, faces, sources, labels, tmp_path, show_progress=False)
    np.testing.assert_allclose(first, EmotionClassifier(SINGLE).predict(faces), atol=1e-6)
    moved = [source.replace("/data/", "/elsewhere/") for source in sources]  # same faces, moved folder
    again = distill.teacher_probabilities(SINGLE, faces, moved, labels, tmp_path, show_progress=False)
    np.testing.assert_array_equal(again, first)
    other = distill.teacher_probabilities(MANIFEST, faces, sources, labels, tmp_path, show_progress=False)
    np.testing.assert_allclose(other, EnsembleClassifier.from_manifest(MANIFEST).predict(faces), atol=1e-6)
    fewer = distill.teacher_probabilities(MANIFEST, faces[:3], sources[:3], labels, tmp_path, False)
    assert fewer.shape == (3, 7)
    (tmp_path / distill.TEACHER_CACHE).write_bytes(b"not an npz")  # damaged: recomputed, not trusted
    damaged = distill.teacher_probabilities(MANIFEST, faces[:3], sources[:3], labels, tmp_path, False)
    np.testing.assert_allclose(damaged, fewer, atol=1e-6)


def test_a_wrong_or_missing_teacher_says_what_to_pass(tiny_data, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="accurate-mode manifest"):
        TrainConfig(teacher="models/no_such_teacher.tflite").validate()
    (tmp_path / "teacher.keras").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"expected an app model \(\.tflite"):
        TrainConfig(teacher=str(tmp_path / "teacher.keras")).validate()
    with pytest.raises(ValueError, match=r"teacher_weight == 0.0, must be in \(0, 1\]"):
        TrainConfig(teacher=str(SINGLE), teacher_weight=0.0).validate()
    config = TrainConfig(data=str(tiny_data), model="tiny_cnn", epochs=1, batch_size=8, clean=False)
    config.teacher = str(MODELS / "ferdesk_ferplus.tflite")  # 8 classes; the data has 7
    with pytest.raises(ValueError, match=r"contempt.*distil from a model trained on the same classes"):
        train(config, tmp_path / "run", verbose=0)
    with pytest.raises(ValueError, match="differ"):
        distill.distilled_targets(np.zeros((2, 7)), np.zeros((2, 8)), 0.5)


def test_the_command_line_takes_the_teacher_and_its_weight(tiny_data, tmp_path) -> None:
    from training.__main__ import main

    run = tmp_path / "cli-run"
    code = main(
        [
            "train",
            "--model",
            "tiny_cnn",
            "--data",
            str(tiny_data),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--no-clean",
            "--teacher",
            str(SINGLE),
            "--teacher-weight",
            "0.4",
            "--run",
            str(run),
        ]
    )
    assert code == 0 and (run / distill.TEACHER_CACHE).is_file()
    import json

    saved = json.loads((run / "config.json").read_text())
    assert saved["teacher"] == str(SINGLE) and saved["teacher_weight"] == 0.4
