"""Evaluation extras (ten-crop TTA, reliability diagram, confident mistakes, calibration), the
model-zoo report, and a run that is really killed and resumed — on a tiny synthetic FER2013."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.synthetic import write_tiny_fer2013
from training.train import TrainConfig, train

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("zoo")
    previous = os.environ.get("FERDESK_CACHE")
    os.environ["FERDESK_CACHE"] = str(root / "cache")
    data = write_tiny_fer2013(root / "fer2013", train_per_class=4, public_per_class=3, private_per_class=2)
    run = root / "runs" / "tiny-s1"
    train(
        TrainConfig(data=str(data), model="tiny_cnn", epochs=2, batch_size=8, warmup_epochs=0), run, verbose=0
    )
    yield {"data": data, "run": run, "root": root}
    if previous is None:
        os.environ.pop("FERDESK_CACHE", None)
    else:
        os.environ["FERDESK_CACHE"] = previous


def test_ten_crop_tta_runs_ten_passes_and_averages_them(tiny_run) -> None:
    from training.evaluate import predict_model, ten_crops

    faces = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    views = ten_crops(faces)
    assert len(views) == 10 and all(v.shape == faces.shape for v in views)
    np.testing.assert_array_equal(views[1], views[0][:, :, ::-1])  # each crop and its mirror
    single = predict_model(tiny_run["run"] / "best.keras", faces, "none")
    ten = predict_model(tiny_run["run"] / "best.keras", faces, "tencrop")
    assert (single.passes, ten.passes) == (1, 10)
    np.testing.assert_allclose(ten.probs.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(ten.probs, single.probs)


def test_evaluate_writes_reliability_diagram_mistakes_grid_and_confusion_pairs(tiny_run, tmp_path) -> None:
    from training.evaluate import evaluate_model

    record = evaluate_model(
        tiny_run["run"] / "best.keras",
        tiny_run["data"],
        "PublicTest",
        out_dir=tmp_path,
        tta="tencrop",
        show_progress=False,
    )
    assert record["inference_passes"] == 10 and record["ms_per_face_batched"] > 0
    for name in ("reliability.png", "mistakes.png", "confusion_matrix.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.width > 300
    pairs = record["confusion_pairs"]
    wrong = record["metrics"]["count"] - round(record["metrics"]["accuracy"] * record["metrics"]["count"])
    assert sum(p["count"] for p in pairs) <= wrong and all(p["true"] != p["predicted"] for p in pairs)
    if wrong:
        assert pairs and pairs[0]["count"] == max(p["count"] for p in pairs)


def test_calibration_fits_on_public_test_and_reports_ece_before_and_after(tiny_run, tmp_path) -> None:
    from training.calibration import calibrate_model

    record = calibrate_model(tiny_run["run"] / "best.keras", tiny_run["data"], out_dir=tmp_path)
    assert record["fitted_temperature"] > 0 and record["fit_split"] == "PublicTest"
    assert 0 <= record["ece_before"] <= 1 and 0 <= record["ece_after"] <= 1
    assert (tmp_path / "reliability.png").is_file()
    assert json.loads((tmp_path / "calibration.json").read_text())["temperature"] == record["temperature"]
    with pytest.raises(ValueError, match="never on PrivateTest"):
        calibrate_model(tiny_run["run"] / "best.keras", tiny_run["data"], fit_split="PrivateTest")
    with pytest.raises(ValueError, match="--temperature T"):
        calibrate_model(tiny_run["run"] / "best.keras", tiny_run["data"], write_sidecar=True)


def test_report_writes_the_zoo_table_with_honest_budgets_and_plots(tiny_run, tmp_path) -> None:
    from training.report import build_report

    out = tmp_path / "docs" / "model-zoo.md"
    written, rows = build_report([tiny_run["run"].parent], out, tiny_run["data"], measure=True)
    text = written.read_text()
    assert "tiny-s1 (`tiny_cnn`)" in text
    assert "2/2 ep" in text and "short CPU budget" in text
    for figure in ("45 %", "56 %", "60 %", "67 %", "71 %", "65.87 %"):
        assert figure in text
    row = rows[0]
    assert row.parameters == 1367 and row.macs > 0 and row.ms_per_face > 0
    assert 0 <= row.private["accuracy"] <= 1 and "disgust" in row.private["per_class"]
    for plot in ("model-zoo-accuracy-vs-params.png", "model-zoo-accuracy-vs-ms.png"):
        assert (out.parent / plot).is_file()
    with pytest.raises(FileNotFoundError, match="No run folders"):  # and no ledger beside this out
        build_report([tmp_path / "empty"], tmp_path / "elsewhere" / "model-zoo.md")


def test_a_killed_run_resumes_from_its_last_finished_epoch(tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "training",
        "train",
        "--model",
        "tiny_cnn",
        "--data",
        str(tiny_run["data"]),
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--warmup-epochs",
        "0",
        "--run",
        str(run),
    ]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state_path = run / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if state_path.is_file() and json.loads(state_path.read_text())["epoch"] >= 1:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before_kill = json.loads(state_path.read_text())["epoch"]
    assert done_before_kill >= 1

    finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)

    assert finished.returncode == 0, finished.stderr[-500:]
    if done_before_kill < 3:
        assert f"Resuming {run} after epoch {done_before_kill}" in finished.stdout
    with (run / "log.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1", "2"]
    assert json.loads(state_path.read_text())["finished"] is True
