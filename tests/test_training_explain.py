"""``python -m training explain``: each method's heatmap must point at a planted feature.

A small CNN learns the synthetic faces (the class is a bright block in its own place); for a face
of class "sad" (the block in the middle-right) the map must be hottest on that block. Occlusion
runs on the exported .tflite alone, saliency and Grad-CAM on the Keras checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.emotions import EMOTIONS
from training.synthetic import block_box, synthetic_face

PLANTED_CLASS = EMOTIONS.index("sad")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from ferdesk.vision.classifier import write_sidecar
    from training.export import convert

    root = tmp_path_factory.mktemp("explain")
    keras.utils.set_random_seed(0)
    labels = np.repeat(np.arange(7), 24)
    faces = np.stack([synthetic_face(int(c), 1000 + i) for i, c in enumerate(labels)])[..., None] / 255.0
    inputs = keras.Input((48, 48, 1), name="face")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(7, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="planted")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(faces.astype(np.float32), labels, epochs=12, batch_size=24, verbose=0)
    assert model.evaluate(faces, labels, verbose=0)[1] == 1.0, "the planted task must be learnt"
    checkpoint = root / "planted.keras"
    model.save(checkpoint)
    tflite = root / "planted.tflite"
    tflite.write_bytes(convert(model, "float32"))
    write_sidecar(tflite, "planted", EMOTIONS)
    image = root / "face.png"
    Image.fromarray(synthetic_face(PLANTED_CLASS, 99)).save(image)
    return {"keras": checkpoint, "tflite": tflite, "image": image, "root": root}


def assert_points_at_the_block(heat: np.ndarray) -> None:
    top, left, bottom, right = block_box(PLANTED_CLASS)
    inside = np.zeros_like(heat, bool)
    inside[max(0, top - 2) : bottom + 2, max(0, left - 2) : right + 2] = True
    y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert inside[y, x], f"the hottest pixel ({y}, {x}) is off the planted block {block_box(PLANTED_CLASS)}"
    # Raw gradients are noisier than occlusion or Grad-CAM: twice the heat on the block is the bar.
    assert heat[inside].mean() > 2 * heat[~inside].mean(), "the block is not where the heat is"


@pytest.mark.parametrize(
    ("method", "kind"), [("occlusion", "tflite"), ("saliency", "keras"), ("gradcam", "keras")]
)
def test_each_method_highlights_the_planted_feature(planted, method: str, kind: str, tmp_path: Path) -> None:
    from training.__main__ import main

    out = tmp_path / "out"
    code = main(
        [
            "explain",
            "--model",
            str(planted[kind]),
            "--method",
            method,
            "--out",
            str(out),
            str(planted["image"]),
        ]
    )

    assert code == 0
    png = out / f"face-{method}.png"
    with Image.open(png) as picture:
        assert picture.width > 200 and picture.height > 100
    assert_points_at_the_block(np.load(out / f"face-{method}.npy"))


def test_occlusion_is_the_apps_own_implementation(planted, monkeypatch) -> None:
    import ferdesk.vision.explain as shared
    from training.explain import explain_face, load_explainable

    calls = []
    original = shared.occlusion_map
    monkeypatch.setattr(shared, "occlusion_map", lambda *a, **k: calls.append(1) or original(*a, **k))
    face = synthetic_face(PLANTED_CLASS, 5)[..., None].astype(np.float32) / 255.0
    kind, model, predict, labels = load_explainable(planted["tflite"])
    _, target, probability = explain_face(kind, model, predict, labels, face, "occlusion")
    assert calls == [1] and target == PLANTED_CLASS and probability > 0.5


def test_gradient_methods_on_a_tflite_model_say_what_to_pass(planted, tmp_path: Path, capsys) -> None:
    from training.__main__ import main

    code = main(
        [
            "explain",
            "--model",
            str(planted["tflite"]),
            "--method",
            "gradcam",
            "--out",
            str(tmp_path),
            str(planted["image"]),
        ]
    )
    assert code == 2
    assert "needs gradients, which a .tflite model does not have; pass the .keras" in capsys.readouterr().err
    code = main(
        ["explain", "--model", str(tmp_path / "nope.keras"), "--out", str(tmp_path), str(planted["image"])]
    )
    assert code == 2 and "Model not found" in capsys.readouterr().err


def test_calibrate_writes_the_temperature_into_a_tflite_sidecar(planted, tmp_path: Path, monkeypatch) -> None:
    import json
    import shutil

    from ferdesk.vision.classifier import EmotionClassifier
    from training.calibration import calibrate_model
    from training.synthetic import write_tiny_fer2013

    monkeypatch.setenv("FERDESK_CACHE", str(tmp_path / "cache"))
    data = write_tiny_fer2013(
        tmp_path / "fer2013", train_per_class=1, public_per_class=4, private_per_class=2
    )
    model = tmp_path / "planted.tflite"
    shutil.copy(planted["tflite"], model)
    shutil.copy(planted["tflite"].with_suffix(".json"), model.with_suffix(".json"))

    record = calibrate_model(model, data, out_dir=tmp_path / "out", write_sidecar=True)

    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["temperature"] == record["temperature"] == pytest.approx(record["fitted_temperature"])
    assert EmotionClassifier(model).info.temperature == record["temperature"]  # the app reads it back
    assert (tmp_path / "out" / "reliability.png").is_file()
