"""Choosing the emotion model (issue #13): the models folder's listing, the setting, the dialog, the
session's analyzer, ``--model`` over both, and an 8-class FER+ model spoken and shown end to end.

The FER+ model here is real: a tiny Keras network (pooling, one dense layer, softmax) converted to
TensorFlow Lite with ``training.export.convert`` and given its sidecar by ``write_sidecar``, with
the eight FER+ labels. Its weights make "contempt" the answer for any face (90 %), so the test
can tell whether that class reaches the words and the window. It lives in a temporary models
folder (``$FERDESK_MODELS``) beside copies of the shipped files the app needs.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ferdesk.session import AppSettings, LaunchOptions, Session
from ferdesk.session.session import ModelChoice, choose_model
from ferdesk.session.settings import load_settings, settings_items, with_changes
from ferdesk.speech.policy import AnnouncementPolicy, PolicyConfig
from ferdesk.vision.emotions import EMOTIONS, FERPLUS_EMOTIONS
from ferdesk.vision.ensemble import read_manifest
from ferdesk.vision.model_files import read_sidecar, write_sidecar
from ferdesk.vision.paths import (
    DEFAULT_EMOTION_MODEL,
    MODELS_ENV,
    default_emotion_model,
    emotion_model_title,
    emotion_models,
    models_dir,
)

FERPLUS = "ferdesk_ferplus.tflite"
CONTEMPT_PROBABILITY = 0.9
#: What the shipped app needs from its models folder: every model, sidecar and manifest shipped.
SHIPPED_FILES = tuple(
    sorted(p.name for p in default_emotion_model().parent.iterdir() if p.suffix in (".tflite", ".json"))
)
#: The shipped emotion models besides the default (sorted by name, as the listing puts them).
OTHER_SHIPPED_EMOTION_MODELS = tuple(
    name
    for name in SHIPPED_FILES
    if name.endswith(".tflite")
    and name.startswith("ferdesk_")
    and name not in ("ferdesk_emotion.tflite", FERPLUS)
)
FERPLUS_TITLE = "FER+, 8 expressions with contempt — ferdesk_ferplus"
DEFAULT_TITLE = "FER2013, 7 expressions — ferdesk_emotion"
FERPLUS_DESCRIPTION = "A tiny test network that always leans to contempt"


def write_ferplus_model(path: Path) -> Path:
    """A real 8-output .tflite whose answer is contempt at 90 % for any face, with its sidecar."""
    from training.export import convert, require_tensorflow_backend

    keras = require_tensorflow_backend()
    others = (1.0 - CONTEMPT_PROBABILITY) / (len(FERPLUS_EMOTIONS) - 1)
    bias = np.log([others] * (len(FERPLUS_EMOTIONS) - 1) + [CONTEMPT_PROBABILITY]).astype(np.float32)
    inputs = keras.Input((48, 48, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    # The same weight on every class: the face moves every logit alike, so the answer stays put.
    logits = keras.layers.Dense(
        len(FERPLUS_EMOTIONS),
        kernel_initializer=keras.initializers.Constant(0.1),
        bias_initializer=keras.initializers.Constant(bias),
    )(pooled)
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    assert FERPLUS_EMOTIONS[-1] == "contempt"
    path.write_bytes(convert(model, "float32"))
    write_sidecar(
        path,
        "tiny_ferplus",
        FERPLUS_EMOTIONS,
        metrics={"privatetest_accuracy": 0.5},
        training={"source": "ferplus"},
    )
    sidecar = path.with_suffix(".json")
    import json

    data = json.loads(sidecar.read_text())
    data["description"] = FERPLUS_DESCRIPTION
    sidecar.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def ferplus_folder(tmp_path_factory) -> Path:
    """A models folder: copies of the shipped files plus the tiny FER+ model."""
    folder = tmp_path_factory.mktemp("models")
    for name in SHIPPED_FILES:
        shutil.copyfile(default_emotion_model().parent / name, folder / name)
    write_ferplus_model(folder / FERPLUS)
    return folder


@pytest.fixture
def models(ferplus_folder, monkeypatch) -> Path:
    monkeypatch.setenv(MODELS_ENV, str(ferplus_folder))
    assert models_dir() == ferplus_folder
    return ferplus_folder


@pytest.fixture
def own_models(ferplus_folder, tmp_path, monkeypatch) -> Path:
    """A copy of the folder that a test may change (remove a model, add a broken one)."""
    folder = tmp_path / "models"
    shutil.copytree(ferplus_folder, folder)
    monkeypatch.setenv(MODELS_ENV, str(folder))
    return folder


# -- the listing ----------------------------------------------------------------------------------


def test_the_listing_offers_emotion_models_default_first_and_skips_detectors_and_broken_files(
    own_models, caplog
) -> None:
    (own_models / "aaa_broken.tflite").write_bytes(b"not a model")
    (own_models / "aaa_broken.json").write_text("{ not json")
    (own_models / "bbb_manifest.tflite").write_bytes(b"not a model")
    shutil.copyfile(own_models / "ferdesk_accurate.json", own_models / "bbb_manifest.json")  # wrong format
    (own_models / "ccc_no_sidecar.tflite").write_bytes(b"not a model")
    (own_models / "ddd_folder.tflite").mkdir()
    with caplog.at_level(logging.WARNING, logger="ferdesk.vision.paths"):
        listed = emotion_models()
    assert [name for name, _ in listed] == [DEFAULT_EMOTION_MODEL, *OTHER_SHIPPED_EMOTION_MODELS, FERPLUS]
    assert [len(info.labels) for _, info in listed] == [7] * (1 + len(OTHER_SHIPPED_EMOTION_MODELS)) + [8]
    assert listed[-1][1].labels == FERPLUS_EMOTIONS
    titles = [emotion_model_title(name, info) for name, info in listed]
    assert titles[0] == DEFAULT_TITLE and titles[-1] == FERPLUS_TITLE
    # The broken sidecars are said in the log; the detectors and a model without sidecar are not.
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "aaa_broken.tflite" in warned and "bbb_manifest.tflite" in warned
    assert "blazeface" not in warned and "ccc_no_sidecar" not in warned
    assert emotion_models(own_models / "not-there") == []


# -- the setting ----------------------------------------------------------------------------------


def test_the_setting_persists_and_a_model_that_is_gone_falls_back_to_the_default(own_models, tmp_path):
    from PySide6.QtCore import QSettings

    from ferdesk.ui.settings import SettingsStore

    def store() -> SettingsStore:
        return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))

    store().save(with_changes(AppSettings(), emotion_model=FERPLUS, accurate_mode=True))
    loaded_store = store()
    loaded = loaded_store.load()
    assert (loaded.emotion_model, loaded.accurate_mode, loaded_store.problems) == (FERPLUS, True, [])

    (own_models / FERPLUS).unlink()
    fallen_store = store()
    fallen = fallen_store.load()
    assert fallen.emotion_model == "" and fallen.uses_default_model
    assert fallen.accurate_mode is True  # the other settings are kept
    [problem] = fallen_store.problems
    assert problem.startswith(f"emotion_model: stored value '{FERPLUS}' ignored (")
    assert f"{FERPLUS} is not in the models folder {own_models}" in problem
    assert problem.endswith(f"using the default model ({DEFAULT_EMOTION_MODEL})") and "\n" not in problem


def test_the_setting_names_a_model_of_the_folder_and_nothing_else(own_models) -> None:
    assert AppSettings().emotion_model == "" and AppSettings().uses_default_model
    # The default's own name is the default, stored as "".
    assert with_changes(AppSettings(), emotion_model=DEFAULT_EMOTION_MODEL).emotion_model == ""
    assert with_changes(AppSettings(), emotion_model=f"  {FERPLUS} ").emotion_model == FERPLUS
    (own_models / "broken.tflite").write_bytes(b"x")
    (own_models / "broken.json").write_text("[]")
    for name, reason in (
        ("../ferdesk_ferplus.tflite", "not a file name"),
        (str(own_models / FERPLUS), "not a file name"),
        ("ferdesk_accurate.json", "not a .tflite"),
        ("missing.tflite", "not in the models folder"),
        ("blazeface_short_range.tflite", "sidecar file is missing"),
        ("broken.tflite", "not a ferdesk model sidecar"),
    ):
        with pytest.raises(ValueError, match=reason):
            with_changes(AppSettings(), emotion_model=name)
    # Loading reads every stored value with the same checks.
    stored = dict(settings_items(AppSettings(emotion_model="missing.tflite")))
    settings, problems = load_settings(lambda name: (True, stored[name]))
    assert settings == AppSettings() and len(problems) == 1 and problems[0].startswith("emotion_model:")


def test_choose_model_puts_the_command_line_over_the_setting_over_accurate_mode(models) -> None:
    accurate = AppSettings(accurate_mode=True)
    assert choose_model(accurate) == ModelChoice(None, True, "default")
    assert choose_model(AppSettings()) == ModelChoice(None, False, "default")
    ferplus = AppSettings(accurate_mode=True, emotion_model=FERPLUS)
    assert choose_model(ferplus) == ModelChoice(models / FERPLUS, False, "setting")
    given = Path("/somewhere/other.tflite")
    assert choose_model(ferplus, given) == ModelChoice(given, False, "command line")
    assert choose_model(accurate, given) == ModelChoice(given, False, "command line")


# -- the dialog -----------------------------------------------------------------------------------


def test_the_dialog_lists_the_models_with_names_and_turns_accurate_mode_off_for_another(qtbot, models):
    import re

    from PySide6.QtWidgets import QAbstractButton, QLabel

    from ferdesk.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(accurate_mode=True), voices=[])
    qtbot.addWidget(dialog)
    combo, accurate = dialog.emotion_model, dialog.accurate_mode
    entries = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]
    assert entries[0] == (DEFAULT_TITLE, "") and entries[-1] == (FERPLUS_TITLE, FERPLUS)
    assert [data for _, data in entries[1:-1]] == list(OTHER_SHIPPED_EMOTION_MODELS)
    assert combo.accessibleName() == "Emotion model"
    assert "tells apart angry, disgust" in combo.accessibleDescription()
    # The figure as the app runs the model (with its mirror image), not the single-pass one.
    shipped_accuracy = read_sidecar(default_emotion_model()).metrics["as_run"]["privatetest_accuracy"]
    assert (
        f"{100 * shipped_accuracy:.1f} % of the FER2013 test faces correctly as ferdesk runs it"
        in combo.accessibleDescription()
    )
    # Its label reaches it with Alt+D, a letter no other label or button of the dialog uses.
    [label] = [label for label in dialog.findChildren(QLabel) if label.buddy() is combo]
    assert label.text() == "Emotion mo&del:"
    texts = [w.text() for w in dialog.findChildren(QLabel)] + [
        w.text() for w in dialog.findChildren(QAbstractButton)
    ]
    letters = [m.group(1).lower() for text in texts if (m := re.search(r"&(\w)", text))]
    assert letters.count("d") == 1 and len(letters) == len(set(letters)), sorted(letters)
    assert accurate.isEnabled() and accurate.isChecked()

    combo.setCurrentIndex(combo.findData(FERPLUS))
    description = combo.accessibleDescription()
    assert FERPLUS_DESCRIPTION in description and "contempt" in description
    assert combo.toolTip() == description
    assert not accurate.isEnabled() and not accurate.isChecked()  # shown as it runs: off
    assert accurate.accessibleName() == "Accurate mode"
    assert "not used with " + FERPLUS_TITLE in accurate.accessibleDescription()
    assert accurate.toolTip() == accurate.whatsThis() == accurate.accessibleDescription()
    chosen = dialog.settings()
    # The model is chosen; the accurate-mode choice is kept for when the default comes back.
    assert (chosen.emotion_model, chosen.accurate_mode) == (FERPLUS, True)

    combo.setCurrentIndex(combo.findData(""))
    assert accurate.isEnabled() and accurate.isChecked()
    assert "network passes per face" in accurate.accessibleDescription()
    combo.setCurrentIndex(combo.findData(FERPLUS))
    dialog.restore_defaults()
    assert combo.currentData() == "" and accurate.isEnabled() and not accurate.isChecked()
    assert dialog.settings() == AppSettings()


def test_the_dialog_opens_on_the_saved_model_and_says_when_model_on_the_command_line_wins(qtbot, models):
    from ferdesk.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(emotion_model=FERPLUS, accurate_mode=True), voices=[])
    qtbot.addWidget(dialog)
    assert dialog.emotion_model.currentData() == FERPLUS and not dialog.accurate_mode.isEnabled()
    assert dialog.settings() == AppSettings(emotion_model=FERPLUS, accurate_mode=True)

    overridden = SettingsDialog(
        AppSettings(accurate_mode=True), voices=[], model_override=Path("/x/mine.tflite")
    )
    qtbot.addWidget(overridden)
    assert "This run uses mine.tflite, given with --model" in overridden.emotion_model.accessibleDescription()
    assert not overridden.accurate_mode.isEnabled()
    assert "--model mine.tflite" in overridden.accurate_mode.accessibleDescription()
    assert overridden.settings().accurate_mode is True  # saved as chosen; only this run ignores it


# -- the session ----------------------------------------------------------------------------------


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


def recording_session(settings: AppSettings, model_path: Path | None = None):
    asked: list[tuple[Path | None, str, bool]] = []

    def analyzer_factory(path, detector, accurate):
        asked.append((path, detector, accurate))
        return object()

    session = Session(
        settings,
        LaunchOptions(speech_enabled=False, model_path=model_path),
        runner_factory=StartedRunner,
        analyzer_factory=analyzer_factory,
    )
    return session, asked


def test_the_session_builds_its_analyzer_with_the_chosen_model_and_ignores_accurate_mode(models) -> None:
    session, asked = recording_session(AppSettings(output="off", accurate_mode=True, emotion_model=FERPLUS))
    assert session.model_text() == "ferdesk_ferplus (FER+, 8 expressions with contempt)"
    assert session.open_source("7")
    assert asked == [(models / FERPLUS, "full", False)]
    assert session.status_figures().model == "ferdesk_ferplus (FER+, 8 expressions with contempt)"
    assert "Model: ferdesk_ferplus (FER+, 8 expressions with contempt)." in session.say_status().text

    session.apply_settings(with_changes(session.settings, volume=0.5))  # no restart for this one
    session.apply_settings(with_changes(session.settings, accurate_mode=False))  # does not apply: none
    assert len(asked) == 1
    # Back to the default: accurate mode applies again (it was on), and the video restarts with it.
    session.apply_settings(with_changes(session.settings, emotion_model="", accurate_mode=True))
    assert asked[-1] == (None, "full", True)
    networks = len(read_manifest().members)
    assert session.model_text() == f"accurate mode ({networks} network{'s' if networks > 1 else ''})"
    session.apply_settings(with_changes(session.settings, accurate_mode=False))
    assert asked[-1] == (None, "full", False) and len(asked) == 3
    assert session.model_text() == "default"
    session.apply_settings(with_changes(session.settings, emotion_model=FERPLUS))
    assert asked[-1] == (models / FERPLUS, "full", False) and len(asked) == 4
    session.stop()


def test_model_on_the_command_line_wins_over_the_model_setting_and_accurate_mode(models, tmp_path) -> None:
    given = tmp_path / "mine.tflite"
    shutil.copyfile(models / FERPLUS, given)
    shutil.copyfile(models / "ferdesk_ferplus.json", tmp_path / "mine.json")
    session, asked = recording_session(
        AppSettings(output="off", accurate_mode=True, emotion_model=FERPLUS), model_path=given
    )
    assert session.open_source("7")
    session.apply_settings(with_changes(session.settings, emotion_model=""))  # --model still wins
    session.apply_settings(with_changes(session.settings, accurate_mode=False))
    assert asked == [(given, "full", False)]
    assert session.model_text() == "mine (FER+, 8 expressions with contempt)"
    session.stop()


# -- an 8-class model, end to end -----------------------------------------------------------------


def test_an_8_class_model_speaks_appears_contemptuous(models, astronaut_rgb) -> None:
    from ferdesk.session.session import _default_analyzer
    from ferdesk.vision.tracking import FaceTracker

    session, _ = recording_session(AppSettings(emotion_model=FERPLUS))
    choice = session.model_choice()
    analyzer = _default_analyzer(choice.model_path, "full", choice.accurate)
    try:
        assert analyzer.labels == FERPLUS_EMOTIONS
        faces = analyzer.analyze(astronaut_rgb)
    finally:
        analyzer.close()
    assert len(faces) == 1 and faces[0].emotion == "contempt"
    assert math.isclose(faces[0].confidence, CONTEMPT_PROBABILITY, abs_tol=1e-4)
    assert list(faces[0].probabilities) == list(FERPLUS_EMOTIONS)
    height, width = astronaut_rgb.shape[:2]
    tracked = FaceTracker().update(faces, width, height)
    policy = AnnouncementPolicy(PolicyConfig(hold_seconds=0.0, min_gap_seconds=0.0))
    spoken = policy.update(tracked, 0.0)
    assert spoken is not None and spoken.text == "one person, in the centre: appears contemptuous"
    assert policy.describe_now(tracked, 1.0).text == "one person, in the centre: appears contemptuous"
    full = AnnouncementPolicy(PolicyConfig(verbosity="full"))
    assert "appears contemptuous, quite sure" in full.describe_now(tracked, 0.0).text
    # The seven-class default never says it: contempt is not among its labels.
    assert "contempt" not in EMOTIONS


def test_the_window_shows_and_says_all_8_classes_of_the_chosen_model(qtbot, models, tmp_path, astronaut_rgb):
    from PySide6.QtCore import QSettings

    from ferdesk.capture.synthetic import write_video
    from ferdesk.ui.main_window import MainWindow
    from ferdesk.ui.overlay import face_label
    from ferdesk.ui.settings import SettingsStore
    from ferdesk.vision.reading import overlay_label

    video = tmp_path / "astronaut.mp4"
    write_video(video, [np.ascontiguousarray(astronaut_rgb)] * 20, fps=15.0, fourcc="mp4v")
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    store.save(AppSettings(output="off", hold_seconds=0.0, min_gap_seconds=0.0, emotion_model=FERPLUS))
    from ferdesk.speech.screen_readers import ScreenReaderInfo
    from ferdesk.ui.screen_reader import ScreenReaderBridge

    reader = ScreenReaderBridge(watch=False)
    reader.set_info(ScreenReaderInfo(running=False))
    window = MainWindow(store, LaunchOptions(speech_enabled=False), screen_reader=reader)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.open_source_spec(str(video))
    qtbot.waitUntil(
        lambda: window.video.result is not None and bool(window.video.result.faces), timeout=60_000
    )
    qtbot.waitUntil(lambda: any("appears contemptuous" in text for text in window.timeline.texts()))

    face = window.video.result.faces[0]
    assert face.emotion == "contempt" and list(face.probabilities) == list(FERPLUS_EMOTIONS)
    qtbot.waitUntil(lambda: any("appears contemptuous, 90 %" in text for text in window.faces.face_texts()))
    row = window.faces.topLevelItem(0)
    children = [row.child(i).text(0) for i in range(row.childCount()) if not row.child(i).isHidden()]
    assert len(children) == 8 and children[-1] == "contempt: 90 %", children
    assert face_label(face, window.settings.confidence_threshold, 1) == overlay_label(1, face, 0.5)
    assert overlay_label(1, face, 0.5) == "1: contempt 90 %"
    window._refresh_status()
    assert window.model_label.text() == "model: ferdesk_ferplus (FER+, 8 expressions with contempt)"
    window.close()


def test_every_fer_plus_expression_has_its_own_colour_not_the_unclear_grey() -> None:
    from ferdesk.ui.overlay import EMOTION_COLOURS, UNCLEAR_COLOUR, colour_for

    colours = {colour_for(name, 0.9, 0.5).name() for name in FERPLUS_EMOTIONS}
    assert len(colours) == len(FERPLUS_EMOTIONS), "two expressions share a colour"
    assert UNCLEAR_COLOUR.name() not in colours
    assert set(EMOTION_COLOURS) == set(FERPLUS_EMOTIONS)


def test_the_shipped_fer_plus_model_reads_eight_expressions_on_a_real_face() -> None:
    """models/ferdesk_ferplus.tflite (issue 13): offered in the settings, 8 labels from its sidecar,
    and a real face (the public-domain astronaut photo) gets probabilities over all 8."""
    from skimage import data

    from ferdesk.vision.analyze import FaceAnalyzer

    shipped = dict(emotion_models())
    assert FERPLUS in shipped and shipped[FERPLUS].labels == FERPLUS_EMOTIONS
    assert emotion_model_title(FERPLUS, shipped[FERPLUS]).startswith("FER+, 8 expressions with contempt")
    with FaceAnalyzer(default_emotion_model().parent / FERPLUS) as analyzer:
        [face] = analyzer.analyze(data.astronaut())
    assert set(face.probabilities) == set(FERPLUS_EMOTIONS)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert face.emotion == "happy"
