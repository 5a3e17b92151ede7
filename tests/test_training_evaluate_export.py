"""``training.evaluate`` and ``training.export`` on a tiny network and a tiny FER2013-layout folder.

The network is ``tiny_cnn`` fitted for one short epoch; the data are synthetic 48x48 faces written
in the Kaggle folder layout (Training, PublicTest and PrivateTest), so the whole export — three
.tflite variants, int8 calibration, measurement through the app's EmotionClassifier — runs in
seconds. The metric functions are checked against figures worked out by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from ferdesk.vision.classifier import EmotionClassifier, read_sidecar
from ferdesk.vision.emotions import EMOTIONS
from training.evaluate import (
    evaluate_model,
    evaluate_probabilities,
    expected_calibration_error,
    flip_faces,
    format_report,
    predict_keras,
    predict_model,
    predict_tflite,
)
from training.export import (
    ExportError,
    export_model,
    fit_temperature,
    format_table,
    parse_variants,
    remeasure_as_run,
    variant_path,
)

PER_CLASS = {"Training": 12, "PublicTest": 5, "PrivateTest": 5}
METRIC_KEYS = {
    "privatetest_accuracy",
    "privatetest_macro_f1",
    "privatetest_per_class_recall",
    "ms_per_face_1thread",
    "file_bytes",
    "publictest_accuracy",
}


def _synthetic_face(class_index: int, rng: np.random.Generator) -> np.ndarray:
    """Class-dependent brightness and stripes plus noise: learnable by tiny_cnn in a few epochs."""
    yy, xx = np.mgrid[0:48, 0:48]
    stripes = np.sin((xx + yy * class_index) / 3.0)
    face = 40 + 28 * class_index + 20 * stripes + rng.normal(0, 12, (48, 48))
    return np.clip(face, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A FER2013 Kaggle-layout folder, a run folder with a fitted tiny_cnn, and a private cache."""
    import keras

    from training.models import create_model

    root = tmp_path_factory.mktemp("evaluate_export")
    data = root / "data" / "fer2013"
    rng = np.random.default_rng(0)
    images: list[np.ndarray] = []
    labels: list[int] = []
    for split, count in PER_CLASS.items():
        folder = data / ("train" if split == "Training" else "test")
        for class_index, name in enumerate(EMOTIONS):
            (folder / name).mkdir(parents=True, exist_ok=True)
            for number in range(count):
                face = _synthetic_face(class_index, rng)
                Image.fromarray(face).save(folder / name / f"{split}_{class_index:02d}{number:04d}.png")
                if split == "Training":
                    images.append(face.astype(np.float32)[:, :, None] / 255.0)
                    labels.append(class_index)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERDESK_CACHE", str(root / "cache"))
        keras.utils.set_random_seed(7)
        model = create_model("tiny_cnn")
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
        model.fit(np.stack(images), np.asarray(labels), epochs=10, batch_size=16, verbose=0)
        run = root / "run"
        run.mkdir()
        model.save(run / "best.keras")
        (run / "config.json").write_text(json.dumps({"model": "tiny_cnn", "epochs": 3}))
        (run / "state.json").write_text(json.dumps({"best_epoch": 3}))
        results = export_model(
            run / "best.keras",
            root / "models" / "tiny.tflite",
            data_root=root / "data",
            representative_count=30,
            timing_runs=5,
            log=lambda message: None,
        )
        yield {"root": root, "data": root / "data", "checkpoint": run / "best.keras", "results": results}


@pytest.fixture()
def private_cache(workspace, monkeypatch):
    monkeypatch.setenv("FERDESK_CACHE", str(workspace["root"] / "cache"))


def _private_test(workspace):
    from training.data import load_split

    return load_split(workspace["data"], "PrivateTest", show_progress=False)


# --- metrics on hand-made predictions -------------------------------------------------------------


