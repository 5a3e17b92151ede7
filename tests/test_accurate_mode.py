"""Accurate mode (issue #13): the ensemble, its ten-crop views, its manifest, ``predict --accurate``
and the app's setting — with the shipped model and the real LiteRT interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from ferdesk.predict import main as predict_main
from ferdesk.session import AppSettings, LaunchOptions, Session
from ferdesk.session.settings import load_settings, with_changes
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.classifier import EmotionClassifier, ModelError, calibrate
from ferdesk.vision.ensemble import (
    DEFAULT_MANIFEST,
    EnsembleClassifier,
    EnsembleMember,
    accurate_cost,
    read_manifest,
)
from ferdesk.vision.model_files import read_sidecar, write_sidecar
from ferdesk.vision.paths import MODELS_ENV, default_emotion_model, models_dir
from ferdesk.vision.preprocess import TEN_CROP_SHARE, preprocess_batch, ten_crops

SHIPPED = default_emotion_model()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def faces(astronaut) -> np.ndarray:
    """Real faces, preprocessed: the astronaut's face and three shifted crops around it."""
    crops = [astronaut[y : y + 150, x : x + 130] for y, x in ((20, 160), (30, 170), (10, 150), (40, 180))]
    return preprocess_batch(crops, 48)


def write_manifest(folder: Path, members: list[dict]) -> Path:
    path = folder / DEFAULT_MANIFEST
    path.write_text(json.dumps({"format": "ferdesk-accurate-mode", "version": 1, "members": members}))
    return path


def copy_model(folder: Path, name: str, **sidecar_changes) -> Path:
    """The shipped model under another name, its sidecar rewritten with ``sidecar_changes``."""
    target = folder / f"{name}.tflite"
    shutil.copyfile(SHIPPED, target)
    info = read_sidecar(SHIPPED)
    fields = {"labels": info.labels, "box_scale": info.box_scale, "temperature": info.temperature}
    fields.update(sidecar_changes)
    write_sidecar(target, name, flip_tta=info.flip_tta, **fields)
    return target


# -- ten-crop views -------------------------------------------------------------------------------


