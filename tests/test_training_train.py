"""Real training runs of ``tiny_cnn`` on a few dozen synthetic faces: the run folder, and resuming."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.emotions import EMOTIONS
from training.train import TrainConfig, train

RUN_FILES = ("config.json", "log.csv", "state.json", "last.keras", "best.keras", "curves.png")


def synthetic_face(label: int, seed: int) -> np.ndarray:
    """A noisy face-sized image with a bright block whose place depends on the class: learnable."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 90, (48, 48)).astype(np.uint8)
    row, col = divmod(label, 3)
    image[4 + row * 14 : 16 + row * 14, 4 + col * 14 : 16 + col * 14] = 230
    return image


@pytest.fixture
def tiny_kaggle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FER2013's Kaggle layout with 4 Training and 2 PublicTest faces per class; cache in tmp_path."""
    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "fer2013"
    seed = 0
    for label, name in enumerate(EMOTIONS):
        for folder, prefix, count in (
            ("train", "Training", 4),
            ("test", "PublicTest", 2),
            ("test", "PrivateTest", 1),
        ):
            for _ in range(count):
                seed += 1
                path = root / folder / name / f"{prefix}_{seed:05d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(synthetic_face(label, seed)).save(path)
    return root


def export_float32(run_dir: Path, out: Path, data: Path, **options):
    """The run's best.keras as one float32 .tflite, measured on the tiny data (2 timing runs)."""
    from training.export import export_model

    (exported,) = export_model(
        run_dir / "best.keras",
        out,
        data_root=data.parent,
        variants="float32",
        timing_runs=2,
        log=lambda message: None,
        **options,
    )
    return exported


def tiny_config(data: Path, **overrides) -> TrainConfig:
    values = {"data": str(data), "model": "tiny_cnn", "epochs": 1, "batch_size": 8, "warmup_epochs": 0}
    values.update(overrides)
    return TrainConfig(**values)


