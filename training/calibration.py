"""Temperature scaling: fit one temperature on PublicTest, show what it does to the calibration.

ferdesk says "appears happy" or "expression unclear" from the model's confidence, so a 0.8 must
mean right 8 times in 10. One temperature T (probabilities ∝ p^(1/T)) is fitted on PublicTest by
minimum log loss; the expected calibration error (ECE) is reported before and after on the report
split, with a reliability diagram. For a ``.tflite`` model the fitted temperature composes with the
one already in its sidecar (``--write-sidecar`` stores the product there, where the app reads it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ferdesk.vision.classifier import calibrate, sidecar_path
from training.evaluate import (
    default_out_dir,
    evaluate_probabilities,
    model_kind,
    plot_reliability,
    predict_model,
)
from training.export import fit_temperature


def calibrate_model(
    model_path: str | os.PathLike,
    data_root: str | os.PathLike,
    fit_split: str = "PublicTest",
    report_split: str = "PrivateTest",
    source: str = "fer2013",
    tta: str = "none",
    out_dir: str | os.PathLike | None = None,
    write_sidecar: bool = False,
    show_progress: bool = False,
) -> dict:
    from training.data import load_split

    model_path = Path(model_path).expanduser()
    kind = model_kind(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"Model not found: {model_path}.")
    if fit_split == "PrivateTest":
        raise ValueError(
            "Fit the temperature on PublicTest (or Training), never on PrivateTest, the benchmark."
        )
    if write_sidecar and kind != "tflite":
        raise ValueError(
            "--write-sidecar updates a .tflite model's sidecar; for a .keras checkpoint pass the fitted "
            "temperature to 'python -m training export --temperature T' (or use --temperature auto there)."
        )
    fit_set = load_split(data_root, fit_split, source, show_progress=show_progress)
    report_set = load_split(data_root, report_split, source, show_progress=show_progress)
    fit_probs = predict_model(model_path, fit_set.images, tta, show_progress=show_progress).probs
    report_probs = predict_model(model_path, report_set.images, tta, show_progress=show_progress).probs
    temperature = fit_temperature(fit_set.labels, fit_probs)
    before = evaluate_probabilities(report_set.labels, report_probs, report_set.class_names)
    after = evaluate_probabilities(
        report_set.labels, calibrate(report_probs, temperature), report_set.class_names
    )
    previous = 1.0
    if kind == "tflite":
        previous = float(json.loads(sidecar_path(model_path).read_text()).get("temperature", 1.0))
    total = round(previous * temperature, 4)
    out = (
        Path(out_dir).expanduser()
        if out_dir
        else default_out_dir(model_path, f"calibration-{report_split}", tta)
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_reliability(
        report_set.labels,
        {f"as is (T={previous:g})": report_probs, f"T={total:g}": calibrate(report_probs, temperature)},
        out / "reliability.png",
        f"{model_path.name} on {report_split}, temperature fitted on {fit_split}",
    )
    record = {
        "model": str(model_path),
        "fit_split": fit_split,
        "report_split": report_split,
        "tta": tta,
        "fitted_temperature": temperature,
        "previous_temperature": previous,
        "temperature": total,
        "ece_before": round(before["ece"], 6),
        "ece_after": round(after["ece"], 6),
        "log_loss_before": round(before["log_loss"], 6),
        "log_loss_after": round(after["log_loss"], 6),
        "accuracy": round(before["accuracy"], 6),
        "out_dir": str(out),
    }
    (out / "calibration.json").write_text(json.dumps(record, indent=2) + "\n")
    if write_sidecar:
        path = sidecar_path(model_path)
        data = json.loads(path.read_text())
        data["temperature"] = total
        data.setdefault("training", {})["temperature_source"] = (
            f"fitted on {fit_split} (python -m training calibrate)"
        )
        path.write_text(json.dumps(data, indent=2) + "\n")
        record["sidecar"] = str(path)
    return record