def test_ten_crops_are_ten_views_of_the_input_size_in_mirrored_pairs(faces) -> None:
    views = ten_crops(faces)
    assert len(views) == 10
    assert all(view.shape == faces.shape and view.dtype == np.float32 for view in views)
    for plain, mirrored in zip(views[0::2], views[1::2], strict=True):
        np.testing.assert_array_equal(mirrored, plain[:, :, ::-1, :])
    # Five different crops, not one crop five times; none is the face itself.
    for i in range(0, 10, 2):
        assert not np.allclose(views[i], faces)
        for j in range(i + 2, 10, 2):
            assert not np.allclose(views[i], views[j]), (i, j)
    # The centre view is the 42-pixel centre crop, enlarged back to 48.
    crop = round(48 * TEN_CROP_SHARE)
    offset = (48 - crop) // 2
    centre = cv2.resize(
        faces[0, offset : offset + crop, offset : offset + crop, 0], (48, 48), interpolation=cv2.INTER_LINEAR
    )
    np.testing.assert_allclose(views[8][0, :, :, 0], centre, atol=1e-6)
    # The corner crops: the top-left view starts at the face's top-left pixel.
    top_left = cv2.resize(faces[0, :crop, :crop, 0], (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(views[0][0, :, :, 0], top_left, atol=1e-6)


def test_training_evaluation_uses_the_one_ten_crop_definition() -> None:
    import training.evaluate

    assert training.evaluate.ten_crops is ten_crops


# -- the ensemble against the model alone ---------------------------------------------------------


def test_the_shipped_model_with_itself_gives_the_model_alone(faces) -> None:
    flip_alone = EmotionClassifier(SHIPPED, flip_tta=True).predict(faces)
    plain_alone = EmotionClassifier(SHIPPED, flip_tta=False).predict(faces)
    assert not np.allclose(flip_alone, plain_alone)  # the views make a difference to compare
    twice_flip = EnsembleClassifier([EnsembleMember(SHIPPED, "flip"), EnsembleMember(SHIPPED, "flip")])
    np.testing.assert_allclose(twice_flip.predict(faces), flip_alone, rtol=1e-5, atol=1e-6)
    once_plain = EnsembleClassifier([EnsembleMember(SHIPPED, "none")])
    np.testing.assert_allclose(once_plain.predict(faces), plain_alone, rtol=1e-5, atol=1e-6)
    assert (twice_flip.passes_per_face, once_plain.passes_per_face) == (4, 1)


def test_a_ten_crop_member_calibrates_the_mean_of_its_ten_views(faces, tmp_path) -> None:
    # The reference: the same network uncalibrated (temperature 1), run view by view.
    uncalibrated = EmotionClassifier(copy_model(tmp_path, "raw", temperature=1.0), flip_tta=False)
    raw_mean = np.mean([uncalibrated.predict(view) for view in ten_crops(faces)], axis=0)
    expected = calibrate(raw_mean, read_sidecar(SHIPPED).temperature)
    member = EnsembleMember(SHIPPED, "tencrop")
    np.testing.assert_allclose(member.predict(faces), expected, rtol=1e-5, atol=1e-6)
    both = EnsembleClassifier([member, EnsembleMember(SHIPPED, "tencrop")])
    np.testing.assert_allclose(both.predict(faces), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both.predict(faces).sum(axis=1), 1.0, rtol=1e-5)
    assert both.predict(faces[:0]).shape == (0, 7)


def test_members_of_different_networks_are_averaged(faces, tmp_path) -> None:
    # A second member with another temperature: each is calibrated by its own sidecar.
    softer = copy_model(tmp_path, "softer", temperature=2.0)
    ensemble = EnsembleClassifier([EnsembleMember(SHIPPED, "flip"), EnsembleMember(softer, "none")])
    expected = (
        EmotionClassifier(SHIPPED, flip_tta=True).predict(faces)
        + EmotionClassifier(softer, flip_tta=False).predict(faces)
    ) / 2
    np.testing.assert_allclose(ensemble.predict(faces), expected, rtol=1e-5, atol=1e-6)
    assert ensemble.labels == EmotionClassifier(SHIPPED).labels and ensemble.input_size == 48
    assert "softer (none)" in ensemble.info.name


# -- the manifest ---------------------------------------------------------------------------------


def test_the_shipped_manifest_lists_the_shipped_model_and_ships_in_the_wheel() -> None:
    manifest = read_manifest()
    assert manifest.path == models_dir() / DEFAULT_MANIFEST
    assert [spec.model.name for spec in manifest.members] == [
        "ferdesk_emotion_v2.tflite",
        "ferdesk_emotion.tflite",
    ]
    assert all(spec.views in ("flip", "tencrop") for spec in manifest.members)
    assert manifest.raw["selection"]["chosen"] in manifest.raw["selection"]["candidates_publictest"]
    assert manifest.raw["selection"]["split"] == "PublicTest"
    setup_text = (Path(__file__).resolve().parent.parent / "setup.py").read_text()
    assert '"ferdesk.models": ["*.tflite", "*.json"' in setup_text


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([{"model": "absent.tflite", "views": "flip"}], "absent.tflite (members[0].model) is missing"),
        ([{"model": "ferdesk_emotion.tflite", "views": "twelve-crop"}], '"twelve-crop" is not a known view'),
        ([{"model": "ferdesk_emotion.tflite", "view": "flip"}], "unknown key(s) ['view']"),
        ([{"model": "/etc/passwd.tflite", "views": "flip"}], "relative to the manifest's folder"),
        ([], '"members" must be a list of 1 to'),
    ],
)
def test_manifest_errors_say_what_is_wrong(tmp_path, members, message) -> None:
    shutil.copyfile(SHIPPED, tmp_path / SHIPPED.name)
    shutil.copyfile(SHIPPED.with_suffix(".json"), tmp_path / SHIPPED.with_suffix(".json").name)
    path = write_manifest(tmp_path, members)
    with pytest.raises(ModelError) as caught:
        EnsembleClassifier.from_manifest(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "untick Accurate mode" in str(caught.value)


def test_a_missing_or_foreign_manifest_is_refused(tmp_path) -> None:
    with pytest.raises(ModelError, match="manifest is missing"):
        read_manifest(tmp_path / "nowhere.json")
    (tmp_path / "sidecar.json").write_text(SHIPPED.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="not an accurate-mode manifest"):
        read_manifest(tmp_path / "sidecar.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_manifest(tmp_path / "broken.json")


def test_members_that_disagree_on_labels_are_refused_naming_both_files(tmp_path) -> None:
    labels = list(read_sidecar(SHIPPED).labels)
    swapped = copy_model(tmp_path, "swapped", labels=[labels[1], labels[0], *labels[2:]])
    shutil.copyfile(SHIPPED, tmp_path / SHIPPED.name)
    shutil.copyfile(SHIPPED.with_suffix(".json"), tmp_path / SHIPPED.with_suffix(".json").name)
    path = write_manifest(
        tmp_path,
        [{"model": SHIPPED.name, "views": "flip"}, {"model": swapped.name, "views": "none"}],
    )
    with pytest.raises(ModelError, match="do not agree on labels") as caught:
        EnsembleClassifier.from_manifest(path)
    assert str(tmp_path / SHIPPED.name) in str(caught.value) and str(swapped) in str(caught.value)
    wider = copy_model(tmp_path, "wider", box_scale=1.5)
    with pytest.raises(ModelError, match="face box scale"):
        EnsembleClassifier([EnsembleMember(SHIPPED, "flip"), EnsembleMember(wider, "flip")])


def test_the_cost_is_stated_from_the_manifest(tmp_path) -> None:
    cost = accurate_cost()
    assert cost.default_passes == (2 if read_sidecar(SHIPPED).flip_tta else 1)
    assert cost.passes == read_manifest().passes_per_face
    shutil.copyfile(SHIPPED, tmp_path / SHIPPED.name)
    shutil.copyfile(SHIPPED.with_suffix(".json"), tmp_path / SHIPPED.with_suffix(".json").name)
    path = write_manifest(
        tmp_path,
        [{"model": SHIPPED.name, "views": "tencrop"}, {"model": SHIPPED.name, "views": "flip"}],
    )
    ten_and_two = accurate_cost(path)
    assert ten_and_two.passes == 12
    assert f"about {12 / cost.default_passes:g} times the time per face" in ten_and_two.sentence()


# -- the analyzer and `ferdesk predict --accurate` ------------------------------------------------


def test_face_analyzer_takes_the_accurate_mode_or_a_classifier(astronaut) -> None:
    with FaceAnalyzer(accurate=True) as accurate:
        assert isinstance(accurate.classifier, EnsembleClassifier)
        faces = accurate.analyze(astronaut)
    assert len(faces) == 1 and faces[0].emotion in accurate.labels
    ensemble = EnsembleClassifier([EnsembleMember(SHIPPED, "tencrop")])
    with FaceAnalyzer(classifier=ensemble) as given:
        assert given.classifier is ensemble
        assert given.analyze(astronaut)[0].emotion is not None
    with pytest.raises(ValueError, match="one of model_path, accurate=True and classifier"):
        FaceAnalyzer(SHIPPED, accurate=True)
    with pytest.raises(ValueError, match="flip_tta applies to a model loaded from model_path"):
        FaceAnalyzer(accurate=True, flip_tta=True)


def run_predict(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = predict_main(list(argv))
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_predict_accurate_on_a_real_face(capsys, tmp_path, astronaut, monkeypatch) -> None:
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    code, default = run_predict(capsys, "--json", str(photo))
    assert code == 0
    code, accurate = run_predict(capsys, "--json", "--accurate", str(photo))
    assert code == 0 and len(accurate) == 1 and accurate[0]["error"] is None
    [face] = accurate[0]["faces"]
    assert set(face) == set(default[0]["faces"][0]) == {"box", "emotion", "confidence", "probabilities"}
    assert face["box"] == default[0]["faces"][0]["box"]
    assert abs(sum(face["probabilities"].values()) - 1.0) < 1e-3
    assert face["confidence"] == max(face["probabilities"].values())
    if read_manifest().members[0].views == "flip" and len(read_manifest().members) == 1:
        assert face == default[0]["faces"][0]  # the shipped manifest is the default model alone
    # A ten-crop manifest (every shipped file, the manifest replaced) gives other probabilities.
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    write_manifest(models, [{"model": SHIPPED.name, "views": "tencrop"}])
    monkeypatch.setenv(MODELS_ENV, str(models))
    code, tencrop = run_predict(capsys, "--json", "--accurate", str(photo))
    assert code == 0
    assert tencrop[0]["faces"][0]["probabilities"] != default[0]["faces"][0]["probabilities"]
    assert tencrop[0]["faces"][0]["box"] == face["box"]


@pytest.mark.parametrize("clash", [["--model", str(SHIPPED)], ["--flip-tta"], ["--no-flip-tta"]])
def test_predict_accurate_refuses_model_and_flip_options(capsys, clash) -> None:
    with pytest.raises(SystemExit) as stopped:
        predict_main(["--accurate", *clash, "photo.jpg"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "usage: ferdesk predict" in error and "--accurate cannot be combined with" in error


def test_predict_accurate_with_a_broken_manifest_exits_2(capsys, tmp_path, monkeypatch) -> None:
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    write_manifest(models, [{"model": "gone.tflite", "views": "flip"}])
    monkeypatch.setenv(MODELS_ENV, str(models))
    assert predict_main(["--accurate", "--faces", "whole", str(tmp_path)]) == 2
    assert "gone.tflite" in capsys.readouterr().err


def test_analyze_accurate_with_a_broken_manifest_exits_2(capsys, tmp_path, monkeypatch) -> None:
    from ferdesk.analysis.cli import main as analyze_main

    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    write_manifest(models, [{"model": "gone.tflite", "views": "flip"}])
    monkeypatch.setenv(MODELS_ENV, str(models))
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read: the models fail first")
    for engine in ("local", "ray"):
        assert analyze_main(["--no-progress", "--accurate", "--engine", engine, str(video)]) == 2
        err = capsys.readouterr().err
        assert "gone.tflite" in err and "Traceback" not in err
    assert not (tmp_path / "clip.csv").exists()


# -- the app's setting ----------------------------------------------------------------------------


def test_the_setting_defaults_off_parses_and_persists(tmp_path) -> None:
    assert AppSettings().accurate_mode is False
    assert with_changes(AppSettings(), accurate_mode="yes").accurate_mode is True
    stored = {"accurate_mode": "true"}
    settings, problems = load_settings(lambda name: (name in stored, stored.get(name)))
    assert settings.accurate_mode is True and problems == []
    settings, problems = load_settings(lambda name: (name == "accurate_mode", "perhaps"))
    assert settings.accurate_mode is False and "accurate_mode" in problems[0]

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from ferdesk.ui.settings import SettingsStore

    path = str(tmp_path / "settings.ini")
    SettingsStore(QSettings(path, QSettings.Format.IniFormat)).save(AppSettings(accurate_mode=True))
    assert SettingsStore(QSettings(path, QSettings.Format.IniFormat)).load().accurate_mode is True


def test_the_dialog_checkbox_is_named_and_states_the_cost(qtbot) -> None:
    from ferdesk.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(accurate_mode=True), voices=[])
    qtbot.addWidget(dialog)
    box = dialog.accurate_mode
    assert box.isChecked() and box.isEnabled()
    assert box.accessibleName() == "Accurate mode"
    assert "&" in box.text() and not box.text().endswith("&")
    cost = accurate_cost().sentence()
    assert cost in box.toolTip() and cost in box.whatsThis() and cost in box.accessibleDescription()
    box.setChecked(False)
    assert dialog.settings().accurate_mode is False
    box.setChecked(True)
    dialog.restore_defaults()
    assert not box.isChecked()


class StartedRunner:
    """Stands in for the live runner: builds its analyzer at once, as the runner's thread would."""

    def __init__(self, spec, analyzer_factory, **kwargs) -> None:
        self.analyzer = analyzer_factory()
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.running = False

    def is_running(self) -> bool:
        return self.running


def test_the_session_builds_its_analyzer_with_the_setting_and_restarts_on_change() -> None:
    asked: list[tuple[Path | None, str, bool]] = []

    def analyzer_factory(model_path, detector, accurate):
        asked.append((model_path, detector, accurate))
        return object()

    session = Session(
        AppSettings(output="off"),
        LaunchOptions(speech_enabled=False),
        runner_factory=StartedRunner,
        analyzer_factory=analyzer_factory,
    )
    assert session.open_source("7")
    session.apply_settings(with_changes(session.settings, accurate_mode=True))
    session.apply_settings(with_changes(session.settings, volume=0.5))  # no restart for this one
    assert asked == [(None, "full", False), (None, "full", True)]
    session.stop()


def test_a_broken_manifest_leaves_the_default_model_running_and_says_so(tmp_path, monkeypatch) -> None:
    """The real live runner, detector and models on the demo clip, accurate mode on, its manifest
    naming a member that is gone: the picture and the announcements come from the default model,
    and the user hears why accurate mode is off."""
    import time

    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    write_manifest(models, [{"model": "gone.tflite", "views": "flip"}])
    monkeypatch.setenv(MODELS_ENV, str(models))
    pending: list = []
    session = Session(
        AppSettings(output="off", hold_seconds=0.3, accurate_mode=True),
        LaunchOptions(speech_enabled=False),
        call_soon=pending.append,
    )
    said: list[str] = []
    problems: list[str] = []
    session.announcements.add(lambda announcement: said.append(announcement.text))
    session.problems.add(problems.append)
    faces_seen = []
    session.frames.add(lambda result: faces_seen.append(len(result.faces)))
    assert session.open_source("demo")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (
        problems and any("person" in t or "people" in t for t in said)
    ):
        while pending:
            pending.pop(0)()
        time.sleep(0.05)
    model_while_running = session.model_text()
    session.close()
    assert model_while_running == "default (accurate mode could not start)"
    assert (
        len(problems) == 1 and "Accurate mode could not start" in problems[0] and "gone.tflite" in problems[0]
    )
    assert any(
        text.startswith("Accurate mode could not start, so the default model is used.") for text in said
    )
    assert any(faces_seen) and any("person" in t or "people" in t for t in said), said


@pytest.mark.parametrize(("tta", "flip_tta"), [("none", False), ("flip", True)])
def test_training_evaluate_of_a_tflite_computes_what_the_app_computes(tta: str, flip_tta: bool) -> None:
    """`python -m training evaluate --tta X` on a .tflite must give the app's figure: the views
    chosen by --tta (not doubled by the sidecar's flip_tta), averaged, then calibrated once."""
    from training.evaluate import predict_model

    faces = np.random.default_rng(3).random((6, 48, 48, 1), dtype=np.float32)
    evaluated = predict_model(default_emotion_model(), faces, tta=tta)
    app = EmotionClassifier(flip_tta=flip_tta).predict(faces)
    np.testing.assert_allclose(evaluated.probs, app, atol=1e-6)
