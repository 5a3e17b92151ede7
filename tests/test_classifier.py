"""The emotion model: batch in, probabilities out; bad model files fail at load, naming the file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ferdesk.vision.classifier import EmotionClassifier, ModelError, calibrate
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.paths import default_emotion_model


@pytest.fixture()
def model_copy(tmp_path):
    source = default_emotion_model()
    target = tmp_path / "model.tflite"
    shutil.copy(source, target)
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


def test_shipped_model_loads_and_predicts_batches():
    classifier = EmotionClassifier()
    assert classifier.labels == EMOTIONS
    faces = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    probabilities = classifier.predict(faces)
    assert probabilities.shape == (5, 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    # Batch size changes (1 → 5 → 1) reuse the interpreter correctly.
    single = classifier.predict(faces[:1])
    assert np.allclose(single[0], probabilities[0], atol=1e-5)
    assert classifier.predict(np.zeros((0, 48, 48, 1), np.float32)).shape == (0, 7)


def test_crops_of_any_size_go_through_preprocessing():
    classifier = EmotionClassifier()
    crops = [np.full((120, 100, 3), 128, np.uint8), np.full((30, 30), 50, np.uint8)]
    assert classifier.classify_crops(crops).shape == (2, 7)
    with pytest.raises(ValueError, match="preprocess_face"):
        classifier.predict(np.zeros((1, 64, 64, 3), np.float32))


def test_missing_model_and_missing_sidecar(tmp_path, model_copy):
    with pytest.raises(ModelError, match=r"not found.*--model"):
        EmotionClassifier(tmp_path / "absent.tflite")
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="sidecar file is missing"):
        EmotionClassifier(model_copy)


def test_corrupt_model_file_names_the_file(model_copy):
    model_copy.write_bytes(b"definitely not a flatbuffer" * 10)
    with pytest.raises(ModelError) as info:
        EmotionClassifier(model_copy)
    assert str(model_copy) in str(info.value)
    assert "damaged or was changed" in str(info.value)
    # Trusted on purpose, it still fails cleanly: not a model at all.
    with pytest.raises(ModelError, match="not a valid TensorFlow Lite model"):
        EmotionClassifier(model_copy, trust_model=True)


def _edit_sidecar(model_path, **changes):
    sidecar = model_path.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data.update(changes)
    sidecar.write_text(json.dumps(data))


def test_sidecar_that_does_not_match_the_model(model_copy):
    _edit_sidecar(model_copy, labels=["happy", "sad"])
    with pytest.raises(ModelError, match="7 outputs but its sidecar lists 2 labels"):
        EmotionClassifier(model_copy)


def test_sidecar_with_other_preprocessing_is_refused(model_copy):
    _edit_sidecar(model_copy, preprocess={"input_size": 48, "color": "rgb", "scale": "0-1"})
    with pytest.raises(ModelError, match=r'"preprocess.color" == "rgb", must be \'gray\''):
        EmotionClassifier(model_copy)
    _edit_sidecar(model_copy, preprocess={"input_size": 64, "color": "gray", "scale": "0-1"})
    with pytest.raises(ModelError, match="do not belong together"):
        EmotionClassifier(model_copy)


def test_sidecar_that_is_not_ours(model_copy):
    model_copy.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        EmotionClassifier(model_copy)
    model_copy.with_suffix(".json").write_text(json.dumps({"labels": list(EMOTIONS)}))
    with pytest.raises(ModelError, match="not a ferdesk model sidecar"):
        EmotionClassifier(model_copy)
    _edit_sidecar(model_copy, format="ferdesk-emotion-model", version=99)
    with pytest.raises(ModelError, match="version 99"):
        EmotionClassifier(model_copy)


def test_temperature_softens_without_changing_the_ranking():
    probabilities = np.array([[0.7, 0.2, 0.1]], np.float32)
    softened = calibrate(probabilities, 2.0)
    assert softened[0].argmax() == 0
    assert softened[0, 0] < 0.7
    assert np.isclose(softened.sum(), 1.0)
    assert np.allclose(calibrate(probabilities, 1.0), probabilities)


def test_flip_tta_makes_a_face_and_its_mirror_read_the_same():
    faces = np.random.default_rng(1).random((3, 48, 48, 1), dtype=np.float32)
    mirrored = faces[:, :, ::-1, :]
    with_tta = EmotionClassifier(flip_tta=True)
    assert np.allclose(with_tta.predict(faces), with_tta.predict(mirrored), atol=1e-5)
    without = EmotionClassifier(flip_tta=False)
    assert not np.allclose(without.predict(faces), without.predict(mirrored), atol=1e-5)