def _probs_for(predictions: list[int], classes: int, top: float = 0.7) -> np.ndarray:
    probs = np.full((len(predictions), classes), (1.0 - top) / (classes - 1))
    probs[np.arange(len(predictions)), predictions] = top
    return probs


def test_metrics_match_hand_computed_figures():
    # labels 0,0,0,1,1,2 predicted 0,0,1,1,2,2: confusion rows [2 1 0] [0 1 1] [0 0 1].
    labels = [0, 0, 0, 1, 1, 2]
    probs = _probs_for([0, 0, 1, 1, 2, 2], 3)
    metrics = evaluate_probabilities(labels, probs, ("a", "b", "c"))
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    a, b, c = (metrics["per_class"][name] for name in "abc")
    assert (a["precision"], a["recall"], a["f1"], a["support"]) == pytest.approx((1.0, 2 / 3, 0.8, 3))
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == pytest.approx((0.5, 0.5, 0.5, 2))
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == pytest.approx((0.5, 1.0, 2 / 3, 1))
    assert metrics["macro_f1"] == pytest.approx(59 / 90)  # (0.8 + 0.5 + 2/3) / 3
    assert metrics["weighted_f1"] == pytest.approx(61 / 90)  # (3*0.8 + 2*0.5 + 1*2/3) / 6
    assert metrics["macro_recall"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)
    assert metrics["log_loss"] == pytest.approx((4 * -math.log(0.7) + 2 * -math.log(0.15)) / 6)
    assert metrics["ece"] == pytest.approx(abs(4 / 6 - 0.7))  # every confidence is 0.7: one bin
    assert metrics["confusion_matrix_normalized"][0] == pytest.approx([2 / 3, 1 / 3, 0.0], abs=1e-6)
    assert json.loads(json.dumps(metrics)) == metrics  # JSON-ready as it is


def test_metrics_never_predicted_and_absent_classes():
    # Class 1 is never predicted (precision 0, not NaN); class 3 is in neither labels nor answers.
    labels = [0, 1, 2, 2]
    metrics = evaluate_probabilities(labels, _probs_for([0, 0, 2, 2], 4), ("w", "x", "y", "z"))
    never_predicted = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert metrics["per_class"]["x"] == never_predicted
    assert metrics["per_class"]["z"]["support"] == 0
    # w: P 1/2 R 1 F1 2/3; x: 0; y: 1 -> macro over the three present classes only.
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert metrics["confusion_matrix_normalized"][3] == [0.0, 0.0, 0.0, 0.0]


def test_calibration_error_over_bins():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.4, 0.6], [0.6, 0.4]])
    # bin (0.933, 1]: confidence 0.95, accuracy 1; bin (0.533, 0.6]: confidence 0.6, accuracy 1/2.
    expected = 0.5 * abs(1 - 0.95) + 0.5 * abs(0.5 - 0.6)
    assert expected_calibration_error(labels, probs) == pytest.approx(expected)


def test_metrics_reject_mismatched_input():
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        evaluate_probabilities([0, 1], np.ones((2, 4)) / 4, ("a", "b", "c"))
    with pytest.raises(ValueError, match="one integer label per row"):
        evaluate_probabilities([0, 1, 2], np.ones((2, 3)) / 3, ("a", "b", "c"))
    with pytest.raises(ValueError, match=r"class indices in 0..2"):
        evaluate_probabilities([0, 3], np.ones((2, 3)) / 3, ("a", "b", "c"))


def test_report_table_lists_every_class():
    metrics = evaluate_probabilities([0, 1, 1], _probs_for([0, 1, 0], 3), ("angry", "happy", "sad"))
    report = format_report(metrics, "title")
    for text in ("angry", "happy", "sad", "accuracy", "macro avg", "0.6667"):
        assert text in report


def test_fit_temperature_recovers_known_overconfidence():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (6000, 7))
    true_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(7, p=p) for p in true_probs])
    overconfident = np.exp(2.0 * logits) / np.exp(2.0 * logits).sum(axis=1, keepdims=True)
    assert fit_temperature(labels, overconfident) == pytest.approx(2.0, rel=0.08)


