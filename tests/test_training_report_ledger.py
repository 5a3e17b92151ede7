"""The model-zoo ledger (docs/model-zoo-runs.json): a measured row outlives its run folder, a folder
present replaces its entry, ``--forget`` drops one, a damaged ledger says what to do — on run folders
made here by hand (an untrained ``tiny_cnn`` checkpoint and metrics from the real metrics writer)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from training.report import LEDGER_NAME, Ledger, LedgerError, Row, build_report, load_ledger, save_ledger


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.models import create_model

    path = tmp_path_factory.mktemp("checkpoint") / "best.keras"
    create_model("tiny_cnn").save(path)
    return path


def make_run(runs: Path, name: str, checkpoint: Path, seed: int, balance: str = "oversample") -> dict:
    """A finished two-epoch run folder with both splits evaluated and a cached .tflite timing."""
    from ferdesk.vision.emotions import EMOTIONS
    from training.evaluate import evaluate_probabilities

    run = runs / name
    run.mkdir(parents=True)
    shutil.copy(checkpoint, run / "best.keras")
    (run / "config.json").write_text(json.dumps({"model": "tiny_cnn", "epochs": 2, "balance": balance}))
    state = {"epoch": 2, "finished": True, "elapsed_seconds": 40.0, "train_faces": 28, "best_epoch": 2}
    (run / "state.json").write_text(json.dumps(state))
    rng = np.random.default_rng(seed)
    figures = {}
    for split in ("PublicTest", "PrivateTest"):
        labels = np.arange(21) % len(EMOTIONS)
        metrics = evaluate_probabilities(labels, rng.dirichlet(np.ones(len(EMOTIONS)), 21), EMOTIONS)
        (run / f"eval-best-{split}").mkdir()
        (run / f"eval-best-{split}" / "metrics.json").write_text(json.dumps({"metrics": metrics}))
        figures[split] = metrics
    (run / "tflite_timing.json").write_text(json.dumps({"ms_per_face_1thread": 0.4321}))
    return figures


def study_row(tmp_path: Path, name: str, model: str, public: float, epochs: int, **fields) -> Row:
    """A finished run of a study, as the report reads it from its folder."""
    fields.setdefault("private", {"accuracy": public - 0.01})
    return Row(
        name, model, tmp_path / model, parameters=1000, macs=2_000_000, epochs_done=epochs,
        epochs_planned=epochs, finished=True, public={"accuracy": public}, **fields,
    )  # fmt: skip


def table_line(markdown: Path, name: str, table: int = 0) -> str:
    """The line of run ``name`` in the report's first (main) or second (class imbalance) table."""
    lines = [line for line in markdown.read_text().splitlines() if line.startswith(f"| {name} ")]
    return lines[table]


def ledger_of(out: Path) -> dict:
    return json.loads((out.parent / LEDGER_NAME).read_text())


