"""The workbench's architectures, imbalance remedies, optimizers, transfer path and schedules, each
exercised for real on a few dozen synthetic 48x48 faces (training/synthetic.py)."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest

from training.balance import BALANCE_METHODS, balance
from training.models import create_model, list_models
from training.optimizers import make_optimizer
from training.synthetic import write_tiny_fer2013
from training.train import TrainConfig, train

#: Every architecture of the studies, at a size one CPU epoch of 16 faces takes seconds.
ARCHITECTURES = {
    "fcnn": {},
    "baseline_cnn": {},
    "deepfer_cnn": {},
    "vgg_compact": {},
    "vgg_compact_s2": {},
    "vgg_compact_sep": {},
    "vgg_medium": {},
    "resnet18_fer_s2": {},
    "mobilenet_v2_fer": {},
    "efficientnet_lite0_fer": {},
    "mobilenet_v3_small_96": {"backbone_size": 32},
    "resnet50_transfer": {"backbone_size": 32},
}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory):
    """Imbalanced tiny FER2013 (disgust has 2 faces, happy 6); its own dataset cache."""
    root = tmp_path_factory.mktemp("workbench")
    previous = os.environ.get("FERDESK_CACHE")
    os.environ["FERDESK_CACHE"] = str(root / "cache")
    data = write_tiny_fer2013(root / "fer2013", train_per_class=[4, 2, 4, 6, 4, 4, 5])
    yield data
    if previous is None:
        os.environ.pop("FERDESK_CACHE", None)
    else:
        os.environ["FERDESK_CACHE"] = previous


def faces_and_targets(count: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((count, 48, 48, 1), dtype=np.float32), np.eye(7, dtype=np.float32)[np.arange(count) % 7]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_each_architecture_trains_one_epoch_and_maps_faces_to_probabilities(name: str) -> None:
    model = create_model(name, **ARCHITECTURES[name])
    assert model.input_shape == (None, 48, 48, 1), "the app feeds 48x48 gray faces"
    faces, targets = faces_and_targets()
    # Eagerly: the same forward, backward and update, without minutes of graph tracing for
    # ResNet-50 on a 2-core CI machine (train()'s compiled loop is tested with tiny_cnn).
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy", run_eagerly=True)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(faces, targets, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    probs = np.asarray(model.predict(faces[:3], verbose=0))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)


def test_registry_lists_every_family_and_suggests_close_names() -> None:
    assert set(ARCHITECTURES) | {"tiny_cnn", "resnet18_fer", "vgg_wide"} <= set(list_models())
    with pytest.raises(ValueError, match=r"Unknown model 'resnet18'\. Did you mean resnet18_fer"):
        create_model("resnet18")
    with pytest.raises(ValueError, match=r"Did you mean .*mobilenet_v2_fer"):
        create_model("mobilenet_v2")


def test_cheaper_vgg_variants_change_only_what_the_ablation_names(tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from training.complexity import macs_per_face

    base, strided, separable = (create_model(n) for n in ("vgg_compact", "vgg_compact_s2", "vgg_compact_sep"))
    assert strided.count_params() == base.count_params(), "a stride changes no weight"
    spatial = [layer.output.shape[1] for layer in strided.layers[1:] if len(layer.output.shape) == 4]
    assert max(spatial) == 24 and min(spatial) == 3, "nothing at 48x48; the same 3x3 map before the head"
    assert macs_per_face(strided) < macs_per_face(base)
    kinds = [type(layer).__name__ for layer in separable.layers if "conv" in type(layer).__name__.lower()]
    assert kinds == ["Conv2D"] + ["SeparableConv2D"] * 6, "block 1 dense, blocks 2-4 separable"
    assert macs_per_face(separable) < macs_per_face(base) / 5
    # The app runs what training exports: the separable graph converts and LiteRT agrees with Keras.
    import tensorflow as tf

    faces = faces_and_targets(4)[0]
    converter = tf.lite.TFLiteConverter.from_keras_model(separable)
    (tmp_path / "sep.tflite").write_bytes(converter.convert())
    interpreter = Interpreter(model_path=str(tmp_path / "sep.tflite"), num_threads=1)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], faces.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], faces)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, np.asarray(separable.predict(faces, verbose=0)), atol=1e-4)


def test_deepfer_cnn_has_the_studys_layout() -> None:
    model = create_model("deepfer_cnn")
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert convs == [32, 64, 128, 128, 256, 256] and dense == [256, 7]


@pytest.mark.parametrize("method", [m for m in BALANCE_METHODS if m not in ("none", "class_weight")])
def test_resampling_remedies_bring_every_class_to_the_largest_count(method: str) -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(7), [30, 3, 10, 40, 12, 8, 20])
    images = rng.random((len(labels), 48, 48, 1), dtype=np.float32) * 0.2 + labels[:, None, None, None] / 10
    targets = np.eye(7, dtype=np.float32)[labels]

    new_images, new_targets, new_labels = balance(images, targets, labels, method, seed=1)

    assert np.bincount(new_labels).tolist() == [40] * 7
    np.testing.assert_array_equal(new_images[: len(labels)], images)  # the originals stay, in order
    np.testing.assert_array_equal(new_targets.argmax(axis=1), new_labels)
    added = new_images[len(labels) :]
    added_labels = new_labels[len(labels) :]
    if method == "oversample":
        # exact copies of faces of the same class
        for face, label in zip(added[:20], added_labels[:20], strict=True):
            assert any(np.array_equal(face, other) for other in images[labels == label])
    else:
        # new faces, not copies; SMOTE interpolates inside the class (pixel means stay near it)
        assert not any(np.array_equal(added[0], other) for other in images)
    if method == "smote":
        disgust = added[added_labels == 1]
        assert np.allclose(disgust.mean(axis=(1, 2, 3)), 0.1 + 0.1, atol=0.05)


def test_balance_refuses_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="use one of none, class_weight, oversample, smote, augment"):
        balance(np.zeros((2, 48, 48, 1), np.float32), np.eye(7)[:2], np.array([0, 1]), "undersample")


@pytest.mark.parametrize("method", ["class_weight", "smote", "augment"])
def test_train_runs_with_each_imbalance_remedy(tiny_data: Path, tmp_path: Path, method: str, capsys) -> None:
    config = TrainConfig(
        data=str(tiny_data), model="tiny_cnn", epochs=1, batch_size=8, warmup_epochs=0, balance=method
    )
    state = train(config, tmp_path / "run", verbose=0)
    assert state["finished"] and state["epoch"] == 1
    out = capsys.readouterr().out
    if method != "class_weight":
        assert "Balancing (" + method + "): 29 → 42 Training faces" in out


def test_optimizers_of_the_studies_and_discriminative_learning_rates() -> None:
    faces, targets = faces_and_targets(8)
    for name in ("sgd", "adam", "rmsprop", "adamw"):
        keras.utils.set_random_seed(0)
        model = create_model("tiny_cnn")
        model.compile(
            optimizer=make_optimizer(name, 1e-2, weight_decay=1e-4, body_lr_multiplier=1e-6),
            loss="categorical_crossentropy",
        )
        body, head = (
            model.get_layer("conv1").get_weights()[0].copy(),
            model.get_layer("probabilities").get_weights()[0].copy(),
        )
        model.fit(faces, targets, batch_size=8, epochs=1, verbose=0)
        body_step = np.abs(model.get_layer("conv1").get_weights()[0] - body).max()
        head_step = np.abs(model.get_layer("probabilities").get_weights()[0] - head).max()
        assert head_step > 1e-4, name
        assert body_step < head_step * 1e-3, f"{name}: the body moved {body_step}, the head {head_step}"
    with pytest.raises(ValueError, match="use one of adamw, sgd, adam, rmsprop"):
        make_optimizer("adagrad", 1e-3)


def test_freeze_schedule_trains_only_the_head_first(tiny_data: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    train(
        TrainConfig(data=str(tiny_data), model="tiny_cnn", epochs=1, batch_size=8, warmup_epochs=0),
        source,
        verbose=0,
    )
    run = tmp_path / "finetune"
    config = TrainConfig(
        data=str(tiny_data),
        model="tiny_cnn",
        epochs=2,
        batch_size=8,
        warmup_epochs=0,
        freeze_epochs=1,
        init_weights=str(source / "best.keras"),
        time_budget_minutes=1e-4,
    )
    start = keras.models.load_model(source / "best.keras")
    first = train(config, run, verbose=0)  # the time budget stops it after the frozen epoch
    assert first["epoch"] == 1
    frozen = keras.models.load_model(run / "last.keras")
    np.testing.assert_array_equal(
        frozen.get_layer("conv1").get_weights()[0], start.get_layer("conv1").get_weights()[0]
    )
    assert not np.array_equal(
        frozen.get_layer("probabilities").get_weights()[0], start.get_layer("probabilities").get_weights()[0]
    )
    second = train(config, run, verbose=0)  # resumes into the unfrozen phase
    assert second["finished"] and second["epoch"] == 2
    thawed = keras.models.load_model(run / "last.keras")
    assert not np.array_equal(
        thawed.get_layer("conv1").get_weights()[0], start.get_layer("conv1").get_weights()[0]
    )


def test_init_weights_from_a_file_the_test_writes(tmp_path: Path) -> None:
    from training.models.transfer import load_init_weights

    # The backbone's own weights file, as keras.applications ships them (no top).
    donor = create_model("resnet50_transfer", backbone_size=32)
    backbone_file = tmp_path / "resnet50_notop.weights.h5"
    donor.get_layer("backbone").save_weights(backbone_file)
    receiver = create_model("resnet50_transfer", backbone_size=32)
    note = load_init_weights(receiver, backbone_file)
    assert "backbone" in note
    for a, b in zip(
        donor.get_layer("backbone").get_weights(), receiver.get_layer("backbone").get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)

    # Our own checkpoint with another head (FER+ has 8 classes): the body is copied, the head is new.
    ferplus = create_model("vgg_compact", num_classes=8)
    ferplus.save(tmp_path / "ferplus.keras")
    fer2013 = create_model("vgg_compact", num_classes=7)
    note = load_init_weights(fer2013, tmp_path / "ferplus.keras")
    assert "probabilities (shapes differ)" in note
    np.testing.assert_array_equal(
        fer2013.get_layer("block4_2_conv").get_weights()[0],
        ferplus.get_layer("block4_2_conv").get_weights()[0],
    )

    with pytest.raises(FileNotFoundError, match=r"Expected a \.keras checkpoint"):
        load_init_weights(fer2013, tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="no layer of"):
        load_init_weights(create_model("fcnn"), tmp_path / "ferplus.keras")


def test_mixup_and_cutmix_mix_targets_in_proportion_to_pixels() -> None:
    from training.augment import mix_batch

    faces = np.stack([np.full((48, 48, 1), v, np.float32) for v in (0.0, 1.0)] * 4)
    targets = np.eye(7, dtype=np.float32)[[0, 1] * 4]
    for alphas in ((0.4, 0.0), (0.0, 1.0)):
        mixed, mixed_targets, _ = mix_batch(faces, targets, None, np.random.default_rng(2), *alphas)
        np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, rtol=1e-6)
        # each face's mean pixel = share of the "1.0" face = its target for class 1
        np.testing.assert_allclose(mixed.mean(axis=(1, 2, 3)), mixed_targets[:, 1], atol=1e-5)


def test_every_shipped_config_is_a_valid_recipe_for_a_registered_model() -> None:
    import json

    configs = sorted((Path(__file__).resolve().parent.parent / "training" / "configs").glob("*.json"))
    assert len(configs) >= 15
    for path in configs:
        config = TrainConfig.from_dict(json.loads(path.read_text())).validate()
        assert config.model in list_models(), path.name


REPO = Path(__file__).resolve().parent.parent


def run_study(script: str, *args: str, **env: str):
    import subprocess
    import sys

    return subprocess.run(
        ["bash", str(REPO / "training" / "configs" / script), *args],
        env={**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_architecture_study_sizes_each_run_to_the_budget_and_finishes_its_schedule(
    tiny_data: Path, tmp_path: Path
) -> None:
    import json

    runs = tmp_path / "runs"
    settings = {"CONFIGS": "fcnn", "DATA": str(tiny_data), "EPOCHS": "2", "VAL_FACES": "10"}
    result = run_study("architecture_study.sh", str(runs), "1", **settings)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "fcnn: bare " in result.stdout and " faces/s here -> 2 epochs of up to " in result.stdout
    config = json.loads((runs / "arch-fcnn" / "config.json").read_text())
    recipe = (config["model"], config["epochs"], config["limit_val"], config["ema_momentum"])
    assert recipe == ("fcnn", 2, 10, 0)
    assert config["limit_train"] >= 256 and config["time_budget_minutes"] == 2
    state = json.loads((runs / "arch-fcnn" / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 2
    again = run_study("architecture_study.sh", str(runs), "1", **settings)
    assert again.returncode == 0 and "arch-fcnn: finished, skipped" in again.stdout