# --- export -----------------------------------------------------------------------------------------


def test_variant_names_and_parsing():
    assert variant_path("models/x.tflite", "float32").name == "x.tflite"
    assert variant_path("models/x.tflite", "float16").name == "x_float16.tflite"
    assert variant_path("models/x.tflite", "int8").name == "x_int8.tflite"
    assert parse_variants("int8, float32") == ("float32", "int8")
    with pytest.raises(ExportError, match="float32, float16, int8"):
        parse_variants("float32,int4")
    with pytest.raises(ExportError, match=r"\.tflite"):
        variant_path("models/x.onnx", "float32")


def test_export_writes_each_variant_with_a_loadable_sidecar(workspace):
    results = workspace["results"]
    assert [r.variant for r in results] == ["float32", "float16", "int8"]
    assert [r.path.name for r in results] == ["tiny.tflite", "tiny_float16.tflite", "tiny_int8.tflite"]
    for result in results:
        info = read_sidecar(result.path)
        assert set(info.metrics) >= METRIC_KEYS
        assert info.metrics["file_bytes"] == result.path.stat().st_size == result.file_bytes
        assert set(info.metrics["privatetest_per_class_recall"]) == set(EMOTIONS)
        assert 0.0 <= info.metrics["privatetest_accuracy"] <= 1.0
        assert info.metrics["ms_per_face_1thread"] > 0
        assert info.labels == EMOTIONS and info.temperature == 1.0
        training = info.raw["training"]
        assert training["config"] == {"model": "tiny_cnn", "epochs": 3}
        assert training["state"] == {"best_epoch": 3} and training["variant"] == result.variant
        classifier = EmotionClassifier(result.path)
        assert classifier.predict(np.zeros((2, 48, 48, 1), np.float32)).shape == (2, 7)
    assert results[0].metrics["privatetest_agreement_with_keras"] == 1.0
    assert results[1].file_bytes < results[0].file_bytes and results[2].file_bytes < results[1].file_bytes
    table = format_table(results)
    assert "tiny_int8.tflite" in table and "(reference network)" in table


def test_int8_variant_is_integer_inside_with_float_io(workspace):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(workspace["results"][2].path))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    inner_types = {detail["dtype"] for detail in interpreter.get_tensor_details()}
    assert np.int8 in inner_types


def test_tflite_outputs_match_the_keras_network(workspace, private_cache):
    faces = _private_test(workspace).images
    reference = predict_keras(workspace["checkpoint"], faces)
    float32, float16, int8 = (predict_tflite(r.path, faces) for r in workspace["results"])
    assert np.abs(float32 - reference).max() < 1e-4
    assert np.abs(float16 - reference).max() < 1e-2
    assert (float16.argmax(1) == reference.argmax(1)).mean() >= 0.95
    assert np.abs(int8 - reference).max() < 0.15
    assert (int8.argmax(1) == reference.argmax(1)).mean() >= 0.8
    # The network learned the synthetic classes, so agreement is checked on varied answers.
    assert len(set(reference.argmax(1))) >= 5
    assert (reference.argmax(1) == _private_test(workspace).labels).mean() >= 0.6