def test_a_row_survives_the_loss_of_its_run_folder(checkpoint, tmp_path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "docs" / "model-zoo.md"
    figures = make_run(runs, "tiny-a", checkpoint, seed=1)
    build_report([runs], out)
    main_before, imbalance_before = table_line(out, "tiny-a"), table_line(out, "tiny-a", 1)
    assert main_before.endswith("| balance=oversample; best epoch 2 |") and "| 0.43 |" in main_before
    assert [entry["name"] for entry in ledger_of(out)["runs"]] == ["tiny-a"]

    shutil.rmtree(runs / "tiny-a")
    _, rows = build_report([runs], out)

    today = time.strftime("%Y-%m-%d")
    assert table_line(out, "tiny-a") == main_before.removesuffix(" |") + (
        f"; run folder not on this machine; figures from {today} |"
    )  # every figure, the per-class recall in class order included, as it was
    assert table_line(out, "tiny-a", 1) == imbalance_before
    (row,) = rows
    assert row.from_ledger and row.private["accuracy"] == figures["PrivateTest"]["accuracy"]
    assert list(row.private["per_class"]) == list(figures["PrivateTest"]["per_class"])
    assert [entry["name"] for entry in ledger_of(out)["runs"]] == ["tiny-a"]


def test_a_run_folder_present_replaces_its_ledger_entry(checkpoint, tmp_path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "docs" / "model-zoo.md"
    stale = {"accuracy": 0.99, "macro_f1": 0.99}
    save_ledger(
        Ledger(
            rows={
                name: Row(name, "old_model", tmp_path / "gone" / name, public=stale, measured_on="2020-01-01")
                for name in ("tiny-a", "gone-b")
            }
        ),
        out.parent / LEDGER_NAME,
    )
    figures = make_run(runs, "tiny-a", checkpoint, seed=2)

    _, rows = build_report([runs], out)

    by_name = {row.name: row for row in rows}
    assert not by_name["tiny-a"].from_ledger and by_name["tiny-a"].model == "tiny_cnn"
    assert by_name["gone-b"].from_ledger
    present = table_line(out, "tiny-a")
    assert "99.00 %" not in present and "not on this machine" not in present
    assert f"{100 * figures['PublicTest']['accuracy']:.2f} %" in present
    assert table_line(out, "gone-b").endswith("| run folder not on this machine; figures from 2020-01-01 |")
    entries = {entry["name"]: entry for entry in ledger_of(out)["runs"]}
    assert entries["tiny-a"]["public"]["accuracy"] == figures["PublicTest"]["accuracy"]
    assert entries["tiny-a"]["measured_on"] == time.strftime("%Y-%m-%d")
    assert entries["gone-b"]["public"] == stale and entries["gone-b"]["measured_on"] == "2020-01-01"
    assert "confusion_matrix" not in entries["tiny-a"]["private"]  # the ledger keeps what is shown


def test_forget_drops_a_row_and_an_unknown_name_is_an_error(checkpoint, tmp_path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "docs" / "model-zoo.md"
    make_run(runs, "tiny-a", checkpoint, seed=3)
    make_run(runs, "tiny-b", checkpoint, seed=4)
    build_report([runs], out)
    shutil.rmtree(runs / "tiny-b")

    _, rows = build_report([runs], out, forget=["tiny-b"])

    assert [row.name for row in rows] == ["tiny-a"]
    assert "| tiny-b " not in out.read_text()
    assert [entry["name"] for entry in ledger_of(out)["runs"]] == ["tiny-a"]
    with pytest.raises(ValueError, match=r"--forget tiny-c: no such row .*rows: tiny-a"):
        build_report([runs], out, forget=["tiny-c"])


def test_zero_run_folders_report_from_the_ledger_and_nothing_at_all_is_an_error(checkpoint, tmp_path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "docs" / "model-zoo.md"
    make_run(runs, "tiny-a", checkpoint, seed=5)
    build_report([runs], out)
    shutil.rmtree(runs)

    _, rows = build_report([runs], out)

    assert [row.name for row in rows] == ["tiny-a"] and rows[0].from_ledger
    with pytest.raises(FileNotFoundError, match=r"No run folders .* and no rows in .*elsewhere"):
        build_report([runs], out, ledger=tmp_path / "elsewhere" / LEDGER_NAME)


#: A ledger entry with just the fields it needs.
ENTRY = '"name": "x", "model": "m", "run_dir": "d", "measured_on": ""'


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"runs": [', "not valid JSON"),
        ("[]", 'not a ledger: expected an object with a "runs" list'),
        (
            '{"runs": [{' + ENTRY + ', "colour": 1}]}',
            "run 'x' has unknown fields ['colour']",
        ),
        (
            '{"runs": [{' + ENTRY + ', "epochs_done": "3"}]}',
            "run 'x': epochs_done is '3', expected int",
        ),
        ('{"runs": [{"name": "x", "model": "m", "run_dir": "d"}]}', "run 'x' lacks measured_on"),
        (
            '{"runs": [{' + ENTRY + ', "public": {"acc": 1}}]}',
            "run 'x': unknown public metrics ['acc']",
        ),
    ],
)
def test_a_damaged_ledger_names_the_file_and_what_to_do(tmp_path, content: str, problem: str) -> None:
    ledger = tmp_path / LEDGER_NAME
    ledger.write_text(content)
    with pytest.raises(LedgerError) as raised:
        load_ledger(ledger)
    message = str(raised.value)
    assert message.startswith(f"{ledger}: {problem}")
    assert f"git checkout -- {ledger}" in message and "deleting it starts an empty ledger" in message


def test_the_report_command_keeps_forgets_and_refuses_a_damaged_ledger(checkpoint, tmp_path, capsys) -> None:
    from training.__main__ import main

    runs, out, ledger = tmp_path / "runs", tmp_path / "docs" / "model-zoo.md", tmp_path / "kept.json"
    make_run(runs, "tiny-a", checkpoint, seed=6)
    make_run(runs, "tiny-b", checkpoint, seed=7, balance="none")
    command = ["report", "--runs", str(runs), "--out", str(out), "--ledger", str(ledger)]

    assert main(command) == 0
    assert f"2 runs (0 from the ledger {ledger}) → {out}" in capsys.readouterr().out
    shutil.rmtree(runs / "tiny-b")
    assert main(command) == 0
    assert "2 runs (1 from the ledger" in capsys.readouterr().out
    assert "| tiny-b (`tiny_cnn`) " in out.read_text()
    assert main([*command, "--forget", "tiny-b"]) == 0
    printed = capsys.readouterr().out
    assert "1 runs (0 from the ledger" in printed and "forgot tiny-b" in printed
    assert "| tiny-b " not in out.read_text()
    assert [entry["name"] for entry in json.loads(ledger.read_text())["runs"]] == ["tiny-a"]
    assert not (out.parent / LEDGER_NAME).exists()  # --ledger was given: nothing next to --out

    assert main(command[:5]) == 0  # no --ledger: the default one, next to --out
    assert (out.parent / LEDGER_NAME).is_file()

    ledger.write_text("{ damaged")
    before = out.read_text()
    assert main(command) == 2
    error = capsys.readouterr().err
    assert f"error: {ledger}: not valid JSON" in error and "Traceback" not in error
    assert ledger.read_text() == "{ damaged" and out.read_text() == before  # nothing overwritten


def test_the_cheaper_layer_study_shows_speed_and_public_test_as_ratios_to_its_baseline(tmp_path) -> None:
    from training.report import write_report

    def layer_row(model: str, faces_per_s: float, public: float) -> Row:
        return study_row(
            tmp_path, f"layers-{model}-s1", model, public, epochs=12, train_faces_per_s=faces_per_s
        )

    rows = [layer_row("vgg_compact", 200.0, 0.60), layer_row("vgg_compact_s2", 250.0, 0.595)]
    out = write_report([*rows, Row("other-s1", "fcnn", tmp_path / "o")], tmp_path / "zoo.md", "2026-12-02")
    text = out.read_text()
    assert "## Cheaper layers" in text
    strided = table_line(out, "layers-vgg_compact_s2-s1", 1)
    assert "stride-2 stem" in strided and "| 1.25× |" in strided and "| -0.50 |" in strided
    assert "| 1.00× |" in table_line(out, "layers-vgg_compact-s1", 1)
    assert "other-s1" not in text.split("## Cheaper layers")[1].split("## The studies")[0]
    alone = write_report(rows[1:], tmp_path / "alone.md", "2026-12-02")  # no baseline in the study
    assert "| 250 | – |" in table_line(alone, "layers-vgg_compact_s2-s1", 1)


def test_a_distilled_run_names_its_teacher_and_weight(checkpoint, tmp_path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "student", checkpoint, seed=11, balance="none")
    config = json.loads((runs / "student" / "config.json").read_text())
    config.update(teacher="models/ferdesk_accurate.json", teacher_weight=0.5)
    (runs / "student" / "config.json").write_text(json.dumps(config))
    out = tmp_path / "zoo.md"
    build_report([runs], out, tmp_path / "no-data", ledger=tmp_path / "ledger.json")
    assert "distilled from ferdesk_accurate.json (weight 0.5)" in table_line(out, "student")


def test_a_training_limit_above_the_splits_size_reports_the_faces_trained(checkpoint, tmp_path) -> None:
    runs = tmp_path / "runs"
    for name, limit in (("capped", 20), ("uncapped", 47443)):
        make_run(runs, name, checkpoint, seed=12, balance="none")
        config = json.loads((runs / name / "config.json").read_text())
        (runs / name / "config.json").write_text(json.dumps({**config, "limit_train": limit}))
    out = tmp_path / "zoo.md"
    build_report([runs], out, tmp_path / "no-data", ledger=tmp_path / "ledger.json")
    assert "20 Training faces" in table_line(out, "capped")
    assert "28 Training faces" in table_line(out, "uncapped"), "the run trained all 28, not 47443"
    assert "47443" not in out.read_text()


def test_a_paused_epoch_does_not_make_a_run_look_slower_than_its_network(checkpoint, tmp_path) -> None:
    """kill -STOP to free the CPU for an hour counts on the wall clock; the median epoch ignores it."""
    runs = tmp_path / "runs"
    make_run(runs, "paused", checkpoint, seed=13)
    make_run(runs, "older", checkpoint, seed=14)
    state = json.loads((runs / "paused" / "state.json").read_text())
    state.update(epoch=3, elapsed_seconds=3620.0, epoch_seconds=[10.0, 3600.0, 10.0])
    (runs / "paused" / "state.json").write_text(json.dumps(state))
    out = tmp_path / "zoo.md"
    build_report([runs], out, tmp_path / "no-data", ledger=tmp_path / "ledger.json")
    assert "| 3 |" in table_line(out, "paused"), "28 faces an epoch over a 10 s median epoch: 3 a second"
    assert "| 1 |" in table_line(out, "older"), "no epoch times logged: the total's 28 x 2 / 40 s"


def test_the_architecture_study_ranks_networks_by_public_test_with_the_faces_each_budget_bought(
    tmp_path,
) -> None:
    from training.report import write_report

    def arch_row(model: str, faces: int, public: float) -> Row:
        return study_row(
            tmp_path, f"arch-{model}", model, public, epochs=3, hours=0.2, train_faces=faces,
            train_faces_per_s=faces * 3 / 720, private={"accuracy": public - 0.01, "macro_f1": 0.4},
        )  # fmt: skip

    rows = [arch_row("deepfer_cnn", 3_000, 0.40), arch_row("vgg_compact", 26_512, 0.55)]
    out = write_report([*rows, Row("other-s1", "fcnn", tmp_path / "o")], tmp_path / "zoo.md", "2026-12-02")
    study = out.read_text().split("## Architectures at the same CPU budget")[1].split("## The studies")[0]
    assert "about 12 CPU minutes" in study and "other-s1" not in study
    assert study.index("arch-vgg_compact") < study.index("arch-deepfer_cnn")  # best PublicTest first
    line = table_line(out, "arch-deepfer_cnn", 1)
    assert "| 3,000 × 3 | 12 | 12 |" in line and "| 40.00 % |" in line and "| 0.4000 |" in line
    without = write_report([Row("other-s1", "fcnn", tmp_path / "o")], tmp_path / "without.md", "2026-12-02")
    assert "## Architectures" not in without.read_text()


def test_an_unfinished_ledger_row_whose_folder_is_gone_is_not_called_resumable(tmp_path) -> None:
    common = dict(epochs_done=18, epochs_planned=30, reason="time budget reached")
    here = tmp_path / "here"
    here.mkdir()
    (here / "last.keras").write_bytes(b"checkpoint")
    assert "in progress (resumable)" in Row("a", "vgg_compact", here, **common).budget
    assert "in progress (resumable)" in Row("a", "vgg_compact", here, from_ledger=True, **common).budget
    gone = Row("b", "vgg_compact", tmp_path / "gone", from_ledger=True, **common).budget
    assert "18/30 ep" in gone and "cannot resume" in gone and "resumable" not in gone


def test_the_optimizer_study_names_each_optimizer_and_its_learning_rate(checkpoint, tmp_path) -> None:
    from training.report import collect, write_report

    runs = tmp_path / "runs"
    make_run(runs, "optim-sgd", checkpoint, seed=3, balance="none")
    config_path = runs / "optim-sgd" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(optimizer="sgd", learning_rate=0.01)
    config_path.write_text(json.dumps(config))
    row = collect(runs / "optim-sgd", tmp_path / "no-data", measure=False)
    assert (row.optimizer, row.learning_rate) == ("sgd", 0.01)
    out = write_report([row, Row("other-s1", "fcnn", tmp_path / "o")], tmp_path / "zoo.md", "2026-12-02")
    study = out.read_text().split("## Optimizers")[1].split("## The studies")[0]
    assert "| optim-sgd (`tiny_cnn`) | sgd | 0.01 |" in study and "other-s1" not in study


def test_a_transfer_model_trained_from_scratch_says_so_beside_the_studys_pretrained_figure(tmp_path) -> None:
    from training.report import write_report

    scratch = study_row(tmp_path, "arch-resnet50_transfer", "resnet50_transfer", 0.30, epochs=3)
    line = table_line(write_report([scratch], tmp_path / "zoo.md", "2026-12-02"), "ResNet-50 transfer")
    assert "| 71 % | 30.00 % / 29.00 % (arch-resnet50_transfer" in line and "from scratch" in line
    scratch.notes = "init from models/resnet50_notop.h5"
    line = table_line(write_report([scratch], tmp_path / "zoo.md", "2026-12-02"), "ResNet-50 transfer")
    assert "from scratch" not in line


def test_the_ferplus_votes_study_shows_each_share_against_the_run_without_votes(checkpoint, tmp_path) -> None:
    from training.report import collect, write_report

    runs = tmp_path / "runs"
    make_run(runs, "ferplusmix-w0.5", checkpoint, seed=4, balance="none")
    config_path = runs / "ferplusmix-w0.5" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "ferplus_weight": 0.5}))
    mixed = collect(runs / "ferplusmix-w0.5", tmp_path / "no-data", measure=False)
    assert mixed.ferplus_weight == 0.5
    assert "FER+ votes mixed into FER2013's labels (weight 0.5)" in mixed.notes
    mixed.public, mixed.private = {"accuracy": 0.62}, {"accuracy": 0.60}
    alone = study_row(tmp_path, "ferplusmix-w0", "tiny_cnn", 0.60, epochs=12)  # PrivateTest 0.59

    other = Row("other-s1", "fcnn", tmp_path / "o")
    out = write_report([mixed, alone, other], tmp_path / "zoo.md", "2026-12-03")

    study = out.read_text().split("## FER+ votes on FER2013's labels")[1].split("## The studies")[0]
    assert "other-s1" not in study and study.index("ferplusmix-w0 ") < study.index("ferplusmix-w0.5")
    line = table_line(out, "ferplusmix-w0.5", 1)
    assert "| 0.5 |" in line and "| 62.00 % | +2.00 | 60.00 % | +1.00 |" in line
    assert "| 60.00 % | +0.00 |" in table_line(out, "ferplusmix-w0", 1)


def test_the_timing_baseline_quotes_the_shipped_models_own_export_figure(tmp_path) -> None:
    """The header's quiet-machine figure comes from the shipped sidecar, not from a number in the code."""
    from ferdesk.vision.paths import default_emotion_model
    from training.report import write_report

    exported_ms = json.loads(Path(default_emotion_model()).with_suffix(".json").read_text())["metrics"][
        "ms_per_face_1thread"
    ]
    rows = [Row("other-s1", "fcnn", tmp_path / "o")]
    text = write_report(rows, tmp_path / "zoo.md", "2026-12-04", 9.5).read_text()
    assert f"took 9.5 ms/face ({exported_ms} ms when it was exported, its sidecar)" in text
    quiet = write_report(rows, tmp_path / "quiet.md", "2026-12-04").read_text()
    assert "compare ratios" not in quiet