def log_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "log.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_one_epoch_run_writes_a_complete_run_folder(tiny_kaggle: Path, tmp_path: Path) -> None:
    import keras

    run_dir = tmp_path / "run"
    state = train(tiny_config(tiny_kaggle), run_dir, verbose=0)

    for name in RUN_FILES:
        assert (run_dir / name).is_file(), f"{name} missing from the run folder"
        assert (run_dir / name).stat().st_size > 0
    assert not list(run_dir.glob("*.tmp*")), "a temporary file was left behind"
    assert state["finished"] is True
    assert state["epoch"] == 1 and state["best_epoch"] == 1
    assert 0.0 < state["best_val_accuracy"] <= 1.0
    assert json.loads((run_dir / "state.json").read_text()) == state

    rows = log_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["0"]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"):
        assert np.isfinite(float(rows[0][column])), column
    assert float(rows[0]["val_accuracy"]) == pytest.approx(state["best_val_accuracy"])

    saved = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert saved.model == "tiny_cnn" and saved.epochs == 1 and saved.augment.flip is True

    best = keras.models.load_model(run_dir / "best.keras")
    probabilities = np.asarray(best.predict(np.zeros((2, 48, 48, 1), np.float32), verbose=0))
    assert probabilities.shape == (2, len(EMOTIONS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with Image.open(run_dir / "curves.png") as curves:
        assert curves.width > 100 and curves.height > 100

    # PrivateTest is the benchmark: training must not even read it.
    cached = {p.name.split("-")[1] for p in (tmp_path / "cache" / "datasets").glob("*.npz")}
    assert cached == {"Training", "PublicTest"}


def test_interrupted_run_resumes_without_losing_a_finished_epoch(
    tiny_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    # A time budget far below one epoch: the run stops cleanly after its first epoch, as a
    # session that runs out of time (or is killed right after a checkpoint) does.
    config = tiny_config(tiny_kaggle, epochs=2, time_budget_minutes=1e-4)

    first = train(config, run_dir, verbose=0)

    assert first["epoch"] == 1
    assert first["finished"] is False
    assert first["reason"].startswith("time budget")
    assert [row["epoch"] for row in log_rows(run_dir)] == ["0"]
    epoch_one_weights = (run_dir / "last.keras").read_bytes()
    capsys.readouterr()

    second = train(config, run_dir, verbose=0)

    assert "Resuming" in capsys.readouterr().out
    assert second["epoch"] == 2
    rows = log_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["0", "1"], "an epoch was lost or repeated"
    assert set(rows[0]) == set(rows[1])  # one header, the same columns after resuming
    assert (run_dir / "last.keras").read_bytes() != epoch_one_weights
    assert second["best_epoch"] in (1, 2)
    assert len(second["epoch_seconds"]) == 2, "each epoch's own time, across the resume"
    assert sum(second["epoch_seconds"]) <= second["elapsed_seconds"] + 0.2


def test_run_that_completes_its_epochs_after_resuming_is_marked_finished(
    tiny_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A budgeted run must end 'finished' once all its epochs are done, or reruns never settle."""
    run_dir = tmp_path / "run"
    config = tiny_config(tiny_kaggle, epochs=2, time_budget_minutes=1e-4)
    train(config, run_dir, verbose=0)

    done = train(config, run_dir, verbose=0)

    assert done["epoch"] == 2
    assert done["finished"] is True, f"all 2 epochs ran, yet the run reads: {done['reason']!r}"
    capsys.readouterr()
    again = train(config, run_dir, verbose=0)
    assert "already finished" in capsys.readouterr().out
    assert len(log_rows(run_dir)) == 2 and again["epoch"] == 2


def test_bad_settings_are_refused_before_any_work(tiny_kaggle: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="epochs == 0, must be >= 1"):
        train(tiny_config(tiny_kaggle, epochs=0), tmp_path / "run", verbose=0)
    with pytest.raises(ValueError, match=r"Unknown training settings \['epoch'\]"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match=r"Unknown model 'tiny_cn'\. Did you mean tiny_cnn"):
        train(tiny_config(tiny_kaggle, model="tiny_cn"), tmp_path / "run2", verbose=0)


def test_weight_averaging_is_what_is_validated_kept_and_resumed(
    tiny_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """With ema_momentum the checkpoints hold the averaged weights, and a resumed run swaps them
    back so it goes on training the raw ones (not the average, as a naive reload would)."""
    import keras

    run_dir = tmp_path / "run"
    config = tiny_config(
        tiny_kaggle, epochs=2, ema_momentum=0.9, time_budget_minutes=1e-4, learning_rate=0.01
    )
    train(config, run_dir, verbose=0)
    saved = keras.models.load_model(run_dir / "last.keras")
    optimizer = saved.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.9)
    in_model = [keras.ops.convert_to_numpy(v) for v in optimizer._trainable_variables]
    in_slots = [keras.ops.convert_to_numpy(v) for v in optimizer._model_variables_moving_average]
    assert any(not np.allclose(a, b) for a, b in zip(in_model, in_slots, strict=True)), (
        "the average equals the raw weights: nothing was averaged"
    )
    best = keras.models.load_model(run_dir / "best.keras")
    for kept, averaged in zip(best.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_allclose(kept, averaged)

    class FirstStepWeights(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[np.ndarray] = []

        def on_train_batch_begin(self, batch, logs=None):
            if not self.seen:
                self.seen.extend(keras.ops.convert_to_numpy(v) for v in self.model.trainable_variables)

    first_step = FirstStepWeights()
    second = train(config, run_dir, verbose=0, extra_callbacks=[first_step])
    for trained_on, raw in zip(first_step.seen, in_slots, strict=True):
        np.testing.assert_allclose(
            trained_on, raw, err_msg="the resumed run trains the average, not the raw weights"
        )
    assert "Resuming" in capsys.readouterr().out
    assert second["epoch"] == 2 and second["finished"] is True
    with pytest.raises(ValueError, match="ema_momentum"):
        tiny_config(tiny_kaggle, ema_momentum=1.0).validate()


def test_raw_weights_carry_over_from_one_epoch_to_the_next_under_weight_averaging(
    tiny_kaggle: Path, tmp_path: Path
) -> None:
    """train runs one fit per epoch; Keras ends each fit by writing the average into the model.
    The next epoch must go on from the raw weights it stopped at, or the run trains the average."""
    import keras

    class EpochEdges(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.last_step: list[list[np.ndarray]] = []
            self.first_step: list[list[np.ndarray]] = []
            self._first = True

        def weights(self) -> list[np.ndarray]:
            return [keras.ops.convert_to_numpy(v) for v in self.model.trainable_variables]

        def on_epoch_begin(self, epoch, logs=None):
            self._first = True

        def on_train_batch_begin(self, batch, logs=None):
            if self._first:
                self.first_step.append(self.weights())
                self._first = False

        def on_train_batch_end(self, batch, logs=None):
            if batch == self.params["steps"] - 1:
                self.last_step.append(self.weights())

    edges = EpochEdges()
    config = tiny_config(tiny_kaggle, epochs=3, ema_momentum=0.9, learning_rate=0.01)
    state = train(config, tmp_path / "run", verbose=0, extra_callbacks=[edges])
    assert state["epoch"] == 3 and len(edges.first_step) == 3
    for ended, begun in zip(edges.last_step[:-1], edges.first_step[1:], strict=True):
        for raw_at_end, next_start in zip(ended, begun, strict=True):
            # The swap is arithmetic (a + b, a - b): equal to float rounding, far from the average.
            np.testing.assert_allclose(
                next_start, raw_at_end, atol=1e-6, err_msg="an epoch began from the average"
            )
    final = keras.models.load_model(tmp_path / "run" / "last.keras")
    raw_slots = [keras.ops.convert_to_numpy(v) for v in final.optimizer._model_variables_moving_average]
    for raw, slot in zip(edges.last_step[-1], raw_slots, strict=True):
        np.testing.assert_allclose(slot, raw, atol=1e-6, err_msg="last.keras lost the raw weights")


def test_plateau_schedule_counts_its_patience_across_the_per_epoch_fits(
    tiny_kaggle: Path, tmp_path: Path
) -> None:
    """Keras resets ReduceLROnPlateau at each fit's start; train fits once per epoch, so a plain
    callback would never see a plateau. The learning rate must fall once PublicTest stalls."""
    config = tiny_config(
        tiny_kaggle,
        epochs=5,
        schedule="plateau",
        plateau_patience=1,
        learning_rate=1e-6,
        early_stopping_patience=10,
    )
    train(config, tmp_path / "run", verbose=0)
    rates = [float(row["learning_rate"]) for row in log_rows(tmp_path / "run")]
    assert len(rates) == 5
    assert rates[-1] < rates[0], f"the plateau never lowered the learning rate: {rates}"


def test_progress_numbers_epochs_out_of_the_runs_total(
    tiny_kaggle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """One fit per epoch must still read "Epoch 2/3", not Keras's per-call "Epoch 2/2"."""
    train(tiny_config(tiny_kaggle, epochs=3), tmp_path / "run", verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/3" in out and "Epoch 2/3" in out and "Epoch 3/3" in out
    assert "Epoch 2/2" not in out


def test_final_refit_trains_on_training_and_publictest_and_keeps_the_last_epoch(
    tiny_kaggle: Path, tmp_path: Path
) -> None:
    """The refit learns PublicTest too, so nothing is left to select on: no validation, best.keras
    is each epoch's network in turn, the export will not fit a temperature on PublicTest and the
    report shows no PublicTest figure for it."""
    import keras

    from ferdesk.vision.classifier import EmotionClassifier
    from training.export import ExportError, export_model, format_table, remeasure_as_run
    from training.report import collect

    selection = train(tiny_config(tiny_kaggle, epochs=2), tmp_path / "select", verbose=0)
    run_dir = tmp_path / "refit"
    state = train(tiny_config(tiny_kaggle, epochs=2, refit_publictest=True), run_dir, verbose=0)
    assert state["train_faces"] == selection["train_faces"] + 2 * len(EMOTIONS)
    assert state["finished"] and state["best_epoch"] == 2 and state["best_val_accuracy"] == -1.0
    rows = log_rows(run_dir)
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert {row.get("val_accuracy", "NA") for row in rows} == {"NA"}  # Keras's mark: not validated
    assert np.isfinite(float(rows[1]["accuracy"]))
    best, last = (keras.models.load_model(run_dir / name) for name in ("best.keras", "last.keras"))
    for kept, latest in zip(best.get_weights(), last.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, latest)
    assert (run_dir / "curves.png").is_file()
    cached = {p.name.split("-")[1] for p in (tmp_path / "cache" / "datasets").glob("*.npz")}
    assert "PrivateTest" not in cached

    with pytest.raises(ExportError, match="final refit that trained on PublicTest"):
        export_model(
            run_dir / "best.keras",
            tmp_path / "refit.tflite",
            data_root=tiny_kaggle.parent,
            temperature="auto",
            variants="float32",
            log=lambda message: None,
        )
    exported = export_float32(run_dir, tmp_path / "refit.tflite", tiny_kaggle, temperature=0.9, flip_tta=True)
    assert "as_run" in exported.metrics and "keras_reference" in exported.metrics
    sidecar = json.loads((tmp_path / "refit.json").read_text())
    assert "publictest" not in json.dumps(sidecar["metrics"]).replace('"publictest":', ""), (
        "a network trained on PublicTest must not carry a PublicTest figure"
    )
    assert sidecar["metrics"]["publictest"].startswith("none: a final refit")
    assert sidecar["metrics"]["as_run"]["privatetest_count"] == len(EMOTIONS)
    assert "final refit" in format_table([exported])
    assert EmotionClassifier(tmp_path / "refit.tflite").flip_tta  # the app still reads the sidecar
    remeasure_as_run(tmp_path / "refit.tflite", tiny_kaggle.parent, timing_runs=2)
    again = json.loads((tmp_path / "refit.json").read_text())["metrics"]
    assert "publictest_accuracy" not in again["as_run"] and again["as_run"]["publictest"]

    row = collect(run_dir, tiny_kaggle.parent, measure=True)
    assert row.public == {} and row.private["count"] == len(EMOTIONS)
    assert "final refit on Training + PublicTest" in row.notes and "best epoch" not in row.notes
    assert not (run_dir / "eval-best-PublicTest").exists()

    for wrong, message in (
        ({"schedule": "plateau"}, "nothing is left for the plateau schedule"),
        ({"ferplus_weight": 0.5}, "FER\\+ votes are matched to Training faces only"),
        ({"clean": False}, "exact copies of PrivateTest faces"),
    ):
        with pytest.raises(ValueError, match=message):
            tiny_config(tiny_kaggle, refit_publictest=True, **wrong).validate()


def test_a_mixed_bfloat16_run_trains_resumes_and_exports_a_float32_model_the_app_agrees_with(
    tiny_kaggle: Path, tmp_path: Path
) -> None:
    """bfloat16 compute is a training-speed choice only: the run keeps float32 weights and a
    float32 output layer, resumes, and what evaluation, export and the app see is float32."""
    import keras

    from ferdesk.vision.classifier import EmotionClassifier
    from training.evaluate import load_keras_model, predict_keras
    from training.precision import is_mixed
    from training.report import collect

    run_dir = tmp_path / "bf16"
    config = tiny_config(
        tiny_kaggle, epochs=2, precision="mixed_bfloat16", ema_momentum=0.9, time_budget_minutes=1e-6
    )
    first = train(config, run_dir, verbose=0)
    assert first["epoch"] == 1 and first["reason"].startswith("time budget")
    assert keras.config.dtype_policy().name == "float32", "the run must not leave its policy behind"
    state = train(tiny_config(tiny_kaggle, time_budget_minutes=0), run_dir, verbose=0)  # resumes
    assert state["finished"] and state["epoch"] == 2
    assert json.loads((run_dir / "config.json").read_text())["precision"] == "mixed_bfloat16"

    trained = keras.models.load_model(run_dir / "best.keras", compile=False)
    computes = {layer.name: layer.compute_dtype for layer in trained.layers if layer.weights}
    assert computes.pop(trained.layers[-1].name) == "float32", "the probabilities are float32"
    assert set(computes.values()) == {"bfloat16"}
    assert all(w.dtype == "float32" for w in trained.weights), "weights stay float32"

    evaluated = load_keras_model(run_dir / "best.keras")
    assert not is_mixed(evaluated)
    for kept, mixed in zip(evaluated.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, mixed)
    exported = export_float32(run_dir, tmp_path / "bf16.tflite", tiny_kaggle, temperature=1.0)
    faces = np.random.default_rng(3).random((6, 48, 48, 1), dtype=np.float32)
    app = EmotionClassifier(exported.path, flip_tta=False).predict(faces)
    np.testing.assert_allclose(app, predict_keras(evaluated, faces), atol=1e-4)
    row = collect(run_dir, tiny_kaggle.parent, measure=False)
    assert "trained in mixed_bfloat16 (exported float32)" in row.notes


def test_precision_is_checked_and_bfloat16_without_cpu_support_is_flagged(tmp_path: Path) -> None:
    from training.precision import cpu_has_bfloat16, precision_warning

    with pytest.raises(ValueError, match="precision 'float16': use one of float32, mixed_bfloat16"):
        TrainConfig(precision="float16").validate()
    plain, amx = tmp_path / "plain", tmp_path / "amx"
    plain.write_text("flags\t\t: fpu sse2 avx2 avx512f\n")
    amx.write_text("flags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert cpu_has_bfloat16(plain) is False and cpu_has_bfloat16(amx) is True
    assert cpu_has_bfloat16(tmp_path / "missing") is None
    assert precision_warning("float32") is None
    expected = cpu_has_bfloat16() is False
    assert (precision_warning("mixed_bfloat16") is not None) == expected