def test_evaluate_keras_and_tflite_agree_and_match_the_sidecar(workspace, private_cache, tmp_path):
    float32 = workspace["results"][0]
    from_keras = evaluate_model(
        workspace["checkpoint"], workspace["data"], "PrivateTest", out_dir=tmp_path / "k", show_progress=False
    )
    from_tflite = evaluate_model(
        float32.path, workspace["data"], "PrivateTest", out_dir=tmp_path / "t", show_progress=False
    )
    assert from_keras["metrics"]["accuracy"] == from_tflite["metrics"]["accuracy"]
    assert from_keras["metrics"]["confusion_matrix"] == from_tflite["metrics"]["confusion_matrix"]
    sidecar_accuracy = float32.metrics["privatetest_accuracy"]
    assert from_tflite["metrics"]["accuracy"] == pytest.approx(sidecar_accuracy, abs=1e-6)
    assert from_tflite["metrics"]["count"] == 7 * PER_CLASS["PrivateTest"]
    for folder in (tmp_path / "k", tmp_path / "t"):
        with Image.open(folder / "confusion_matrix.png") as png:
            assert png.format == "PNG" and png.width >= 600 and png.height >= 500
        stored = json.loads((folder / "metrics.json").read_text())
        assert stored["split"] == "PrivateTest" and stored["metrics"]["macro_f1"] >= 0
        assert "macro avg" in (folder / "report.txt").read_text()
        with np.load(folder / "probabilities.npz") as arrays:
            assert arrays["probabilities"].shape == (35, 7)


def test_flip_tta_averages_the_face_and_its_mirror(workspace, private_cache):
    faces = _private_test(workspace).images[:6]
    assert np.array_equal(flip_faces(faces)[:, :, 0], faces[:, :, -1])
    path = workspace["results"][0].path
    plain = predict_model(path, faces)
    mirrored = predict_model(path, flip_faces(faces))
    both = predict_model(path, faces, tta="flip")
    assert both.passes == 2 and plain.passes == 1
    assert np.allclose(both.probs, (plain.probs + mirrored.probs) / 2, atol=1e-6)


def test_convert_only_needs_no_data_and_auto_temperature_is_written(workspace, tmp_path, private_cache):
    results = export_model(
        workspace["checkpoint"],
        tmp_path / "only.tflite",
        variants="float32,float16",
        data_root=tmp_path / "no-data-here",
        measure=False,
        log=lambda message: None,
    )
    assert [r.path.name for r in results] == ["only.tflite", "only_float16.tflite"]
    assert read_sidecar(results[0].path).metrics == {"file_bytes": results[0].file_bytes}
    with pytest.raises(ExportError, match="--no-measure"):
        export_model(workspace["checkpoint"], tmp_path / "x.tflite", data_root=tmp_path / "no-data-here")
    fitted = export_model(
        workspace["checkpoint"],
        tmp_path / "auto.tflite",
        variants="float32",
        data_root=workspace["data"],
        temperature="auto",
        timing_runs=3,
        log=lambda message: None,
    )[0]
    info = read_sidecar(fitted.path)
    assert info.temperature != 1.0 and info.raw["training"]["temperature_source"].startswith(
        "fitted on PublicTest"
    )


def test_export_refuses_a_non_tensorflow_backend(workspace, tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ExportError, match="KERAS_BACKEND=tensorflow"):
        export_model(workspace["checkpoint"], tmp_path / "x.tflite", measure=False, variants="float32")


def test_command_line_evaluate_and_export_errors(workspace, tmp_path, private_cache, capsys):
    from training.__main__ import main

    out = tmp_path / "cli"
    code = main(
        ["evaluate", str(workspace["results"][2].path), "--data", str(workspace["data"]), "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "macro avg" in printed and "ms/face" in printed
    assert (out / "confusion_matrix.png").is_file()
    export_args = ["export", str(workspace["checkpoint"]), "--out", str(tmp_path / "m.tflite")]
    code = main([*export_args, "--data", "/nowhere"])
    assert code == 2 and "Data folder not found: /nowhere" in capsys.readouterr().err
    code = main(["evaluate", str(tmp_path / "missing.tflite"), "--data", str(workspace["data"])])
    assert code == 2 and "missing.tflite" in capsys.readouterr().err


def test_flip_choice_and_description_go_into_the_sidecar_and_figures_stay_single_pass(
    workspace, tmp_path, private_cache
):
    """A model shipped with flip TTA needs no hand-edited sidecar; its exported figures are still
    the single-pass ones (they must equal an export without the flip choice)."""
    common = {"variants": "float32", "data_root": workspace["data"], "timing_runs": 3, "log": lambda m: None}
    plain = export_model(workspace["checkpoint"], tmp_path / "plain.tflite", **common)[0]
    flipped = export_model(
        workspace["checkpoint"],
        tmp_path / "flipped.tflite",
        flip_tta=True,
        description="A test network.",
        **common,
    )[0]
    info = read_sidecar(flipped.path)
    assert info.flip_tta is True and info.raw["description"] == "A test network."
    assert read_sidecar(plain.path).flip_tta is False and "description" not in read_sidecar(plain.path).raw
    for key in ("privatetest_accuracy", "publictest_accuracy", "privatetest_macro_f1"):
        assert flipped.metrics[key] == plain.metrics[key], key
    # ... and the figures as the app runs it (face and mirror averaged) come beside them.
    assert "as_run" not in plain.metrics
    as_run = info.metrics["as_run"]
    private = _private_test(workspace)
    by_hand = evaluate_probabilities(
        private.labels, predict_model(flipped.path, private.images, tta="flip").probs, EMOTIONS
    )
    assert as_run["views"] == "flip" and as_run["privatetest_count"] == len(private)
    assert as_run["privatetest_accuracy"] == round(by_hand["accuracy"], 6)
    assert as_run["privatetest_macro_f1"] == round(by_hand["macro_f1"], 6)
    assert as_run["ms_per_face_1thread"] > 0


def test_remeasure_writes_the_as_run_figures_into_an_older_sidecar(
    workspace, tmp_path, private_cache, capsys
):
    """A sidecar from before ``as_run`` (or with its flip set by hand) gets the figures the app's
    settings quote, with nothing converted and every other field kept."""
    import shutil

    from ferdesk.vision.paths import emotion_model_description
    from training.__main__ import main

    source = workspace["results"][0].path
    model = tmp_path / "older.tflite"
    shutil.copy(source, model)
    sidecar = json.loads(source.with_suffix(".json").read_text())
    sidecar["flip_tta"] = True  # set by hand after export
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    single = emotion_model_description(model.name, read_sidecar(model))
    assert f"{100 * sidecar['metrics']['privatetest_accuracy']:.1f} %" in single
    assert "as ferdesk runs it" not in single

    figures = remeasure_as_run(model, workspace["data"], timing_runs=3)
    written = json.loads(model.with_suffix(".json").read_text())
    assert written["metrics"]["as_run"] == figures
    assert {k: v for k, v in written.items() if k != "metrics"} == {
        k: v for k, v in sidecar.items() if k != "metrics"
    }
    assert {k: v for k, v in written["metrics"].items() if k != "as_run"} == sidecar["metrics"]
    private = _private_test(workspace)
    flipped = evaluate_probabilities(
        private.labels, predict_model(model, private.images, tta="flip").probs, EMOTIONS
    )
    assert figures["privatetest_accuracy"] == round(flipped["accuracy"], 6)
    described = emotion_model_description(model.name, read_sidecar(model))
    quoted = f"{100 * figures['privatetest_accuracy']:.1f} % of the FER2013 test faces"
    assert f"{quoted} correctly as ferdesk runs it." in described

    remeasure = ["export", "--remeasure", str(model), "--data", str(workspace["data"])]
    assert main([*remeasure, "--timing-runs", "2"]) == 0
    assert "as the app runs it (flip views): PrivateTest" in capsys.readouterr().out
    assert main(["export", str(workspace["checkpoint"]), "--remeasure", str(model)]) == 2
    assert "converts nothing" in capsys.readouterr().err
    assert main(["export", str(workspace["checkpoint"])]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["export", "--remeasure", str(tmp_path / "none.tflite")]) == 2
    assert "expected an exported .tflite" in capsys.readouterr().err
    broken = json.loads(model.with_suffix(".json").read_text())
    broken["metrics"]["as_run"]["privatetest_accuracy"] = 7.5
    model.with_suffix(".json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"metrics\.as_run\.privatetest_accuracy"):
        read_sidecar(model)
